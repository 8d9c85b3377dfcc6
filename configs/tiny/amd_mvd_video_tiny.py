# AMD + MVD co-teaching at toy scale: asymmetric tube masks (student 0.9), the video teacher
# at ratio 0.75 and the frame-wise image teacher at 0.5, pixel + direct + generative losses.
_base_ = ['./amd_video_tiny.py']

model = dict(
    extra_teachers=[dict(
        name='img',
        teacher=dict(type='FrameTeacher', tubelet_size=2,
                     backbone=dict(type='MaskedViT', img_size=32, patch_size=4, arch=dict(
                         embed_dims=96, num_layers=4, num_heads=4, feedforward_channels=384)),
                     checkpoint='work_dirs/mae_teacher_image_tiny'),
        teacher_ratio=0.5,
        generator=dict(type='FeatureGenerator', depth=1, num_heads=4),
        student_layers=[2, 4], teacher_layers=[2, 4],
        loss_dir=dict(type='AlignLoss'), loss_gen=dict(type='AlignLoss'))])
