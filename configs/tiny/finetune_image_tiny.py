# Tiny image transfer: fine-tune the AMD student of amd_image_tiny.py on the digits
# classification task with mmpretrain's own ImageClassifier + VisionTransformer (no
# conversion: init_cfg Pretrained, prefix 'backbone.'). Another checkpoint:
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = ['../_base_/default_runtime_mmpretrain.py']

pretrained = 'work_dirs/amd_image_tiny/epoch_4.pth'
data_root = 'data/demo/images/'
model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(num_classes=10, mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], to_rgb=True),
    backbone=dict(
        type='VisionTransformer',
        arch=dict(embed_dims=64, num_layers=4, num_heads=4, feedforward_channels=256),
        img_size=32, patch_size=4, drop_path_rate=0.1, out_type='avg_featmap', final_norm=False,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=None,
    head=dict(type='LinearClsHead', num_classes=10, in_channels=64,
              loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original')),
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]))
train_pipeline = [
    dict(type='CheckedLoadImageFromFile'),  # a truncated image: one sentence naming it
    dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.6, 1.0), backend='pillow'),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='CheckedLoadImageFromFile'), dict(type='PackInputs')]
train_dataloader = dict(
    batch_size=32, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='CustomDataset', data_root=data_root, data_prefix='train',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='CustomDataset', data_root=data_root, data_prefix='val',
                 pipeline=test_pipeline))
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=2e-3, betas=(0.9, 0.999), weight_decay=0.05, fused=True),
    constructor='LearningRateDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.75, custom_keys={
        '.ln': dict(decay_mult=0.0), '.bias': dict(decay_mult=0.0),
        '.cls_token': dict(decay_mult=0.0), '.pos_embed': dict(decay_mult=0.0)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=1, end=3, convert_to_iter_based=True),
]
# exact resume, also mid-epoch; refuses another batch size (amd_mm.engine)
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=3, val_interval=1)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(logger=dict(interval=4), checkpoint=dict(interval=1, max_keep_ckpts=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
