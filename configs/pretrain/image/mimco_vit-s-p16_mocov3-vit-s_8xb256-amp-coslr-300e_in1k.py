# MimCo (arXiv 2209.03063) as a configuration of amd_mm: a ViT-S/16 student (random masks 75%)
# reconstructs the patch features of a contrastive pre-trained teacher (MoCo v3 ViT-S/16,
# mmpretrain's release loads as it is) at its hidden positions, plus an image-level
# contrastive target (InfoNCE between the student's projected mean token and the teacher's
# mean feature, temperature 0.2); no pixel loss, 300 epochs.
# Differences from MimCo: one stage (MimCo pre-trains its teacher itself); patch targets come
# from a FeatureGenerator on visible-token features (MimCo: a decoder with mask tokens), and
# the global target is the teacher's mean feature of its last block (MimCo: its projector).
_base_ = ['./amd_vit-s-p16_mae-vit-b_8xb512-amp-coslr-800e_in1k.py']

model = dict(
    teacher=dict(
        # MoCo v3's ViT-S has 12 heads (mmpretrain arch 'mocov3-small')
        backbone=dict(arch=dict(embed_dims=384, num_layers=12, num_heads=12,
                                feedforward_channels=1536)),
        checkpoint='checkpoints/mocov3_vit-small-p16_16xb256-amp-coslr-300e_in1k.pth'),
    mask_generator=dict(student_ratio=0.75, teacher_ratio=0.0),
    decoder=None, loss_rec=None, loss_dir=None,
    generator=dict(type='FeatureGenerator', depth=2),
    student_layers=[12], teacher_layers=[12],
    loss_gen=dict(type='AlignLoss', mode='l2', norm_target=True),
    loss_global=dict(type='InfoNCELoss', temperature=0.2, loss_weight=1.0))
train_dataloader = dict(batch_size=256)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=10, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=290, by_epoch=True, begin=10, end=300, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=300)
optim_wrapper = dict(optimizer=dict(lr=1.5e-4 * 2048 / 256))
auto_scale_lr = dict(base_batch_size=2048)
