# Video AMD (official setting, models/modeling_pretrain.py): ViT-S/16 student initialised
# as the official one (xavier Linear layers), frozen VideoMAE ViT-L/16 teacher, 16 frames,
# tubelet 2, tube masks 0.9 / 0.75, layers 6,12 <-> 12,24, decoder depth 4 whose input
# projection has no bias and PyTorch's default init (official encoder_to_decoder),
# generator depth 2, l2 losses with weights 1 / 1 / 1, pixel targets per patch and channel
# of the [0, 1] pixels. docs/RECIPES.md compares every setting with the official code.
model = dict(
    type='VideoAMD',
    data_preprocessor=dict(
        type='ActionDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        format_shape='NCTHW'),
    backbone=dict(type='MaskedVideoViT', img_size=224, patch_size=16, embed_dims=384, depth=12,
                  num_heads=6, mlp_ratio=4, qkv_bias=True, num_frames=16, tubelet_size=2,
                  norm_cfg=dict(type='LN', eps=1e-6), xavier_init=True),
    teacher=dict(
        type='FrozenTeacher',
        backbone=dict(type='MaskedVideoViT', img_size=224, patch_size=16, embed_dims=1024,
                      depth=24, num_heads=16, mlp_ratio=4, qkv_bias=True, num_frames=16,
                      tubelet_size=2, norm_cfg=dict(type='LN', eps=1e-6)),
        # official VideoMAE ViT-L release, converted by tools/convert_checkpoint.py
        checkpoint='checkpoints/videomae_vit-large_k400_pt_1600e_teacher.pth'),
    mask_generator=dict(type='AsymmetricMaskGenerator', student_ratio=0.9, teacher_ratio=0.75,
                        mode='tube'),
    decoder=dict(type='PixelDecoder', embed_dims=192, depth=4, num_heads=3, embed_bias=False,
                 embed_init='torch'),
    generator=dict(type='FeatureGenerator', depth=2),
    student_layers=[6, 12],
    teacher_layers=[12, 24],
    projection=True,
    loss_rec=dict(type='AlignLoss', mode='l2', loss_weight=1.0),
    loss_dir=dict(type='AlignLoss', mode='l2', loss_weight=1.0),
    loss_gen=dict(type='AlignLoss', mode='l2', loss_weight=1.0),
    target_norm='patch_channel')
