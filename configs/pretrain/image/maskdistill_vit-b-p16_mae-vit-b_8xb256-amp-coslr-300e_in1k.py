# MaskDistill (arXiv 2210.10615) as a configuration of amd_mm: a ViT-B/16 student reconstructs
# layer-normalised features of a full-view teacher at its hidden positions (block-wise masks,
# 40%), smooth-L1, no pixel loss, 300 epochs. The teacher is pluggable: the paper uses CLIP
# ViT-B/16; any checkpoint the converters accept works (mmpretrain, timm / MAE names: convert
# timm's CLIP ViTs with tools/convert_checkpoint.py), here mmpretrain's MAE ViT-B.
# Differences from MaskDistill (which released no code): the student encodes only its visible
# patches (MAE-style) and a 2-block FeatureGenerator predicts the hidden features, instead of
# BEiT-style mask tokens inside the encoder with a linear head.
_base_ = ['./amd_vit-s-p16_mae-vit-b_8xb512-amp-coslr-800e_in1k.py']

model = dict(
    backbone=dict(arch={{_base_.vit_base}}),
    mask_generator=dict(student_ratio=0.4, teacher_ratio=0.0, mode='block'),
    decoder=None, loss_rec=None, loss_dir=None,
    generator=dict(type='FeatureGenerator', depth=2),
    student_layers=[12], teacher_layers=[12],
    loss_gen=dict(type='AlignLoss', mode='smooth_l1', norm_target=True, beta=2.0))
train_dataloader = dict(batch_size=256)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=10, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=290, by_epoch=True, begin=10, end=300, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=300)
optim_wrapper = dict(optimizer=dict(lr=1.5e-4 * 2048 / 256))
auto_scale_lr = dict(base_batch_size=2048)
