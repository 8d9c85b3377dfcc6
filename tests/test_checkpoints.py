"""Checkpoints a run can always resume from, loaded safely, with a pinned teacher.

In-process MMEngine runners of the tiny configs (2 iterations per epoch) and direct
calls; no subprocess runs.
"""
import errno
import glob
import hashlib
import itertools
import multiprocessing
import os
import os.path as osp
import re
import resource
import shutil
import signal
import socket

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook

from amd_mm.checkpoints import load_checkpoint_file, resolve_checkpoint
from amd_mm.tools_lib.workdir import WorkDirLock, settle_resume, work_dir_lock
from conftest import ROOT, build_image_amd, isolated_mmengine, run_tool_in_process, save_backbone

MAE = 'configs/tiny/mae_teacher_image_tiny.py'
AMD = 'configs/tiny/amd_image_tiny.py'
_RUNS = itertools.count()


def tiny_runner(work_dir, demo_root, config=MAE, resume=None, **options):
    """An MMEngine Runner of a tiny image config on the demo images: batch 48 (2
    iterations per epoch), 2 epochs, max_keep_ckpts=1, unless ``options`` say otherwise;
    ``resume`` as ``tools/train.py --resume``."""
    from mmengine.runner import Runner
    cfg = Config.fromfile(osp.join(ROOT, config))
    cfg.merge_from_dict({'train_dataloader.dataset.data_root': f'{demo_root}/images/',
                         'train_dataloader.batch_size': 48, 'train_cfg.max_epochs': 2,
                         'default_hooks.checkpoint.max_keep_ckpts': 1, 'log_level': 'WARNING',
                         **options})
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = f'test_checkpoints_{os.getpid()}_{next(_RUNS)}'  # own logger / hub
    settle_resume(cfg, resume)
    return Runner.from_cfg(cfg)


@pytest.fixture(autouse=True)
def _isolated():
    with isolated_mmengine():  # the runners' loggers, hubs and visualizers go afterwards
        yield


def _sha256(path):
    return hashlib.sha256(open(path, 'rb').read()).hexdigest()


# -- 1. durable checkpoints ---------------------------------------------------------------
def _unresumable(work_dir):
    """Why a run killed right now could not resume (None: it could)."""
    try:
        load_checkpoint_file(resolve_checkpoint(work_dir, key='last_checkpoint'))
    except (ValueError, FileNotFoundError) as err:
        return str(err)
    return None


def _watch_file_operations(monkeypatch, work_dir, problems):
    """At each rename / deletion (before and after it), record whether the work_dir is
    resumable: the state a kill at that instant leaves."""
    busy = []

    def watch(fn):
        def wrapped(*args, **kwargs):
            check()
            out = fn(*args, **kwargs)
            check()
            return out
        return wrapped

    def check():
        if busy or not osp.exists(osp.join(work_dir, 'last_checkpoint')):
            return  # nothing saved yet
        busy.append(1)
        try:
            problem = _unresumable(work_dir)
            if problem:
                problems.append(problem)
        finally:
            busy.pop()

    for name in ('remove', 'unlink', 'replace', 'rename'):
        monkeypatch.setattr(os, name, watch(getattr(os, name)))


@pytest.mark.slow
def test_mmengine_checkpoint_hook_can_leave_nothing_to_resume(demo_root, tmp_path, monkeypatch):
    """The fault: with max_keep_ckpts=1, MMEngine's hook deletes the only checkpoint
    before it writes the next, while last_checkpoint still names it."""
    work_dir = str(tmp_path)
    runner = tiny_runner(work_dir, demo_root, **{'default_hooks.checkpoint.type': 'CheckpointHook'})
    problems = []
    _watch_file_operations(monkeypatch, work_dir, problems)
    runner.train()
    gone = [p for p in problems if re.search(r"names '.*epoch_1.pth', which does not exist", p)]
    assert gone, problems


class DiskFullOnSave(Hook):
    """Simulates a full disk from the next checkpoint save on: files cannot grow past
    1 MB (RLIMIT_FSIZE, SIGXFSZ ignored), so the write fails half-way with EFBIG."""

    def __init__(self):
        self.limit = resource.getrlimit(resource.RLIMIT_FSIZE)
        self.handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    def before_save_checkpoint(self, runner, checkpoint):
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, self.limit[1]))

    def restore(self):
        resource.setrlimit(resource.RLIMIT_FSIZE, self.limit)
        signal.signal(signal.SIGXFSZ, self.handler)


