# Study, videos: the AMD student (tiny width 64, 4 blocks) distilled from the frozen VideoMAE
# teacher of video_videomae_teacher.py with the official tube masks: student ratio 0.9,
# teacher 0.75; per-patch, per-channel normalised pixel targets; student layers 2 and 4
# aligned with teacher layers 3 and 6 (middle + last, the same depth fractions), one
# projection head per aligned layer, direct and generative l2 losses of weight 1.
# The ablation arms (video_amd_*.py) change exactly one thing of this file.
_base_ = ['./_video_base.py']

model = dict(
    type='VideoAMD',
    data_preprocessor={{_base_.data_preprocessor}},
    backbone={{_base_.student_backbone}},
    teacher=dict(type='FrozenTeacher', backbone={{_base_.teacher_backbone}},
                 checkpoint='work_dirs/study/runs/video_teacher/pretrain'),
    mask_generator=dict(type='AsymmetricMaskGenerator', student_ratio=0.9, teacher_ratio=0.75,
                        mode='tube'),
    decoder=dict(type='PixelDecoder', embed_dims=64, depth=2, num_heads=4),
    generator=dict(type='FeatureGenerator', depth=1, num_heads=4),
    student_layers=[2, 4],
    teacher_layers=[3, 6],
    loss_rec=dict(type='AlignLoss', mode='l2', loss_weight=1.0),
    loss_dir=dict(type='AlignLoss', mode='l2', loss_weight=1.0),
    loss_gen=dict(type='AlignLoss', mode='l2', loss_weight=1.0))
