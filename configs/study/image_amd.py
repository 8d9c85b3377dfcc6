# Study, images (tools/study.py, docs/STUDY.md): the AMD student. Everything of the study's
# image runs is here; every other image file changes only what its comment says.
# Model: the tiny AMD image config (configs/tiny/amd_image_tiny.py: 32 px, patch 4, student
# width 64 / 4 blocks, masks 0.75 / 0.5, per-patch normalised pixel targets) with a teacher
# of the student's own architecture trained 3x longer (image_mae_teacher.py), student layers
# 2 and 4 aligned with the teacher's layers 2 and 4, one projection head per layer, direct
# and generative l2 losses of weight 1, and a one-block pixel decoder (as the video runs).
# Data: the tinted digits (amd_mm.tools_lib.study_data.IMAGE_TASKS['digits']: scikit-learn's
# 8x8 digits upscaled, random colours and noise), 1297 train pictures, batch 64, 20 epochs =
# 420 steps; AdamW lr 1e-3, one epoch of linear
# warm-up then cosine to 1e-6. tools/study.py re-roots 'work_dirs/study/' to its --out and
# sets work_dir and randomness.seed per run.
_base_ = ['../tiny/amd_image_tiny.py']

data_root = 'work_dirs/study/data/images/'
train_dataloader = dict(batch_size=64, dataset=dict(data_root=data_root))

model = dict(
    # the tiny config's teacher is 96 wide: here the student's architecture
    teacher=dict(backbone=dict(arch={{_base_.student_arch}}),
                 checkpoint='work_dirs/study/runs/image_teacher/pretrain'),
    decoder=dict(depth=1),
    student_layers=[2, 4],
    teacher_layers=[2, 4])

max_epochs = 20
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=1, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
custom_hooks = [dict(type='DistSanityHook', interval=1000),
                dict(type='MaskReconstructionVisHook', interval=0, draw_last=True, max_samples=4)]