@pytest.mark.slow
def test_durable_checkpoints_survive_a_kill_or_full_disk_while_saving(demo_root, tmp_path,
                                                                      monkeypatch):
    work_dir = str(tmp_path)
    runner = tiny_runner(work_dir, demo_root)
    assert any(type(h).__name__ == 'DurableCheckpointHook' for h in runner.hooks)  # the default
    problems = []
    with monkeypatch.context() as patch:
        _watch_file_operations(patch, work_dir, problems)
        runner.train()
    assert problems == []  # a kill at any rename / deletion leaves a resumable work_dir
    assert sorted(f for f in os.listdir(work_dir) if osp.isfile(osp.join(work_dir, f))) == [
        'epoch_2.pth', 'last_checkpoint', 'mae_teacher_image_tiny.py']

    # the disk fills up while epoch 3 is saved: epoch 2 stays complete and named
    runner = tiny_runner(work_dir, demo_root, resume='auto', **{'train_cfg.max_epochs': 3})
    full = DiskFullOnSave()
    runner.register_hook(full, 'VERY_HIGH')
    try:
        with pytest.raises(OSError) as err:
            runner.train()
    finally:
        full.restore()
    assert err.value.errno == errno.EFBIG
    # one sentence naming the file and what stays (was: the OSError's traceback)
    from amd_mm.utils.errors import is_user_error
    assert is_user_error(err.value) and str(err.value) == (
        f"checkpoint: could not write '{work_dir}/epoch_3.pth' (File too large); the previous "
        f"checkpoint '{work_dir}/epoch_2.pth' stays complete and last_checkpoint names it: free "
        'space (or fix the folder), then run again with --resume.')
    assert resolve_checkpoint(work_dir) == osp.join(work_dir, 'epoch_2.pth')
    assert load_checkpoint_file(osp.join(work_dir, 'epoch_2.pth'))['meta']['epoch'] == 2
    assert not any(f.startswith('epoch_3') for f in os.listdir(work_dir))

    # a kill mid-write leaves a partial temporary file: removed when training resumes
    open(osp.join(work_dir, 'epoch_3.pth.tmp'), 'wb').write(b'partial')
    tiny_runner(work_dir, demo_root, resume='auto', **{'train_cfg.max_epochs': 3}).train()
    left = sorted(f for f in os.listdir(work_dir) if f.endswith(('.pth', '.tmp')))
    assert left == ['epoch_3.pth']
    assert load_checkpoint_file(resolve_checkpoint(work_dir))['meta']['iter'] == 6


def test_checkpoints_by_iterations_must_not_cut_accumulation_windows():
    from amd_mm.checkpoints import DurableCheckpointHook

    class Runner:
        cfg = Config(dict(optim_wrapper=dict(accumulative_counts=32)))

    with pytest.raises(ValueError, match=r'^default_hooks.checkpoint.interval=500 \(iterations\) is '
                                         r'not a multiple of optim_wrapper.accumulative_counts=32'):
        DurableCheckpointHook(by_epoch=False, interval=500)._check_accumulation(Runner())
    DurableCheckpointHook(by_epoch=False, interval=500 * 32)._check_accumulation(Runner())
    DurableCheckpointHook(interval=1)._check_accumulation(Runner())  # by epoch: not judged


def test_durable_write_failing_midway_keeps_the_old_file(tmp_path, monkeypatch):
    from amd_mm.checkpoints import durable_write
    pointer = tmp_path / 'last_checkpoint'
    durable_write(str(pointer), b'/run/epoch_1.pth')

    def fail(fd):
        raise OSError(errno.ENOSPC, 'No space left on device')

    monkeypatch.setattr(os, 'fsync', fail)  # the bytes are written, not yet durable
    with pytest.raises(OSError, match='No space left'):
        durable_write(str(pointer), b'/run/epoch_2.pth')
    assert pointer.read_bytes() == b'/run/epoch_1.pth'
    assert os.listdir(tmp_path) == ['last_checkpoint']


