# AMD on ImageNet-1K: ViT-B/16 student <- MAE ViT-L/16 teacher (layers 6,12 <-> 12,24).
_base_ = ['./amd_vit-s-p16_mae-vit-b_8xb512-amp-coslr-800e_in1k.py']

model = dict(
    backbone=dict(arch={{_base_.vit_base}}),
    teacher=dict(
        backbone=dict(arch={{_base_.vit_large}}),
        checkpoint='checkpoints/mae_vit-large-p16_8xb512-amp-coslr-1600e_in1k.pth'),
    teacher_layers=[12, 24])
