# AVA 2.2 with an AMD ViT-S/16 student (K400); the ViT-B recipe with ViT-S widths.
_base_ = ['./vit-b-p16_amd-k400-pre_8xb8-16x4x1-20e_ava22-rgb.py']

pretrained = 'work_dirs/amd_vit-s-p16_videomae-vit-l_32xb16-16x4x1-200e_k400'  # its last checkpoint
model = dict(
    backbone=dict(embed_dims=384, num_heads=6, drop_path_rate=0.1,
                  init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    roi_head=dict(bbox_head=dict(in_channels=384)))
