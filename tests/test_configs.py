"""Every config under configs/ builds its model and its training dataset.

Paper-scale configs get their teacher checkpoint removed (random teacher) and
their dataset pointed at the generated demo data, so none of them rots.
"""
import glob
import json
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

from conftest import ROOT

CONFIGS = sorted(
    osp.relpath(p, ROOT) for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in p and not osp.basename(p).startswith('_'))


def point_to_demo(dataset: dict, demo_root: str):
    """Redirect a dataset config to the generated data of the same kind."""
    kind = dataset['type']
    if kind in ('ImageNet', 'CustomDataset'):
        dataset.update(data_root=osp.join(demo_root, 'images'), split='train') if kind == 'ImageNet' \
            else dataset.update(data_root=osp.join(demo_root, 'images'), data_prefix='train')
    elif kind == 'VideoDataset':
        dataset.update(ann_file=osp.join(demo_root, 'videos', 'train_list.txt'),
                       data_prefix=dict(video=osp.join(demo_root, 'videos')))
        # paper-scale clips (16 x 4 frames) are longer than the demo videos: keep the
        # pipeline, only relax the length check so one sample decodes
        for step in dataset['pipeline']:
            if step['type'] == 'CheckedDecordInit':
                step['min_frames'] = 0
    elif kind == 'RawframeDataset':
        dataset.update(ann_file=osp.join(demo_root, 'rawframes', 'train_list.txt'),
                       data_prefix=dict(img=osp.join(demo_root, 'rawframes')),
                       filename_tmpl='img_{:05}.jpg')  # the demo's frames (the study writes PNG)
    elif kind == 'AVADataset':
        ann = osp.join(demo_root, 'ava', 'annotations')
        dataset.update(ann_file=osp.join(ann, 'ava_train_v2.2.csv'),
                       exclude_file=osp.join(ann, 'ava_train_excluded_timestamps_v2.2.csv'),
                       label_file=osp.join(ann, 'ava_action_list_v2.2.pbtxt'),
                       proposal_file=osp.join(ann, 'ava_dense_proposals_train.pkl'),
                       data_prefix=dict(img=osp.join(demo_root, 'ava', 'rawframes')),
                       timestamp_start=1, timestamp_end=6, fps=4)
    elif kind == 'RepeatDataset' or 'dataset' in dataset:
        point_to_demo(dataset['dataset'], demo_root)
    else:
        raise AssertionError(f'no demo data for dataset type {kind}: extend point_to_demo')


def assert_no_decay_by_shape(model, optim_wrapper_cfg):
    """The optimizer the config builds gives weight decay 0 to every trainable 1-D
    parameter (every bias, ``attn.q_bias`` / ``v_bias``, every norm) and to the
    parameters the config names in ``paramwise_cfg.no_decay_names`` (by default the
    tokens: official optim_factory.py; none for MAE's rule), and the configured decay to
    every other matrix."""
    from mmengine.optim import build_optim_wrapper
    from amd_mm.engine.optim_constructor import DEFAULT_NO_DECAY_NAMES
    paramwise = optim_wrapper_cfg.get('paramwise_cfg', {})
    names = tuple(paramwise.get('no_decay_names', DEFAULT_NO_DECAY_NAMES))
    cfg = optim_wrapper_cfg.copy()
    if cfg.get('type') == 'AmpOptimWrapper':  # CUDA only: the same groups in fp32
        cfg.type = 'OptimWrapper'
        cfg.pop('loss_scale', None)
    cfg.optimizer = dict(cfg.optimizer, fused=False)
    optimizer = build_optim_wrapper(model, cfg).optimizer
    decay = {id(p): g['weight_decay'] for g in optimizer.param_groups for p in g['params']}
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    assert len(decay) == len(trainable)
    assert any(n.endswith('attn.q_bias') for n, _ in trainable) or not hasattr(model.backbone, 'blocks')
    for name, param in trainable:
        exempt = param.ndim <= 1 or name.rsplit('.', 1)[-1] in names
        expected = 0.0 if exempt else cfg.optimizer['weight_decay']
        assert decay[id(param)] == expected, (name, tuple(param.shape), decay[id(param)])


def test_configs_are_found():
    assert any('pretrain/image' in c for c in CONFIGS) and any('tiny' in c for c in CONFIGS)


