# Study, videos (tools/study.py, docs/STUDY.md): the AMD student. Everything of the study's
# video runs is here; every other video file changes only what its comment says.
# Model: the tiny AMD video config (configs/tiny/amd_video_tiny.py: 8 frames x 32 px, tubelet 2,
# patch 4, student width 64 / 4 blocks, tube masks 0.9 / 0.75 as the official scripts,
# per-patch per-channel normalised pixel targets) with a teacher of the student's own
# architecture trained 3x longer (video_videomae_teacher.py; in the pilots a wider, deeper
# teacher probed worse than this one at the study's data size, docs/STUDY.md), student
# layers 2 and 4 aligned with the teacher's layers 2 and 4 (middle + last), one projection
# head per layer, direct and generative l2 losses of weight 1, and a one-block pixel
# decoder (the two-block one of the tiny config costs 60% more per step on CPU; the same
# for every arm).
# Data: the photomotion clips (amd_mm.tools_lib.study_data.make_photo_motion): 1024 train
# clips of 16 lossless PNG frames, 8 frames read with interval 2, one multi-scale crop per
# clip, batch 16, 24 epochs = 1536 steps; AdamW lr 1e-3 (the tiny recipe), one epoch of linear
# warm-up then cosine to 1e-6. tools/study.py re-roots 'work_dirs/study/' to its --out and
# sets work_dir and randomness.seed per run.
_base_ = ['../tiny/amd_video_tiny.py']

data_root = 'work_dirs/study/data/photomotion'
train_pipeline = [
    dict(type='SampleFrames', clip_len=8, frame_interval=2, num_clips=1),
    dict(type='CheckedRawFrameDecode', min_frames=16),
    dict(type='MultiScaleCrop', input_size=32, scales=(1, 0.875, 0.75, 0.66), random_crop=False,
         max_wh_scale_gap=1),
    dict(type='Resize', scale=(32, 32), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs', meta_keys=('img_shape', 'frame_dir')),
]
train_dataloader = dict(batch_size=16, dataset=dict(
    _delete_=True, type='RawframeDataset', ann_file=f'{data_root}/train_list.txt',
    data_prefix=dict(img=data_root), filename_tmpl='img_{:05}.png', pipeline=train_pipeline))

model = dict(
    # the tiny config's teacher is 96 wide: here the student's width
    teacher=dict(backbone=dict(embed_dims=64), checkpoint='work_dirs/study/runs/video_teacher/pretrain'),
    decoder=dict(depth=1),
    student_layers=[2, 4],
    teacher_layers=[2, 4],
    loss_rec=dict(type='AlignLoss', mode='l2', loss_weight=1.0),
    loss_dir=dict(type='AlignLoss', mode='l2', loss_weight=1.0),
    loss_gen=dict(type='AlignLoss', mode='l2', loss_weight=1.0))

max_epochs = 24
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=1, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)
default_hooks = dict(logger=dict(interval=16), checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
custom_hooks = [dict(type='DistSanityHook', interval=1000),
                dict(type='MaskReconstructionVisHook', interval=0, draw_last=True, max_samples=4)]
