# Study, videos: the VideoMAE teacher (width 128, 6 blocks), pre-trained 2.7x longer than a
# student (40 epochs) on the same videos; trained once (seed 0) for all seeds.
_base_ = ['./video_videomae.py']

model = dict(backbone={{_base_.teacher_backbone}})
max_epochs = 40
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=4, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=4, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)
default_hooks = dict(checkpoint=dict(interval=max_epochs))
