# Study, videos, ablation of AMD: teacher mask ratio 0.5 (the teacher sees 5x the student's
# tokens instead of 2.5x). Everything else as video_amd.py.
_base_ = ['./video_amd.py']

model = dict(mask_generator=dict(teacher_ratio=0.5))
