# AdamW + 40-epoch linear warm-up + cosine, 800 epochs (MAE's recipe); lr for 4096 images.
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='AdamW', lr=1.5e-4 * 4096 / 256, betas=(0.9, 0.95), weight_decay=0.05, fused=True),
    paramwise_cfg=dict(custom_keys={
        'ln': dict(decay_mult=0.0),
        'norm': dict(decay_mult=0.0),
        'bias': dict(decay_mult=0.0),
        'pos_embed': dict(decay_mult=0.),
        'mask_token': dict(decay_mult=0.),
        'cls_token': dict(decay_mult=0.),
    }))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=40, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=760, by_epoch=True, begin=40, end=800, convert_to_iter_based=True),
]
# exact resume, also from mid-epoch checkpoints (amd_mm.engine)
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=800)
auto_scale_lr = dict(base_batch_size=4096)
