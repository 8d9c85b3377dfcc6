# AVA 2.2 spatio-temporal action detection with an AMD ViT-B/16 student (K400): mmaction2's
# FastRCNN / AVARoIHead / BBoxHeadAVA on mmaction2's VisionTransformer, the VideoMAE AVA
# recipe (16x4 sampling, AdamW lr 1.25e-4 for 8 GPUs x 8 clips, layer decay 0.75, drop path
# 0.2, 5 warm-up + 15 cosine epochs), frame mAP with mmaction2's AVAMetric (60 classes).
# The official protocol starts from the K400 *fine-tuned* student: point `pretrained` at
# that checkpoint (a Recognizer3D checkpoint, also `backbone.` keys) for the paper setting.
_base_ = ['../../_base_/default_runtime_mmaction.py']

pretrained = 'work_dirs/amd_vit-b-p16_videomae-vit-l_32xb16-16x4x1-200e_k400'  # its last checkpoint
embed_dims, num_heads = 768, 12
model = dict(
    type='FastRCNN',
    _scope_='mmdet',
    backbone=dict(
        type='mmaction.VisionTransformer', img_size=224, patch_size=16, embed_dims=embed_dims,
        depth=12, num_heads=num_heads, mlp_ratio=4, qkv_bias=True, num_frames=16, tubelet_size=2,
        norm_cfg=dict(type='LN', eps=1e-6), drop_path_rate=0.2, use_mean_pooling=False,
        return_feat_map=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    roi_head=dict(
        type='AVARoIHead',
        bbox_roi_extractor=dict(type='SingleRoIExtractor3D', roi_layer_type='RoIAlign',
                                output_size=8, with_temporal_pool=True, featmap_stride=16),
        bbox_head=dict(type='BBoxHeadAVA', background_class=True, in_channels=embed_dims,
                       num_classes=81, multilabel=True, dropout_ratio=0.5)),
    data_preprocessor=dict(type='ActionDataPreprocessor', _scope_='mmaction',
                           mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                           format_shape='NCTHW'),
    train_cfg=dict(rcnn=dict(
        assigner=dict(type='MaxIoUAssignerAVA', pos_iou_thr=0.9, neg_iou_thr=0.9, min_pos_iou=0.9),
        sampler=dict(type='RandomSampler', num=32, pos_fraction=1, neg_pos_ub=-1,
                     add_gt_as_proposals=True),
        pos_weight=1.0)),
    test_cfg=dict(rcnn=None))

data_root = 'data/ava/rawframes'
anno_root = 'data/ava/annotations'
label_file = f'{anno_root}/ava_action_list_v2.2_for_activitynet_2019.pbtxt'
train_pipeline = [
    dict(type='SampleAVAFrames', clip_len=16, frame_interval=4),
    dict(type='RawFrameDecode'),
    dict(type='RandomRescale', scale_range=(256, 320)),
    dict(type='RandomCrop', size=256),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCTHW', collapse=True),
    dict(type='PackActionInputs'),
]
val_pipeline = [
    dict(type='SampleAVAFrames', clip_len=16, frame_interval=4, test_mode=True),
    dict(type='RawFrameDecode'),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='FormatShape', input_format='NCTHW', collapse=True),
    dict(type='PackActionInputs'),
]
train_dataloader = dict(
    batch_size=8, num_workers=8, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='AVADataset', ann_file=f'{anno_root}/ava_train_v2.2.csv',
                 exclude_file=f'{anno_root}/ava_train_excluded_timestamps_v2.2.csv',
                 label_file=label_file,
                 proposal_file=f'{anno_root}/ava_dense_proposals_train.FAIR.recall_93.9.pkl',
                 data_prefix=dict(img=data_root), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=8, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='AVADataset', ann_file=f'{anno_root}/ava_val_v2.2.csv',
                 exclude_file=f'{anno_root}/ava_val_excluded_timestamps_v2.2.csv',
                 label_file=label_file,
                 proposal_file=f'{anno_root}/ava_dense_proposals_val.FAIR.recall_93.9.pkl',
                 data_prefix=dict(img=data_root), pipeline=val_pipeline, test_mode=True))
test_dataloader = val_dataloader
val_evaluator = dict(type='AVAMetric', ann_file=f'{anno_root}/ava_val_v2.2.csv',
                     label_file=label_file,
                     exclude_file=f'{anno_root}/ava_val_excluded_timestamps_v2.2.csv')
test_evaluator = val_evaluator

optim_wrapper = dict(
    type='AmpOptimWrapper',
    optimizer=dict(type='AdamW', lr=1.25e-4, weight_decay=0.05, fused=True),
    constructor='LearningRateDecayOptimizerConstructor',
    paramwise_cfg=dict(decay_rate=0.75, decay_type='layer_wise', num_layers=12),
    clip_grad=dict(max_norm=40, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=15, eta_min=0, by_epoch=True, begin=5, end=20,
         convert_to_iter_based=True),
]
# exact resume, also mid-epoch; refuses another batch size (amd_mm.engine)
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=20, val_begin=1, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# checkpoints every 500 iterations, the last 2 kept, plus the best by validation
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=500, max_keep_ckpts=2, save_best='auto'))
auto_scale_lr = dict(enable=False, base_batch_size=64)
