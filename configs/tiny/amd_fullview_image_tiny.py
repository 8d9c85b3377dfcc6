# AMD with a full-view teacher at toy scale (teacher mask ratio 0).
_base_ = ['./amd_image_tiny.py']

model = dict(mask_generator=dict(teacher_ratio=0.0))
