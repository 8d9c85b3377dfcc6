# The study's video pre-training runtime (tools/study.py, docs/STUDY.md): the tiny video
# recipe of configs/tiny/_tiny_video_base.py (8 frames x 32 px, tubelet 2, 2 augmented views
# per decoded clip, AdamW lr 1e-3, gradient clipping 1.0) on the study's motion
# videos (amd_mm.tools_lib.demo_data.make_motion_videos), batch 16 clips x 2 views, 10% linear
# warm-up then cosine to 1e-6, one checkpoint at the end, masks / reconstructions drawn
# after the last iteration. The students' schedule (15 epochs) is here; the teacher config
# sets its own. tools/study.py re-roots every 'work_dirs/study/' path to its --out and sets
# work_dir and randomness.seed per run; nothing else differs between arms but their file.
_base_ = ['../tiny/_tiny_video_base.py']

data_root = 'work_dirs/study/data/motion'
train_dataloader = dict(batch_size=16, dataset=dict(
    ann_file='work_dirs/study/data/motion/train_list.txt', data_prefix=dict(video=data_root)))

max_epochs = 15
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=2, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=2, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)
default_hooks = dict(logger=dict(interval=4),
                     checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
custom_hooks = [dict(type='DistSanityHook', interval=1000),
                dict(type='MaskReconstructionVisHook', interval=0, draw_last=True, max_samples=4)]

# the teacher is larger than the student (tiny student: width 64, 4 blocks)
# (merged into the tiny MaskedVideoViT settings: 8 frames x 32 px, tubelet 2, patch 4)
teacher_backbone = dict(embed_dims=128, depth=6, num_heads=4)
student_backbone = dict(embed_dims=64, depth=4, num_heads=4)
