# Step 2 of the video demo: distil a tiny AMD student (width 64) from the tiny VideoMAE
# teacher, tube masks 0.9 / 0.75 as the official scripts. The teacher checkpoint may be a
# file or a work_dir (its last_checkpoint is used).
_base_ = ['./_tiny_video_base.py']

model = dict(
    type='VideoAMD',
    data_preprocessor={{_base_.data_preprocessor}},
    backbone={{_base_.student_backbone}},
    teacher=dict(type='FrozenTeacher', backbone={{_base_.teacher_backbone}},
                 checkpoint='work_dirs/videomae_teacher_video_tiny'),
    mask_generator=dict(type='AsymmetricMaskGenerator', student_ratio=0.9, teacher_ratio=0.75,
                        mode='tube'),
    decoder=dict(type='PixelDecoder', embed_dims=64, depth=2, num_heads=4),
    generator=dict(type='FeatureGenerator', depth=1, num_heads=4),
    student_layers=[2, 4],
    teacher_layers=[2, 4])
