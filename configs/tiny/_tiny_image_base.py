# CPU-sized image pre-training on the generated digits (python tools/make_demo_data.py).
_base_ = ['../_base_/default_runtime_mmpretrain.py']

data_root = 'data/demo/images/'
data_preprocessor = dict(
    type='SelfSupDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)
train_pipeline = [
    dict(type='CheckedLoadImageFromFile', on_bad='error'),
    dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.5, 1.0),
         backend='pillow', interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='CustomDataset', data_root=data_root, data_prefix='train',
                 with_label=False, pipeline=train_pipeline))

# fp32: stop with a clear report on a NaN/inf loss (on_nonfinite='skip' to drop the step)
optim_wrapper = dict(
    type='NonFiniteGuardOptimWrapper',
    on_nonfinite='stop',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.95), weight_decay=0.05, fused=True),
    # no weight decay on 1-D parameters (biases, norms) and the tokens
    constructor='ShapeDecayOptimWrapperConstructor')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=1, end=4, convert_to_iter_based=True),
]
# exact resume, also from mid-epoch checkpoints (amd_mm.engine)
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=4)
default_hooks = dict(logger=dict(interval=4), checkpoint=dict(interval=1, max_keep_ckpts=2))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
log_level = 'INFO'

# tiny ViTs: 32 px, patch 4 -> 8 x 8 = 64 tokens
teacher_arch = dict(embed_dims=96, num_layers=4, num_heads=4, feedforward_channels=384)
student_arch = dict(embed_dims=64, num_layers=4, num_heads=4, feedforward_channels=256)
