import contextlib
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

import amd_mm  # noqa: F401  (compat + registration before anything else)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
torch.set_num_threads(2)
# keep MMEngine's per-parameter init reports out of the test output
from mmengine.logging import MMLogger  # noqa: E402

from amd_mm.tools_lib.cli import isolated_mmengine  # noqa: E402,F401  (tests import it from here)
MMLogger.get_instance('amd_mm_tests', log_level='WARNING')

# the sizes of configs/tiny/_tiny_image_base.py and _tiny_video_base.py
TINY_TEACHER = dict(embed_dims=96, num_layers=4, num_heads=4, feedforward_channels=384)
TINY_STUDENT = dict(embed_dims=64, num_layers=4, num_heads=4, feedforward_channels=256)
TINY_VIDEO_VIT = dict(type='MaskedVideoViT', img_size=32, patch_size=4, num_frames=8,
                      tubelet_size=2, mlp_ratio=2, qkv_bias=True,
                      norm_cfg=dict(type='LN', eps=1e-6))
TINY_VIDEO_TEACHER = dict(TINY_VIDEO_VIT, embed_dims=96, depth=4, num_heads=4)
TINY_VIDEO_STUDENT = dict(TINY_VIDEO_VIT, embed_dims=64, depth=4, num_heads=4)


@pytest.fixture(scope='session')
def demo_root(tmp_path_factory):
    """Small real data written by the project's own generator (images and mp4 videos)."""
    from amd_mm.tools_lib import demo_ava, demo_data
    root = str(tmp_path_factory.mktemp('demo'))
    demo_data.make_images(root, num_train=96, num_val=32)
    demo_data.make_videos(root, num_train=8, num_val=4)
    demo_ava.make_ava(root)
    return root


@pytest.fixture(autouse=True)
def _no_default_scope_leaks():
    """Whatever default scope a test sets (init_default_scope, a Runner) ends with it:
    registries of the next test resolve in the scope they resolved in before."""
    from mmengine.registry import DefaultScope
    before = set(DefaultScope._instance_dict)
    yield
    for name in [n for n in DefaultScope._instance_dict if n not in before]:
        DefaultScope._instance_dict.pop(name)


def save_backbone(module, path, prefix='backbone.'):
    """Write ``module``'s weights as an MMEngine-style checkpoint (keys under ``prefix``)."""
    torch.save({'state_dict': {prefix + k: v for k, v in module.state_dict().items()}}, str(path))
    return str(path)


@pytest.fixture(scope='session')
def teacher_ckpts(tmp_path_factory):
    """Randomly initialised (seeded) tiny teachers of the tiny configs' sizes, as
    checkpoint files: ``{'image': path, 'video': path}``."""
    from amd_mm.registry import MMACTION_MODELS, MMPRETRAIN_MODELS
    root = tmp_path_factory.mktemp('teachers')
    out = {}
    with torch.random.fork_rng():
        torch.manual_seed(0)
        for name, registry, cfg in (
                ('image', MMPRETRAIN_MODELS,
                 dict(type='MaskedViT', arch=TINY_TEACHER, img_size=32, patch_size=4)),
                ('video', MMACTION_MODELS, TINY_VIDEO_TEACHER)):
            vit = registry.build(cfg)
            vit.init_weights()
            out[name] = save_backbone(vit, root / f'{name}.pth')
    return out


def scalars(work_dir, key='loss'):
    """The logged rows holding ``key`` of every MMEngine run under ``work_dir``
    (``<work_dir>/<timestamp>/vis_data/scalars.json``), oldest run first."""
    import glob
    import json
    rows = []
    for path in sorted(glob.glob(osp.join(str(work_dir), '*', 'vis_data', 'scalars.json'))):
        with open(path) as f:
            rows += [json.loads(line) for line in f if f'"{key}"' in line]
    return rows


def image_amd_cfg(teacher_ckpt=None, teacher=True, **overrides):
    cfg = dict(
        type='AMD',
        data_preprocessor=dict(type='SelfSupDataPreprocessor', mean=[123.675, 116.28, 103.53],
                               std=[58.395, 57.12, 57.375], to_rgb=True),
        backbone=dict(type='MaskedViT', arch=TINY_STUDENT, img_size=32, patch_size=4),
        teacher=dict(type='FrozenTeacher', checkpoint=teacher_ckpt,
                     backbone=dict(type='MaskedViT', arch=TINY_TEACHER, img_size=32, patch_size=4))
        if teacher else None,
        mask_generator=dict(type='AsymmetricMaskGenerator', student_ratio=0.75,
                            teacher_ratio=0.5 if teacher else 0.0, seed=0),
        decoder=dict(type='PixelDecoder', embed_dims=64, depth=1, num_heads=4),
        generator=dict(type='FeatureGenerator', depth=1, num_heads=4) if teacher else None,
        student_layers=[2, 4], teacher_layers=[2, 4],
        loss_dir=dict(type='AlignLoss') if teacher else None,
        loss_gen=dict(type='AlignLoss') if teacher else None)
    cfg.update(overrides)
    return cfg


