# Study, videos, ablation of AMD: teacher mask ratio 0.9, the student's (symmetric): the
# teacher sees exactly the student's tokens, so the generative branch has nothing to predict
# and is off (logged at build time). Everything else as video_amd.py.
_base_ = ['./video_amd.py']

model = dict(mask_generator=dict(teacher_ratio=0.9))
