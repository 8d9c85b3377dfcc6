"""tools/benchmark.py prints one well-formed JSON line; the benchmark configs build and
their synthetic batches (amd_mm.analysis.step) go through the models' preprocessors.

No timed assertions: the numbers themselves are reported in docs/PERFORMANCE.md.
"""
import json
import math
import os.path as osp

import pytest
import torch

from conftest import ROOT, run_tool_in_process

BENCH_CONFIGS = ['configs/benchmark/amd_video_vit-s_vit-b_bench.py',
                 'configs/benchmark/amd_image_vit-s_vit-b_bench.py']


def last_json_line(stdout: str) -> dict:
    lines = [line for line in stdout.strip().splitlines() if line.strip()]
    assert len(lines) == 1, f'expected one line on stdout, got {len(lines)}:\n{stdout[-2000:]}'
    return json.loads(lines[0])


def check_result(result: dict, config: str):
    assert result['config'] == osp.join(ROOT, config)  # run_tool_in_process passes absolute paths
    assert result['device'] == 'cpu' and result['threads'] >= 1
    times = result['step_time_s']
    assert 0 < times['min'] <= times['median'] <= times['max']
    assert result['samples_per_s'] > 0
    assert result['flops_per_step'] > 0 and result['gflops_per_s'] > 0
    assert result['peak_memory_mb'] > 0
    assert result['teacher_checkpoint'] is None  # random teacher unless asked for
    losses = result['losses']
    for key in ('loss', 'loss_rec', 'loss_dir', 'loss_gen'):
        assert math.isfinite(losses[key]) and losses[key] > 0, key
    # activations kept for backward: some, and far less than the whole process
    assert 0 < result['saved_for_backward_mb'] < result['peak_memory_mb']
    assert result['optimizer'] == dict(type='AdamW', fused=True)  # the configs' fused AdamW


@pytest.mark.parametrize('config,unit,samples', [
    ('configs/tiny/amd_image_tiny.py', 'image', 32),        # batch 32
    ('configs/tiny/amd_video_tiny.py', 'clip', 8 * 2),      # batch 8 videos x 2 views
])
def test_benchmark_tool_prints_one_json_line(config, unit, samples):
    proc = run_tool_in_process('tools/benchmark.py', config, '--iters', '2', '--warmup', '1',
                               '--threads', '2')
    result = last_json_line(proc.stdout)
    check_result(result, config)
    assert result['iters'] == 2 and result['warmup'] == 1
    assert result['sample_unit'] == unit and result['samples_per_step'] == samples


def test_benchmark_tool_times_the_real_dataloader(demo_root):
    config = 'configs/tiny/amd_video_tiny.py'
    proc = run_tool_in_process('tools/benchmark.py', config, '--iters', '0', '--dataloader',
                               '--batches', '2', '--cfg-options',
                               f'train_dataloader.dataset.ann_file={demo_root}/videos/train_list.txt',
                               f'train_dataloader.dataset.data_prefix.video={demo_root}/videos',
                               'train_dataloader.batch_size=2')
    result = last_json_line(proc.stdout)
    assert 'flops_per_step' not in result and 'step_time_s' not in result  # --iters 0: data only
    loader = result['dataloader']
    assert loader['batches'] == 2 and loader['samples'] == 4
    assert loader['clips_per_s'] == pytest.approx(2 * loader['samples_per_s'], rel=1e-3)
    assert loader['clips_per_s_per_worker'] > 0


@pytest.mark.slow
@pytest.mark.parametrize('config', BENCH_CONFIGS)
def test_benchmark_configs_build_the_stated_models(config):
    from mmengine.config import Config
    from mmengine.registry import MODELS, init_default_scope

    from amd_mm.analysis.step import input_geometry, make_batch
    cfg = Config.fromfile(osp.join(ROOT, config))
    assert cfg.model.teacher.checkpoint is None
    assert cfg.optim_wrapper.type == 'OptimWrapper' and cfg.optim_wrapper.optimizer.type == 'AdamW'
    init_default_scope(cfg.default_scope)
    model = MODELS.build(cfg.model)
    student, teacher = model.backbone, model.teacher
    assert (student.enc_width, student.enc_depth, student.enc_patch_size) == (384, 12, 16)
    assert (teacher.enc_width, teacher.enc_depth) == (768, 12)
    assert model.student_layers == [6, 12] and model.branches[0].teacher_layers == [6, 12]
    assert len(model.decoder.blocks) == 4 and model.decoder.embed_dims == 192
    assert model.decoder.blocks[0].num_heads == 3
    generators = model.branches[0].generators
    assert len(generators) == 2 and all(len(g.blocks) == 2 for g in generators)
    is_video, views, frames, h, w = input_geometry(cfg)
    if 'video' in config:
        assert (is_video, views, frames, h, w) == (True, 1, 16, 112, 112)
        assert cfg.train_dataloader.batch_size == 2 and student.enc_tubelet_size == 2
        masks = model.mask_generator
        assert (masks.student_ratio, masks.teacher_ratio, masks.mode) == (0.9, 0.75, 'tube')
    else:
        assert (is_video, h, w) == (False, 224, 224)
        assert cfg.train_dataloader.batch_size == 4
        masks = model.mask_generator
        assert (masks.student_ratio, masks.teacher_ratio) == (0.75, 0.5)
    # the synthetic batch goes through the model's own data preprocessor
    data = make_batch(cfg, (is_video, views, frames, h, w), 1, seed=0)
    inputs = model.data_preprocessor(data, True)['inputs']
    inputs = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
    expected = (1, views, 3, frames, h, w) if is_video else (1, 3, h, w)
    assert tuple(inputs.shape) == expected and inputs.dtype == torch.float32
