# Fine-tune an amd_mm ViT-B/16 student with mmpretrain's own MAE fine-tuning config
# (ImageClassifier + VisionTransformer, 100 epochs, layer decay 0.65): only the checkpoint
# changes. No amd_mm import: the student already has mmpretrain's parameter names.
# Give the file written by `python tools/publish_checkpoint.py` (loads with torch's default
# weights_only=True); a raw training checkpoint needs custom_imports=['amd_mm'] (see README).
_base_ = ['mmpretrain::mae/benchmarks/vit-base-p16_8xb128-coslr-100e_in1k.py']

model = dict(backbone=dict(init_cfg=dict(
    type='Pretrained', prefix='backbone.',
    checkpoint='checkpoints/amd_vit-b-p16_mae-vit-l_in1k_student.pth')))
