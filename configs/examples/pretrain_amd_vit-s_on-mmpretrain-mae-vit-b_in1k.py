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
# from weight decay by name, which misses AMD's own norms (decoder.norm, the generators'):
# this constructor keeps the shipped rules and exempts every 1-D parameter and token by
# shape, whatever its name (the official optim_factory.py rule)
optim_wrapper = dict(constructor='ShapeDecayOptimWrapperConstructor')
# checkpoints written atomically, the old one deleted only after the new one is on disk
default_hooks = dict(checkpoint=dict(type='DurableCheckpointHook'))
