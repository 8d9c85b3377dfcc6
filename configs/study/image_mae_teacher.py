# Study, images: the MAE teacher (width 128, 6 blocks), pre-trained 3x longer than a student
# (60 epochs, 1260 steps) on the same images; trained once (seed 0) for all seeds.
_base_ = ['./image_mae.py']

model = dict(backbone=dict(arch={{_base_.teacher_arch}}))
max_epochs = 60
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=6, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=6, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)
default_hooks = dict(checkpoint=dict(interval=max_epochs))
