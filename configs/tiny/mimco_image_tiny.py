# MimCo at toy scale: patch-level reconstruction of a full-view teacher's features plus an
# image-level contrastive (InfoNCE) target. The tiny MAE teacher stands in for MoCo v3.
_base_ = ['./amd_image_tiny.py']

model = dict(
    mask_generator=dict(student_ratio=0.75, teacher_ratio=0.0),
    decoder=None, loss_rec=None, loss_dir=None,
    student_layers=[4], teacher_layers=[4],
    loss_gen=dict(type='AlignLoss', mode='l2', norm_target=True),
    loss_global=dict(type='InfoNCELoss', temperature=0.2))
