# Study, videos, ablation of AMD: only the last layers aligned (student 4 with teacher 6)
# instead of middle + last. Everything else as video_amd.py.
_base_ = ['./video_amd.py']

model = dict(student_layers=[4], teacher_layers=[6])
