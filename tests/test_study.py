"""Proof that it learns: the study tool runs end to end, and the visualisation hook draws
masks and reconstructions during ordinary training.

Accuracies are checked as fractions in [0, 1] (``results.json``; ``results.md`` shows
the same numbers in percent).
"""
import glob
import json
import os.path as osp

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import ROOT, TINY_TEACHER, build_image_amd, run_tool

MODALITIES = ('image', 'video')
METHODS = {'image': ('AMD', 'MAE'), 'video': ('AMD', 'VideoMAE')}


def _png(path):
    with Image.open(path) as img:
        assert img.format == 'PNG'
        return img.size, np.asarray(img.convert('RGB'))


def _teacher_ckpt(path, arch=None):
    """A randomly initialised tiny image teacher (default: the arch of configs/tiny/amd_image_tiny.py)."""
    from amd_mm.registry import MMPRETRAIN_MODELS
    arch = arch or dict(embed_dims=96, num_layers=4, num_heads=4, feedforward_channels=384)
    teacher = MMPRETRAIN_MODELS.build(dict(type='MaskedViT', arch=arch, img_size=32, patch_size=4))
    teacher.init_weights()
    torch.save({'state_dict': {'backbone.' + k: v for k, v in teacher.state_dict().items()}}, path)
    return str(path)


def test_quick_study_end_to_end(tmp_path):
    out = tmp_path / 'study'
    proc = run_tool('tools/study.py', '--quick', '--out', str(out), timeout=900)
    assert 'done in' in proc.stdout

    summary = json.loads((out / 'results.json').read_text())
    assert summary['mode'] == 'quick' and summary['seeds'] == [0]
    for modality in MODALITIES:
        for method in ('amd', 'mae'):
            for protocol in ('finetune', 'linear_probe'):
                stat = summary['results'][modality][method][protocol]
                assert len(stat['values']) == 1 and stat['n'] == 1
                assert all(0.0 <= v <= 1.0 for v in stat['values']), (modality, method, protocol)
                assert 0.0 <= stat['mean'] <= 1.0 and stat['std'] == 0.0
            gain = summary['gains'][modality]['finetune']
            assert -1.0 <= gain['mean'] <= 1.0
        refs = summary['references'][modality]
        assert 0.0 <= refs['teacher']['linear_probe'] <= 1.0
        for protocol in ('finetune', 'linear_probe'):
            assert all(0.0 <= v <= 1.0 for v in refs['scratch'][protocol]['values'])

    table = (out / 'results.md').read_text()
    for modality in MODALITIES:
        for name in METHODS[modality]:
            row = [line for line in table.splitlines() if line.startswith(f'| {modality} | {name} |')]
            assert len(row) == 1, (modality, name)
            cells = [c.strip() for c in row[0].strip('|').split('|')]
            for cell in cells[2:]:  # "mean ± std [per-seed]" in percent
                mean = float(cell.split('±')[0])
                assert 0.0 <= mean <= 100.0
        assert f'| {modality} | fine-tune |' in table and f'| {modality} | linear probe |' in table
        assert f'| {modality} | reference: random init' in table
        assert f'| {modality} | reference: teacher' in table

    # pictures: matplotlib figures at their figsize x dpi, mask grids of the rendering code
    assert _png(out / 'accuracy_bars.png')[0] == (560, 264)
    for modality in MODALITIES:
        assert _png(out / f'loss_curves_{modality}.png')[0] == (720, 264)
    # 4 samples x (input, teacher, student, reconstruction); images 32 px x3, clips 4 frames x2
    size, pix = _png(out / 'masks_image.png')
    assert size == (4 * 96 + 3 * 4, 30 + 4 * 96 + 3 * 4)
    assert pix.std() > 10 and (pix == 128).all(axis=-1).mean() > 0.05  # content and grey patches
    size, pix = _png(out / 'masks_video.png')
    assert size == (4 * (4 * 64 + 3) + 3 * 4, 30 + 4 * 64 + 3 * 4)
    assert pix.std() > 10
    for path in out.glob('*.png'):
        assert path.stat().st_size < 300_000, path
    # the report is rebuilt from the finished runs without training
    run_tool('tools/study.py', '--out', str(out), '--report-only', timeout=300)
    assert json.loads((out / 'results.json').read_text()) == summary
    # the hook drew the last training batch of every pre-training run
    for name in ('image_amd_s0', 'image_mae_s0', 'video_amd_s0', 'video_teacher'):
        assert glob.glob(str(out / 'runs' / name / 'pretrain' / '*' / 'vis_data' / 'vis_image' /
                             'mask_reconstruction_*.png')), name


