# AMD on ImageNet-1K: ViT-S/16 student <- MAE ViT-B/16 teacher, 8 GPUs x 512 images, 800 epochs.
_base_ = [
    '../../_base_/models/amd_image.py',
    '../../_base_/datasets/in1k_pretrain.py',
    '../../_base_/schedules/adamw_coslr_800e_image.py',
    '../../_base_/default_runtime_mmpretrain.py',
]
