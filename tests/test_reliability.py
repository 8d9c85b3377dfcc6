"""Reliability: distributed runs, exact resume after SIGKILL, determinism, bad input."""
import glob
import os
import os.path as osp
import re
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


def _fake(directory, name, body):
    path = osp.join(str(directory), name)
    with open(path, 'w') as f:
        f.write('#!/bin/sh\n' + body)
    os.chmod(path, 0o755)
    return path


def test_launch_scripts_pass_nodes_rendezvous_and_restarts(tmp_path):
    """tools/dist_train.sh and tools/slurm_train.sh as they would launch (the interpreter,
    srun and scontrol replaced by ones that print what they are given)."""
    show = _fake(tmp_path, 'python', 'echo "python $* TORCH_DISABLE_SHARE_RDZV_TCP_STORE='
                                      '${TORCH_DISABLE_SHARE_RDZV_TCP_STORE:-}"\n')
    env = dict(os.environ, PYTHON=show, PATH=f'{tmp_path}{os.pathsep}{os.environ["PATH"]}')

    def run(script, *args, **extra):
        out = subprocess.run(['bash', script, *args], cwd=ROOT, env=dict(env, **extra),
                             capture_output=True, text=True, check=True).stdout
        return out.split()

    fixed = run('tools/dist_train.sh', 'C.py', '8', '--work-dir', 'w', NNODES='4', NODE_RANK='2',
                MASTER_ADDR='10.0.0.1', MASTER_PORT='29777')
    assert fixed[:8] == ['python', '-m', 'torch.distributed.run', '--nnodes=4', '--nproc-per-node=8',
                         '--node-rank=2', '--master-addr=10.0.0.1', '--master-port=29777']
    assert fixed[8:-1] == [osp.join(ROOT, 'tools', 'train.py'), 'C.py', '--launcher', 'pytorch',
                           '--work-dir', 'w']
    elastic = run('tools/dist_train.sh', 'C.py', '8', '--resume', NNODES='4', MASTER_ADDR='10.0.0.1',
                  MASTER_PORT='29777', MAX_RESTARTS='3', RDZV_TIMEOUT='60')
    assert elastic[3:11] == ['--nnodes=4', '--nproc-per-node=8', '--rdzv-backend=c10d',
                             '--rdzv-endpoint=10.0.0.1:29777', '--rdzv-id=amd_mm-10.0.0.1-29777',
                             '--rdzv-conf=join_timeout=60', '--max-restarts=3', '--monitor-interval=1']
    assert elastic[-2:] == ['--resume', 'TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1']

    _fake(tmp_path, 'srun', 'while [ $# -gt 0 ]; do case "$1" in\n'
                            '  -p) echo "srun $1 $2"; shift 2;; -*) echo "srun $1"; shift;;\n'
                            '  *) break;; esac; done\n'
                            'SLURM_JOB_NODELIST=n[1-4] SLURM_JOB_ID=77 exec "$@"\n')
    _fake(tmp_path, 'scontrol', 'printf "n1\\nn2\\n"\n')
    per_gpu = run('tools/slurm_train.sh', 'p', 'job', 'C.py', 'W', '--amp', GPUS='16')
    assert 'srun --ntasks=16' in ' '.join(per_gpu) and '--launcher=slurm' in per_gpu
    out = run('tools/slurm_train.sh', 'p', 'job', 'C.py', 'W', '--amp', GPUS='16', MAX_RESTARTS='2')
    text = ' '.join(out)
    assert 'srun --nodes=2 srun --ntasks=2 srun --ntasks-per-node=1' in text
    i = out.index('torch.distributed.run')
    assert out[i + 1:i + 9] == ['--nnodes=2', '--nproc-per-node=8', '--rdzv-backend=c10d',
                                '--rdzv-endpoint=n1:29500', '--rdzv-id=77',
                                '--rdzv-conf=join_timeout=900', '--max-restarts=2',
                                '--monitor-interval=1']
    assert out[i + 9:] == [osp.join(ROOT, 'tools', 'train.py'), 'C.py', '--work-dir=W',
                           '--launcher=pytorch', '--resume', '--amp',
                           'TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1']


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


