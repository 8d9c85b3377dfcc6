# The raw-frames alternative to videomae_teacher_video_tiny.py: the same clips stored as
# JPEG folders (mmaction2 RawframeDataset, list lines "<dir> <num_frames> <label>").
# CheckedRawFrameDecode refuses, naming the folder or frame, what CheckedDecordInit refuses
# for videos: folders shorter than the clip (min_frames; never a silent loop), missing
# and truncated frames.
_base_ = ['./videomae_teacher_video_tiny.py']

clip_len, frame_interval = 8, 2
train_pipeline = [
    dict(type='SampleFrames', clip_len=clip_len, frame_interval=frame_interval, num_clips=1),
    dict(type='CheckedRawFrameDecode', min_frames=clip_len * frame_interval, on_bad='error'),
    dict(type='RepeatAugment', num_repeats=2, transforms=[
        dict(type='MultiScaleCrop', input_size=32, scales=(1, 0.875, 0.75, 0.66),
             random_crop=False, max_wh_scale_gap=1),
        dict(type='Resize', scale=(32, 32), keep_ratio=False),
    ]),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs', meta_keys=('img_shape', 'filename', 'frame_dir')),
]
train_dataloader = dict(
    dataset=dict(_delete_=True, type='RawframeDataset', ann_file='data/demo/rawframes/train_list.txt',
                 data_prefix=dict(img='data/demo/rawframes'), filename_tmpl='img_{:05d}.jpg',
                 pipeline=train_pipeline))
