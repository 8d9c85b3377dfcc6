"""Proof that it learns: tools/study.py runs end to end (--quick, once for the whole file)
and its report says what its runs measured; the plan keeps the students' random streams
apart from the teacher's.

Accuracies are checked as fractions in [0, 1] (``results.json``; ``results.md`` shows the
same numbers in percent).
"""
import glob
import json
import math
import os.path as osp
import sys
import time

import numpy as np
import pytest
from mmengine.config import Config

from conftest import ROOT, run_tool, run_tool_in_process
from test_visualization import _png

sys.path.insert(0, osp.join(ROOT, 'tools'))
import study as study_tool  # noqa: E402  (tools/study.py: the plan)

MODALITIES = ('image', 'video')


class _Recorder:
    """A scheduler that records the planned jobs."""

    def __init__(self):
        self.jobs = {}

    def add(self, name, spec, after=(), cost=1.0):
        self.jobs[name] = dict(spec=spec, after=list(after))


def _full_plan():
    settings = study_tool.SETTINGS['full']
    seeds = list(range(settings['seeds']))
    tuned = {m: seeds[:n] for m, n in settings['finetune_seeds'].items()}
    plan = study_tool.describe_plan(MODALITIES, settings['arms'], tuned)
    sched = _Recorder()
    study_tool.plan_jobs(sched, plan, seeds, '/tmp/out', quick=False)
    return plan, seeds, sched.jobs


def test_the_full_plan_runs_every_arm_per_seed_after_its_teacher():
    plan, seeds, jobs = _full_plan()
    assert len(seeds) >= 8
    # images: MAE and the references only (docs/STUDY.md: MAE does not learn there), no teacher
    assert set(plan['image']['arms']) == {'mae'} and plan['image']['teacher'] is None
    assert not {'image_teacher', 'image_untrained_teacher'} & set(jobs)
    assert set(plan['video']['arms']) == {'amd', 'videomae', 'symmetric', 'random_teacher'}
    video = {k: v['spec'] for k, v in jobs.items() if k.startswith('video_')}
    assert video['video_teacher']['seed'] == study_tool.TEACHER_SEED not in seeds
    assert video['video_untrained_teacher']['seed'] == study_tool.RANDOM_TEACHER_SEED
    assert video['video_untrained_teacher']['train'] is False
    for modality, spec in plan.items():
        assert jobs[f'{modality}_pixels']['spec']['pixels'] and not jobs[f'{modality}_pixels']['spec']['encoder']
        for seed in seeds:
            for arm in spec['arms']:
                job = jobs[f'{modality}_{arm}_s{seed}']
                assert job['spec']['seed'] == seed
                expected = {'amd': [f'{modality}_teacher'], 'symmetric': [f'{modality}_teacher'],
                            'random_teacher': [f'{modality}_untrained_teacher']}.get(arm, [])
                assert job['after'] == expected
                assert job['spec']['finetune'] == (arm in spec['finetune'] and seed in spec['finetune_seeds'])
            assert jobs[f'{modality}_scratch_s{seed}']['spec']['finetune'] == (seed in spec['finetune_seeds'])
    # every comparison names what the plan runs
    for modality, _, a, b in study_tool.COMPARISONS + study_tool.FINETUNE_COMPARISONS:
        for who in (a, b):
            assert who in plan[modality]['arms'] or who in ('scratch', 'teacher', 'untrained_teacher', 'pixels')


def _steps(config, num_train):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'study', config))
    per_epoch = math.ceil(num_train / cfg.train_dataloader.batch_size)
    return cfg.train_cfg.max_epochs, cfg.train_cfg.max_epochs * per_epoch


def test_no_student_replays_the_teachers_mask_or_data_stream():
    """The mask generator seeds one stream per (run seed, rank, step) and MMEngine's
    sampler one order per (run seed, epoch): the streams the teacher drew (seed 100)
    and those of every student seed of the full study are disjoint."""
    import torch
    from amd_mm.masking import AsymmetricMaskGenerator
    from mmengine.dataset import DefaultSampler
    plan, seeds, jobs = _full_plan()
    settings = study_tool.SETTINGS['full']

    def mask_streams(seed, steps):
        gen = AsymmetricMaskGenerator(student_ratio=0.9, teacher_ratio=0.75, seed=seed)
        out = set()
        for step in range(steps):
            gen.step.fill_(step)
            out.add(gen._generator(torch.device('cpu')).initial_seed())
        return out

    def sampler_streams(seed, epochs, n):
        sampler = DefaultSampler(list(range(n)), shuffle=True, seed=seed)
        out = set()
        for epoch in range(epochs):
            sampler.set_epoch(epoch)
            out.add(sampler.seed + sampler.epoch)  # the generator's seed of this epoch
        return out

    for modality, spec in plan.items():
        if not spec['teacher']:
            continue
        n = settings[modality]['num_train']
        t_epochs, t_steps = _steps(spec['teacher'], n)
        s_epochs, s_steps = _steps(spec['arms']['amd']['config'], n)
        teacher_masks = mask_streams(study_tool.TEACHER_SEED, t_steps)
        teacher_orders = sampler_streams(study_tool.TEACHER_SEED, t_epochs, n)
        assert len(teacher_masks) == t_steps
        for seed in seeds:
            assert not teacher_masks & mask_streams(seed, s_steps), (modality, seed)
            assert not teacher_orders & sampler_streams(seed, s_epochs, n), (modality, seed)
    # and two different seeds draw different masks at the same step
    a = AsymmetricMaskGenerator(student_ratio=0.9, teacher_ratio=0.75, seed=0)
    b = AsymmetricMaskGenerator(student_ratio=0.9, teacher_ratio=0.75, seed=study_tool.TEACHER_SEED)
    assert not np.array_equal(a(2, (2, 4, 4)).ids_student.numpy(), b(2, (2, 4, 4)).ids_student.numpy())


