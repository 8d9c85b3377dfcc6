"""Proof that it learns: tools/study.py runs end to end (--quick, once for the whole file)
and its report says what its runs measured.

Accuracies are checked as fractions in [0, 1] (``results.json``; ``results.md`` shows the
same numbers in percent).
"""
import glob
import json
import os.path as osp
import time

import pytest

from conftest import ROOT, run_tool, run_tool_in_process
from test_visualization import _png

MODALITIES = ('image', 'video')
PROTOCOLS = ('finetune', 'linear_probe')

pytestmark = pytest.mark.e2e


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


def test_every_arm_is_a_config_and_every_job_ran(study):
    summary, jobs = study['summary'], study['jobs']
    assert 'done in' in study['stdout']
    assert summary['mode'] == 'quick' and summary['seeds'] == [0]
    arms = summary['arms']
    assert set(arms['image']) == {'amd', 'mae'}
    assert {'amd', 'mae', 'symmetric', 'teacher050', 'fullview', 'direct_only', 'generative_only',
            'last_layer'} == set(arms['video'])
    for modality in MODALITIES:
        for arm, info in arms[modality].items():
            assert osp.isfile(osp.join(ROOT, 'configs', 'study', info['config'])), info['config']
            assert f'{modality}_{arm}_s0' in jobs
        assert f'{modality}_teacher' in jobs and f'{modality}_scratch_s0' in jobs
    assert {'video_control_shuffled_s0', 'video_control_single_frame_s0'} <= set(jobs)
    # the arms' descriptions are read from their configs
    video = arms['video']
    assert video['symmetric']['describe']['teacher_ratio'] == 0.9
    assert 'generative off' in video['symmetric']['describe']['branches']
    assert video['direct_only']['describe']['branches'] == 'direct'
    assert video['generative_only']['describe']['branches'] == 'generative'
    assert video['last_layer']['describe']['layers'] == '4->6'
    assert video['amd']['describe']['layers'] == '2->3, 4->6'


def test_the_arms_trained_what_their_configs_say(study):
    jobs, out = study['jobs'], study['out']
    terms = lambda name: set().union(*(set(r) for r in jobs[name]['losses'])) - {'iter', 'loss'}  # noqa: E731
    assert terms('video_amd_s0') == {'loss_rec', 'loss_dir', 'loss_gen'}
    assert terms('video_mae_s0') == {'loss_rec'}
    assert terms('video_symmetric_s0') == {'loss_rec', 'loss_dir'}  # nothing to predict: off
    assert terms('video_direct_only_s0') == {'loss_rec', 'loss_dir'}
    assert terms('video_generative_only_s0') == {'loss_rec', 'loss_gen'}
    log = (out / 'logs' / 'video_symmetric_s0.log').read_text()
    assert 'generative branch has nothing to predict and is off' in log
    # the controls start from the AMD student of their seed and fine-tune only
    for name in ('shuffled', 'single_frame'):
        job = json.loads((out / 'runs' / f'video_control_{name}_s0' / 'job.json').read_text())
        assert job['init'] == jobs['video_amd_s0']['checkpoint'] and 'linear_probe' not in jobs[
            f'video_control_{name}_s0']
    # every run wrote under --out (the configs' work_dirs/study/ paths are re-rooted)
    assert jobs['video_amd_s0']['checkpoint'].startswith(str(out))


def test_report_numbers_are_the_runs_numbers(study):
    summary, jobs = study['summary'], study['jobs']
    for modality in MODALITIES:
        for arm in summary['arms'][modality]:
            for p in PROTOCOLS:
                value = jobs[f'{modality}_{arm}_s0'][p]
                assert 0.0 <= value <= 1.0
                assert summary['results'][modality][arm][p]['values'] == [value]
        base = 'mae'
        for arm, gains in summary['gains'][modality].items():
            for p in PROTOCOLS:
                diff = jobs[f'{modality}_{arm}_s0'][p] - jobs[f'{modality}_{base}_s0'][p]
                assert gains[p]['values'] == [pytest.approx(diff)]
                assert gains[p]['wins'] == int(diff > 0) and gains[p]['losses'] == int(diff < 0)
        scratch = jobs[f'{modality}_scratch_s0']
        assert summary['references'][modality]['scratch']['finetune']['values'] == [scratch['finetune']]
        assert summary['references'][modality]['teacher']['linear_probe'] == \
            jobs[f'{modality}_teacher']['linear_probe']
    target = summary['targets']['video']
    best = max(summary['results']['video'], key=lambda a: jobs[f'video_{a}_s0']['finetune'])
    assert target['best_finetune'] == jobs[f'video_{best}_s0']['finetune']
    assert target['gap'] == pytest.approx(target['best_finetune'] - jobs['video_scratch_s0']['finetune'])
    assert target['controls']['shuffled'] == jobs['video_control_shuffled_s0']['finetune']
    for claim in summary['claims']:
        diff = jobs[f'video_{claim["a"]}_s0']['finetune'] - jobs[f'video_{claim["b"]}_s0']['finetune']
        assert claim['finetune']['values'] == [pytest.approx(diff)]


