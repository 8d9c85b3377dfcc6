# Kinetics-400 fine-tuning of an AMD ViT-B/16 student, the official recipe:
# 32 GPUs x 16 videos (x 2 augmented clips), lr 0.0007 x 512/256, 90 epochs,
# test 5 clips x 3 crops.
_base_ = ['../../_base_/finetune/video_vit_finetune.py']

pretrained = 'work_dirs/amd_vit-b-p16_videomae-vit-l_32xb16-16x4x1-200e_k400/epoch_200.pth'
model = dict(
    backbone=dict(embed_dims=768, num_heads=12,
                  init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    cls_head=dict(in_channels=768))
optim_wrapper = dict(optimizer=dict(lr=0.0007 * 512 / 256))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=85, eta_min=1e-6, by_epoch=True, begin=5,
         end=90, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=90)
auto_scale_lr = dict(base_batch_size=512)
