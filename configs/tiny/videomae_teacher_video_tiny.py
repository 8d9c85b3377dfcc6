# Step 1 of the video demo: pre-train a tiny VideoMAE teacher (width 96, 4 blocks) on the
# generated mp4s; VideoAMD with teacher=None is exactly VideoMAE.
_base_ = ['./_tiny_video_base.py']

model = dict(
    type='VideoAMD',
    data_preprocessor={{_base_.data_preprocessor}},
    backbone={{_base_.teacher_backbone}},
    teacher=None,
    mask_generator=dict(type='AsymmetricMaskGenerator', student_ratio=0.9, teacher_ratio=0.0,
                        mode='tube'),
    decoder=dict(type='PixelDecoder', embed_dims=64, depth=2, num_heads=4),
    generator=None, loss_dir=None, loss_gen=None)
