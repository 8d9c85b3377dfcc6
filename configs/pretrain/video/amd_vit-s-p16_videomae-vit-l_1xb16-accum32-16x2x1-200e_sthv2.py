# Same effective batch as the 32-GPU recipe (512 videos per step) on 1 GPU:
# 1 x 16 videos x 32 accumulated steps (MMEngine accumulative_counts), same lr.
_base_ = ['./amd_vit-s-p16_videomae-vit-l_32xb16-16x2x1-200e_sthv2.py']

optim_wrapper = dict(accumulative_counts=32)
# every 500 optimizer steps, as the 32-GPU recipe (whole accumulation windows)
default_hooks = dict(checkpoint=dict(interval=500 * 32))
