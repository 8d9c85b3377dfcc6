# The fair baseline: plain MAE for ViT-B/16 in the same code (no teacher: loss_rec only).
_base_ = ['./mae_vit-s-p16_8xb512-amp-coslr-800e_in1k.py']

model = dict(backbone=dict(arch={{_base_.vit_base}}))
