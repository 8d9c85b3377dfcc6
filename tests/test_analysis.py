"""amd_mm.analysis: linear probe, seed statistics, study runs from config files."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

from conftest import ROOT, build_image_amd

from amd_mm.analysis.probe import encoder_features, fit_linear_probe
from amd_mm.analysis.report import describe_arm
from amd_mm.analysis.runs import load_run_config, reroot
from amd_mm.analysis.stats import paired_difference, summarise, verdict


def test_summaries_and_seed_paired_differences():
    s = summarise([0.5, 0.7, 0.9])
    assert s['mean'] == pytest.approx(0.7) and s['std'] == pytest.approx(0.2) and s['n'] == 3
    assert summarise([0.4])['std'] == 0.0
    d = paired_difference([0.9, 0.8, 0.5], [0.7, 0.8, 0.6])
    assert d['values'] == pytest.approx([0.2, 0.0, -0.1])
    assert (d['wins'], d['ties'], d['losses']) == (1, 1, 1)
    with pytest.raises(ValueError, match='equal lengths'):
        paired_difference([0.1, 0.2], [0.1])


@pytest.mark.parametrize('a,b,reading', [
    ([0.9, 0.8, 0.85], [0.7, 0.6, 0.7], 'A better (3/3 seeds, |mean| > std)'),
    ([0.6, 0.6, 0.7], [0.7, 0.7, 0.8], 'B better (3/3 seeds, |mean| > std)'),
    ([0.9, 0.5, 0.7], [0.7, 0.6, 0.6], 'A better, within the spread (2/3 seeds)'),
    ([0.7], [0.6], 'A better (1 seed only)'),
    ([0.7, 0.6], [0.7, 0.6], 'no difference'),
])
def test_verdict_needs_every_seed_and_more_than_the_spread(a, b, reading):
    assert verdict(paired_difference(a, b)) == reading


@pytest.mark.slow
def test_linear_probe_separates_what_is_separable_and_only_that():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 40)
    centres = rng.normal(0, 3, size=(4, 16))
    x = centres[y] + rng.normal(0, 1, size=(len(y), 16))
    train, val = (x[::2], y[::2]), (x[1::2], y[1::2])
    assert fit_linear_probe(train, val) > 0.95
    shuffled = (x[::2], rng.permutation(y[::2]))  # labels unrelated to the features
    assert fit_linear_probe(shuffled, val) < 0.5


def test_encoder_features_see_every_token_and_restore_the_mode(demo_root):
    from mmengine.runner import Runner
    from mmengine.registry import init_default_scope
    init_default_scope('mmpretrain')
    model = build_image_amd(teacher=False)
    model.train()
    loader = Runner.build_dataloader(dict(
        batch_size=16, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=dict(type='default_collate'),
        dataset=dict(type='CustomDataset', data_root=osp.join(demo_root, 'images'), data_prefix='val',
                     pipeline=[dict(type='LoadImageFromFile'), dict(type='PackInputs')])))
    x, y = encoder_features(model, loader)
    assert x.shape == (32, 64) and y.shape == (32,) and len(set(y.tolist())) > 1
    assert model.backbone.training  # restored
    # the feature is the mean of the final-norm tokens of the unmasked image
    batch = next(iter(loader))
    from amd_mm.models.algorithms.contract import batch_inputs
    model.eval()
    with torch.no_grad():
        tokens, _ = model.backbone.forward_masked(batch_inputs(model, batch), None)
    assert tokens.shape[1] == 64  # all 8 x 8 patches
    assert np.allclose(x[:16], tokens.mean(dim=1).numpy(), atol=1e-5)


def test_reroot_moves_only_the_study_paths():
    cfg = dict(a='work_dirs/study/data/x', b=['work_dirs/study/runs/t', 'work_dirs/other'],
               c=dict(d='data/demo', e=('work_dirs/study/y',)), f=3)
    assert reroot(cfg, '/tmp/o') == dict(a='/tmp/o/data/x', b=['/tmp/o/runs/t', 'work_dirs/other'],
                                         c=dict(d='data/demo', e=('/tmp/o/y',)), f=3)


def test_run_config_keeps_the_file_and_sets_only_the_runtime(tmp_path):
    path = osp.join(ROOT, 'configs', 'study', 'video_amd.py')
    cfg = load_run_config(path, str(tmp_path), str(tmp_path / 'w'), 'job', seed=2,
                          options={'train_cfg.max_epochs': 2})
    plain = Config.fromfile(path)
    assert cfg.randomness == dict(seed=2, diff_rank_seed=False) and cfg.work_dir == str(tmp_path / 'w')
    assert cfg.model.teacher.checkpoint == str(tmp_path / 'runs' / 'video_teacher' / 'pretrain')
    assert cfg.train_dataloader.dataset.ann_file == str(tmp_path / 'data' / 'motion' / 'train_list.txt')
    assert cfg.train_cfg.max_epochs == 2 and plain.train_cfg.max_epochs == 15
    assert cfg.model.mask_generator == plain.model.mask_generator
    assert cfg.optim_wrapper == plain.optim_wrapper and cfg.param_scheduler == plain.param_scheduler


@pytest.mark.parametrize('name,ratio,branches,layers,changed', [
    ('video_amd.py', 0.75, 'direct + generative', '2->3, 4->6', set()),
    ('video_amd_symmetric.py', 0.9, 'direct (generative off: nothing to predict)', '2->3, 4->6',
     {'mask_generator'}),
    ('video_amd_fullview.py', 0.0, 'direct + generative', '2->3, 4->6', {'mask_generator'}),
    ('video_amd_direct_only.py', 0.75, 'direct', '2->3, 4->6', {'generator', 'loss_gen'}),
    ('video_amd_generative_only.py', 0.75, 'generative', '2->3, 4->6', {'loss_dir'}),
    ('video_amd_last_layer.py', 0.75, 'direct + generative', '4->6', {'student_layers', 'teacher_layers'}),
    ('video_videomae.py', None, 'none (no teacher)', '-',
     {'teacher', 'generator', 'loss_dir', 'loss_gen', 'mask_generator'}),
])
def test_each_arm_config_changes_only_its_own_keys(name, ratio, branches, layers, changed):
    model = Config.fromfile(osp.join(ROOT, 'configs', 'study', name)).model
    assert describe_arm(model) == dict(teacher_ratio=ratio, branches=branches, layers=layers)
    amd = Config.fromfile(osp.join(ROOT, 'configs', 'study', 'video_amd.py')).model
    assert {k for k in set(amd) | set(model) if amd.get(k) != model.get(k)} == changed
