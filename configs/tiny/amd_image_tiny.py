# Step 2 of the image demo: distil a tiny AMD student (width 64) from the tiny MAE teacher.
# The teacher checkpoint may be a file or a work_dir (its last_checkpoint is used):
#   python tools/train.py configs/tiny/amd_image_tiny.py \
#       --cfg-options model.teacher.checkpoint=work_dirs/mae_teacher_image_tiny/epoch_4.pth
_base_ = ['./_tiny_image_base.py']

model = dict(
    type='AMD',
    data_preprocessor={{_base_.data_preprocessor}},
    backbone=dict(type='MaskedViT', arch={{_base_.student_arch}}, img_size=32, patch_size=4),
    teacher=dict(
        type='FrozenTeacher',
        backbone=dict(type='MaskedViT', arch={{_base_.teacher_arch}}, img_size=32, patch_size=4),
        checkpoint='work_dirs/mae_teacher_image_tiny'),
    mask_generator=dict(type='AsymmetricMaskGenerator', student_ratio=0.75, teacher_ratio=0.5),
    decoder=dict(type='PixelDecoder', embed_dims=64, depth=2, num_heads=4),
    generator=dict(type='FeatureGenerator', depth=1, num_heads=4),
    student_layers=[2, 4],
    teacher_layers=[2, 4],
    loss_rec=dict(type='AlignLoss', mode='l2', loss_weight=1.0),
    loss_dir=dict(type='AlignLoss', mode='l2', loss_weight=1.0),
    loss_gen=dict(type='AlignLoss', mode='l2', loss_weight=1.0),
    target_norm='patch')
