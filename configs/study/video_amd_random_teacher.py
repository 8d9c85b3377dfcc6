# Study, videos, arm: AMD from the teacher's architecture at its random initialisation
# (seed 101, never trained; tools/study.py saves it as runs/video_untrained_teacher/init).
# Does the teacher's knowledge matter, or would any second network do? Everything else as
# video_amd.py.
_base_ = ['./video_amd.py']

model = dict(teacher=dict(checkpoint='work_dirs/study/runs/video_untrained_teacher/init'))
