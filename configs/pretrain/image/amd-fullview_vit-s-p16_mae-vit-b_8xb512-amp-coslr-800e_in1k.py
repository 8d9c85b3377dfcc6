# AMD with a full-view teacher (teacher mask ratio 0): the generative branch predicts the
# teacher's features on every token the student does not see (an MVD / MaskDistill-style
# target added to AMD's pixel and direct losses).
_base_ = ['./amd_vit-s-p16_mae-vit-b_8xb512-amp-coslr-800e_in1k.py']

model = dict(mask_generator=dict(teacher_ratio=0.0))
