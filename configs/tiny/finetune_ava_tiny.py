# Tiny AVA-style spatio-temporal action detection: the AMD video student of amd_video_tiny.py
# in mmaction2's own FastRCNN (mmdet) / AVARoIHead / BBoxHeadAVA on mmaction2's
# VisionTransformer (no conversion: init_cfg Pretrained, prefix 'backbone.'), evaluated
# with mmaction2's AVAMetric (frame mAP). Data: python tools/make_demo_data.py --only ava.
# Another checkpoint: --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = ['../_base_/default_runtime_mmaction.py']

pretrained = 'work_dirs/amd_video_tiny/epoch_4.pth'
num_classes = 5  # 4 actions + background
model = dict(
    type='FastRCNN',
    _scope_='mmdet',
    backbone=dict(
        type='mmaction.VisionTransformer', img_size=32, patch_size=4, embed_dims=64, depth=4,
        num_heads=4, mlp_ratio=2, qkv_bias=True, num_frames=8, tubelet_size=2,
        norm_cfg=dict(type='LN', eps=1e-6), drop_path_rate=0.1, use_mean_pooling=False,
        return_feat_map=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    roi_head=dict(
        type='AVARoIHead',
        bbox_roi_extractor=dict(type='SingleRoIExtractor3D', roi_layer_type='RoIAlign',
                                output_size=4, with_temporal_pool=True,
                                featmap_stride=4),  # = the patch size
        bbox_head=dict(type='BBoxHeadAVA', background_class=True, in_channels=64,
                       num_classes=num_classes, multilabel=True, topk=(1, 2),
                       dropout_ratio=0.2)),
    data_preprocessor=dict(type='ActionDataPreprocessor', _scope_='mmaction',
                           mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                           format_shape='NCTHW'),
    train_cfg=dict(rcnn=dict(
        assigner=dict(type='MaxIoUAssignerAVA', pos_iou_thr=0.9, neg_iou_thr=0.9, min_pos_iou=0.9),
        sampler=dict(type='RandomSampler', num=32, pos_fraction=1, neg_pos_ub=-1,
                     add_gt_as_proposals=True),
        pos_weight=1.0)),
    test_cfg=dict(rcnn=None))

data_root = 'data/demo/ava/rawframes'
anno_root = 'data/demo/ava/annotations'
label_file = f'{anno_root}/ava_action_list_v2.2.pbtxt'
ava_meta = dict(timestamp_start=1, timestamp_end=6, fps=4, num_classes=num_classes,
                filename_tmpl='img_{:05}.jpg', label_file=label_file,
                data_prefix=dict(img=data_root))
train_pipeline = [
    dict(type='SampleAVAFrames', clip_len=8, frame_interval=2),
    dict(type='RawFrameDecode'),
    dict(type='Resize', scale=(32, 32), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCTHW', collapse=True),
    dict(type='PackActionInputs'),
]
val_pipeline = [
    dict(type='SampleAVAFrames', clip_len=8, frame_interval=2, test_mode=True),
    dict(type='RawFrameDecode'),
    dict(type='Resize', scale=(32, 32), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW', collapse=True),
    dict(type='PackActionInputs'),
]
train_dataloader = dict(
    batch_size=4, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='AVADataset', ann_file=f'{anno_root}/ava_train_v2.2.csv',
                 exclude_file=f'{anno_root}/ava_train_excluded_timestamps_v2.2.csv',
                 proposal_file=f'{anno_root}/ava_dense_proposals_train.pkl',
                 pipeline=train_pipeline, **ava_meta))
val_dataloader = dict(
    batch_size=1, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='AVADataset', ann_file=f'{anno_root}/ava_val_v2.2.csv',
                 exclude_file=f'{anno_root}/ava_val_excluded_timestamps_v2.2.csv',
                 proposal_file=f'{anno_root}/ava_dense_proposals_val.pkl',
                 pipeline=val_pipeline, test_mode=True, **ava_meta))
test_dataloader = val_dataloader
val_evaluator = dict(type='AVAMetric', ann_file=f'{anno_root}/ava_val_v2.2.csv',
                     label_file=label_file, num_classes=num_classes,
                     exclude_file=f'{anno_root}/ava_val_excluded_timestamps_v2.2.csv')
test_evaluator = val_evaluator

optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05, fused=True),
    constructor='LearningRateDecayOptimizerConstructor',
    paramwise_cfg=dict(decay_rate=0.75, decay_type='layer_wise', num_layers=4),
    clip_grad=dict(max_norm=40, norm_type=2))
param_scheduler = [dict(type='CosineAnnealingLR', eta_min=0, by_epoch=True, begin=0, end=3,
                        convert_to_iter_based=True)]
# exact resume, also mid-epoch; refuses another batch size (amd_mm.engine)
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=3, val_begin=1, val_interval=3)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(logger=dict(interval=2), checkpoint=dict(interval=1, max_keep_ckpts=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
