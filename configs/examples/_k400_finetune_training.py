# The training half of Kinetics-400 fine-tuning for mmaction2's shipped VideoMAE /
# VideoMAEv2 configs, which hold only the model, its normalisation and the test protocol.
# The official AMD recipe at 8d2ec6f, written with mmaction2's own transforms only (no
# amd_mm): scripts/finetune/dist_train/vits_k400_ft.sh:28-41 (32 GPUs x 16 videos, AdamW
# (0.9, 0.999), wd 0.05, lr 1e-3 per 256, 150 epochs, 16 frames, 5 x 3 test views) and the
# defaults of run_class_finetuning.py: layer decay 0.75 (:136), drop path 0.1 (:67-69),
# 5 warm-up epochs (:150-152), min lr 1e-6 (:144-146), RandAugment m7 n4 (:175-177),
# label smoothing 0.1 (:182-184), random erasing 0.25 (:201-204), mixup 0.8 / cutmix 1.0
# (:221-228). Not here: the official 2 augmented clips per decoded video (num_sample=2),
# which needs amd_mm's RepeatAugment + ViewsAsSamplesPreprocessor (configs/finetune/k400).
# The model-side settings (drop path, label smoothing, mixup / cutmix) are in the configs
# that inherit this one, as the shipped base owns `model`.
train_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=16, frame_interval=4, num_clips=1),
    dict(type='DecordDecode'),
    dict(type='RandomResizedCrop', area_range=(0.08, 1.0)),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='TorchVisionWrapper', op='RandAugment', magnitude=7, num_ops=4),
    dict(type='RandomErasing', erase_prob=0.25, mode='rand'),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
val_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=16, frame_interval=4, num_clips=1, test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 224)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
train_dataloader = dict(
    batch_size=16, num_workers=8, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='VideoDataset', ann_file='data/kinetics400/kinetics400_train_list_videos.txt',
                 data_prefix=dict(video='data/kinetics400/videos_train'), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16, num_workers=8, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='VideoDataset', ann_file='data/kinetics400/kinetics400_val_list_videos.txt',
                 data_prefix=dict(video='data/kinetics400/videos_val'), pipeline=val_pipeline,
                 test_mode=True))
val_evaluator = dict(type='AccMetric')
val_cfg = dict(type='ValLoop')

optim_wrapper = dict(
    type='AmpOptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3 * 512 / 256, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='LearningRateDecayOptimizerConstructor',
    paramwise_cfg=dict(decay_rate=0.75, decay_type='layer_wise', num_layers=12))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=145, eta_min=1e-6, by_epoch=True, begin=5, end=150,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=150, val_begin=1, val_interval=5)
auto_scale_lr = dict(enable=False, base_batch_size=512)
# seed + rank on every rank, as run_class_finetuning.py:390-392: per-GPU mixup / cutmix
# and drop-path draws (the shipped configs seed every rank alike)
randomness = dict(seed=0, diff_rank_seed=True)
