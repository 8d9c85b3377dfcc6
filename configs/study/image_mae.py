# Study, images, baseline: the same student pre-trained with plain MAE, i.e. image_amd.py
# without a teacher (no alignment terms, no generator). Same data, steps and student masks
# per seed.
_base_ = ['./image_amd.py']

model = dict(teacher=None, generator=None, loss_dir=None, loss_gen=None,
             mask_generator=dict(teacher_ratio=0.0))
