"""MaskReconstructionVisHook and its rendering (amd_mm.engine.visualization): it draws masks
and reconstructions during ordinary training without changing the training."""
import glob
import os.path as osp

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import ROOT, build_image_amd, run_tool_in_process


def _png(path):
    with Image.open(path) as img:
        assert img.format == 'PNG'
        return img.size, np.asarray(img.convert('RGB'))


@pytest.mark.slow
def test_vis_hook_writes_pngs_during_training(demo_root, teacher_ckpts, tmp_path):
    ckpt = teacher_ckpts['image']
    config = tmp_path / 'amd_vis.py'
    config.write_text(
        f"_base_ = [{osp.join(ROOT, 'configs', 'tiny', 'amd_image_tiny.py')!r}]\n"
        f"train_dataloader = dict(dataset=dict(data_root={demo_root + '/images/'!r}))\n"
        f"model = dict(teacher=dict(checkpoint={ckpt!r}))\n"
        "train_cfg = dict(max_epochs=1)\n"
        "default_hooks = dict(logger=dict(interval=1))\n"
        "custom_hooks = [dict(type='MaskReconstructionVisHook', interval=2, max_samples=3)]\n")
    work_dir = tmp_path / 'work'
    run_tool_in_process('tools/train.py', str(config), '--work-dir', str(work_dir))
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
def test_render_restores_state(teacher_ckpts, teacher):
    from amd_mm.models.algorithms.pictures import render_reconstruction, views_of
    model = build_image_amd(teacher_ckpt=teacher_ckpts['image'] if teacher else None,
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
