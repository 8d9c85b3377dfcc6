# Something-Something V2 variant of video_vit_finetune.py: 174 classes, no flip (left /
# right are labels), and the official TSN-style sampling (datasets.py
# SSRawFrameClsDataset): 16 segments x 1 frame over the whole video, in training (a random
# frame per segment) and in test (2 views: segment starts and half a segment later,
# x 3 crops).
_base_ = ['./video_vit_finetune.py']

num_classes = 174
num_segments, test_clips = 16, 2
mean, std = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]
data_root = 'data/sthv2/videos'
ann_file_train = 'data/sthv2/sthv2_train_list_videos.txt'
ann_file_val = 'data/sthv2/sthv2_val_list_videos.txt'
model = dict(
    cls_head=dict(num_classes=num_classes),
    data_preprocessor=dict(blending=dict(type='RandomBatchAugment', augments=[
        dict(type='MixupBlending', alpha=0.8, num_classes=num_classes),
        dict(type='CutmixBlending', alpha=1.0, num_classes=num_classes)])))
train_aug = [  # the K400 augmentation without the flip
    dict(type='ClipRandAugment', config_str='rand-m7-n4-mstd0.5-inc1', interpolation='bicubic',
         hparams=dict(translate_const=int(224 * 0.45))),
    dict(type='RandomResizedCrop', area_range=(0.08, 1.0), aspect_ratio_range=(0.75, 1.3333)),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='PixelRandomErasing', erase_prob=0.25, min_area_ratio=0.02, max_area_ratio=1 / 3,
         min_aspect=0.3, mean=mean, std=std, max_attempts=100),
]
train_pipeline = [
    dict(type='CheckedDecordInit', min_frames=0, on_bad='error'),
    dict(type='SegmentSample', num_segments=num_segments),
    dict(type='DecordDecode'),
    dict(type='RepeatAugment', num_repeats=2, transforms=train_aug),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
val_pipeline = [
    dict(type='CheckedDecordInit'),
    dict(type='SegmentSample', num_segments=num_segments, test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 224)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
test_pipeline = [
    dict(type='CheckedDecordInit'),
    dict(type='SegmentSample', num_segments=num_segments, num_clips=test_clips, test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 224)),
    dict(type='ThreeCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
train_dataloader = dict(dataset=dict(ann_file=ann_file_train, data_prefix=dict(video=data_root),
                                     pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(ann_file=ann_file_val, data_prefix=dict(video=data_root),
                                   pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(ann_file=ann_file_val, data_prefix=dict(video=data_root),
                                    pipeline=test_pipeline))
