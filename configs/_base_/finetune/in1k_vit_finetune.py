# ImageNet-1K fine-tuning of a pre-trained student with mmpretrain's own VisionTransformer
# (MAE's recipe, facebookresearch/mae FINETUNE.md + main_finetune.py; AMD publishes no image
# code; docs/RECIPES.md): mean pooling, drop path 0.1, layer-wise lr decay, RandAugment
# rand-m9-mstd0.5-inc1, mixup 0.8 / cutmix 1.0, label smoothing 0.1, random erasing 0.25
# with N(0, 1) noise, head trunc_normal(2e-5), blr 5e-4 x 1024/256, 5 warm-up epochs from 0,
# cosine to 1e-6 x layer scale, AMP, 8 GPUs x 128 images.
_base_ = ['../default_runtime_mmpretrain.py', '../models/vit_archs.py']

# the amd_mm pre-training checkpoint: its student is `backbone.` with mmpretrain names
# (a work_dir loads the checkpoint its last_checkpoint names: the end of pre-training)
pretrained = 'work_dirs/amd_vit-s-p16_mae-vit-b_8xb512-amp-coslr-800e_in1k'
data_root = 'data/imagenet/'
data_preprocessor = dict(num_classes=1000, mean=[123.675, 116.28, 103.53],
                         std=[58.395, 57.12, 57.375], to_rgb=True)
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='VisionTransformer', arch={{_base_.vit_small}}, img_size=224, patch_size=16,
        drop_path_rate=0.1, out_type='avg_featmap', final_norm=False,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=None,
    head=dict(
        type='LinearClsHead', num_classes=1000, in_channels=384,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        init_cfg=[dict(type='TruncNormal', layer='Linear', std=2e-5)]),
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]))

bgr_mean = data_preprocessor['mean'][::-1]
bgr_std = data_preprocessor['std'][::-1]
train_pipeline = [
    dict(type='CheckedLoadImageFromFile'),  # a truncated image: one sentence naming it
    dict(type='RandomResizedCrop', scale=224, backend='pillow', interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandAugment', policies='timm_increasing', num_policies=2, total_level=10,
         magnitude_level=9, magnitude_std=0.5,
         hparams=dict(pad_val=[round(x) for x in bgr_mean], interpolation='bicubic')),
    # timm's pixel-mode erasing (10 attempts) on the normalised image = this fill in BGR pixels
    dict(type='PixelRandomErasing', erase_prob=0.25, min_area_ratio=0.02, max_area_ratio=1 / 3,
         min_aspect=0.3, mean=bgr_mean, std=bgr_std, max_attempts=10),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='CheckedLoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short', backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=128, num_workers=8, persistent_workers=True, drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='ImageNet', data_root=data_root, split='train', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=128, num_workers=8, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='ImageNet', data_root=data_root, split='val', pipeline=test_pipeline))
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator

base_lr, min_lr, epochs, warmup = 5e-4, 1e-6, 100, 5  # MAE: --blr per 256 images, --min_lr absolute
optim_wrapper = dict(
    type='AmpOptimWrapper',
    optimizer=dict(type='AdamW', lr=base_lr * 1024 / 256, betas=(0.9, 0.999), weight_decay=0.05,
                   fused=True),
    constructor='LearningRateDecayOptimWrapperConstructor',
    # no weight decay on every 1-D parameter (norms, biases) and on cls_token / pos_embed
    paramwise_cfg=dict(
        layer_decay_rate=0.75, flat_decay_mult=0.0,
        custom_keys={'.ln': dict(decay_mult=0.0), '.bias': dict(decay_mult=0.0),
                     '.cls_token': dict(decay_mult=0.0), '.pos_embed': dict(decay_mult=0.0)}))
# MAE: per-iteration warm-up from 0 (LinearLR cannot start at exactly 0), then cosine to
# min_lr; MAE multiplies every group's lr by its layer scale, the floor included, hence
# eta_min_ratio (relative to each group's own initial lr)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-8, by_epoch=True, begin=0, end=warmup,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=epochs - warmup, by_epoch=True, begin=warmup, end=epochs,
         eta_min_ratio=min_lr / (base_lr * 1024 / 256), convert_to_iter_based=True),
]
# exact resume, also mid-epoch; refuses another batch size (amd_mm.engine)
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=epochs, val_interval=10)
val_cfg = dict()
test_cfg = dict()
# checkpoints every 500 iterations (1281167 // 1024 = 1251 per epoch at 8 x 128), the last 3
# kept, plus the best by validation
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=500, max_keep_ckpts=3, save_best='auto'))
auto_scale_lr = dict(base_batch_size=1024)
