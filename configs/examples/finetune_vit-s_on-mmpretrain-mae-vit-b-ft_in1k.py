# Fine-tune an amd_mm ViT-S/16 student with mmpretrain's own MAE fine-tuning recipe.
# ViT-S (384 wide, 12 blocks, 6 heads) is mmpretrain's arch='deit-small' (arch='small' is
# another, 768-wide ViT); the head takes 384 channels; layer decay 0.75 for 12 small blocks.
# Give the file written by `python tools/publish_checkpoint.py` (see README).
_base_ = ['mmpretrain::mae/benchmarks/vit-base-p16_8xb128-coslr-100e_in1k.py']

model = dict(
    backbone=dict(arch='deit-small', init_cfg=dict(
        type='Pretrained', prefix='backbone.',
        checkpoint='checkpoints/amd_vit-s-p16_mae-vit-b_in1k_student.pth')),
    head=dict(in_channels=384))
optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.75))
