# Video fine-tuning of a pre-trained student with mmaction2's own Recognizer3D +
# VisionTransformer, the official AMD / VideoMAE recipe (run_class_finetuning.py at 8d2ec6f;
# setting by setting in docs/RECIPES.md): AdamW (0.9, 0.999), wd 0.05 (none on 1-D
# parameters and biases), layer decay 0.75, drop path 0.1, head trunc_normal(0.02) x 0.001,
# label smoothing 0.1, mixup 0.8 / cutmix 1.0, 2 augmented clips per decoded video, timm
# RandAugment rand-m7-n4-mstd0.5-inc1 (one draw per clip, before the crop), random erasing
# 0.25 with N(0, 1) noise, 5 warm-up epochs from 0, cosine to min_lr x layer scale.
# This base is ViT-S on Kinetics-400 (150 epochs, lr 1e-3 per 256 clips).
_base_ = ['../default_runtime_mmaction.py']

pretrained = 'work_dirs/amd_vit-s-p16_videomae-vit-l_32xb16-16x4x1-200e_k400'  # its last checkpoint
num_classes = 400
embed_dims, num_heads = 384, 6
clip_len, frame_interval = 16, 4
test_clips = 5
flip = 0.5
mean, std = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]
data_root, data_root_val = 'data/kinetics400/videos_train', 'data/kinetics400/videos_val'
ann_file_train = 'data/kinetics400/kinetics400_train_list_videos.txt'
ann_file_val = 'data/kinetics400/kinetics400_val_list_videos.txt'

model = dict(
    type='Recognizer3D',
    backbone=dict(
        type='VisionTransformer', img_size=224, patch_size=16, embed_dims=embed_dims, depth=12,
        num_heads=num_heads, mlp_ratio=4, qkv_bias=True, num_frames=clip_len, tubelet_size=2,
        norm_cfg=dict(type='LN', eps=1e-6), drop_path_rate=0.1, use_mean_pooling=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    # official head init: trunc_normal(std 0.02) then x init_scale 0.001 = std 2e-5
    cls_head=dict(type='TimeSformerHead', num_classes=num_classes, in_channels=embed_dims,
                  average_clips='prob', label_smooth_eps=0.1, dropout_ratio=0.0,
                  init_std=0.02 * 0.001),
    data_preprocessor=dict(
        type='ViewsAsSamplesPreprocessor', mean=mean, std=std, format_shape='NCTHW',
        blending=dict(type='RandomBatchAugment', augments=[
            dict(type='MixupBlending', alpha=0.8, num_classes=num_classes),
            dict(type='CutmixBlending', alpha=1.0, num_classes=num_classes)])))

# official order (datasets.py VideoClsDataset._aug_frame): RandAugment on the whole
# frames, then random-resized crop + flip, then random erasing
train_aug = [
    dict(type='ClipRandAugment', config_str='rand-m7-n4-mstd0.5-inc1', interpolation='bicubic',
         hparams=dict(translate_const=int(224 * 0.45))),
    dict(type='RandomResizedCrop', area_range=(0.08, 1.0), aspect_ratio_range=(0.75, 1.3333)),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='Flip', flip_ratio=flip),
    dict(type='PixelRandomErasing', erase_prob=0.25, min_area_ratio=0.02, max_area_ratio=1 / 3,
         min_aspect=0.3, mean=mean, std=std, max_attempts=100),
]
train_pipeline = [
    dict(type='CheckedDecordInit', min_frames=0, on_bad='error'),
    dict(type='SpanSample', clip_len=clip_len, frame_interval=frame_interval),
    dict(type='DecordDecode'),
    dict(type='RepeatAugment', num_repeats=2, transforms=train_aug),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
val_pipeline = [
    dict(type='CheckedDecordInit'),
    dict(type='SampleFrames', clip_len=clip_len, frame_interval=frame_interval, num_clips=1,
         test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 224)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
# multi-view test protocol: test_clips temporal clips x 3 spatial crops, scores averaged
test_pipeline = [
    dict(type='CheckedDecordInit'),
    dict(type='SpanSample', clip_len=clip_len, frame_interval=frame_interval,
         num_clips=test_clips, test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 224)),
    dict(type='ThreeCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
train_dataloader = dict(
    batch_size=16, num_workers=8, persistent_workers=True, drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='VideoDataset', ann_file=ann_file_train, data_prefix=dict(video=data_root),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16, num_workers=8, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='VideoDataset', ann_file=ann_file_val, data_prefix=dict(video=data_root_val),
                 pipeline=val_pipeline, test_mode=True))
test_dataloader = dict(
    batch_size=1, num_workers=8, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='VideoDataset', ann_file=ann_file_val, data_prefix=dict(video=data_root_val),
                 pipeline=test_pipeline, test_mode=True))
val_evaluator = dict(type='AccMetric')
test_evaluator = val_evaluator

# official --lr and --min_lr are per 256 clips; both scale with the batch (x 512 / 256)
base_lr, min_lr, epochs, warmup = 1e-3, 1e-6, 150, 5
optim_wrapper = dict(
    type='AmpOptimWrapper',
    # DeepSpeed's dynamic fp16 loss scale of the official runs: 2^7 at start, x2 after
    # 128 steps without overflow (utils.py create_ds_config)
    loss_scale=dict(init_scale=2.0**7, growth_interval=128),
    optimizer=dict(type='AdamW', lr=base_lr * 512 / 256, betas=(0.9, 0.999), eps=1e-8,
                   weight_decay=0.05, fused=True),
    constructor='LearningRateDecayOptimizerConstructor',
    paramwise_cfg=dict(decay_rate=0.75, decay_type='layer_wise', num_layers=12))
# warm-up from (almost) 0 per iteration (LinearLR cannot start at exactly 0); cosine to
# min_lr, scaled like every group's lr by its layer-decay factor: eta_min_ratio is
# relative to each group's own initial lr
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-8, by_epoch=True, begin=0, end=warmup,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=epochs - warmup, eta_min_ratio=min_lr / base_lr,
         by_epoch=True, begin=warmup, end=epochs, convert_to_iter_based=True),
]
# exact resume, also mid-epoch; refuses another batch size (amd_mm.engine)
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=epochs, val_begin=1, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# checkpoints every 500 iterations (K400 at 32 x 16: 240436 // 512 = 469 per epoch), the last 3
# kept, plus the best by validation
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=500, max_keep_ckpts=3, save_best='auto'))
# the lr above is for 32 GPUs x 16 videos = 512 (official: base lr x total batch / 256)
auto_scale_lr = dict(enable=False, base_batch_size=512)
