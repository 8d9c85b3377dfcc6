# MVD (Masked Video Distillation, arXiv 2212.04500) as a configuration of amd_mm: a ViT-S/16
# student with tube masks 0.9 reconstructs, on its hidden tokens, the features of two
# full-view teachers (spatial-temporal co-teaching): an image MAE ViT-B/16 applied frame by
# frame (FrameTeacher) and a VideoMAE ViT-B/16; one decoder (generator, depth 2) per teacher,
# smooth-L1 targets, no pixel loss, 400 epochs on K400.
# Differences from the official MVD code: the decoders are amd_mm FeatureGenerators fed the
# projected last-block student features (MVD feeds the normed encoder output through a linear
# layer); losses are logged as loss_gen (image teacher) and loss_gen_vid (video teacher).
_base_ = ['./amd_vit-s-p16_videomae-vit-l_32xb16-16x4x1-200e_k400.py', '../../_base_/models/vit_archs.py']

generator = dict(type='FeatureGenerator', depth=2)
model = dict(
    teacher=dict(
        _delete_=True, type='FrameTeacher', tubelet_size=2,
        backbone=dict(type='MaskedViT', arch={{_base_.vit_base}}, img_size=224, patch_size=16),
        checkpoint='checkpoints/mae_vit-base-p16_8xb512-amp-coslr-1600e_in1k.pth'),
    mask_generator=dict(student_ratio=0.9, teacher_ratio=0.0, mode='tube'),
    decoder=None, loss_rec=None, loss_dir=None,
    generator=generator,
    loss_gen=dict(type='AlignLoss', mode='smooth_l1', loss_weight=1.0),
    student_layers=[12], teacher_layers=[12],
    extra_teachers=[dict(
        name='vid',
        teacher=dict(
            type='FrozenTeacher',
            backbone=dict(type='MaskedVideoViT', img_size=224, patch_size=16, embed_dims=768,
                          depth=12, num_heads=12, mlp_ratio=4, qkv_bias=True, num_frames=16,
                          tubelet_size=2, norm_cfg=dict(type='LN', eps=1e-6)),
            checkpoint='checkpoints/videomae_vit-base_k400_pt_1600e_teacher.pth'),
        generator=generator, student_layers=[12], teacher_layers=[12], loss_dir=None,
        loss_gen=dict(type='AlignLoss', mode='smooth_l1', loss_weight=1.0))])
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6 / 2.4e-3, by_epoch=True, begin=0, end=40,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=360, eta_min=1e-5, by_epoch=True, begin=40, end=400,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=400)
