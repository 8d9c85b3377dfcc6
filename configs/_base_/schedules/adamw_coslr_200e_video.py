# Official AMD pre-training schedule (scripts/pretrain/dist_train/*_pt.sh, run_amd_pretrain.py):
# AdamW (0.9, 0.95), wd 0.05 with every 1-D parameter and the mask tokens exempt by shape
# (ShapeDecayOptimWrapperConstructor, as optim_factory.py), lr 1.2e-3 per 256 videos
# (2.4e-3 for 32 GPUs x 16 videos = 512), 10 warm-up epochs, cosine to min_lr 1e-5 per 256
# videos (eta_min_ratio = 1e-5 / 1.2e-3: 2e-5 at 512, and it follows --auto-scale-lr),
# 200 epochs (x 4 augmented clips per video), grad clip 0.02, fp16 autocast + loss scaling.
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    constructor='ShapeDecayOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=1.2e-3 * 512 / 256, betas=(0.9, 0.95), weight_decay=0.05, fused=True),
    clip_grad=dict(max_norm=0.02))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6 / 2.4e-3, by_epoch=True, begin=0, end=10,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=190, eta_min_ratio=1e-5 / 1.2e-3, by_epoch=True, begin=10,
         end=200, convert_to_iter_based=True),
]
# exact resume, also from mid-epoch checkpoints (amd_mm.engine)
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=200)
# lr above is for 512 videos per step; --auto-scale-lr rescales for other totals
auto_scale_lr = dict(enable=False, base_batch_size=512)
