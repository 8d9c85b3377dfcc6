# VideoAMD added to mmaction2's own VideoMAE ViT-B Kinetics-400 config. mmaction2 1.2.0
# ships its VideoMAE configs for testing only (model, normalisation, 5-clip x 3-crop test,
# runtime), so this file adds what pre-training needs: the official AMD K400 data pipeline
# below the model, and the schedule (amd_mm's, a second base; 32 GPUs x 16 videos, 200
# epochs). A ViT-S/16 student is distilled from the official VideoMAE ViT-L/16 K400
# release (layers 6,12 <-> 12,24).
# Official facts at 8d2ec6f: scripts/pretrain/dist_train/vits_k400_pt.sh:24-49 (t_consist
# masks 0.9 / 0.75, decoder 4, generator 2, 16 x 4 frames, 4 samples per video, AdamW
# (0.9, 0.95), 10 warm-up epochs, 200 epochs, lr 1.2e-3 per 256, clip 0.02) and
# run_amd_pretrain.py:101,109,111 (wd 0.05, warm-up from 1e-6, min lr 1e-5).
_base_ = ['mmaction::recognition/videomae/vit-base-p16_videomae-k400-pre_16x4x1_kinetics-400.py',
          '../_base_/schedules/adamw_coslr_200e_video.py']  # the official schedule, see below

custom_imports = dict(imports=['amd_mm'], allow_failed_imports=False)
model = dict(
    _delete_=True,  # replace the shipped Recognizer3D instead of merging into it
    type='VideoAMD',
    # _delete_ dropped the shipped model.data_preprocessor: keep its normalisation
    data_preprocessor=dict(type='ActionDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], format_shape='NCTHW'),
    backbone=dict(type='MaskedVideoViT', embed_dims=384, depth=12, num_heads=6),
    teacher=dict(
        type='FrozenTeacher',
        backbone=dict(type='MaskedVideoViT', embed_dims=1024, depth=24, num_heads=16),
        checkpoint='checkpoints/videomae_vit-large_k400_pt_1600e_teacher.pth'))
# (masks 0.9 / 0.75 tube, decoder, generators, layers 6,12 <-> 12,24 and l2 losses are
# VideoAMD's defaults, the official setting)

# -- pre-training data: official sampling 16x4, multi-scale crop, 4 views per decode ------
train_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=16, frame_interval=4, num_clips=1),
    dict(type='DecordDecode'),
    dict(type='RepeatAugment', num_repeats=4, transforms=[
        dict(type='MultiScaleCrop', input_size=224, scales=(1, 0.875, 0.75, 0.66),
             random_crop=False, max_wh_scale_gap=1),
        dict(type='Resize', scale=(224, 224), keep_ratio=False)]),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
train_dataloader = dict(
    batch_size=16, num_workers=8, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='VideoDataset', ann_file='data/kinetics400/kinetics400_train_list_videos.txt',
                 data_prefix=dict(video='data/kinetics400/videos_train'), pipeline=train_pipeline))

# -- the official schedule comes from the second base: AdamW (0.9, 0.95), lr 1.2e-3 x 512 /
# 256, 10 warm-up epochs, cosine, 200 epochs, grad clip 0.02, AMP, exact mid-epoch resume;
# its paramwise_cfg exempts norms and biases by layer type (AMD's own norms included)
default_hooks = dict(checkpoint=dict(type='DurableCheckpointHook', save_best=None,  # no validation
                                     max_keep_ckpts=3))
