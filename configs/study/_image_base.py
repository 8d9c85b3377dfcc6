# The study's image pre-training runtime (tools/study.py, docs/STUDY.md): the tiny image
# recipe of configs/tiny/_tiny_image_base.py (pipeline, AdamW lr 1e-3, weight decay 0.05)
# on the study's digits, batch 64, 10% linear warm-up then cosine to 1e-6, one checkpoint
# at the end, and the masks / reconstructions drawn after the last iteration.
# The students' schedule (20 epochs, 420 steps) is here; the teacher config sets its own.
# tools/study.py re-roots every 'work_dirs/study/' path to its --out and sets work_dir and
# randomness.seed per run; nothing else differs between arms but their config file.
_base_ = ['../tiny/_tiny_image_base.py']

data_root = 'work_dirs/study/data/images/'
train_dataloader = dict(batch_size=64, dataset=dict(data_root=data_root))

max_epochs = 20
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=2, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=2, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)
default_hooks = dict(logger=dict(interval=5),
                     checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
custom_hooks = [dict(type='DistSanityHook', interval=1000),
                dict(type='MaskReconstructionVisHook', interval=0, draw_last=True, max_samples=4)]
env_cfg = dict(dist_cfg=dict(backend='gloo'))

# the teacher is larger than the student (tiny student: width 64, 4 blocks)
teacher_arch = dict(embed_dims=128, num_layers=6, num_heads=4, feedforward_channels=512)
student_arch = dict(embed_dims=64, num_layers=4, num_heads=4, feedforward_channels=256)
