# Study, videos, control (frame-shuffled: the frames of every clip in a random order, in
# training and at test time. The frames are those of the main protocol; only their order is
# gone. Classes that are time reversals of each other (approach / move apart, ...) cannot be
# told apart this way; a model may still tell the three kinds of motion apart, so 50% is this
# control's ceiling). The fine-tuning protocol of video_finetune.py otherwise; tools/study.py
# runs it from the AMD students.
_base_ = ['./video_finetune.py']

train_pipeline = [
    dict(type='CheckedDecordInit', min_frames=16),
    dict(type='SampleFrames', clip_len=8, frame_interval=2, num_clips=1),
    dict(type='TemporalControl', mode='shuffle'),
    dict(type='DecordDecode'),
    dict(type='RepeatAugment', num_repeats=1, transforms=[
        dict(type='RandomResizedCrop', area_range=(0.5, 1.0)),
        dict(type='Resize', scale=(32, 32), keep_ratio=False),
        dict(type='RandomErasing', erase_prob=0.25, mode='rand'),
    ]),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
test_pipeline = [
    dict(type='CheckedDecordInit', min_frames=16),
    dict(type='SampleFrames', clip_len=8, frame_interval=2, num_clips=2, test_mode=True),
    dict(type='TemporalControl', mode='shuffle'),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 32)),
    dict(type='ThreeCrop', crop_size=32),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
