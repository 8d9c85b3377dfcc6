# MaskDistill at toy scale: block-wise masks (40%), a full-view teacher (the tiny MAE
# teacher), layer-normalised smooth-L1 feature targets at hidden positions, no pixels.
_base_ = ['./amd_image_tiny.py']

model = dict(
    mask_generator=dict(student_ratio=0.4, teacher_ratio=0.0, mode='block', min_block=2),
    decoder=None, loss_rec=None, loss_dir=None,
    student_layers=[4], teacher_layers=[4],
    loss_gen=dict(type='AlignLoss', mode='smooth_l1', norm_target=True, beta=2.0))
