# Benchmark setting (video), measured by tools/benchmark.py and reported in
# docs/PERFORMANCE.md: ViT-S/16 student <- ViT-B/16 teacher (random weights), 2 clips of
# 16 x 112 x 112 per step, tubelet 2, tube masks 0.9 / 0.75, layers 6,12 <-> 6,12,
# decoder depth 4 (width 192, 3 heads as the official ViT-S), generator depth 2, AdamW,
# fp32. A "clip" is one (3, 16, 112, 112) sample through the model: batch_size 2 videos
# x RepeatAugment num_repeats 1 view each = 2 clips per step.
#
#   python tools/benchmark.py configs/benchmark/amd_video_vit-s_vit-b_bench.py
#   python tools/benchmark.py configs/benchmark/amd_video_vit-s_vit-b_bench.py --dataloader
#
# The dataset is the generated demo data (python tools/make_demo_data.py), so the
# config also trains with tools/train.py (teacher random: for timing only).
_base_ = ['../_base_/models/amd_video.py', '../_base_/default_runtime_mmaction.py']

img_size, clip_len, frame_interval, num_repeats = 112, 16, 2, 1
vit_b = dict(embed_dims=768, depth=12, num_heads=12)
model = dict(
    backbone=dict(img_size=img_size, num_frames=clip_len, tubelet_size=2),
    teacher=dict(backbone=dict(img_size=img_size, num_frames=clip_len, tubelet_size=2, **vit_b),
                 checkpoint=None),
    mask_generator=dict(type='AsymmetricMaskGenerator', student_ratio=0.9, teacher_ratio=0.75,
                        mode='tube'),
    decoder=dict(type='PixelDecoder', embed_dims=192, depth=4, num_heads=3),
    generator=dict(type='FeatureGenerator', depth=2),
    student_layers=[6, 12],
    teacher_layers=[6, 12])

data_root = 'data/demo/videos'
ann_file = 'data/demo/videos/train_list.txt'
train_pipeline = [
    dict(type='CheckedDecordInit', min_frames=clip_len * frame_interval, on_bad='error'),
    dict(type='SampleFrames', clip_len=clip_len, frame_interval=frame_interval, num_clips=1),
    dict(type='DecordDecode'),
    dict(type='RepeatAugment', num_repeats=num_repeats, transforms=[
        dict(type='MultiScaleCrop', input_size=img_size, scales=(1, 0.875, 0.75, 0.66),
             random_crop=False, max_wh_scale_gap=1),
        dict(type='Resize', scale=(img_size, img_size), keep_ratio=False),
    ]),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs', meta_keys=('img_shape', 'filename', 'frame_dir')),
]
train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='VideoDataset', ann_file=ann_file, data_prefix=dict(video=data_root),
                 pipeline=train_pipeline))

# fp32 AdamW as the official recipe (betas 0.9 / 0.95, wd 0.05, grad clip 0.02)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1.2e-3, betas=(0.9, 0.95), weight_decay=0.05, fused=True),
    clip_grad=dict(max_norm=0.02),
    # no weight decay on 1-D parameters (biases, q_bias / v_bias, norms) and tokens
    constructor='ShapeDecayOptimWrapperConstructor')
# exact resume, also mid-epoch; refuses another batch size (amd_mm.engine)
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=1)
default_hooks = dict(logger=dict(interval=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
