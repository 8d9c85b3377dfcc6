# AMD on Kinetics-400 (official recipe): ViT-S/16 student <- VideoMAE ViT-L/16 teacher,
# 32 GPUs x 16 videos x 4 augmented clips, 16x4x1 sampling, 200 epochs.
_base_ = [
    '../../_base_/models/amd_video.py',
    '../../_base_/datasets/k400_pretrain.py',
    '../../_base_/schedules/adamw_coslr_200e_video.py',
    '../../_base_/default_runtime_mmaction.py',
]
# Checkpoints by iterations, the last 3 kept (durable writes, exact mid-epoch resume): every
# 500 optimizer steps. K400 at 32 GPUs x 16 videos has 240436 // 512 = 469 steps per epoch
# (official docs/DATASET.md:5, run_amd_pretrain.py:293-295), so a lost process costs at most
# ~1.07 epochs instead of up to 50 (official --save_ckpt_freq 50, scripts/pretrain/dist_train/
# vits_k400_pt.sh:40); SSv2 (168913 videos, docs/DATASET.md:6) has 329. Variants that accumulate
# gradients save every 500 x accumulative_counts iterations (a checkpoint inside an accumulation
# window would lose its gradients). The final checkpoint is the work_dir's last_checkpoint.
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=500, max_keep_ckpts=3))
