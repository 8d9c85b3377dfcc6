# Study, videos, arm: the teacher sees exactly the student's tokens (teacher ratio 0.9, the
# student's), so the generative branch has nothing to predict and is off (logged at build
# time): plain feature distillation from the same teacher on the same tokens. Everything
# else as video_amd.py.
_base_ = ['./video_amd.py']

model = dict(mask_generator=dict(teacher_ratio=0.9))
