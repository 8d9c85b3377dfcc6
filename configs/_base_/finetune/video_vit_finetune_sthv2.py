# Something-Something V2 variant of video_vit_finetune.py: 174 classes, 16x2 sampling,
# no flip (left/right are labels), test 2 clips x 3 crops.
_base_ = ['./video_vit_finetune.py']

num_classes = 174
data_root = 'data/sthv2/videos'
ann_file_train = 'data/sthv2/sthv2_train_list_videos.txt'
ann_file_val = 'data/sthv2/sthv2_val_list_videos.txt'
model = dict(
    cls_head=dict(num_classes=num_classes),
    data_preprocessor=dict(blending=dict(type='RandomBatchAugment', augments=[
        dict(type='MixupBlending', alpha=0.8, num_classes=num_classes),
        dict(type='CutmixBlending', alpha=1.0, num_classes=num_classes)])))
train_pipeline = [
    dict(type='CheckedDecordInit', min_frames=0, on_bad='error'),
    dict(type='SampleFrames', clip_len=16, frame_interval=2, num_clips=1),
    dict(type='DecordDecode'),
    dict(type='RepeatAugment', num_repeats=2, transforms=[
        dict(type='RandomResizedCrop', area_range=(0.08, 1.0)),
        dict(type='Resize', scale=(224, 224), keep_ratio=False),
        dict(type='TorchVisionWrapper', op='RandAugment', magnitude=7, num_ops=4),
        dict(type='RandomErasing', erase_prob=0.25, mode='rand'),
    ]),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
val_pipeline = [
    dict(type='CheckedDecordInit'),
    dict(type='SampleFrames', clip_len=16, frame_interval=2, num_clips=1, test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 224)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
test_pipeline = [
    dict(type='CheckedDecordInit'),
    dict(type='SampleFrames', clip_len=16, frame_interval=2, num_clips=2, test_mode=True),
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