# the last model built, by its config: configs that differ only in data, schedule or GPU
# count (the 8xb16-accum4 / 1xb16-accum32 variants, K400 / SSv2) sort next to each other
# and share one build (a ViT-L teacher costs about 10 CPU-seconds)
_LAST_MODEL = {}


@pytest.fixture(scope='module', autouse=True)
def _free_the_last_model():
    yield
    _LAST_MODEL.clear()


def built_model(model_cfg):
    from mmengine.registry import MODELS
    key = json.dumps(model_cfg.to_dict(), sort_keys=True, default=repr)
    if key not in _LAST_MODEL:
        _LAST_MODEL.clear()
        model = MODELS.build(model_cfg)
        assert sum(p.numel() for p in model.backbone.parameters()) > 0
        if getattr(model, 'teacher', None) is not None:
            assert all(not p.requires_grad for p in model.teacher.parameters())
        _LAST_MODEL[key] = model
    return _LAST_MODEL[key]


# paper-scale models cost seconds each to build: make test-fast builds the tiny ones only
@pytest.mark.parametrize('path', [p if p.startswith('configs/tiny/') else
                                  pytest.param(p, marks=pytest.mark.slow) for p in CONFIGS])
def test_config_builds_model_and_dataset(path, demo_root):
    cfg = Config.fromfile(osp.join(ROOT, path))
    if 'amd_mm' in cfg.get('custom_imports', {}).get('imports', []):  # not the toolbox-only examples
        assert cfg.default_hooks.checkpoint.type == 'DurableCheckpointHook'  # resumable after a crash
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    from mmengine.registry import DATASETS
    model_cfg = cfg.model.copy()
    if model_cfg.get('teacher'):
        model_cfg.teacher.checkpoint = None
    for extra in model_cfg.get('extra_teachers', []):
        extra.teacher.checkpoint = None
    model_cfg.get('backbone', {}).pop('init_cfg', None)  # fine-tuning checkpoints are not here
    model = built_model(model_cfg)
    if hasattr(model, 'mask_generator'):  # a pre-training config: its own optimizer groups
        assert_no_decay_by_shape(model, cfg.optim_wrapper)
    dataset_cfg = cfg.train_dataloader.dataset.copy()
    point_to_demo(dataset_cfg, demo_root)
    dataset = DATASETS.build(dataset_cfg)
    assert len(dataset) > 0
    sample = dataset[0]
    assert 'inputs' in sample


@pytest.mark.slow  # reads every config (about 4 CPU-s)
def test_training_configs_resume_exactly_and_paper_configs_save_by_iterations():
    """Every config that imports amd_mm trains with the resumable loop (exact mid-epoch resume,
    a resume with another batch size refused; fine-tuning included), and the paper-scale
    configs save checkpoints every 500 optimizer steps, keeping the last few."""
    from amd_mm.tools_lib.workdir import use_resumable_loop
    for path in CONFIGS:
        if path.startswith(('configs/examples/', 'configs/study/')):
            continue  # the toolboxes' own files (tools/train.py upgrades their loop); the study's
            # configs inherit the tiny ones
        cfg = Config.fromfile(osp.join(ROOT, path))
        assert cfg.train_cfg.type == 'ResumableEpochBasedTrainLoop', path
        if path.startswith(('configs/pretrain/', 'configs/finetune/')):
            checkpoint = cfg.default_hooks.checkpoint
            accumulate = cfg.optim_wrapper.get('accumulative_counts', 1)
            assert checkpoint.by_epoch is False and checkpoint.interval == 500 * accumulate, path
            assert checkpoint.max_keep_ckpts in (2, 3), path
    # tools/train.py gives a toolbox's own config the same loop, arguments kept
    cfg = Config.fromfile(osp.join(ROOT, 'configs/examples/finetune_vit-s_on-mmpretrain-mae-vit-b-ft_in1k.py'))
    assert cfg.train_cfg == dict(by_epoch=True, max_epochs=100, val_interval=1)
    assert use_resumable_loop(cfg) and cfg.train_cfg == dict(
        type='ResumableEpochBasedTrainLoop', max_epochs=100, val_interval=1)
    cfg = Config(dict(train_cfg=dict(type='IterBasedTrainLoop', max_iters=10)))
    assert not use_resumable_loop(cfg) and cfg.train_cfg.type == 'IterBasedTrainLoop'
