# Study, images: the MAE teacher, the student's own architecture (width 64, 4 blocks),
# pre-trained once (seed 100, outside
# the students' seeds) on the same pictures, 3x a student's steps (60 epochs, 1260 steps),
# 3 epochs of warm-up then cosine to 1e-6.
_base_ = ['./image_mae.py']

max_epochs = 60
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=3, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=3, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)
default_hooks = dict(checkpoint=dict(interval=max_epochs))
