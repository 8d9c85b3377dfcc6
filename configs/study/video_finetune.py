# Study, videos: fine-tuning and linear-probing protocol of every video student on the
# eight motion classes (amd_mm.tools_lib.demo_data.MOTIONS). Fine-tune: the tiny video transfer
# recipe (configs/tiny/finetune_video_tiny.py: mmaction2 Recognizer3D + VisionTransformer
# loading the student directly, layer decay 0.75, drop path 0.1, label smoothing 0.1,
# random erasing; test 2 clips x 3 crops) with the batch mixing off (it kept every model at
# chance with a few hundred clips), 1 augmented view per clip instead of 2 (half the cost),
# 10 epochs, batch 16, lr 1e-3, no validation during training (no model selection on the
# held-out split), then the test loop on the held-out split. tools/study.py sets
# model.backbone.init_cfg.checkpoint to each student (None: random initialisation).
# Linear probe (``probe``, read by amd_mm.analysis.probe): un-augmented single clips of the
# train and held-out lists, logistic regression with C chosen by 3-fold cross-validation on
# train only.
_base_ = ['../tiny/finetune_video_tiny.py']

data_root = 'work_dirs/study/data/motion'
ann_file_train = 'work_dirs/study/data/motion/train_list.txt'
ann_file_val = 'work_dirs/study/data/motion/val_list.txt'
model = dict(
    backbone=dict(init_cfg=dict(checkpoint='work_dirs/study/runs/video_amd_s0/pretrain/epoch_15.pth')),
    cls_head=dict(num_classes=8),
    data_preprocessor=dict(blending=None))
train_pipeline = [
    dict(type='CheckedDecordInit', min_frames=16),
    dict(type='SampleFrames', clip_len=8, frame_interval=2, num_clips=1),
    dict(type='DecordDecode'),
    dict(type='RepeatAugment', num_repeats=1, transforms=[
        dict(type='RandomResizedCrop', area_range=(0.5, 1.0)),
        dict(type='Resize', scale=(32, 32), keep_ratio=False),
        dict(type='RandomErasing', erase_prob=0.25, mode='rand'),
    ]),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
train_dataloader = dict(batch_size=16, dataset=dict(
    ann_file=ann_file_train, data_prefix=dict(video=data_root), pipeline=train_pipeline))
test_dataloader = dict(batch_size=8, dataset=dict(ann_file=ann_file_val,
                                                  data_prefix=dict(video=data_root)))
val_dataloader = None
val_cfg = None
val_evaluator = None
max_epochs = 10
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=1, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)
default_hooks = dict(logger=dict(interval=4), checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))

probe_loader = dict(
    batch_size=16, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='VideoDataset', ann_file=ann_file_train, data_prefix=dict(video=data_root),
                 pipeline={{_base_.val_pipeline}}, test_mode=True))
probe = dict(train_dataloader=probe_loader,
             val_dataloader=dict(probe_loader, dataset=dict(probe_loader['dataset'], ann_file=ann_file_val)),
             Cs=[0.001, 0.01, 0.1, 1.0, 10.0], cv=3)