def test_vis_hook_writes_pngs_during_training(demo_root, tmp_path):
    ckpt = _teacher_ckpt(tmp_path / 'teacher.pth')
    config = tmp_path / 'amd_vis.py'
    config.write_text(
        f"_base_ = [{osp.join(ROOT, 'configs', 'tiny', 'amd_image_tiny.py')!r}]\n"
        f"train_dataloader = dict(dataset=dict(data_root={demo_root + '/images/'!r}))\n"
        f"model = dict(teacher=dict(checkpoint={ckpt!r}))\n"
        "train_cfg = dict(max_epochs=1)\n"
        "default_hooks = dict(logger=dict(interval=1))\n"
        "custom_hooks = [dict(type='MaskReconstructionVisHook', interval=2, max_samples=3)]\n")
    work_dir = tmp_path / 'work'
    run_tool('tools/train.py', str(config), '--work-dir', str(work_dir))
    # 96 images / batch 32 = 3 iterations: interval 2 -> iter 2, draw_last -> iter 3
    pngs = sorted(glob.glob(str(work_dir / '*' / 'vis_data' / 'vis_image' / '*.png')))
    assert [osp.basename(p) for p in pngs] == ['mask_reconstruction_2.png', 'mask_reconstruction_3.png']
    for path in pngs:
        size, pix = _png(path)
        assert size == (4 * 96 + 3 * 4, 30 + 3 * 96 + 2 * 4)
        assert pix.std() > 10
    # drawing did not advance the mask generator: one step per training iteration
    state = torch.load(str(work_dir / 'epoch_1.pth'), map_location='cpu', weights_only=False)['state_dict']
    assert int(state['mask_generator.step']) == 3


@pytest.mark.parametrize('teacher', [True, False])
def test_render_restores_state(tmp_path, teacher):
    from amd_mm.engine.visualization import render_reconstruction, views_of
    model = build_image_amd(teacher_ckpt=_teacher_ckpt(tmp_path / 't.pth', TINY_TEACHER) if teacher else None,
                            teacher=teacher)
    model.train()
    model.decoder.eval()  # a module deliberately in eval stays in eval
    inputs = torch.randn(5, 3, 32, 32)
    step = int(model.mask_generator.step)
    rng = torch.get_rng_state()
    picture = render_reconstruction(model, inputs, max_samples=2)
    assert int(model.mask_generator.step) == step
    assert torch.equal(torch.get_rng_state(), rng)  # masks come from a private generator
    assert model.backbone.training and not model.decoder.training
    columns = 4 if teacher else 3  # no teacher column for plain MAE
    assert picture.dtype == np.uint8
    assert picture.shape == (16 + 2 * 96 + 4, columns * 96 + (columns - 1) * 4, 3)
    # the reconstruction keeps the visible patches of the input exactly
    views = views_of(model, inputs[:2])
    keep = views['masks'].to_bool(views['masks'].ids_student)  # (B, N)
    from amd_mm.models.utils.tokens import patchify
    same = (patchify(views['reconstruction'], 4) - patchify(views['input'], 4)).abs().amax(dim=(2, 3))
    assert (same[keep] < 1e-5).all() and (same[~keep] > 0).any()
