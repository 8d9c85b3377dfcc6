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
    from amd_mm.utils import demo_ava, demo_data
    root = str(tmp_path_factory.mktemp('demo'))
    demo_data.make_images(root, num_train=96, num_val=32)
    demo_data.make_videos(root, num_train=8, num_val=4)
    demo_ava.make_ava(root)
    return root


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
