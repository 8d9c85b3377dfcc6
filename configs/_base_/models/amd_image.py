# Image AMD: ViT-S/16 student, frozen MAE ViT-B/16 teacher (mmpretrain checkpoint).
# Masks 0.75 (student) / 0.5 (teacher): documented defaults, the paper's image
# settings are unpublished. Aligned layers at equal depth fractions (1/2, 1).
_base_ = ['./vit_archs.py']

model = dict(
    type='AMD',
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    # MAE's encoder init (xavier Linear layers and patch projection, class token N(0, 0.02))
    backbone=dict(type='MaskedViT', arch={{_base_.vit_small}}, img_size=224, patch_size=16,
                  xavier_init=True),
    teacher=dict(
        type='FrozenTeacher',
        backbone=dict(type='MaskedViT', arch={{_base_.vit_base}}, img_size=224, patch_size=16),
        # mmpretrain's MAE ViT-B/16 1600e release (keys under backbone.)
        checkpoint='checkpoints/mae_vit-base-p16_8xb512-amp-coslr-1600e_in1k.pth'),
    mask_generator=dict(type='AsymmetricMaskGenerator', student_ratio=0.75, teacher_ratio=0.5,
                        mode='random'),
    decoder=dict(type='PixelDecoder', embed_dims=512, depth=8, num_heads=16),
    generator=dict(type='FeatureGenerator', depth=2),
    student_layers=[6, 12],
    teacher_layers=[6, 12],
    projection=True,
    loss_rec=dict(type='AlignLoss', mode='l2', loss_weight=1.0),
    loss_dir=dict(type='AlignLoss', mode='l2', loss_weight=1.0),
    loss_gen=dict(type='AlignLoss', mode='l2', loss_weight=1.0),
    target_norm='patch',
)
