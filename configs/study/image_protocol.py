# Study, images: how every image encoder is evaluated (tools/study.py, docs/STUDY.md).
# Primary, the frozen probe with few labels (``probe``, read by amd_mm.analysis.probe): the
# encoder sees all patches of one un-augmented picture; its final-norm tokens are averaged
# (the usual probe), standardised, and a logistic regression with C chosen by 3-fold
# cross-validation is trained on 10 labelled pictures per class and scored on the 500
# held-out pictures; the training split is dealt into 5 disjoint labelled sets (drawn with
# the run's seed) and the score is their mean. The raw pixels are probed the same way.
# Secondary, fine-tuning on all 1297 labels: the tiny image transfer recipe
# (configs/tiny/finetune_image_tiny.py: mmpretrain ImageClassifier + VisionTransformer
# loading the student directly, layer decay 0.75, drop path 0.1, label smoothing 0.1) with
# batch mixing off, 10 epochs, batch 64, lr 2e-3, the held-out accuracy after every epoch
# (the learning curve; no model selection) and the test loop after the last one.
# tools/study.py sets model.backbone.init_cfg to each student (None: random initialisation).
_base_ = ['../tiny/finetune_image_tiny.py']

data_root = 'work_dirs/study/data/images/'
model = dict(backbone=dict(init_cfg=None), train_cfg=None)
train_dataloader = dict(batch_size=64, dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = dict(dataset=dict(data_root=data_root))
optim_wrapper = dict(optimizer=dict(lr=2e-3))
max_epochs = 10
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=1, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=1)
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))

probe_loader = dict(
    batch_size=128, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='CustomDataset', data_root=data_root, data_prefix='train',
                 pipeline=[dict(type='CheckedLoadImageFromFile'), dict(type='PackInputs')]))
probe = dict(train_dataloader=probe_loader,
             val_dataloader=dict(probe_loader, dataset=dict(probe_loader['dataset'], data_prefix='val')),
             bins=(1, 1, 1), dims=None, few_label=dict(per_class=10, folds=5),
             Cs=[0.001, 0.01, 0.1, 1.0, 10.0], cv=3)
