# Something-Something V2 for masked pre-training, as the official AMD loader
# (dataset/datasets.py VideoMAE_SSV2): 16 frames spread evenly over a random 32-frame
# window (a video of at most 32 frames: spread over all of it, the last frame repeated),
# the 13-offset multi-scale crop, no flip (left/right labels), 4 augmented clips per
# decoded video. The official loader reads extracted JPEG frames; here the videos are
# decoded with decord (RawframeDataset + RawFrameDecode read frames instead).
_base_ = ['./k400_pretrain.py']
data_root = 'data/sthv2/videos'
ann_file = 'data/sthv2/sthv2_train_list_videos.txt'
clip_len, frame_interval = 16, 2
train_pipeline = [
    dict(type='CheckedDecordInit', on_bad='error'),
    dict(type='SpanSample', clip_len=clip_len, frame_interval=frame_interval),
    dict(type='DecordDecode'),
    dict(type='RepeatAugment', num_repeats=4, transforms=[
        dict(type='MultiScaleCrop', input_size=224, scales=(1, 0.875, 0.75, 0.66),
             random_crop=False, max_wh_scale_gap=1, num_fixed_crops=13),
        dict(type='PillowResize', scale=(224, 224), keep_ratio=False),
    ]),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs', meta_keys=('img_shape', 'filename', 'frame_dir')),
]
train_dataloader = dict(
    dataset=dict(ann_file=ann_file, data_prefix=dict(video=data_root), pipeline=train_pipeline))
