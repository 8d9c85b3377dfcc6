# AMD with normalised-feature targets: teacher features are layer-normalised (no affine)
# before the direct and generative losses (MaskDistill's target normalisation).
_base_ = ['./amd_vit-s-p16_mae-vit-b_8xb512-amp-coslr-800e_in1k.py']

model = dict(
    loss_dir=dict(type='AlignLoss', mode='l2', norm_target=True),
    loss_gen=dict(type='AlignLoss', mode='l2', norm_target=True))
