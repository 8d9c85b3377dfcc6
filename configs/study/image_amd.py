# Study, images: the AMD student (tiny width 64, 4 blocks) distilled from the frozen teacher
# of image_mae_teacher.py: student mask ratio 0.75, teacher 0.5, per-patch normalised pixel
# targets, student layers 2 and 4 aligned with teacher layers 3 and 6 (the same depth
# fractions), one projection head per aligned layer, direct and generative l2 losses of
# weight 1 (as configs/tiny/amd_image_tiny.py).
_base_ = ['./_image_base.py']

model = dict(
    type='AMD',
    data_preprocessor={{_base_.data_preprocessor}},
    backbone=dict(type='MaskedViT', arch={{_base_.student_arch}}, img_size=32, patch_size=4),
    teacher=dict(
        type='FrozenTeacher',
        backbone=dict(type='MaskedViT', arch={{_base_.teacher_arch}}, img_size=32, patch_size=4),
        checkpoint='work_dirs/study/runs/image_teacher/pretrain'),
    mask_generator=dict(type='AsymmetricMaskGenerator', student_ratio=0.75, teacher_ratio=0.5),
    decoder=dict(type='PixelDecoder', embed_dims=64, depth=2, num_heads=4),
    generator=dict(type='FeatureGenerator', depth=1, num_heads=4),
    student_layers=[2, 4],
    teacher_layers=[3, 6],
    loss_rec=dict(type='AlignLoss', mode='l2', loss_weight=1.0),
    loss_dir=dict(type='AlignLoss', mode='l2', loss_weight=1.0),
    loss_gen=dict(type='AlignLoss', mode='l2', loss_weight=1.0),
    target_norm='patch')
