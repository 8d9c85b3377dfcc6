# Fine-tune an amd_mm ViT-B/16 video student on Kinetics-400 with mmaction2's own VideoMAE
# ViT-B config (model, normalisation, 5-clip x 3-crop test) and the official recipe's
# training half (_k400_finetune_training): ViT-B 90 epochs, lr 7e-4 per 256 videos
# (MCG-NJU/AMD scripts/finetune/dist_train/vitb_k400_ft.sh:35,39 at 8d2ec6f).
# Give the file written by `python tools/publish_checkpoint.py` (see README).
_base_ = ['mmaction::recognition/videomae/vit-base-p16_videomae-k400-pre_16x4x1_kinetics-400.py',
          './_k400_finetune_training.py']

model = dict(
    backbone=dict(drop_path_rate=0.1, init_cfg=dict(
        type='Pretrained', prefix='backbone.',
        checkpoint='checkpoints/amd_vit-b-p16_videomae-vit-l_k400_student.pth')),
    cls_head=dict(label_smooth_eps=0.1),
    data_preprocessor=dict(blending=dict(type='RandomBatchAugment', augments=[
        dict(type='MixupBlending', alpha=0.8, num_classes=400),
        dict(type='CutmixBlending', alpha=1.0, num_classes=400)])))
optim_wrapper = dict(optimizer=dict(lr=7e-4 * 512 / 256))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=85, eta_min=1e-6, by_epoch=True, begin=5, end=90,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=90)