def test_consecutive_skipped_steps_stop_naming_the_batches():
    """The fault: with on_nonfinite='skip', 7 of 8 steps were skipped and the run ended with
    exit 0, loss nan and a saved checkpoint; a run of skipped steps now stops, naming them."""
    from mmengine.logging import MessageHub
    from mmengine.optim import build_optim_wrapper
    from mmpretrain.structures import DataSample
    model = build_image_amd(loss_dir=dict(type='AlignLoss', loss_weight=float('nan')))
    wrapper = build_optim_wrapper(model, dict(type='NonFiniteGuardOptimWrapper', on_nonfinite='skip',
                                              max_consecutive_skips=2,
                                              optimizer=dict(type='AdamW', lr=1e-2)))
    hub = MessageHub.get_current_instance()

    def step(it):
        hub.update_info('iter', it - 1)
        samples = [DataSample(metainfo=dict(img_path=f'b{it}_{i}.jpg')) for i in range(2)]
        data = dict(inputs=torch.randint(0, 255, (2, 3, 32, 32), dtype=torch.uint8),
                    data_samples=samples)
        model.train_step(data, wrapper)

    step(1)
    step(2)  # two in a row: allowed
    with pytest.raises(FloatingPointError) as err:
        step(3)
    message = str(err.value)
    assert message.startswith(
        "3 steps in a row had a non-finite loss (on_nonfinite='skip' allows "
        'optim_wrapper.max_consecutive_skips=2), so training has diverged or the data is bad: '
        'iter 1 (files b1_0.jpg, b1_1.jpg); iter 2 (files b2_0.jpg, b2_1.jpg); iter 3 (files '
        'b3_0.jpg, b3_1.jpg); the last: non-finite loss at iter 3: loss=nan'), message
    assert wrapper.num_skipped == 2
    # a finite step in between starts the count again
    wrapper = build_optim_wrapper(build_image_amd(), dict(
        type='NonFiniteGuardOptimWrapper', on_nonfinite='skip', max_consecutive_skips=1,
        optimizer=dict(type='AdamW', lr=1e-2)))
    wrapper.skipped_in_a_row = ['iter 1 (no file names)']
    wrapper.update_params(model.backbone.cls_token.sum() * 0 + 1.0)  # finite
    assert wrapper.skipped_in_a_row == []
    with pytest.raises(ValueError, match=r'optim_wrapper.max_consecutive_skips=-1 must be a whole '
                                         r'number >= 0'):
        build_optim_wrapper(model, dict(type='NonFiniteGuardOptimWrapper', max_consecutive_skips=-1,
                                        optimizer=dict(type='AdamW', lr=1e-2)))


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


# -- many machines: elastic restarts, automatic resume, a lost node -----------------------------
RECORDER = '''"""Test plugin: each rank records the samples of every training iteration (one JSON line
per iteration in <work_dir>/samples_rank<r>.jsonl) and, the first time it gets there,
pauses after a given iteration until the test kills it (AMD_TEST_PAUSE="rank:iter,...")."""
import json
import os
import time

from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class SampleRecorderHook(Hook):
    priority = 'LOWEST'

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        rank, it = get_rank(), runner.iter + 1
        attempt = int(os.environ.get('TORCHELASTIC_RESTART_COUNT', 0))
        row = dict(attempt=attempt, rank=rank, pid=os.getpid(), ppid=os.getppid(), iter=it,
                   epoch=runner.epoch + 1, ids=[s.img_path for s in data_batch['data_samples']])
        with open(os.path.join(runner.work_dir, f'samples_rank{rank}.jsonl'), 'a') as f:
            f.write(json.dumps(row) + '\\n')
        marker = os.path.join(runner.work_dir, f'paused_{rank}_{it}.json')
        if f'{rank}:{it}' in os.environ.get('AMD_TEST_PAUSE', '').split(',') and \
                not os.path.exists(marker):
            with open(marker + '.tmp', 'w') as f:
                json.dump(row, f)
            os.replace(marker + '.tmp', marker)
            time.sleep(600)
'''
ELASTIC_CONFIG = '''_base_ = [{base!r}]
custom_imports = dict(imports=['amd_mm', 'sample_recorder'], allow_failed_imports=False)
custom_hooks = [dict(type='SampleRecorderHook')]
train_dataloader = dict(batch_size=12, dataset=dict(data_root={data!r}))
# 96 images / (2 ranks x 12) = 4 iterations per epoch, 3 epochs; checkpoints every 3 iterations
train_cfg = dict(max_epochs=3, lost_rank_timeout={lost_s})
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(by_epoch=False, interval=3, max_keep_ckpts=2))
'''


