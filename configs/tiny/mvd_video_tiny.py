# MVD at toy scale: the tiny video student reconstructs, on its hidden tokens (tube 0.9), the
# features of two full-view teachers: the tiny image MAE teacher applied frame by frame
# (work_dirs/mae_teacher_image_tiny) and the tiny VideoMAE teacher
# (work_dirs/videomae_teacher_video_tiny); one generator per teacher, smooth-L1, no pixels.
_base_ = ['./_tiny_video_base.py']

image_teacher = dict(type='MaskedViT', img_size=32, patch_size=4,
                     arch=dict(embed_dims=96, num_layers=4, num_heads=4, feedforward_channels=384))
model = dict(
    type='VideoAMD',
    data_preprocessor={{_base_.data_preprocessor}},
    backbone={{_base_.student_backbone}},
    teacher=dict(type='FrameTeacher', tubelet_size=2, backbone=image_teacher,
                 checkpoint='work_dirs/mae_teacher_image_tiny'),
    mask_generator=dict(type='AsymmetricMaskGenerator', student_ratio=0.9, teacher_ratio=0.0,
                        mode='tube'),
    decoder=None, loss_rec=None, loss_dir=None,
    generator=dict(type='FeatureGenerator', depth=1, num_heads=4),
    loss_gen=dict(type='AlignLoss', mode='smooth_l1'),
    student_layers=[4], teacher_layers=[4],
    extra_teachers=[dict(
        name='vid',
        teacher=dict(type='FrozenTeacher', backbone={{_base_.teacher_backbone}},
                     checkpoint='work_dirs/videomae_teacher_video_tiny'),
        generator=dict(type='FeatureGenerator', depth=1, num_heads=4),
        student_layers=[4], teacher_layers=[4], loss_dir=None,
        loss_gen=dict(type='AlignLoss', mode='smooth_l1'))])
