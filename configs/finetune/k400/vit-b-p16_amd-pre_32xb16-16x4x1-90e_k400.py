# Kinetics-400 fine-tuning of an AMD ViT-B/16 student, the official recipe
# (scripts/finetune/dist_train/vitb_k400_ft.sh at 8d2ec6f; docs/RECIPES.md):
# 32 GPUs x 16 videos (x 2 augmented clips), lr 7e-4 x 512/256, 90 epochs,
# 16 frames over 64, test 5 clips x 3 crops.
_base_ = ['../../_base_/finetune/video_vit_finetune.py']

pretrained = 'work_dirs/amd_vit-b-p16_videomae-vit-l_32xb16-16x4x1-200e_k400'  # its last checkpoint
base_lr, min_lr, epochs, warmup = 7e-4, 1e-6, 90, 5  # per 256 clips
model = dict(
    backbone=dict(embed_dims=768, num_heads=12,
                  init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    cls_head=dict(in_channels=768))
optim_wrapper = dict(optimizer=dict(lr=base_lr * 512 / 256))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-8, by_epoch=True, begin=0, end=warmup,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=epochs - warmup, eta_min_ratio=min_lr / base_lr,
         by_epoch=True, begin=warmup, end=epochs, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=epochs)
auto_scale_lr = dict(base_batch_size=512)
