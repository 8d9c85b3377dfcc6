# Something-Something V2 fine-tuning of an AMD ViT-B/16 student, the official recipe:
# 16 GPUs x 16 videos (x 2 augmented clips), lr 0.0005 x 256/256, 30 epochs,
# test 2 clips x 3 crops.
_base_ = ['../../_base_/finetune/video_vit_finetune_sthv2.py']

pretrained = 'work_dirs/amd_vit-b-p16_videomae-vit-l_32xb16-16x2x1-200e_sthv2/epoch_200.pth'
model = dict(
    backbone=dict(embed_dims=768, num_heads=12,
                  init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    cls_head=dict(in_channels=768))
optim_wrapper = dict(optimizer=dict(lr=0.0005 * 256 / 256))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=25, eta_min=1e-6, by_epoch=True, begin=5,
         end=30, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=30)
auto_scale_lr = dict(base_batch_size=256)
