# Fine-tune an amd_mm ViT-S/16 video student on Kinetics-400 with mmaction2's own small
# ViT: its VideoMAEv2 ViT-S config (VisionTransformer 384 wide, 12 blocks, 6 heads; head
# in_channels 384), the same backbone class and names as VideoMAE's (mmaction2 ships no
# VideoMAE ViT-S config). The training half is the official recipe (_k400_finetune_training).
# Give the file written by `python tools/publish_checkpoint.py` (see README).
_base_ = ['mmaction::recognition/videomaev2/vit-small-p16_videomaev2-vit-g-dist-k710-pre_16x4x1_kinetics-400.py',
          './_k400_finetune_training.py']

model = dict(
    backbone=dict(drop_path_rate=0.1, init_cfg=dict(
        type='Pretrained', prefix='backbone.',
        checkpoint='checkpoints/amd_vit-s-p16_videomae-vit-l_k400_student.pth')),
    cls_head=dict(label_smooth_eps=0.1),
    data_preprocessor=dict(blending=dict(type='RandomBatchAugment', augments=[
        dict(type='MixupBlending', alpha=0.8, num_classes=400),
        dict(type='CutmixBlending', alpha=1.0, num_classes=400)])))
