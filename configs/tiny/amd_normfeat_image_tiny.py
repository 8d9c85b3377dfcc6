# AMD with layer-normalised feature targets at toy scale.
_base_ = ['./amd_image_tiny.py']

model = dict(loss_dir=dict(type='AlignLoss', norm_target=True),
             loss_gen=dict(type='AlignLoss', norm_target=True))