def build_image_amd(**kwargs):
    from amd_mm.registry import MMPRETRAIN_MODELS, build_model
    model = build_model(image_amd_cfg(**kwargs), MMPRETRAIN_MODELS)
    model.init_weights()
    return model


def run_tool(*args, timeout=900, check=True, cwd=ROOT):
    """Run a script of tools/ the way a user does (from the repository root by default)."""
    env = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS='2')
    args = [osp.join(ROOT, a) if a.startswith(('tools/', 'configs/')) and cwd != ROOT else a
            for a in args]
    proc = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f'{args} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}')
    return proc


class ToolResult:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def run_tool_in_process(script, *args, check=True):
    """Run ``tools/<script>``'s ``main`` in this process, as its command line does
    (``run_main``: errors raised for users end in one sentence and exit code 2), with no
    interpreter start-up and no second import of the toolboxes (about 6 CPU-seconds
    each). Use :func:`run_tool` where the process itself matters (signals, exit codes of
    crashes, several processes)."""
    import importlib.util
    import io

    from amd_mm.tools_lib.cli import run_main
    path = osp.join(ROOT, script)
    spec = importlib.util.spec_from_file_location(
        'amd_mm_tool_' + osp.splitext(osp.basename(path))[0], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out, err = io.StringIO(), io.StringIO()
    code = 0
    args = [osp.join(ROOT, a) if isinstance(a, str) and a.startswith('configs/') else str(a)
            for a in args]
    with isolated_mmengine(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            run_main(module.main, args)
        except SystemExit as exit_:
            if isinstance(exit_.code, str):
                print(exit_.code, file=sys.stderr)
            code = exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
    result = ToolResult(code, out.getvalue(), err.getvalue())
    if check and code != 0:
        raise AssertionError(f'{script} {args} failed ({code}):\n{result.stdout[-4000:]}\n'
                             f'{result.stderr[-6000:]}')
    return result


def assert_backbone_initialised_from(config, student_ckpt, **overrides):
    """The toolbox's own fine-tuning backbone holds the student's weights after init."""
    from mmengine.config import Config
    from mmengine.registry import MODELS, DefaultScope
    cfg = Config.fromfile(osp.join(ROOT, config))
    cfg.model.backbone.init_cfg.checkpoint = student_ckpt
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = MODELS.build(cfg.model)
    model.init_weights()
    student = torch.load(student_ckpt, map_location='cpu', weights_only=False)['state_dict']
    own = model.backbone.state_dict()
    shared = [k for k in own if 'backbone.' + k in student]
    assert len(shared) >= len(own) - 2  # all but a new pooling norm
    for k in shared:
        assert torch.equal(own[k], student['backbone.' + k]), k


def free_port() -> int:
    """A TCP port nobody listens on now (for torchrun's rendezvous in tests that may run
    beside others)."""
    import socket
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def shadow_python(directory):
    """A PATH whose first ``python`` (in ``<directory>/bin``) fails, as the system python
    ahead of an unactivated venv would: scripts must run ``$PYTHON`` instead."""
    bin_dir = osp.join(str(directory), 'bin')
    os.makedirs(bin_dir, exist_ok=True)
    fake = osp.join(bin_dir, 'python')
    with open(fake, 'w') as f:
        f.write('#!/bin/sh\necho "the first python on PATH was called: $0 $*" >&2\nexit 97\n')
    os.chmod(fake, 0o755)
    return bin_dir + os.pathsep + os.environ.get('PATH', '')


# -- CPU cost per test (AMD_MM_TEST_CPU=1): the suite's budget is CPU time ---------------
_CPU = {}


def _cpu_seconds():
    import resource
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    start = _cpu_seconds()
    yield
    _CPU[item.nodeid] = _cpu_seconds() - start


def pytest_terminal_summary(terminalreporter):
    if os.environ.get('AMD_MM_TEST_CPU') and _CPU:
        terminalreporter.section('CPU seconds per test (this process and its children)')
        for nodeid, seconds in sorted(_CPU.items(), key=lambda kv: -kv[1])[:40]:
            terminalreporter.write_line(f'{seconds:8.1f}  {nodeid}')
        terminalreporter.write_line(f'{sum(_CPU.values()):8.1f}  total over {len(_CPU)} tests')
