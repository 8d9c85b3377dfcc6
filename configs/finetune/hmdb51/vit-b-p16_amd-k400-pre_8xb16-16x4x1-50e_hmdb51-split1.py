# HMDB51 fine-tuning (split 1) of the K400-pre-trained AMD ViT-B/16 student. Neither AMD nor
# VideoMAE publishes an HMDB51 script: this is the UCF101 config (VideoMAE's UCF101 script:
# 8 GPUs x 16 videos, lr 5e-4 / min_lr 1e-5 per 256, layer decay 0.7, drop path 0.2, head
# dropout 0.5, test 5 clips x 3 crops) with 51 classes and 50 epochs (the config's own
# choice for the smaller set).
# Splits 2 and 3: --cfg-options train_dataloader.dataset.ann_file=data/hmdb51/
# hmdb51_train_split_2_videos.txt and the val/test ann_file likewise.
_base_ = ['../ucf101/vit-b-p16_amd-k400-pre_8xb16-16x4x1-100e_ucf101-split1.py']

split = 1
num_classes = 51
data_root = 'data/hmdb51/videos'
ann_file_train = f'data/hmdb51/hmdb51_train_split_{split}_videos.txt'
ann_file_val = f'data/hmdb51/hmdb51_val_split_{split}_videos.txt'
model = dict(
    cls_head=dict(num_classes=num_classes),
    data_preprocessor=dict(blending=dict(type='RandomBatchAugment', augments=[
        dict(type='MixupBlending', alpha=0.8, num_classes=num_classes),
        dict(type='CutmixBlending', alpha=1.0, num_classes=num_classes)])))
train_dataloader = dict(dataset=dict(ann_file=ann_file_train, data_prefix=dict(video=data_root)))
val_dataloader = dict(dataset=dict(ann_file=ann_file_val, data_prefix=dict(video=data_root)))
test_dataloader = dict(dataset=dict(ann_file=ann_file_val, data_prefix=dict(video=data_root)))
base_lr, min_lr, epochs, warmup = 5e-4, 1e-5, 50, 5  # per 256 videos
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-8, by_epoch=True, begin=0, end=warmup,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=epochs - warmup, eta_min_ratio=min_lr / base_lr,
         by_epoch=True, begin=warmup, end=epochs, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=epochs)
