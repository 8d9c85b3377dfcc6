# CPU-sized video pre-training on the generated mp4s (python tools/make_demo_data.py).
_base_ = ['../_base_/default_runtime_mmaction.py']

data_root = 'data/demo/videos'
ann_file = 'data/demo/videos/train_list.txt'
clip_len, frame_interval = 8, 2
train_pipeline = [
    dict(type='CheckedDecordInit', min_frames=clip_len * frame_interval, on_bad='error'),
    dict(type='SampleFrames', clip_len=clip_len, frame_interval=frame_interval, num_clips=1),
    dict(type='DecordDecode'),
    dict(type='RepeatAugment', num_repeats=2, transforms=[
        dict(type='MultiScaleCrop', input_size=32, scales=(1, 0.875, 0.75, 0.66),
             random_crop=False, max_wh_scale_gap=1),
        dict(type='Resize', scale=(32, 32), keep_ratio=False),
    ]),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs', meta_keys=('img_shape', 'filename', 'frame_dir')),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='VideoDataset', ann_file=ann_file, data_prefix=dict(video=data_root),
                 pipeline=train_pipeline))
data_preprocessor = dict(type='ActionDataPreprocessor', mean=[123.675, 116.28, 103.53],
                         std=[58.395, 57.12, 57.375], format_shape='NCTHW')

# fp32: stop with a clear report on a NaN/inf loss (on_nonfinite='skip' to drop the step)
optim_wrapper = dict(
    type='NonFiniteGuardOptimWrapper',
    on_nonfinite='stop',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.95), weight_decay=0.05, fused=True),
    clip_grad=dict(max_norm=1.0),
    # no weight decay on 1-D parameters (biases, q_bias / v_bias, norms) and mask tokens
    constructor='ShapeDecayOptimWrapperConstructor')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=1, end=4, convert_to_iter_based=True),
]
# exact resume, also from mid-epoch checkpoints (amd_mm.engine)
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=4)
default_hooks = dict(logger=dict(interval=2), checkpoint=dict(interval=1, max_keep_ckpts=2))
env_cfg = dict(dist_cfg=dict(backend='gloo'))

# tiny VideoMAE ViTs: 8 frames x 32 px, tubelet 2, patch 4 -> 4 x 8 x 8 = 256 tokens
vit_common = dict(type='MaskedVideoViT', img_size=32, patch_size=4, num_frames=8, tubelet_size=2,
                  mlp_ratio=2, qkv_bias=True, norm_cfg=dict(type='LN', eps=1e-6))
teacher_backbone = dict(vit_common, embed_dims=96, depth=4, num_heads=4)
student_backbone = dict(vit_common, embed_dims=64, depth=4, num_heads=4)