def test_empty_or_dangling_pointer_is_one_sentence(tmp_path):
    torch.save({'state_dict': {'w': torch.ones(1)}}, tmp_path / 'epoch_1.pth')
    (tmp_path / 'last_checkpoint').write_text('')
    with pytest.raises(ValueError, match=r"teacher.checkpoint: '.*last_checkpoint' is empty .*"
                                         r"\['epoch_1.pth'\]"):
        resolve_checkpoint(str(tmp_path), key='teacher.checkpoint')
    cfg = Config(dict(work_dir=str(tmp_path)))
    with pytest.raises(ValueError, match=r"--resume: '.*last_checkpoint' is empty"):
        settle_resume(cfg, 'auto')
    (tmp_path / 'last_checkpoint').write_text('/elsewhere/epoch_7.pth')
    with pytest.raises(FileNotFoundError, match=r"names '/elsewhere/epoch_7.pth', which does not "
                                                r"exist, and 'epoch_7.pth' is not beside"):
        settle_resume(cfg, 'auto')


# -- 2. resume with another number of batches per epoch -------------------------------------
@pytest.mark.slow
def test_resume_with_other_batches_per_epoch_is_refused(demo_root, tmp_path):
    work_dir = str(tmp_path)
    tiny_runner(work_dir, demo_root, **{'train_dataloader.batch_size': 32,
                                        'train_cfg.max_epochs': 1}).train()  # 3 batches per epoch
    bigger = {'train_dataloader.batch_size': 96, 'train_cfg.max_epochs': 2}  # 1 batch per epoch
    runner = tiny_runner(work_dir, demo_root, resume='auto', **bigger)
    with pytest.raises(ValueError, match=r'trained with 3 batches per epoch \(batch size 32 x 1 '
                                         r'process\) but this run has 1 batches per epoch '
                                         r'\(batch size 96 x 1 process\)'):
        runner.train()
    assert not osp.exists(osp.join(work_dir, 'epoch_2.pth'))  # nothing trained, nothing saved

    # a checkpoint that records no epoch length (older amd_mm) is checked by its position
    ckpt = torch.load(osp.join(work_dir, 'epoch_1.pth'), weights_only=False)
    del ckpt['message_hub']['runtime_info']['amd_mm.epoch_length']
    torch.save(ckpt, osp.join(work_dir, 'epoch_1.pth'))
    runner = tiny_runner(work_dir, demo_root, resume='auto', **bigger)
    with pytest.raises(ValueError, match=r'\(iter 3, epoch 1\) does not fit 1 batches per epoch'):
        runner.train()

    # a checkpoint of another model (the width-96 MAE, resumed as the width-64 AMD student):
    # one sentence, not 55 warnings and then an optimizer ValueError
    runner = tiny_runner(work_dir, demo_root, AMD, resume='auto', **{'model.teacher.checkpoint': None})
    with pytest.raises(ValueError, match=rf"^--resume '{re.escape(work_dir)}/epoch_1.pth' does not "
                                         r"fit the model: 'backbone.cls_token' has shape \(1, 1, 96\) "
                                         r'in the checkpoint but \(1, 1, 64\) in the model \(and \d+ '
                                         r'more tensors of another shape\); resume from a checkpoint '
                                         r"of this config's model"):
        runner.train()


# -- 3. the pinned teacher ---------------------------------------------------------------------
def _other_teacher(teacher_ckpt, path):
    ckpt = torch.load(teacher_ckpt, weights_only=True)
    torch.save({'state_dict': {k: v + 1 for k, v in ckpt['state_dict'].items()}}, path)
    return str(path)


def test_teacher_work_dir_copied_or_moved_loads_its_own_file(teacher_ckpts, tmp_path):
    original = tmp_path / 'teacher'
    original.mkdir()
    shutil.copy(teacher_ckpts['image'], original / 'epoch_1.pth')
    # as MMEngine writes it: an absolute path
    (original / 'last_checkpoint').write_text(str(original / 'epoch_1.pth'))
    copy = tmp_path / 'copy'
    shutil.copytree(original, copy)
    _other_teacher(teacher_ckpts['image'], copy / 'epoch_1.pth')  # the copy trained on

    teacher = build_image_amd(teacher_ckpt=str(copy)).teacher
    own = copy / 'epoch_1.pth'
    assert teacher.source == dict(file=str(own), sha256=_sha256(own))
    want = torch.load(copy / 'epoch_1.pth', weights_only=True)['state_dict']['backbone.cls_token']
    assert torch.equal(teacher.backbone.cls_token, want)

    moved = tmp_path / 'moved'
    shutil.move(str(original), str(moved))
    teacher = build_image_amd(teacher_ckpt=str(moved)).teacher
    assert teacher.source == dict(file=str(moved / 'epoch_1.pth'),
                                  sha256=_sha256(teacher_ckpts['image']))


