# Benchmark setting (images), measured by tools/benchmark.py and reported in
# docs/PERFORMANCE.md: MaskedViT ViT-S/16 student <- MaskedViT ViT-B/16 teacher (mmpretrain
# names, random weights), 4 images of 224 x 224 per step, random masks 0.75 / 0.5,
# layers 6,12 <-> 6,12, decoder depth 4 (width 192, 3 heads, as the video setting),
# generator depth 2, AdamW, fp32.
#
#   python tools/benchmark.py configs/benchmark/amd_image_vit-s_vit-b_bench.py
#
# The dataset is the generated demo data (python tools/make_demo_data.py).
_base_ = ['../_base_/models/amd_image.py', '../_base_/default_runtime_mmpretrain.py']

img_size = 224
model = dict(
    backbone=dict(img_size=img_size, patch_size=16),
    teacher=dict(backbone=dict(img_size=img_size, patch_size=16), checkpoint=None),
    mask_generator=dict(type='AsymmetricMaskGenerator', student_ratio=0.75, teacher_ratio=0.5,
                        mode='random'),
    decoder=dict(type='PixelDecoder', embed_dims=192, depth=4, num_heads=3),
    generator=dict(type='FeatureGenerator', depth=2),
    student_layers=[6, 12],
    teacher_layers=[6, 12])

data_root = 'data/demo/images/'
train_pipeline = [
    dict(type='CheckedLoadImageFromFile', on_bad='error'),
    dict(type='RandomResizedCrop', scale=img_size, crop_ratio_range=(0.2, 1.0),
         backend='pillow', interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='CustomDataset', data_root=data_root, data_prefix='train',
                 with_label=False, pipeline=train_pipeline))

# fp32 AdamW (betas 0.9 / 0.95, wd 0.05, grad clip 0.02 as the video setting)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1.5e-4, betas=(0.9, 0.95), weight_decay=0.05, fused=True),
    clip_grad=dict(max_norm=0.02),
    # no weight decay on 1-D parameters (biases, norms) and tokens
    constructor='ShapeDecayOptimWrapperConstructor')
# exact resume, also mid-epoch; refuses another batch size (amd_mm.engine)
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=1)
default_hooks = dict(logger=dict(interval=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
