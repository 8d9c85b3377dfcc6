# The fair baseline: plain MAE for ViT-S/16 in the same code (no teacher: loss_rec only),
# same data, schedule and decoder as the AMD configs.
_base_ = ['./amd_vit-s-p16_mae-vit-b_8xb512-amp-coslr-800e_in1k.py']

model = dict(teacher=None, generator=None, loss_dir=None, loss_gen=None,
             mask_generator=dict(teacher_ratio=0.0))
