# The fair baseline: plain VideoMAE for ViT-B/16 in the same code (no teacher: loss_rec only),
# same data, schedule, masks and decoder as amd_vit-b-p16_videomae-vit-l_32xb16-16x2x1-200e_sthv2.py.
_base_ = ['./amd_vit-b-p16_videomae-vit-l_32xb16-16x2x1-200e_sthv2.py']

model = dict(teacher=None, generator=None, loss_dir=None, loss_gen=None,
             mask_generator=dict(teacher_ratio=0.0))
