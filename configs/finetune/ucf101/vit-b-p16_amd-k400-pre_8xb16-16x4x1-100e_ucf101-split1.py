# UCF101 fine-tuning (split 1) of the K400-pre-trained AMD ViT-B/16 student. AMD publishes
# no UCF101 recipe; this is VideoMAE's UCF101 fine-tuning script, option by option
# (MCG-NJU/VideoMAE scripts/ucf101/videomae_vit_base_patch16_224_tubemasking_ratio_0.75_
# epoch_3200/finetune.sh:10-40): 8 GPUs x 16 videos, lr 5e-4 and min_lr 1e-5 per 256 videos
# (x 128 / 256, run_class_finetuning.py:404-407), layer decay 0.7, wd 0.05, 100 epochs,
# drop path 0.2, head dropout 0.5, 2 clips per video, 16x4 sampling, test 5 clips x 3
# crops; every other option at the defaults it shares with the K400 recipe (the base).
# Not taken over: --use_checkpoint (activation checkpointing saves memory, no number
# changes; mmaction2's VisionTransformer has no such option).
# Splits 2 and 3: --cfg-options train_dataloader.dataset.ann_file=data/ucf101/
# ucf101_train_split_2_videos.txt and the val/test ann_file likewise.
_base_ = ['../../_base_/finetune/video_vit_finetune.py']

pretrained = 'work_dirs/amd_vit-b-p16_videomae-vit-l_32xb16-16x4x1-200e_k400'  # its last checkpoint
split = 1
num_classes = 101
data_root = 'data/ucf101/videos'
ann_file_train = f'data/ucf101/ucf101_train_split_{split}_videos.txt'
ann_file_val = f'data/ucf101/ucf101_val_split_{split}_videos.txt'
model = dict(
    backbone=dict(embed_dims=768, num_heads=12, drop_path_rate=0.2,
                  init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    cls_head=dict(in_channels=768, num_classes=num_classes, dropout_ratio=0.5),
    data_preprocessor=dict(blending=dict(type='RandomBatchAugment', augments=[
        dict(type='MixupBlending', alpha=0.8, num_classes=num_classes),
        dict(type='CutmixBlending', alpha=1.0, num_classes=num_classes)])))
train_dataloader = dict(batch_size=16, dataset=dict(ann_file=ann_file_train,
                                                    data_prefix=dict(video=data_root)))
val_dataloader = dict(dataset=dict(ann_file=ann_file_val, data_prefix=dict(video=data_root)))
test_dataloader = dict(dataset=dict(ann_file=ann_file_val, data_prefix=dict(video=data_root)))
base_lr, min_lr, epochs, warmup = 5e-4, 1e-5, 100, 5  # per 256 videos
optim_wrapper = dict(optimizer=dict(lr=base_lr * 128 / 256), paramwise_cfg=dict(decay_rate=0.7))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-8, by_epoch=True, begin=0, end=warmup,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=epochs - warmup, eta_min_ratio=min_lr / base_lr,
         by_epoch=True, begin=warmup, end=epochs, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=epochs)
auto_scale_lr = dict(base_batch_size=128)
