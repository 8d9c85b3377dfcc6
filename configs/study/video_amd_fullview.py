# Study, videos, ablation of AMD: teacher mask ratio 0, the full view (MVD-style: the
# generator predicts the teacher's features of every token hidden from the student).
# Everything else as video_amd.py.
_base_ = ['./video_amd.py']

model = dict(mask_generator=dict(teacher_ratio=0.0))
