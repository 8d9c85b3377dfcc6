"""Reliability: distributed runs, exact resume after SIGKILL, determinism, bad input."""
import glob
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest
import torch

from conftest import (ROOT, build_image_amd, free_port, run_tool_in_process, scalars,
                      shadow_python)


def image_opts(demo_root, *extra):
    return ['--cfg-options', f'train_dataloader.dataset.data_root={demo_root}/images/',
            'default_hooks.logger.interval=1', *extra]


# -- distributed -------------------------------------------------------------------------
def _dist(config, work_dir, opts, port):
    # the interpreter is $PYTHON, not the first `python` on PATH (a failing one stands there)
    env = dict(os.environ, PORT=str(port), OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1',
               PYTHON=sys.executable, PATH=shadow_python(osp.dirname(work_dir)))
    proc = subprocess.run(['bash', 'tools/dist_train.sh', config, '2', '--work-dir', work_dir, *opts],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc.stdout + proc.stderr


@pytest.mark.e2e
def test_two_process_image_and_video_runs_stay_in_sync(demo_root, teacher_ckpts, tmp_path):
    out = _dist('configs/tiny/amd_image_tiny.py', str(tmp_path / 'img'),
                image_opts(demo_root, f'model.teacher.checkpoint={teacher_ckpts["image"]}',
                           'train_cfg.max_epochs=1', 'custom_hooks.0.interval=1'), free_port())
    checks = [line for line in out.splitlines() if 'DistSanityHook: iter' in line]
    assert checks, out[-3000:]
    assert all('student weights identical on 2 ranks; teacher frozen: True; '
               'masks differ across ranks: True' in line for line in checks)
    assert osp.isfile(str(tmp_path / 'img' / 'epoch_1.pth'))

    video_teacher = teacher_ckpts['video']
    out = _dist('configs/tiny/amd_video_tiny.py', str(tmp_path / 'vid'), [
        '--cfg-options', f'train_dataloader.dataset.ann_file={demo_root}/videos/train_list.txt',
        f'train_dataloader.dataset.data_prefix.video={demo_root}/videos', 'train_dataloader.batch_size=4',
        f'model.teacher.checkpoint={video_teacher}', 'train_cfg.max_epochs=1',
        'custom_hooks.0.interval=1'], free_port())
    checks = [line for line in out.splitlines() if 'DistSanityHook: iter' in line]
    assert checks and all('identical on 2 ranks' in c and 'masks differ across ranks: True' in c
                          for c in checks), out[-3000:]


# -- resume after SIGKILL and determinism ---------------------------------------------------
RESUME_OPTS = ['train_cfg.max_epochs=4', 'default_hooks.checkpoint.by_epoch=False',
               'default_hooks.checkpoint.interval=2', 'default_hooks.checkpoint.max_keep_ckpts=20']


@pytest.mark.e2e
def test_sigkill_mid_epoch_then_resume_matches_an_uninterrupted_run(demo_root, teacher_ckpts,
                                                                    tmp_path):
    config = 'configs/tiny/amd_image_tiny.py'
    opts = image_opts(demo_root, f'model.teacher.checkpoint={teacher_ckpts["image"]}', *RESUME_OPTS)
    full, killed = str(tmp_path / 'full'), str(tmp_path / 'killed')
    run_tool_in_process('tools/train.py', config, '--work-dir', full, *opts)
    reference = {r['iter']: r for r in scalars(full)}
    assert len(reference) == 12

    # the run to kill is a process of its own
    env = dict(os.environ, OMP_NUM_THREADS='2')
    proc = subprocess.Popen([sys.executable, 'tools/train.py', config, '--work-dir', killed, *opts],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    def named_iter():  # the iteration of the checkpoint last_checkpoint names (0: none yet)
        pointer = osp.join(killed, 'last_checkpoint')
        if not osp.isfile(pointer):
            return 0
        with open(pointer) as f:  # replaced atomically: never seen half-written
            return int(osp.basename(f.read().strip())[len('iter_'):-len('.pth')])

    deadline = time.time() + 300
    while named_iter() < 4 and time.time() < deadline:
        assert proc.poll() is None, 'the run ended before it could be killed'
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    resumed_from = named_iter()
    # killed after a mid-epoch checkpoint was written, before the run ended
    assert resumed_from % 2 == 0 and 4 <= resumed_from < 12, resumed_from
    # determinism: same seed, config and machine give bitwise equal losses (the killed
    # process against the reference run, up to the kill)
    before = scalars(killed)
    assert len(before) >= resumed_from
    assert [r['loss'] for r in before] == [reference[r['iter']]['loss'] for r in before]

    run_tool_in_process('tools/train.py', config, '--work-dir', killed, '--resume', *opts)
    after = [r for r in scalars(killed) if r['iter'] > resumed_from]
    after = list({r['iter']: r for r in after}.values())  # the resumed run's rows
    assert [r['iter'] for r in after][-1] == 12
    for row in after:
        ref = reference[row['iter']]
        for key in ('loss', 'loss_rec', 'loss_dir', 'loss_gen', 'lr'):
            assert row[key] == pytest.approx(ref[key], rel=1e-6, abs=1e-9), (row['iter'], key)


# -- non-finite losses -------------------------------------------------------------------
@pytest.mark.slow
def test_nan_loss_stops_with_iteration_terms_and_files(demo_root, teacher_ckpts, tmp_path):
    proc = run_tool_in_process(
        'tools/train.py', 'configs/tiny/amd_image_tiny.py', '--work-dir', str(tmp_path),
        *image_opts(demo_root, f'model.teacher.checkpoint={teacher_ckpts["image"]}',
                    'model.loss_gen.loss_weight=nan'), check=False)
    assert proc.returncode == 2
    err = proc.stdout + proc.stderr
    assert 'FloatingPointError: non-finite loss at iter 1: loss=nan' in err
    assert 'loss_gen=nan' in err and 'loss_rec=' in err
    assert '; batch files: ' in err and '.jpg' in err.split('batch files: ')[1].splitlines()[0]


def test_nan_loss_skip_leaves_weights_and_optimizer_untouched():
    from mmengine.optim import build_optim_wrapper
    model = build_image_amd(loss_dir=dict(type='AlignLoss', loss_weight=float('nan')))
    wrapper = build_optim_wrapper(model, dict(type='NonFiniteGuardOptimWrapper', on_nonfinite='skip',
                                              optimizer=dict(type='AdamW', lr=1e-2)))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    data = dict(inputs=torch.randint(0, 255, (4, 3, 32, 32), dtype=torch.uint8), data_samples=None)
    model.train_step(data, wrapper)
    assert wrapper.num_skipped == 1
    assert not wrapper.optimizer.state  # no AdamW moment was created
    for k, v in model.state_dict().items():
        if k != 'mask_generator.step':
            assert torch.equal(v, before[k]), k
    assert all(p.grad is None or not p.grad.abs().sum() for p in model.parameters())


# -- the teacher is never trained, saved or optimised ----------------------------------------
def test_teacher_not_in_optimizer_and_frozen_through_train():
    from mmengine.optim import build_optim_wrapper
    model = build_image_amd()
    wrapper = build_optim_wrapper(model, dict(optimizer=dict(type='AdamW', lr=1e-3)))
    in_optimizer = {id(p) for g in wrapper.optimizer.param_groups for p in g['params']}
    assert not any(id(p) in in_optimizer for p in model.teacher.parameters())
    assert all(id(p) in in_optimizer for p in model.backbone.parameters() if p.requires_grad)
    model.train()
    assert not model.teacher.training
    assert 'teacher' not in dict(model.named_children())
    model.to(torch.float64)  # moves / casts with the model
    assert next(model.teacher.parameters()).dtype == torch.float64


# -- bad images --------------------------------------------------------------------------
def test_truncated_jpeg_is_refused_or_skipped(demo_root, tmp_path):
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import TRANSFORMS
    from amd_mm.datasets import BadImageError
    src = glob.glob(osp.join(demo_root, 'images', 'train', '*', '*.jpg'))[0]
    data = open(src, 'rb').read()
    bad = tmp_path / 'truncated.jpg'
    bad.write_bytes(data[:len(data) // 2])
    with DefaultScope.overwrite_default_scope('mmpretrain'):  # whatever scope a test left
        strict = TRANSFORMS.build(dict(type='CheckedLoadImageFromFile'))
        lenient = TRANSFORMS.build(dict(type='CheckedLoadImageFromFile', on_bad='skip'))
    with pytest.raises(BadImageError, match=r'truncated.jpg: cannot be decoded'):
        strict(dict(img_path=str(bad)))
    assert lenient(dict(img_path=str(bad))) is None and lenient.num_skipped == 1
    good = strict(dict(img_path=src))
    assert good['img'].shape == (32, 32, 3)
