# HMDB51 fine-tuning (split 1) of the K400-pre-trained AMD ViT-B/16 student: 8 GPUs x 8
# videos, 16x4 sampling, lr 1e-3 x 64/256, layer decay 0.7, 50 epochs, test 5 clips x 3
# crops. VideoMAE's small-dataset recipe (the AMD paper publishes none). Splits 2 and 3:
# --cfg-options train_dataloader.dataset.ann_file=data/hmdb51/hmdb51_train_split_2_videos.txt and the
# val/test ann_file likewise.
_base_ = ['../../_base_/finetune/video_vit_finetune.py']

pretrained = 'work_dirs/amd_vit-b-p16_videomae-vit-l_32xb16-16x4x1-200e_k400'  # its last checkpoint
split = 1
data_root = 'data/hmdb51/videos'
ann_file_train = f'data/hmdb51/hmdb51_train_split_{split}_videos.txt'
ann_file_val = f'data/hmdb51/hmdb51_val_split_{split}_videos.txt'
model = dict(
    backbone=dict(embed_dims=768, num_heads=12,
                  init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    cls_head=dict(in_channels=768, num_classes=51),
    data_preprocessor=dict(blending=dict(type='RandomBatchAugment', augments=[
        dict(type='MixupBlending', alpha=0.8, num_classes=51),
        dict(type='CutmixBlending', alpha=1.0, num_classes=51)])))
train_dataloader = dict(batch_size=8, dataset=dict(ann_file=ann_file_train,
                                                   data_prefix=dict(video=data_root)))
val_dataloader = dict(batch_size=8, dataset=dict(ann_file=ann_file_val,
                                                 data_prefix=dict(video=data_root)))
test_dataloader = dict(dataset=dict(ann_file=ann_file_val, data_prefix=dict(video=data_root)))
base_lr, min_lr, epochs, warmup = 1e-3, 1e-6, 50, 5  # per 256 clips
optim_wrapper = dict(optimizer=dict(lr=base_lr * 64 / 256), paramwise_cfg=dict(decay_rate=0.7))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-8, by_epoch=True, begin=0, end=warmup,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=epochs - warmup, eta_min_ratio=min_lr / base_lr,
         by_epoch=True, begin=warmup, end=epochs, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=epochs)
auto_scale_lr = dict(base_batch_size=64)
