# A combination no original repository offers: AMD's asymmetric masks with MVD's
# co-teaching. Two teachers, each with its own mask ratio (image MAE ViT-B frame by frame
# sees 50% of the tokens, the VideoMAE ViT-L 25%), both with direct and generative
# alignment, plus the student's pixel reconstruction.
_base_ = ['./amd_vit-s-p16_videomae-vit-l_32xb16-16x4x1-200e_k400.py', '../../_base_/models/vit_archs.py']

model = dict(
    extra_teachers=[dict(
        name='img',
        teacher=dict(
            type='FrameTeacher', tubelet_size=2,
            backbone=dict(type='MaskedViT', arch={{_base_.vit_base}}, img_size=224, patch_size=16),
            checkpoint='checkpoints/mae_vit-base-p16_8xb512-amp-coslr-1600e_in1k.pth'),
        teacher_ratio=0.5,
        generator=dict(type='FeatureGenerator', depth=2),
        student_layers=[6, 12], teacher_layers=[6, 12],
        loss_dir=dict(type='AlignLoss', mode='l2'), loss_gen=dict(type='AlignLoss', mode='l2'))])
