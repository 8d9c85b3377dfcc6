# AMD on Kinetics-400 (official recipe): ViT-S/16 student <- VideoMAE ViT-L/16 teacher,
# 32 GPUs x 16 videos x 4 augmented clips, 16x4x1 sampling, 200 epochs.
_base_ = [
    '../../_base_/models/amd_video.py',
    '../../_base_/datasets/k400_pretrain.py',
    '../../_base_/schedules/adamw_coslr_200e_video.py',
    '../../_base_/default_runtime_mmaction.py',
]
