# Study, images, arm: the teacher sees exactly the student's patches (teacher ratio 0.75, the
# student's), so the generative branch has nothing to predict and is off: plain feature
# distillation from the same teacher on the same patches. Everything else as image_amd.py.
_base_ = ['./image_amd.py']

model = dict(mask_generator=dict(teacher_ratio=0.75))