@pytest.mark.slow
def test_resume_with_another_teacher_is_refused_unless_allowed(demo_root, teacher_ckpts, tmp_path):
    work_dir = str(tmp_path / 'run')
    first = teacher_ckpts['image']
    runner = tiny_runner(work_dir, demo_root, AMD, **{'model.teacher.checkpoint': first,
                                                      'train_cfg.max_epochs': 1})
    runner.train()
    meta = torch.load(osp.join(work_dir, 'epoch_1.pth'), weights_only=False)['meta']
    assert meta['teachers'] == {'model.teacher.checkpoint': dict(file=osp.abspath(first),
                                                                 sha256=_sha256(first))}
    # the same bytes elsewhere are the same teacher (the run is finished: nothing to train)
    same = str(shutil.copy(first, tmp_path / 'same.pth'))
    tiny_runner(work_dir, demo_root, AMD, resume='auto', **{'model.teacher.checkpoint': same,
                                                            'train_cfg.max_epochs': 1}).train()

    other = _other_teacher(first, tmp_path / 'other.pth')
    options = {'model.teacher.checkpoint': other, 'train_cfg.max_epochs': 2}
    runner = tiny_runner(work_dir, demo_root, AMD, resume='auto', **options)
    with pytest.raises(ValueError, match=rf'distilled from model.teacher.checkpoint = '
                                         rf'{re.escape(first)} \(sha256 \w{{12}}\), but '
                                         rf'model.teacher.checkpoint now loads {re.escape(other)} '
                                         r'.*allow_teacher_change=True'):
        runner.train()
    tiny_runner(work_dir, demo_root, AMD, resume='auto', allow_teacher_change=True,
                **options).train()
    meta = torch.load(osp.join(work_dir, 'epoch_2.pth'), weights_only=False)['meta']
    assert meta['teachers']['model.teacher.checkpoint']['file'] == other


def test_training_with_a_random_teacher_needs_allow_random_teacher(demo_root, tmp_path):
    from amd_mm.checkpoints import TeacherPinHook
    options = {'model.teacher.checkpoint': None, 'train_cfg.max_epochs': 1}
    runner = tiny_runner(tmp_path / 'a', demo_root, AMD, **options)
    with pytest.raises(ValueError, match=r'model.teacher.checkpoint is None: the teacher has '
                                         r'random weights.*allow_random_teacher=True'):
        runner.train()
    assert not osp.exists(tmp_path / 'a' / 'epoch_1.pth')
    runner = tiny_runner(tmp_path / 'b', demo_root, AMD, allow_random_teacher=True, **options)
    TeacherPinHook().before_train(runner)  # allowed: a warning only


