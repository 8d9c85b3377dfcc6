# Kinetics-400 for masked pre-training, as the official AMD loader (dataset/datasets.py
# VideoMAE, dataset/build.py DataAugmentationForMAE): list file "<video> <label>" per line,
# decord, 16 frames every 4th from a random start (StrideSample: in videos shorter than 64
# frames the official offset loop stops before the last frame and the last sampled frame
# repeats), the multi-scale crop with 13 fixed offsets and a Pillow bilinear resize to
# 224, no flip, 4 augmented clips per decoded video (num_sample=4 in the official scripts).
# An undecodable video stops training naming the file (on_bad='skip': log it and draw another).
dataset_type = 'VideoDataset'
data_root = 'data/kinetics400/videos_train'
ann_file = 'data/kinetics400/kinetics400_train_list_videos.txt'
clip_len, frame_interval, num_repeats = 16, 4, 4
train_pipeline = [
    dict(type='CheckedDecordInit', on_bad='error'),
    dict(type='StrideSample', clip_len=clip_len, frame_interval=frame_interval),
    dict(type='DecordDecode'),
    dict(type='RepeatAugment', num_repeats=num_repeats, transforms=[
        dict(type='MultiScaleCrop', input_size=224, scales=(1, 0.875, 0.75, 0.66),
             random_crop=False, max_wh_scale_gap=1, num_fixed_crops=13),
        dict(type='PillowResize', scale=(224, 224), keep_ratio=False),
    ]),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs', meta_keys=('img_shape', 'filename', 'frame_dir')),
]
train_dataloader = dict(
    batch_size=16,
    num_workers=10,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, ann_file=ann_file, data_prefix=dict(video=data_root),
                 pipeline=train_pipeline))
