# ImageNet-1K fine-tuning of an AMD ViT-B/16 student (MAE's ViT-B recipe: layer decay 0.65).
_base_ = ['../../_base_/finetune/in1k_vit_finetune.py']

pretrained = 'work_dirs/amd_vit-b-p16_mae-vit-l_8xb512-amp-coslr-800e_in1k'  # its last checkpoint
model = dict(
    backbone=dict(arch={{_base_.vit_base}},
                  init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    head=dict(in_channels=768))
optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.65))