class Nodes:
    """Two torchrun agents ("nodes") of tools/dist_train.sh on this machine, one worker
    each, elastic (c10d rendezvous on 127.0.0.1), with automatic resume (--resume)."""

    def __init__(self, root, config, work_dir, rdzv_timeout, pause=''):
        self.port = free_port()
        env = dict(os.environ, NNODES='2', MASTER_ADDR='127.0.0.1', MASTER_PORT=str(self.port),
                   MAX_RESTARTS='2', RDZV_TIMEOUT=str(rdzv_timeout), RDZV_ID=f'test{self.port}',
                   OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1', PYTHON=sys.executable,
                   PATH=shadow_python(root), PYTHONPATH=str(root), AMD_TEST_PAUSE=pause)
        cmd = ['bash', 'tools/dist_train.sh', config, '1', '--work-dir', work_dir, '--resume']
        self.logs, self.procs = [], []
        for node in range(2):
            log = open(osp.join(str(root), f'node{node}_{self.port}.log'), 'w')
            self.logs.append(log.name)
            self.procs.append(subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log,
                                               stderr=subprocess.STDOUT))
            if node == 0:  # node 0 hosts the rendezvous: wait until it listens
                _wait(lambda: _listening(self.port), 120, 'the first agent never listened')

    def wait(self, timeout=600):
        return [p.wait(timeout) for p in self.procs]

    def output(self):
        return '\n'.join(open(log).read() for log in self.logs)

    def kill(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()


def _listening(port):
    import socket
    with socket.socket() as sock:
        return sock.connect_ex(('127.0.0.1', port)) == 0


def _wait(condition, timeout, what):
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, what
        time.sleep(0.1)


def _samples(work_dir):
    """{rank: {iteration: row}}, the last record of every iteration (a re-run replaces
    the rows of the attempt that was lost)."""
    import json
    out = {}
    for rank in (0, 1):
        with open(osp.join(work_dir, f'samples_rank{rank}.jsonl')) as f:
            out[rank] = {row['iter']: row for row in map(json.loads, f)}
    return out


def _pause(work_dir, rank, iteration, timeout=300):
    import json
    path = osp.join(work_dir, f'paused_{rank}_{iteration}.json')
    _wait(lambda: osp.isfile(path), timeout, f'rank {rank} never paused after iter {iteration}')
    with open(path) as f:
        return json.load(f)


@pytest.mark.e2e
def test_two_nodes_restart_after_a_killed_worker_and_a_lost_node(demo_root, tmp_path):
    """Two "nodes" (torchrun agents) x 1 process, gloo on CPU, elastic restarts and --resume:
    a worker killed mid-epoch restarts the group from the last checkpoint (taking over the
    dead rank 0's work_dir lock); a node lost for good ends the survivor within the
    rendezvous timeout naming the lost rank, the last checkpoint intact; relaunched, the
    job finishes with the losses and weights of an uninterrupted run, every sample seen
    once per epoch across the ranks."""
    from amd_mm.checkpoints import load_checkpoint_file, resolve_checkpoint
    (tmp_path / 'sample_recorder.py').write_text(RECORDER)
    config = str(tmp_path / 'elastic_mae_tiny.py')
    lost_s, rdzv_s = 3, 15
    with open(config, 'w') as f:
        f.write(ELASTIC_CONFIG.format(base=osp.join(ROOT, 'configs/tiny/mae_teacher_image_tiny.py'),
                                      data=f'{demo_root}/images/', lost_s=lost_s))
    reference, work_dir = str(tmp_path / 'reference'), str(tmp_path / 'interrupted')
    nodes = []
    try:
        nodes.append(Nodes(tmp_path, config, reference, rdzv_s))  # uninterrupted
        assert nodes[-1].wait() == [0, 0], nodes[-1].output()[-6000:]

        nodes.append(Nodes(tmp_path, config, work_dir, rdzv_s, pause='0:7,1:10'))
        killed = _pause(work_dir, 0, 7)  # rank 0 after iteration 7 (checkpoint iter_6 written)
        os.kill(killed['pid'], signal.SIGKILL)  # a worker dies; the lock file stays behind
        lost = _pause(work_dir, 1, 10)  # restarted, resumed; rank 1 after iteration 10
        assert resolve_checkpoint(work_dir).endswith('iter_9.pth')
        agents = [p.pid for p in nodes[-1].procs]  # the script execs the agent
        survivor = nodes[-1].procs[1 - agents.index(lost['ppid'])]
        start = time.time()
        for pid in (lost['ppid'], lost['pid']):  # the node of rank 1 is lost for good
            os.kill(pid, signal.SIGKILL)
        assert survivor.wait(rdzv_s + lost_s + 60) != 0
        took = time.time() - start
        out = nodes[-1].output()
        assert took < rdzv_s + lost_s + 30, (took, out[-4000:])
        assert f"taking over the stale lock of pid {killed['pid']}" in out, out[-6000:]
        assert 'resuming mid-epoch: skipping the 2 batches of epoch 2' in out
        assert re.search(rf'LostRankError: distributed run: rank 1 of 2 stopped answering \(no '
                         rf'sign of life within {lost_s} s\) after a failed collective at iter 11 '
                         rf"on rank 0 \(.*\); the last checkpoint '{re.escape(work_dir)}/iter_9.pth' "
                         r'is complete', out), out[-6000:]
        assert load_checkpoint_file(resolve_checkpoint(work_dir))['meta']['iter'] == 9  # intact

        nodes.append(Nodes(tmp_path, config, work_dir, rdzv_s))  # relaunched by hand, --resume
        assert nodes[-1].wait() == [0, 0], nodes[-1].output()[-6000:]
    finally:
        for n in nodes:
            n.kill()

    want = {r['iter']: r['loss'] for r in scalars(reference)}
    got = {r['iter']: r['loss'] for r in scalars(work_dir)}  # later attempts replace rows
    assert sorted(want) == list(range(1, 13)) and got == want
    a = load_checkpoint_file(osp.join(reference, 'iter_12.pth'))['state_dict']
    b = load_checkpoint_file(osp.join(work_dir, 'iter_12.pth'))['state_dict']
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    images = sorted(glob.glob(osp.join(demo_root, 'images', 'train', '*', '*.jpg')))
    for run in (reference, work_dir):
        rows = _samples(run)
        for epoch in (1, 2, 3):
            seen = [i for rank in rows for row in rows[rank].values() if row['epoch'] == epoch
                    for i in row['ids']]
            assert sorted(seen) == images, (run, epoch)  # every sample once, across the ranks