def test_tables_and_pictures(study):
    out, summary = study['out'], study['summary']
    table = (out / 'results.md').read_text()
    for modality, names in (('image', ('AMD', 'MAE')), ('video', ('AMD', 'VideoMAE'))):
        for name in names:
            row = [line for line in table.splitlines() if line.startswith(f'| {modality} | {name} |')]
            assert len(row) == 1, (modality, name)
            cells = [c.strip() for c in row[0].strip('|').split('|')]
            for cell, p in zip(cells[2:], PROTOCOLS):  # "mean ± std [per-seed]" in percent
                stat = summary['results'][modality]['amd' if name == 'AMD' else 'mae'][p]
                assert cell.startswith(f'{100 * stat["mean"]:.1f} ± {100 * stat["std"]:.1f} [')
        assert f'| {modality} | reference: random init' in table
    for arm in summary['arms']['video'].values():
        assert f'| {arm["label"]} | ' in table
    for claim in ('asymmetric beats symmetric', 'both branches beat direct only',
                  'both branches beat generative only', 'middle + last layers beat last only'):
        assert f'| {claim} |' in table
    assert '| control: frame-shuffled' in table and '| control: single frame' in table

    # matplotlib figures at their figsize x dpi; mask grids of the rendering code
    assert _png(out / 'accuracy_bars.png')[0] == (560, 264)
    assert _png(out / 'ablations_video.png')[0] == (720, 288)
    for name in ('loss_curves_image', 'loss_curves_video', 'loss_curves_video_ablations'):
        assert _png(out / f'{name}.png')[0] == (720, 264)
    # 4 samples x (input, teacher, student, reconstruction); images 32 px x3, clips 4 frames x2
    size, pix = _png(out / 'masks_image.png')
    assert size == (4 * 96 + 3 * 4, 30 + 4 * 96 + 3 * 4)
    assert pix.std() > 10 and (pix == 128).all(axis=-1).mean() > 0.05  # content and grey patches
    size, pix = _png(out / 'masks_video.png')
    assert size == (4 * (4 * 64 + 3) + 3 * 4, 30 + 4 * 64 + 3 * 4)
    assert pix.std() > 10
    assert sorted(summary['pictures']) == sorted(p.name for p in out.glob('*.png'))
    for path in out.glob('*.png'):
        assert path.stat().st_size < 300_000, path
    # the hook drew the last training batch of every pre-training run
    for name in ('image_amd_s0', 'image_mae_s0', 'video_amd_s0', 'video_symmetric_s0', 'video_teacher'):
        assert glob.glob(str(out / 'runs' / name / 'pretrain' / '*' / 'vis_data' / 'vis_image' /
                             'mask_reconstruction_*.png')), name


def test_report_only_rebuilds_the_same_report(study):
    out = study['out']
    run_tool_in_process('tools/study.py', '--out', str(out), '--report-only')
    assert json.loads((out / 'results.json').read_text()) == study['summary']


def test_resume_reuses_every_finished_job_and_nothing_else(study):
    """Last in the file: it rewrites the report in the shared output folder."""
    out = study['out']
    changed = out / 'runs' / 'video_last_layer_s0' / 'job.json'  # this job's spec changed
    spec = json.loads(changed.read_text())
    changed.write_text(json.dumps(dict(spec, seed=99)))
    # the default 2 worker processes: the changed job runs through tools/study.py --job
    proc = run_tool('tools/study.py', '--quick', '--resume', '--out', str(out), timeout=600)
    reused = [line.split()[2] for line in proc.stdout.splitlines() if line.startswith('[study] reused')]
    started = [line.split()[2] for line in proc.stdout.splitlines() if line.startswith('[study] started')]
    assert started == ['video_last_layer_s0']
    assert sorted(reused + started) == sorted(study['jobs'])
    summary = json.loads((out / 'results.json').read_text())
    assert sorted(summary['reused']) == sorted(reused)
    for modality in MODALITIES:  # the reused jobs' numbers are the first run's
        assert summary['results'][modality]['amd'] == study['summary']['results'][modality]['amd']
