# Runtime shared by the video (mmaction2) configs.
default_scope = 'mmaction'
custom_imports = dict(imports=['amd_mm'], allow_failed_imports=False)

default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20, ignore_last=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # MMEngine's CheckpointHook with durable writes and delete-after-save: a run killed or
    # out of disk while saving always keeps a complete checkpoint (amd_mm.engine)
    checkpoint=dict(type='DurableCheckpointHook', interval=1, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    sync_buffers=dict(type='SyncBuffersHook'),
)
# distributed runs: every 1000 iterations check identical student weights across ranks,
# a frozen teacher and different masks per rank (amd_mm.engine.DistSanityHook)
custom_hooks = [dict(type='DistSanityHook', interval=1000)]
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
log_processor = dict(type='LogProcessor', window_size=20, by_epoch=True)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='ActionVisualizer', vis_backends=vis_backends)
log_level = 'INFO'
load_from = None
resume = False
# checkpoint and teacher safety (README "Reliability"): True allows full unpickling of
# checkpoints that weights-only loading refuses (pickle can run code: trusted files only)
trust_checkpoints = False
# True: resuming with a teacher other than the one recorded in the checkpoint is allowed
allow_teacher_change = False
# True: a distillation run may train with teacher.checkpoint=None (random teacher)
allow_random_teacher = False
# True: load_from / init_cfg Pretrained may load only part of the model on purpose (tensors
# of another shape skipped, under half of the model loaded, encoder tensors missing): warnings
# instead of errors (amd_mm.checkpoints.CheckedLoadHook; --resume stays strict)
allow_partial_load = False
# every rank seeds Python, numpy and torch with seed + rank, as the official pre-training
# and fine-tuning scripts (run_amd_pretrain.py:237-239, run_class_finetuning.py:390-392 of
# MCG-NJU/AMD at 8d2ec6f; MAE's main_*.py alike): each GPU draws its own mixup / cutmix
# choice, weight, pairing and box (blended in the data preprocessor, main process), its
# own drop-path masks and, with num_workers=0, its own augmentation. Weights stay equal:
# DDP broadcasts rank 0's at wrapping. Masks differ per rank in any case (seed, rank, step).
randomness = dict(seed=0, diff_rank_seed=True)
