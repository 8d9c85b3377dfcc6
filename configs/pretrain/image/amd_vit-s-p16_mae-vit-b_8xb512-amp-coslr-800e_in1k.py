# AMD on ImageNet-1K: ViT-S/16 student <- MAE ViT-B/16 teacher, 8 GPUs x 512 images, 800 epochs.
_base_ = [
    '../../_base_/models/amd_image.py',
    '../../_base_/datasets/in1k_pretrain.py',
    '../../_base_/schedules/adamw_coslr_800e_image.py',
    '../../_base_/default_runtime_mmpretrain.py',
]
# Checkpoints by iterations, the last 3 kept (durable writes, exact mid-epoch resume): every
# 500 optimizer steps, ~1.6 epochs of ImageNet-1K at 8 GPUs x 512 (1281167 // 4096 = 312
# steps per epoch; the K400 numbers are in configs/pretrain/video/amd_vit-s-p16_videomae-
# vit-l_32xb16-16x4x1-200e_k400.py). The final checkpoint is the work_dir's last_checkpoint.
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=500, max_keep_ckpts=3))