# -- 4 and 6. every checkpoint load: corrupt files and untrusted pickles ----------------------
class _RunsCode:
    """Unpickling this creates a folder: stands for any code a pickle can run."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.makedirs, (self.marker,)


def _corrupt(kind, path, good):
    data = open(good, 'rb').read()
    kinds = {'empty': b'', 'random': os.urandom(4096), 'truncated': data[:len(data) // 2]}
    path.write_bytes(kinds[kind])
    return str(path)


def _convert_tool_error(src, dst):
    result = run_tool_in_process('tools/convert_checkpoint.py', src, dst, check=False)
    assert result.returncode == 2
    return result.stderr


@pytest.mark.parametrize('kind', ['empty', 'random', 'truncated'])
def test_corrupt_checkpoint_is_one_sentence_naming_the_file(kind, teacher_ckpts, tmp_path):
    from mmengine.runner.checkpoint import _load_checkpoint
    bad = _corrupt(kind, tmp_path / f'{kind}.pth', teacher_ckpts['image'])
    reason = 'is empty' if kind == 'empty' else 'is not a readable checkpoint'
    with pytest.raises(ValueError, match=rf"teacher.checkpoint: '{re.escape(bad)}' {reason}"):
        build_image_amd(teacher_ckpt=bad)
    # MMEngine's loader: --resume, load_from, init_cfg=dict(type='Pretrained')
    with pytest.raises(ValueError, match=rf"checkpoint: '{re.escape(bad)}' {reason}"):
        _load_checkpoint(bad, map_location='cpu')
    err = _convert_tool_error(bad, str(tmp_path / 'out.pth'))
    assert re.search(rf"^ValueError: src: '{re.escape(bad)}' {reason}", err, re.M), err
    assert 'Traceback' not in err
    # tools/publish_checkpoint.py (was: PytorchStreamReader's traceback, no file named)
    result = run_tool_in_process('tools/publish_checkpoint.py', bad, tmp_path / 'pub', check=False)
    assert result.returncode == 2 and 'Traceback' not in result.stderr
    assert re.search(rf"^ValueError: IN: '{re.escape(bad)}' {reason}", result.stderr, re.M)


def test_pickles_that_run_code_are_refused_unless_trusted(teacher_ckpts, tmp_path):
    from mmengine.runner.checkpoint import _load_checkpoint
    from amd_mm.checkpoints import trusting_checkpoints
    marker = tmp_path / 'code_ran'
    ckpt = torch.load(teacher_ckpts['image'], weights_only=True)
    ckpt['extra'] = _RunsCode(marker)
    path = str(tmp_path / 'evil.pth')
    torch.save(ckpt, path)
    refused = (rf"'{re.escape(path)}' needs os.makedirs to be unpickled, which could run "
               r'arbitrary code.*trust_checkpoints=True')
    with pytest.raises(ValueError, match='teacher.checkpoint: ' + refused):
        build_image_amd(teacher_ckpt=path)
    with pytest.raises(ValueError, match='checkpoint: ' + refused):
        _load_checkpoint(path, map_location='cpu')
    err = _convert_tool_error(path, str(tmp_path / 'out.pth'))
    assert 'ValueError: src: ' in err and '--trust-checkpoints' in err
    # tools/publish_checkpoint.py unpickled it fully (the code ran, exit 0): now one sentence
    # naming the file and how to trust it, nothing written
    result = run_tool_in_process('tools/publish_checkpoint.py', path, tmp_path / 'pub', check=False)
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == (
        f"ValueError: IN: '{path}' needs os.makedirs to be unpickled, which could run arbitrary "
        'code, so the safe (weights-only) loader refused it; if you trust the file, pass '
        '--trust-checkpoints.')
    assert not marker.exists() and not glob.glob(str(tmp_path / 'pub*'))

    with trusting_checkpoints():  # the config key trust_checkpoints=True
        build_image_amd(teacher_ckpt=path)
    assert marker.exists()
    os.rmdir(marker)
    run_tool_in_process('tools/convert_checkpoint.py', path, tmp_path / 'out.pth',
                        '--trust-checkpoints')
    assert marker.exists() and osp.isfile(tmp_path / 'out.pth')
    os.rmdir(marker)
    run_tool_in_process('tools/publish_checkpoint.py', path, tmp_path / 'pub', '--trust-checkpoints')
    assert marker.exists() and len(glob.glob(str(tmp_path / 'pub-*.pth'))) == 1


def test_trust_checkpoints_config_key_holds_for_the_run_only(tmp_path, monkeypatch):
    """tools/train.py and tools/test.py build and run a config with trust_checkpoints=True
    trusting checkpoints, and only then: reading a config sets nothing process-wide."""
    from mmengine.runner import Runner

    import amd_mm.tools_lib.config_check as config_check
    from amd_mm.checkpoints.loading import _TRUST
    from amd_mm.utils.config import load_config
    seen = []

    def from_cfg(cfg):  # where the runner would build the model and load checkpoints
        seen.append(_TRUST['all'])
        raise SystemExit(0)

    monkeypatch.setattr(Runner, 'from_cfg', staticmethod(from_cfg))
    monkeypatch.setattr(config_check, 'preflight', lambda *args, **kwargs: None)
    load_config(osp.join(ROOT, MAE), {'trust_checkpoints': True}, str(tmp_path))
    assert _TRUST['all'] is False
    for trust in (True, False):
        run_tool_in_process('tools/train.py', MAE, '--work-dir', tmp_path / f'w{trust}',
                            '--cfg-options', f'trust_checkpoints={trust}')
    ckpt = tmp_path / 'any.pth'
    torch.save({}, ckpt)
    run_tool_in_process('tools/test.py', FINETUNE, ckpt, '--work-dir', tmp_path / 't',
                        '--cfg-options', 'trust_checkpoints=True')
    assert seen == [True, False, True] and _TRUST['all'] is False


# -- 11. load_from / init_cfg Pretrained / --resume: strict where it matters ----------------------
FINETUNE = 'configs/tiny/finetune_image_tiny.py'


def _finetune_model(checkpoint, **head):
    from mmengine.registry import MODELS, DefaultScope
    cfg = Config.fromfile(osp.join(ROOT, FINETUNE))
    cfg.model.backbone.init_cfg.checkpoint = checkpoint
    cfg.model.head.update(head)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(cfg.model)


class _Runner:
    """What CheckedLoadHook reads of a runner: the model and the config."""

    def __init__(self, model, **cfg):
        self.model, self.cfg = model, Config(cfg)


def _student(tmp_path, name='student', **arch):
    from amd_mm.registry import MMPRETRAIN_MODELS
    from conftest import TINY_STUDENT
    vit = MMPRETRAIN_MODELS.build(dict(type='MaskedViT', arch=dict(TINY_STUDENT, **arch),
                                       img_size=32, patch_size=4))
    return save_backbone(vit, tmp_path / f'{name}.pth')


def _load_from(model, path, **cfg):
    """MMEngine's load_from / resume path with the hook: Runner.load_checkpoint's steps."""
    from mmengine.runner.checkpoint import _load_checkpoint, _load_checkpoint_to_model
    from amd_mm.checkpoints import CheckedLoadHook
    checkpoint = _load_checkpoint(path, map_location='cpu')
    hook = CheckedLoadHook()
    hook.after_load_checkpoint(_Runner(model, load_from=path, **cfg), checkpoint)
    _load_checkpoint_to_model(model, checkpoint)
    return hook._audits[-1]


@pytest.mark.slow
def test_load_from_or_pretrained_of_another_width_is_one_sentence(demo_root, teacher_ckpts,
                                                                 tmp_path):
    """The fault: 55 size-mismatch warnings, random weights trained, exit 0."""
    wider = teacher_ckpts['image']  # a width-96 ViT; the tiny student and fine-tuning are 64
    data = f'train_dataloader.dataset.data_root={demo_root}/images/'
    result = run_tool_in_process('tools/train.py', AMD, '--work-dir', tmp_path / 'a', '--cfg-options',
                                 data, f'model.teacher.checkpoint={wider}', f'load_from={wider}',
                                 check=False)
    assert result.returncode == 2 and 'Traceback' not in result.stderr
    assert result.stderr.splitlines()[0] == (
        f"ValueError: load_from '{wider}' does not fit the model: 'backbone.cls_token' has shape "
        '(1, 1, 96) in the checkpoint but (1, 1, 64) in the model (and 53 more tensors of another '
        'shape); give a checkpoint of this model (width, depth, patch and tubelet size), or set '
        'allow_partial_load=True in the config to load only what fits on purpose.')
    result = run_tool_in_process('tools/train.py', FINETUNE, '--work-dir', tmp_path / 'b',
                                 '--cfg-options', data,
                                 f'val_dataloader.dataset.data_root={demo_root}/images/',
                                 f'model.backbone.init_cfg.checkpoint={wider}', check=False)
    assert result.returncode == 2
    assert result.stderr.splitlines()[0].startswith(
        f"ValueError: model.backbone.init_cfg (Pretrained '{wider}', prefix 'backbone.') does not "
        "fit the model: 'cls_token' has shape (1, 1, 96) in the checkpoint but (1, 1, 64) in the "
        'model (and 51 more tensors of another shape)')
    assert not glob.glob(str(tmp_path / '*' / '*.pth'))  # nothing trained


def test_expected_partial_loads_are_listed_and_the_rest_refused(tmp_path):
    from amd_mm.checkpoints import CheckedLoadHook
    student = _student(tmp_path)
    # Pretrained into mmpretrain's fine-tuning ViT: the mean-pooling norm ln2 is new, the
    # student's final norm ln1 has no place (final_norm=False): allowed, listed
    model = _finetune_model(student)
    hook = CheckedLoadHook()
    hook.before_run(_Runner(model))
    model.init_weights()
    assert hook._audits[0].report == (
        f"model.backbone.init_cfg (Pretrained '{student}', prefix 'backbone.'): loaded 52 of the "
        "model's 54 tensors; new, kept as initialised: ln2.* (2); in the checkpoint but not in "
        'the model: ln1.* (2)')
    # a shallower encoder (2 of 4 blocks): the missing blocks are an error
    shallow = _student(tmp_path, 'shallow', num_layers=2)
    model = _finetune_model(shallow)
    CheckedLoadHook().before_run(_Runner(model))
    with pytest.raises(ValueError, match=r"Pretrained .*shallow.pth.* does not fit the model: the "
                                         r'checkpoint lacks 24 tensors of the encoder \(layers.\* '
                                         r'\(24\)\); .*allow_partial_load=True'):
        model.init_weights()
    # ... unless the config opts out: then a warning lists what was left out
    model = _finetune_model(shallow)
    hook = CheckedLoadHook()
    hook.before_run(_Runner(model, allow_partial_load=True))
    model.init_weights()
    assert 'allow_partial_load=True: the checkpoint lacks 24 tensors' in hook._audits[0].report

    # load_from a classifier of another number of classes: a new head, listed
    ten = _finetune_model(None)
    torch.save({'state_dict': ten.state_dict()}, tmp_path / 'ten.pth')
    five = _finetune_model(None, num_classes=5)
    audit = _load_from(five, str(tmp_path / 'ten.pth'))
    assert audit.report.endswith('a new classification head of another size, kept as '
                                 'initialised: head.* (2)')
    with pytest.raises(ValueError, match=r"--resume '.*ten.pth' does not fit the model: "
                                         r"'head.fc.weight' has shape \(10, 64\) in the checkpoint "
                                         r'but \(5, 64\) in the model \(and 1 more tensors of '
                                         r'another shape\); resume from a checkpoint'):
        _load_from(five, str(tmp_path / 'ten.pth'), resume=True)
    # a backbone file without its 'backbone.' prefix: nothing fits
    raw = {k[len('backbone.'):]: v for k, v in torch.load(student)['state_dict'].items()}
    torch.save({'state_dict': raw}, tmp_path / 'plain.pth')
    with pytest.raises(ValueError, match=r"only 0 of the model's 56 tensors are in the checkpoint "
                                         r'with the same name and shape'):
        _load_from(_finetune_model(None), str(tmp_path / 'plain.pth'))
    # a pre-training model from a published student (--backbone-only): the decoder is left out
    amd = build_image_amd(teacher=False)
    audit = _load_from(amd, student)
    assert 'new, kept as initialised: mask_generator.step, decoder.* (' in audit.report
    assert 'in the checkpoint but not in the model: backbone.ln1.* (2)' not in audit.report


@pytest.mark.slow
def test_finetune_resume_with_another_batch_size_is_refused(demo_root, tmp_path):
    """The fault: the fine-tuning configs used MMEngine's plain loop, which resumed iter_2.pth
    with another batch size as 'epoch 0, iter 2' and trained the whole epoch again."""
    from mmengine.runner import Runner
    student = _student(tmp_path)

    def runner(batch_size, resume=None):
        cfg = Config.fromfile(osp.join(ROOT, FINETUNE))
        cfg.merge_from_dict({'train_dataloader.dataset.data_root': f'{demo_root}/images/',
                             'val_dataloader.dataset.data_root': f'{demo_root}/images/',
                             'model.backbone.init_cfg.checkpoint': student,
                             'train_dataloader.batch_size': batch_size, 'train_cfg.max_epochs': 1,
                             'default_hooks.checkpoint.by_epoch': False,
                             'default_hooks.checkpoint.interval': 2,
                             'default_hooks.checkpoint.max_keep_ckpts': 2, 'log_level': 'WARNING'})
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None  # as --no-validate
        cfg.work_dir = str(tmp_path / 'run')
        cfg.experiment_name = f'test_checkpoints_{os.getpid()}_{next(_RUNS)}'
        settle_resume(cfg, resume)
        return Runner.from_cfg(cfg)

    runner(32).train()  # 96 images: 3 iterations, a checkpoint at iteration 2
    assert load_checkpoint_file(osp.join(tmp_path, 'run', 'iter_2.pth'))['meta']['epoch'] == 0
    with pytest.raises(ValueError, match=r'resume: the checkpoint \(iter 2, epoch 0\) was trained '
                                         r'with 3 batches per epoch \(batch size 32 x 1 process\) '
                                         r'but this run has 2 batches per epoch \(batch size 48'):
        runner(48, resume=str(tmp_path / 'run' / 'iter_2.pth')).train()


def test_an_earlier_attempt_of_the_same_elastic_job_holds_a_stale_lock(tmp_path, monkeypatch):
    """torchrun restarts every worker of a job together: rank 0 of the next attempt, maybe on
    another node, takes over the lock of the last one (no flock: the recorded job decides)."""
    import fcntl
    import json

    def no_flock(fd, op):
        raise OSError(errno.ENOLCK, 'No locks available')

    monkeypatch.setattr(fcntl, 'flock', no_flock)
    lock_file = tmp_path / '.train.lock'
    holder = dict(pid=os.getppid(), host='node-a', started='x', run_id='job7', restart=0)
    lock_file.write_text(json.dumps(holder))
    with pytest.raises(ValueError, match=r'in use by another training run \(pid \d+ on host node-a'):
        WorkDirLock(str(tmp_path)).acquire()  # outside torchrun: busy (another host)
    monkeypatch.setenv('TORCHELASTIC_RUN_ID', 'job8')
    monkeypatch.setenv('TORCHELASTIC_RESTART_COUNT', '1')  # another job: busy
    with pytest.raises(ValueError, match='in use by another training run'):
        WorkDirLock(str(tmp_path)).acquire()
    monkeypatch.setenv('TORCHELASTIC_RUN_ID', 'job7')  # a later attempt of its job: taken over
    lock = WorkDirLock(str(tmp_path)).acquire()
    assert lock.previous == holder
    assert json.loads(lock_file.read_text())['restart'] == 1
    lock.release()


# -- 7. one run per work_dir -------------------------------------------------------------------
def _hold_lock(work_dir, ready, stop):
    with WorkDirLock(work_dir):
        ready.set()
        stop.wait(120)


def test_a_second_run_on_a_locked_work_dir_is_refused_and_stale_locks_are_taken_over(
        demo_root, tmp_path, capsys, monkeypatch):
    work_dir = str(tmp_path / 'run')
    ctx = multiprocessing.get_context('fork')
    ready, stop = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(work_dir, ready, stop))
    holder.start()
    try:
        assert ready.wait(60)
        result = run_tool_in_process('tools/train.py', osp.join(ROOT, MAE), '--work-dir', work_dir,
                                     '--cfg-options',
                                     f'train_dataloader.dataset.data_root={demo_root}/images/',
                                     check=False)
        assert result.returncode == 2
        assert re.search(rf"^ValueError: work_dir '{re.escape(work_dir)}' is in use by another "
                         rf'training run \(pid {holder.pid} on host '
                         rf'{re.escape(socket.gethostname())}, started ', result.stderr, re.M), \
            result.stderr
        assert os.listdir(work_dir) == ['.train.lock']  # nothing of the running run overwritten
    finally:
        os.kill(holder.pid, signal.SIGKILL)  # dies without releasing
        holder.join()
    with work_dir_lock(work_dir) as lock:
        assert lock.previous['pid'] == holder.pid
    assert f'taking over the stale lock of pid {holder.pid}' in capsys.readouterr().err
    assert os.listdir(work_dir) == []  # released on exit

    # without flock (some network file systems) the recorded pid decides
    import fcntl
    import json

    def no_flock(fd, op):
        raise OSError(errno.ENOLCK, 'No locks available')

    monkeypatch.setattr(fcntl, 'flock', no_flock)
    lock_file = osp.join(work_dir, '.train.lock')
    for pid, held in ((holder.pid, False), (os.getppid(), True)):  # dead / alive on this host
        with open(lock_file, 'w') as f:
            json.dump(dict(pid=pid, host=socket.gethostname(), started='x'), f)
        if held:
            with pytest.raises(ValueError, match=rf'in use by another training run \(pid {pid} '):
                WorkDirLock(work_dir).acquire()
        else:
            WorkDirLock(work_dir).acquire().release()


def test_only_rank_zero_takes_the_lock(tmp_path, monkeypatch):
    monkeypatch.setenv('RANK', '1')
    with work_dir_lock(str(tmp_path), 'pytorch') as lock:
        assert lock is None and not os.listdir(tmp_path)
    monkeypatch.setenv('RANK', '0')
    with work_dir_lock(str(tmp_path), 'pytorch') as lock:
        assert os.listdir(tmp_path) == ['.train.lock']


# -- 10. --resume ------------------------------------------------------------------------------
def test_resume_without_a_checkpoint(tmp_path, capsys):
    cfg = Config(dict(work_dir=str(tmp_path / 'fresh'), load_from=None, resume=False))
    settle_resume(cfg, 'auto')
    assert cfg.resume is False
    assert 'has no last_checkpoint (no checkpoint to resume from); training from the start' in \
        capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match=r"--resume: file '.*nope.pth' does not exist"):
        settle_resume(cfg, str(tmp_path / 'nope.pth'))
    with pytest.raises(FileNotFoundError, match='is a folder without a last_checkpoint'):
        settle_resume(cfg, str(tmp_path))
    save_backbone(torch.nn.Linear(1, 1), tmp_path / 'epoch_2.pth')
    (tmp_path / 'last_checkpoint').write_text('/gone/epoch_2.pth')  # the work_dir was moved
    settle_resume(cfg, str(tmp_path))
    assert cfg.resume is True and cfg.load_from == str(tmp_path / 'epoch_2.pth')
