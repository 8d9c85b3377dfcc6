# Study, images: fine-tuning and linear-probing protocol of every image student.
# Fine-tune: the tiny image transfer recipe (configs/tiny/finetune_image_tiny.py:
# mmpretrain ImageClassifier + VisionTransformer loading the student directly, layer decay
# 0.75, drop path 0.1, label smoothing 0.1) with the batch mixing off (mixup / cutmix kept
# every model at chance with a few hundred images and a few epochs), 10 epochs, batch 64,
# lr 2e-3, no validation during training (no model selection on the held-out split), then
# the test loop on the held-out split. tools/study.py sets
# model.backbone.init_cfg.checkpoint to each student (None: random initialisation).
# Linear probe (``probe``, read by amd_mm.analysis.probe): un-augmented train and held-out
# loaders, logistic regression with C chosen by 3-fold cross-validation on train only.
_base_ = ['../tiny/finetune_image_tiny.py']

data_root = 'work_dirs/study/data/images/'
model = dict(backbone=dict(init_cfg=dict(
    checkpoint='work_dirs/study/runs/image_amd_s0/pretrain/epoch_20.pth')),
    train_cfg=None)
train_dataloader = dict(batch_size=64, dataset=dict(data_root=data_root))
test_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = None
val_cfg = None
val_evaluator = None
optim_wrapper = dict(optimizer=dict(lr=2e-3))
max_epochs = 10
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=1, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))

probe_loader = dict(
    batch_size=64, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='CustomDataset', data_root=data_root, data_prefix='train',
                 pipeline=[dict(type='LoadImageFromFile'), dict(type='PackInputs')]))
probe = dict(train_dataloader=probe_loader,
             val_dataloader=dict(probe_loader, dataset=dict(probe_loader['dataset'], data_prefix='val')),
             Cs=[0.001, 0.01, 0.1, 1.0, 10.0], cv=3)
