# AMD added to mmpretrain's own MAE config: everything but the model (ImageNet data and
# normalisation, AdamW, 300-epoch cosine schedule, AMP, runtime) is the shipped file's.
# A ViT-S/16 student is distilled from mmpretrain's MAE ViT-B/16 release.
_base_ = ['mmpretrain::mae/mae_vit-base-p16_8xb512-amp-coslr-300e_in1k.py']

custom_imports = dict(imports=['amd_mm'], allow_failed_imports=False)
model = dict(
    _delete_=True,  # replace the shipped MAE model instead of merging into it
    type='AMD',
    backbone=dict(type='MaskedViT', arch='deit-small', img_size=224, patch_size=16),
    teacher=dict(
        type='FrozenTeacher',
        backbone=dict(type='MaskedViT', arch='b', img_size=224, patch_size=16),
        checkpoint='checkpoints/mae_vit-base-p16_8xb512-amp-coslr-1600e_in1k.pth'),
    mask_generator=dict(type='AsymmetricMaskGenerator', student_ratio=0.75, teacher_ratio=0.5),
    student_layers=[6, 12], teacher_layers=[6, 12])
# The shipped paramwise_cfg exempts 'ln', 'bias', 'pos_embed', 'mask_token', 'cls_token'
# from weight decay; AMD's own norms (decoder.norm, decoder.blocks.0.norm1, the
# generators') need 'norm'. AMD-WEIGHT-DECAY: the optimizer-wrapper constructor that
# exempts every 1-D parameter replaces this line (issue 13, item 3).
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'norm': dict(decay_mult=0.)}))
