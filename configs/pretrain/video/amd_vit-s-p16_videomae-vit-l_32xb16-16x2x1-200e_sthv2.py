# AMD on Something-Something V2 (official recipe): ViT-S/16 student <- VideoMAE ViT-L/16 teacher,
# 32 GPUs x 16 videos x 4 augmented clips, 16x2x1 sampling, 200 epochs.
_base_ = [
    '../../_base_/models/amd_video.py',
    '../../_base_/datasets/sthv2_pretrain.py',
    '../../_base_/schedules/adamw_coslr_200e_video.py',
    '../../_base_/default_runtime_mmaction.py',
]

model = dict(teacher=dict(checkpoint='checkpoints/videomae_vit-large_sthv2_pt_2400e_teacher.pth'))
# Checkpoints every 500 optimizer steps (iterations), the last 3 kept: see the K400 ViT-S
# config for the numbers
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=500, max_keep_ckpts=3))
