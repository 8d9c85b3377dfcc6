# Study, videos: how every video encoder is evaluated (tools/study.py, docs/STUDY.md).
# Primary, the frozen probe (``probe``, read by amd_mm.analysis.probe): the encoder sees all
# tokens of one un-augmented clip; its final-norm tokens are averaged per temporal slot and
# per quadrant of the frame (bins 4 x 2 x 2: the frames' order and the coarse layout are
# kept), standardised, projected on their 256 leading principal components (so that
# encoders of every width are probed with 4x more clips than features), and a logistic
# regression with C chosen by 3-fold cross-validation on the 1024 training clips is scored
# on the 512 held-out clips.
# Secondary, fine-tuning: the tiny video transfer recipe (configs/tiny/finetune_video_tiny.py:
# mmaction2 Recognizer3D + VisionTransformer loading the student directly, layer decay 0.75,
# drop path 0.1, label smoothing 0.1, random erasing) with batch mixing off and one view per
# clip, batch 16, lr 1e-3, 8 epochs, the held-out accuracy after every epoch (the learning
# curve; no model selection) and the test loop after the last one (2 clips x 1 crop).
# tools/study.py sets model.backbone.init_cfg to each student (None: random initialisation).
_base_ = ['../tiny/finetune_video_tiny.py']

data_root = 'work_dirs/study/data/photomotion'
ann_file_train = f'{data_root}/train_list.txt'
ann_file_val = f'{data_root}/val_list.txt'
model = dict(backbone=dict(init_cfg=None), cls_head=dict(num_classes=8),
             data_preprocessor=dict(blending=None))
frames = dict(type='RawframeDataset', data_prefix=dict(img=data_root), filename_tmpl='img_{:05}.png')
train_pipeline = [
    dict(type='SampleFrames', clip_len=8, frame_interval=2, num_clips=1),
    dict(type='CheckedRawFrameDecode', min_frames=16),
    dict(type='RandomResizedCrop', area_range=(0.5, 1.0)),
    dict(type='Resize', scale=(32, 32), keep_ratio=False),
    dict(type='RandomErasing', erase_prob=0.25, mode='rand'),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
val_pipeline = [
    dict(type='SampleFrames', clip_len=8, frame_interval=2, num_clips=1, test_mode=True),
    dict(type='CheckedRawFrameDecode', min_frames=16),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
test_pipeline = [
    dict(type='SampleFrames', clip_len=8, frame_interval=2, num_clips=2, test_mode=True),
    dict(type='CheckedRawFrameDecode', min_frames=16),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
train_dataloader = dict(batch_size=16, dataset=dict(
    _delete_=True, ann_file=ann_file_train, pipeline=train_pipeline, **frames))
val_dataloader = dict(batch_size=32, dataset=dict(
    _delete_=True, ann_file=ann_file_val, pipeline=val_pipeline, test_mode=True, **frames))
test_dataloader = dict(batch_size=8, dataset=dict(
    _delete_=True, ann_file=ann_file_val, pipeline=test_pipeline, test_mode=True, **frames))
max_epochs = 8
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=1, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=1)
default_hooks = dict(logger=dict(interval=16), checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))

probe_loader = dict(
    batch_size=32, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(ann_file=ann_file_train, pipeline=val_pipeline, test_mode=True, **frames))
probe = dict(train_dataloader=probe_loader,
             val_dataloader=dict(probe_loader, dataset=dict(probe_loader['dataset'], ann_file=ann_file_val)),
             bins=(4, 2, 2), dims=256, Cs=[0.001, 0.01, 0.1, 1.0, 10.0], cv=3)
