# Study, images, arm: AMD from the teacher's architecture at its random initialisation
# (seed 101, never trained; tools/study.py saves it as runs/image_untrained_teacher/init).
# Everything else as image_amd.py.
_base_ = ['./image_amd.py']

model = dict(teacher=dict(checkpoint='work_dirs/study/runs/image_untrained_teacher/init'))
