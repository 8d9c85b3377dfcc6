# Tiny video transfer: fine-tune the AMD student of amd_video_tiny.py on the moving-digit
# direction task (4 classes) with mmaction2's own Recognizer3D + VisionTransformer (no
# conversion: init_cfg Pretrained, prefix 'backbone.'); the official recipe's pieces at toy
# scale (layer decay, mixup/cutmix, label smoothing, random erasing, 2 clips per video);
# test protocol 2 clips x 3 crops. Another checkpoint:
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH
# UCF101/HMDB51-style split files: videos/ucf101_{train,val}_split_{1,2,3}_videos.txt.
_base_ = ['../_base_/default_runtime_mmaction.py']

pretrained = 'work_dirs/amd_video_tiny/epoch_4.pth'
data_root = 'data/demo/videos'
ann_file_train = 'data/demo/videos/ucf101_train_split_1_videos.txt'
ann_file_val = 'data/demo/videos/ucf101_val_split_1_videos.txt'
model = dict(
    type='Recognizer3D',
    backbone=dict(
        type='VisionTransformer', img_size=32, patch_size=4, embed_dims=64, depth=4, num_heads=4,
        mlp_ratio=2, qkv_bias=True, num_frames=8, tubelet_size=2,
        norm_cfg=dict(type='LN', eps=1e-6), drop_path_rate=0.1, use_mean_pooling=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    cls_head=dict(type='TimeSformerHead', num_classes=4, in_channels=64, average_clips='prob',
                  label_smooth_eps=0.1),
    data_preprocessor=dict(
        type='ViewsAsSamplesPreprocessor', mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375], format_shape='NCTHW',
        blending=dict(type='RandomBatchAugment', augments=[
            dict(type='MixupBlending', alpha=0.8, num_classes=4),
            dict(type='CutmixBlending', alpha=1.0, num_classes=4)])))
train_pipeline = [
    dict(type='CheckedDecordInit', min_frames=16),
    dict(type='SampleFrames', clip_len=8, frame_interval=2, num_clips=1),
    dict(type='DecordDecode'),
    dict(type='RepeatAugment', num_repeats=2, transforms=[
        dict(type='RandomResizedCrop', area_range=(0.5, 1.0)),
        dict(type='Resize', scale=(32, 32), keep_ratio=False),
        dict(type='RandomErasing', erase_prob=0.25, mode='rand'),
    ]),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
val_pipeline = [
    dict(type='CheckedDecordInit', min_frames=16),
    dict(type='SampleFrames', clip_len=8, frame_interval=2, num_clips=1, test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 32)),
    dict(type='CenterCrop', crop_size=32),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
test_pipeline = [
    dict(type='CheckedDecordInit', min_frames=16),
    dict(type='SampleFrames', clip_len=8, frame_interval=2, num_clips=2, test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 32)),
    dict(type='ThreeCrop', crop_size=32),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
train_dataloader = dict(
    batch_size=8, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='VideoDataset', ann_file=ann_file_train, data_prefix=dict(video=data_root),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='VideoDataset', ann_file=ann_file_val, data_prefix=dict(video=data_root),
                 pipeline=val_pipeline, test_mode=True))
test_dataloader = dict(
    batch_size=1, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='VideoDataset', ann_file=ann_file_val, data_prefix=dict(video=data_root),
                 pipeline=test_pipeline, test_mode=True))
val_evaluator = dict(type='AccMetric')
test_evaluator = val_evaluator
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.05, fused=True),
    constructor='LearningRateDecayOptimizerConstructor',
    paramwise_cfg=dict(decay_rate=0.75, decay_type='layer_wise', num_layers=4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=1, end=3, convert_to_iter_based=True),
]
# exact resume, also mid-epoch; refuses another batch size (amd_mm.engine)
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=3, val_begin=1, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(logger=dict(interval=2), checkpoint=dict(interval=1, max_keep_ckpts=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
