# AdamW + 40-epoch linear warm-up + cosine to 0, 800 epochs (MAE's recipe); lr for 4096 images.
# Weight decay 0.05 by MAE's rule (main_pretrain.py:179: timm's add_weight_decay without a
# skip list): every 1-D parameter (biases, norms) exempt, every other trainable parameter
# decayed, the tokens included (cls_token, mask_token; pos_embed is a fixed table).
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    constructor='ShapeDecayOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=1.5e-4 * 4096 / 256, betas=(0.9, 0.95), weight_decay=0.05, fused=True),
    paramwise_cfg=dict(no_decay_names=[]))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=40, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=760, by_epoch=True, begin=40, end=800, convert_to_iter_based=True),
]
# exact resume, also from mid-epoch checkpoints (amd_mm.engine)
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=800)
auto_scale_lr = dict(base_batch_size=4096)