@pytest.fixture(scope='module')
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp('study') / 'out'
    start = time.time()
    # the jobs in this process (--workers 0); the resume test below runs one as a worker process
    proc = run_tool('tools/study.py', '--quick', '--workers', '0', '--out', str(out), timeout=900)
    summary = json.loads((out / 'results.json').read_text())
    jobs = {}
    for path in glob.glob(str(out / 'runs' / '*' / 'result.json')):
        with open(path) as f:
            jobs[osp.basename(osp.dirname(path))] = json.load(f)
    return dict(out=out, stdout=proc.stdout, summary=summary, jobs=jobs, seconds=time.time() - start)


@pytest.mark.e2e
def test_every_arm_is_a_config_and_every_job_ran(study):
    summary, jobs = study['summary'], study['jobs']
    assert 'done in' in study['stdout']
    assert summary['mode'] == 'quick' and summary['seeds'] == [0, 1]
    assert summary['commit']  # the checkout the numbers come from
    arms = summary['arms']
    assert set(arms['image']) == {'amd', 'mae'} and set(arms['video']) == {'amd', 'videomae'}
    for modality in MODALITIES:
        for arm, info in arms[modality].items():
            assert osp.isfile(osp.join(ROOT, 'configs', 'study', info['config'])), info['config']
            for seed in (0, 1):
                assert f'{modality}_{arm}_s{seed}' in jobs
        for ref in ('teacher', 'untrained_teacher', 'pixels', 'scratch_s0', 'scratch_s1'):
            assert f'{modality}_{ref}' in jobs
        # the students' runs read the teacher the configs name
        assert jobs[f'{modality}_teacher']['steps'] > 0 and jobs[f'{modality}_untrained_teacher']['checkpoint']
    assert arms['video']['amd']['describe'] == dict(teacher_ratio=0.75, branches='direct + generative',
                                                    layers='2->2, 4->4')
    # the teacher's temporal controls
    assert set(jobs['video_teacher']) >= {'control_shuffle', 'control_single'}


@pytest.mark.e2e
def test_report_numbers_are_the_runs_numbers(study):
    summary, jobs = study['summary'], study['jobs']
    for modality in MODALITIES:
        res = summary['results'][modality]
        for arm in summary['arms'][modality]:
            assert res[arm]['values'] == [jobs[f'{modality}_{arm}_s{s}']['probe'][str(s)] for s in (0, 1)]
        assert res['scratch']['values'] == [jobs[f'{modality}_scratch_s{s}']['probe'][str(s)] for s in (0, 1)]
        assert res['teacher']['values'] == [jobs[f'{modality}_teacher']['probe'][str(s)] for s in (0, 1)]
        assert res['pixels']['values'] == [jobs[f'{modality}_pixels']['pixels'][str(s)] for s in (0, 1)]
        tuned, tuned_seeds = summary['finetune'][modality], {'image': (0, 1), 'video': (0,)}[modality]
        assert tuned['scratch']['values'] == [jobs[f'{modality}_scratch_s{s}']['finetune'] for s in tuned_seeds]
        assert 'finetune' not in jobs[f'{modality}_amd_s1'] or modality == 'image'
        for value in res['amd']['values'] + tuned['amd']['values']:
            assert 0.0 <= value <= 1.0
    for c in summary['comparisons']:
        key = {'scratch': lambda m, s: jobs[f'{m}_scratch_s{s}']['probe'][str(s)],
               'teacher': lambda m, s: jobs[f'{m}_teacher']['probe'][str(s)],
               'pixels': lambda m, s: jobs[f'{m}_pixels']['pixels'][str(s)]}
        get = lambda who, s: key[who](c['modality'], s) if who in key else \
            jobs[f'{c["modality"]}_{who}_s{s}']['probe'][str(s)]  # noqa: E731
        assert c['values'] == [pytest.approx(get(c['a'], s) - get(c['b'], s)) for s in (0, 1)]
        assert c['n'] == 2 and c['family_size'] == len(summary['comparisons'])
        assert c['resolved'] == bool(c['p_holm'] < 0.05 and (c['ci_corrected'][0] > 0 or c['ci_corrected'][1] < 0))
    assert {c['question'] for c in summary['comparisons']} >= {'VideoMAE learns', 'AMD beats VideoMAE',
                                                               'MAE learns', 'MAE beats raw pixels'}


