"""tools/benchmark.py prints one well-formed JSON line; the benchmark configs build and
their synthetic batches (amd_mm.measure.step) go through the models' preprocessors.

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


TINY_DATA = ['--iters', '0', '--dataloader', '--videos', '2', '--rounds', '2', '--batches', '2',
             '--video-size', '64', '48', '--video-frames', '24']


def test_benchmark_tool_times_the_data_pipeline(tmp_path):
    """--dataloader on generated videos: per-video seconds over rounds, the per-step
    profile (RepeatAugment's steps inside it), DataLoader throughput per worker count;
    no official section without --official."""
    config = 'configs/tiny/amd_video_tiny.py'
    proc = run_tool_in_process('tools/benchmark.py', config, *TINY_DATA, '--workers', '0', '1',
                               '--data-dir', str(tmp_path))
    result = last_json_line(proc.stdout)
    assert 'flops_per_step' not in result and 'step_time_s' not in result  # --iters 0: data only
    data = result['dataloader']
    assert (data['pipeline'], data['reads']) == ('train', 'mp4 videos')
    assert (data['videos'], data['rounds']) == (2, 2)
    assert data['clips_per_video'] == 2  # RepeatAugment(num_repeats=2)
    seconds = data['amd_mm']['seconds_per_video']
    assert seconds['n'] == 2 and 0 < seconds['min'] <= seconds['median'] <= seconds['max']
    assert data['amd_mm']['clips_per_s'] == pytest.approx(2 / seconds['median'], rel=0.01)
    steps = {p['step']: p for p in data['profile']}
    assert list(steps)[:3] == ['CheckedDecordInit', 'SampleFrames', 'DecordDecode']
    assert {'RepeatAugment/MultiScaleCrop', 'RepeatAugment/Resize', 'RepeatAugment'} <= set(steps)
    top = [p for p in data['profile'] if '/' not in p['step']]
    assert sum(p['cpu_share'] for p in top) == pytest.approx(1, abs=0.01)
    # the nested steps are inside their parent's time
    assert steps['RepeatAugment']['cpu_ms'] >= steps['RepeatAugment/Resize']['cpu_ms']
    workers = {w['num_workers']: w for w in data['workers']}
    assert set(workers) == {0, 1} and all(w['videos'] == 2 for w in workers.values())
    assert workers[1]['clips_per_s'] == pytest.approx(2 * workers[1]['videos_per_s'], rel=0.01)
    assert 'official' not in data and 'speedup' not in data
    # the videos stay in --data-dir for the next run
    assert sorted(p.name for p in (tmp_path / 'bench' / 'videos').iterdir()) == [
        'video_0000.mp4', 'video_0001.mp4']


def test_benchmark_tool_times_the_multi_view_test_pipeline(tmp_path):
    config = 'configs/tiny/finetune_video_tiny.py'
    proc = run_tool_in_process('tools/benchmark.py', config, *TINY_DATA, '--pipeline', 'test',
                               '--workers', '0', '--frames', '--data-dir', str(tmp_path))
    data = last_json_line(proc.stdout)['dataloader']
    assert data['pipeline'] == 'test' and data['reads'] == 'jpeg frames'
    assert data['clips_per_video'] == 6  # 2 clips x 3 crops
    assert [p['step'] for p in data['profile']][:2] == ['SampleFrames', 'CheckedRawFrameDecode']


def test_benchmark_official_data_needs_an_export(tmp_path):
    proc = run_tool_in_process('tools/benchmark.py', 'configs/tiny/finetune_video_tiny.py',
                               *TINY_DATA, '--official', str(tmp_path), check=False)
    assert proc.returncode != 0 and 'not an export of the MCG-NJU/AMD repository' in proc.stderr


@pytest.mark.parametrize('config,split,expected', [
    ('configs/finetune/k400/vit-s-p16_amd-pre_32xb16-16x4x1-150e_k400.py', 'train',
     ('finetune', 'VideoClsDataset', False, 2)),
    ('configs/finetune/k400/vit-s-p16_amd-pre_32xb16-16x4x1-150e_k400.py', 'test',
     ('test', 'VideoClsDataset', False, 15)),
    ('configs/finetune/sthv2/vit-s-p16_amd-pre_16xb16-u16-40e_sthv2.py', 'train',
     ('finetune', 'SSRawFrameClsDataset', True, 2)),
    ('configs/finetune/sthv2/vit-s-p16_amd-pre_16xb16-u16-40e_sthv2.py', 'test',
     ('test', 'SSRawFrameClsDataset', True, 6)),
    ('configs/pretrain/video/amd_vit-s-p16_videomae-vit-l_32xb16-16x4x1-200e_k400.py', 'train',
     ('pretrain', 'VideoMAE', False, 4)),
    ('configs/pretrain/video/amd_vit-s-p16_videomae-vit-l_32xb16-16x2x1-200e_sthv2.py', 'train',
     ('pretrain', 'VideoMAE_SSV2', True, 4)),
])
def test_official_loader_settings_follow_the_config(config, split, expected):
    """The official class and its arguments are read from the amd_mm config (the
    arguments the official scripts pass for the paper runs)."""
    from mmengine.config import Config

    from amd_mm.measure.official_data import OfficialSetting
    setting = OfficialSetting.from_config(Config.fromfile(osp.join(ROOT, config)), split)
    assert (setting.kind, setting.dataset, setting.frames, setting.views) == expected
    kwargs, args = setting.kwargs, setting.args
    if setting.kind == 'finetune':
        assert args['aa'] == 'rand-m7-n4-mstd0.5-inc1' and args['reprob'] == 0.25
        assert args['train_interpolation'] == 'bicubic' and args['num_sample'] == 2
        assert args['data_set'] == ('SSV2' if setting.frames else 'K400')  # no flip for SSv2
        assert kwargs['crop_size'] == 224
    elif setting.kind == 'test':
        assert kwargs['test_num_crop'] == 3 and kwargs['short_side_size'] == 224
        assert kwargs['test_num_segment'] == (2 if setting.frames else 5)
    else:
        assert args['window_size'] == (8, 14, 14) and args['mask_type'] == 't_consist'
        assert (args['mask_ratio'], args['mask_ratio_teacher']) == (0.9, 0.75)
        assert (kwargs['new_length'], kwargs['new_step']) == (16, 2 if setting.frames else 4)
    if not setting.frames and setting.kind != 'pretrain':
        assert (kwargs['clip_len'], kwargs['frame_sample_rate']) == (16, 4)


def test_alternating_rounds_pair_the_implementations():
    """Both implementations see the same videos with the same seeds, in alternating
    order; the ratio of a twice-as-costly implementation comes out near 2."""
    import random

    import numpy as np

    from amd_mm.measure.data_pipeline import alternating_rounds, ratios
    seen, calls = {'a': [], 'b': []}, []
    work = np.random.default_rng(0).random(50_000)

    def impl(name, repeats):
        def video(i):
            calls.append(name)
            seen[name].append((i, random.random(), float(np.random.rand())))
            for _ in range(repeats):
                np.sort(work)  # single-threaded work
        return video

    rounds = alternating_rounds(dict(a=impl('a', 3), b=impl('b', 6)), videos=3, rounds=6, seed=5)
    assert seen['a'] == seen['b']  # same videos, same draws
    assert calls[::3] == ['a', 'b', 'b', 'a'] * 3  # 3 videos per implementation and round
    assert all(len(rounds[k]['cpu']) == 6 for k in 'ab')
    summary = ratios(rounds['b'], rounds['a'])
    assert summary['cpu']['n'] == 6 and 1.4 < summary['cpu']['median'] < 2.8


def test_official_list_files_are_read_without_pandas(tmp_path):
    """The stand-in for pandas.read_csv gives the official datasets what they use."""
    from amd_mm.measure.official_data import _read_csv
    listing = tmp_path / 'list.txt'
    listing.write_text('video_0000 300 0\nvideo_0001 300 1\n')
    values = _read_csv(str(listing), header=None, delimiter=' ').values
    assert list(values[:, 0]) == ['video_0000', 'video_0001']
    assert list(values[:, 1]) == [300, 300] and list(values[:, -1]) == [0, 1]


@pytest.mark.slow
@pytest.mark.parametrize('config', BENCH_CONFIGS)
def test_benchmark_configs_build_the_stated_models(config):
    from mmengine.config import Config
    from mmengine.registry import MODELS, init_default_scope

    from amd_mm.measure.step import input_geometry, make_batch
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
