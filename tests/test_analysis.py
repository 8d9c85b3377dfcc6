"""amd_mm.analysis: linear probe, seed statistics, study runs from config files."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

from conftest import ROOT, build_image_amd

from amd_mm.analysis.probe import (_Scaler, encoder_features, few_label_probe, fit_linear_probe,
                                   fit_logistic, pool_tokens, probe_score, probe_seed)
from amd_mm.analysis.report import describe_arm
from amd_mm.analysis.runs import load_run_config, reroot
from amd_mm.analysis.stats import (bootstrap_interval, compare, compare_family, holm,
                                   minimum_detectable_effect, paired_difference, paired_t_test,
                                   summarise)


def test_summaries_and_seed_paired_differences():
    s = summarise([0.5, 0.7, 0.9])
    assert s['mean'] == pytest.approx(0.7) and s['std'] == pytest.approx(0.2) and s['n'] == 3
    assert summarise([0.4])['std'] == 0.0
    d = paired_difference([0.9, 0.8, 0.5], [0.7, 0.8, 0.6])
    assert d['values'] == pytest.approx([0.2, 0.0, -0.1])
    assert (d['wins'], d['ties'], d['losses']) == (1, 1, 1)
    with pytest.raises(ValueError, match='equal lengths'):
        paired_difference([0.1, 0.2], [0.1])


def test_holm_adjusts_known_p_values():
    # Holm (1979): sorted p times (m - rank), made monotone, capped at 1, in the input order
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert holm([0.02]) == [0.02]


def test_paired_t_test_equals_scipy():
    from scipy import stats
    a, b = [0.61, 0.58, 0.66, 0.70, 0.52, 0.63, 0.60, 0.64], [0.55, 0.57, 0.60, 0.61, 0.50, 0.62, 0.58, 0.57]
    ref = stats.ttest_rel(a, b)
    got = paired_t_test(np.subtract(a, b))
    assert got['t'] == pytest.approx(ref.statistic) and got['p'] == pytest.approx(ref.pvalue)
    assert got['df'] == 7
    assert paired_t_test([0.0, 0.0, 0.0])['p'] == 1.0


def test_bootstrap_interval_covers_the_mean_and_narrows_with_the_level():
    values = [0.02, 0.05, -0.01, 0.04, 0.03, 0.06, 0.00, 0.03]
    low, high = bootstrap_interval(values, 0.95, seed=0)
    assert low < np.mean(values) < high
    assert bootstrap_interval(values, 0.95, seed=0) == [low, high]  # its own seeded generator
    wide = bootstrap_interval(values, 0.995, seed=0)
    assert wide[0] < low and wide[1] > high
    # the resampled means lie within the range of the values
    assert min(values) <= wide[0] and wide[1] <= max(values)
    with pytest.raises(ValueError, match='at least two'):
        bootstrap_interval([0.1])


def test_minimum_detectable_effect_has_the_stated_power():
    sd, n, alpha = 0.03, 8, 0.05
    mde = minimum_detectable_effect(sd, n, alpha)
    # a two-sided paired t-test at alpha detects a true difference of mde with 80% power
    rng = np.random.default_rng(0)
    diffs = rng.normal(mde, sd, size=(20000, n))
    t = diffs.mean(1) / (diffs.std(1, ddof=1) / np.sqrt(n))
    from scipy import stats
    power = (np.abs(t) > stats.t.ppf(1 - alpha / 2, n - 1)).mean()
    assert power == pytest.approx(0.8, abs=0.015)
    # more seeds or a stricter level move it the expected way
    assert minimum_detectable_effect(sd, 16, alpha) < mde < minimum_detectable_effect(sd, n, alpha / 10)
    assert minimum_detectable_effect(0.0, n) == 0.0


def test_a_family_is_resolved_only_when_its_corrected_interval_excludes_zero():
    rng = np.random.default_rng(1)
    base = rng.uniform(0.4, 0.6, size=8)
    pairs = {'clear': (base + 0.10 + rng.normal(0, 0.01, 8), base),
             'noise': (base + rng.normal(0, 0.03, 8), base),
             'worse': (base - 0.08 + rng.normal(0, 0.01, 8), base)}
    family = compare_family(pairs)
    assert family['clear']['resolved'] and family['worse']['resolved']
    assert family['worse']['mean'] < 0
    assert not family['noise']['resolved']
    for c in family.values():
        assert c['family_size'] == 3 and c['corrected_level'] == pytest.approx(1 - 0.05 / 3)
        low, high = c['ci_corrected']
        assert low <= c['ci'][0] and c['ci'][1] <= high  # the corrected interval is wider
        assert c['p_holm'] >= c['p']
    # one comparison alone: the corrected level is the plain one
    single = compare(*pairs['clear'])
    assert single['ci'] == single['ci_corrected']


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
    assert cfg.train_dataloader.dataset.ann_file == str(tmp_path / 'data' / 'photomotion' / 'train_list.txt')
    assert cfg.train_cfg.max_epochs == 2 and plain.train_cfg.max_epochs == 24  # the file's own value
    assert cfg.model.mask_generator == plain.model.mask_generator
    assert cfg.optim_wrapper == plain.optim_wrapper and cfg.param_scheduler == plain.param_scheduler


@pytest.mark.parametrize('name,ratio,branches,layers,changed', [
    ('video_amd.py', 0.75, 'direct + generative', '2->2, 4->4', set()),
    ('video_amd_symmetric.py', 0.9, 'direct (generative off: nothing to predict)', '2->2, 4->4',
     {'mask_generator'}),
    ('video_amd_random_teacher.py', 0.75, 'direct + generative', '2->2, 4->4', {'teacher'}),
    ('video_videomae.py', None, 'none (no teacher)', '-',
     {'teacher', 'generator', 'loss_dir', 'loss_gen', 'mask_generator'}),
    ('image_amd.py', 0.5, 'direct + generative', '2->2, 4->4', None),
    ('image_amd_symmetric.py', 0.75, 'direct (generative off: nothing to predict)', '2->2, 4->4',
     {'mask_generator'}),
    ('image_amd_random_teacher.py', 0.5, 'direct + generative', '2->2, 4->4', {'teacher'}),
    ('image_mae.py', None, 'none (no teacher)', '-',
     {'teacher', 'generator', 'loss_dir', 'loss_gen', 'mask_generator'}),
])
def test_each_arm_config_changes_only_its_own_keys(name, ratio, branches, layers, changed):
    model = Config.fromfile(osp.join(ROOT, 'configs', 'study', name)).model
    assert describe_arm(model) == dict(teacher_ratio=ratio, branches=branches, layers=layers)
    if changed is None:  # the reference of its modality
        return
    amd = Config.fromfile(osp.join(ROOT, 'configs', 'study', name.split('_')[0] + '_amd.py')).model
    assert {k for k in set(amd) | set(model) if amd.get(k) != model.get(k)} == changed
    if 'teacher' in changed and model.get('teacher'):  # only the teacher's file differs
        assert {k for k in amd.teacher if amd.teacher[k] != model.teacher[k]} == {'checkpoint'}


def test_the_teachers_are_the_students_architecture_trained_three_times_longer():
    for modality, teacher in (('video', 'video_videomae_teacher.py'), ('image', 'image_mae_teacher.py')):
        amd = Config.fromfile(osp.join(ROOT, 'configs', 'study', f'{modality}_amd.py'))
        t = Config.fromfile(osp.join(ROOT, 'configs', 'study', teacher))
        assert amd.model.teacher.backbone == t.model.backbone == amd.model.backbone
        assert t.train_cfg.max_epochs == 3 * amd.train_cfg.max_epochs
        assert t.model.get('teacher') is None and t.train_dataloader == amd.train_dataloader


def test_logistic_regression_equals_scikit_learn():
    from sklearn.linear_model import LogisticRegression
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(3), 30)
    x = rng.normal(size=(90, 12)) + y[:, None] * rng.normal(size=12)
    wide = x[:, :6].repeat(20, axis=1) + rng.normal(0, 0.1, (90, 120))
    wide = (wide - wide.mean(0)) / wide.std(0)  # standardised, as the probe's features
    for xs, C in ((x, 0.3), (wide, 0.05)):  # the primal (N > D) and the dual (N < D) form
        w, b = fit_logistic(torch.as_tensor(xs), torch.as_tensor(y), C, 3)
        ref = LogisticRegression(C=C, tol=1e-10, max_iter=10000).fit(xs, y)

        def objective(w_, b_):
            logits = torch.as_tensor(xs @ w_ + b_)
            return C * torch.nn.functional.cross_entropy(logits, torch.as_tensor(y), reduction='sum') \
                + 0.5 * float((w_ ** 2).sum())
        ours, theirs = objective(w.numpy(), b.numpy()), objective(ref.coef_.T, ref.intercept_)
        assert float(ours) == pytest.approx(float(theirs), rel=1e-3)
        assert ((xs @ w.numpy() + b.numpy()).argmax(1) == ref.predict(xs)).mean() > 0.97


def test_principal_axes_from_the_gram_matrix_equal_the_svd():
    rng = np.random.default_rng(0)
    for n, d in ((40, 300), (300, 40)):
        x = rng.normal(size=(n, d)) @ rng.normal(size=(d, d))
        scaler = _Scaler(x, dims=10)
        z = (x - x.mean(0)) / x.std(0)
        _, _, vt = np.linalg.svd(z - z.mean(0), full_matrices=False)
        cos = np.abs(np.sum(scaler.basis * vt[:10].T, axis=0))
        assert np.allclose(cos, 1.0, atol=1e-8)  # the same axes, up to sign
        assert scaler(x).shape == (n, 10)


def test_temporal_bins_keep_the_frames_order():
    tokens = torch.arange(16, dtype=torch.float32).reshape(1, 16, 1).repeat(1, 1, 3)
    pooled = pool_tokens(tokens, (4, 2, 2), (4, 1, 1))
    assert pooled.shape == (1, 12)
    # one mean per temporal slot, channel-major: slot t averages tokens 4t..4t+3
    assert pooled.reshape(3, 4)[0].tolist() == [1.5, 5.5, 9.5, 13.5]
    reversed_ = pool_tokens(tokens.flip(1), (4, 2, 2), (4, 1, 1))
    assert not torch.equal(pooled, reversed_)  # time reversal changes the feature
    assert torch.equal(pool_tokens(tokens, (4, 2, 2)), pool_tokens(tokens.flip(1), (4, 2, 2)))
    with pytest.raises(ValueError, match='must divide the token grid'):
        pool_tokens(tokens, (4, 2, 2), (3, 1, 1))


def test_few_label_probe_draws_disjoint_sets_per_seed_and_the_full_probe_does_not():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 20)
    x = rng.normal(size=(60, 5)) + 2 * y[:, None]
    protocol = dict(Cs=[1.0], cv=2, few_label=dict(per_class=3, folds=4))
    a, b = (probe_score((x, y), (x, y), protocol, seed=s) for s in (0, 1))
    assert len(a['folds']) == 4 and a['accuracy'] == pytest.approx(np.mean(a['folds']))
    assert a['folds'] != b['folds']  # other labelled sets
    assert probe_seed(protocol, 5) == 5 and probe_seed(dict(Cs=[1.0]), 5) == 0
    with pytest.raises(ValueError, match='fewer than'):
        few_label_probe((x, y), (x, y), per_class=6, folds=4)