@pytest.mark.e2e
def test_tables_and_pictures(study):
    out, summary = study['out'], study['summary']
    table = (out / 'results.md').read_text()
    probe, finetune = table.split('## Secondary metric: fine-tuning')
    for section, key in ((probe, 'results'), (finetune, 'finetune')):
        for modality, arm, name in (('image', 'amd', 'AMD'), ('video', 'videomae', 'VideoMAE')):
            stat = summary[key][modality].get(arm)
            row = [line for line in section.splitlines() if line.startswith(f'| {modality} | {name} |')]
            if stat is None:  # not fine-tuned in this plan
                assert not row, (key, modality, name)
                continue
            assert len(row) == 1, (key, modality, name)
            assert row[0].rstrip(' |').endswith(
                f'{100 * stat["mean"]:.1f} ± {100 * stat["std"]:.1f} [' +
                ', '.join(f'{100 * v:.1f}' for v in stat['values']) + ']'), (key, row[0])
    for modality in ('image', 'video'):
        assert f'| {modality} | reference: raw pixels |' in probe
    assert '| video | VideoMAE learns (VideoMAE - random init (no pre-training)) |' in table
    assert 'Temporal controls' in table and summary['commit'] in table
    for name in ('probe', 'comparisons', 'finetune_comparisons', 'finetune_curves',
                 'loss_curves_image', 'loss_curves_video'):
        size, pix = _png(out / f'{name}.png')
        assert size[0] > 300 and pix.std() > 5, name
    size, pix = _png(out / 'masks_video.png')
    fw = summary['settings']['video']['size'] * 2  # frames under 64 px are drawn 2x
    # 4 panels (input, masks, ...) of 4 frames 1 px apart, 4 px between panels; 4 samples
    assert size == (4 * (4 * fw + 3) + 3 * 4, 30 + 4 * fw + 3 * 4) and pix.std() > 10
    assert sorted(summary['pictures']) == sorted(p.name for p in out.glob('*.png'))


@pytest.mark.e2e
def test_report_only_rebuilds_the_same_report(study):
    out = study['out']
    run_tool_in_process('tools/study.py', '--out', str(out), '--report-only')
    assert json.loads((out / 'results.json').read_text()) == study['summary']


@pytest.mark.e2e
def test_resume_reuses_every_finished_job_and_nothing_else(study):
    """Last in the file: it rewrites the report in the shared output folder."""
    out = study['out']
    changed = out / 'runs' / 'image_scratch_s1' / 'job.json'  # this job's spec changed
    spec = json.loads(changed.read_text())
    changed.write_text(json.dumps(dict(spec, seed=99)))
    # the default 2 worker processes: the changed job runs through tools/study.py --job
    proc = run_tool('tools/study.py', '--quick', '--resume', '--out', str(out), timeout=600)
    reused = [line.split()[2] for line in proc.stdout.splitlines() if line.startswith('[study] reused')]
    started = [line.split()[2] for line in proc.stdout.splitlines() if line.startswith('[study] started')]
    assert started == ['image_scratch_s1']
    assert sorted(reused + started) == sorted(study['jobs'])
    summary = json.loads((out / 'results.json').read_text())
    assert sorted(summary['reused']) == sorted(reused)
    for modality in MODALITIES:  # the reused jobs' numbers are the first run's
        assert summary['results'][modality]['amd'] == study['summary']['results'][modality]['amd']


@pytest.mark.parametrize('task', ['digits', 'photodigits', 'placeddigits'])
def test_every_image_task_lands_where_the_configs_read(tmp_path, task):
    """make_data writes the chosen pictures (--image-task) under data/images, the tree
    mmpretrain's CustomDataset reads."""
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import DATASETS
    settings = dict(image=dict(task=task, num_train=40, num_val=20),
                    video=dict(task='photomotion', num_train=8, num_val=8))
    data = study_tool.make_data(str(tmp_path), settings, ('image',))
    init_default_scope('mmpretrain')
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'study', 'image_protocol.py'))
    val = dict(cfg.probe.val_dataloader.dataset, data_root=osp.join(data, 'images'))
    dataset = DATASETS.build(val)
    assert len(dataset) == 20 and set(dataset.CLASSES) <= {f'digit_{k}' for k in range(10)}
    assert len(dataset.CLASSES) >= 8
    assert dataset[0]['inputs'].shape == (3, 32, 32)
    assert json.load(open(osp.join(data, 'study_data.json')))['image']['task'] == task
