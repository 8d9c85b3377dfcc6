# Step 1 of the image demo: pre-train a tiny MAE teacher (width 96, 4 blocks) on the digits.
_base_ = ['./_tiny_image_base.py']

model = dict(
    type='AMD',  # with teacher=None the AMD algorithm is exactly MAE
    data_preprocessor={{_base_.data_preprocessor}},
    backbone=dict(type='MaskedViT', arch={{_base_.teacher_arch}}, img_size=32, patch_size=4),
    teacher=None,
    mask_generator=dict(type='AsymmetricMaskGenerator', student_ratio=0.75, teacher_ratio=0.0),
    decoder=dict(type='PixelDecoder', embed_dims=64, depth=2, num_heads=4),
    generator=None, loss_dir=None, loss_gen=None,
    loss_rec=dict(type='AlignLoss', mode='l2'),
    target_norm='patch')
