#!/usr/bin/env python
"""Time full training steps of an amd_mm config and print one JSON line.

    python tools/benchmark.py CONFIG [--iters N] [--warmup K] [--threads T] [--device cpu|cuda]
                              [--amp bf16|fp16] [--teacher-checkpoint PATH] [--no-flops]
                              [--matmul-peak [--peak-dtype fp32|bf16|fp16]]
                              [--dataloader [--pipeline train|test] [--videos N] [--rounds R]
                                            [--workers W [W ...]] [--batches N] [--frames]
                                            [--data-dir DIR] [--video-size W H] [--video-frames T]]
                              [--official [DIR] [--official-dtype fp16|bf16|fp32]]
                              [--cfg-options key=value ...]

A step is what the runner does per iteration: ``model.train_step(data, optim_wrapper)``
(data preprocessor, masks, teacher, student, decoder, generators, losses, backward,
gradient clipping, optimizer update) on a synthetic uint8 batch shaped as the config's
pipeline gives it (batch size from ``train_dataloader.batch_size``, crop from the
backbone's ``img_size`` / ``num_frames``, views from ``RepeatAugment.num_repeats``),
collated by the config's ``collate_fn``. The teacher keeps random weights
(``teacher.checkpoint=None``) unless ``--teacher-checkpoint`` or ``--cfg-options
model.teacher.checkpoint=...`` names one.

Printed fields: step time median / min / max (s), samples/s (for videos a sample is one
clip = one view of one video; ``videos_per_s`` counts decoded videos), peak memory
(``ru_maxrss`` of the process on CPU, plus the RSS before the first step and the
difference; ``torch.cuda.max_memory_allocated`` on GPU), FLOPs of one full step
(``torch.utils.flop_counter.FlopCounterMode`` around forward, backward and update;
matmuls, convolutions and attention), the achieved GFLOP/s and the losses of the last
step, and ``saved_for_backward_mb``: the bytes autograd keeps for the backward pass in
one step (activations; parameters excluded, storages counted once), the memory that
grows with the batch and dominates on GPUs. ``--matmul-peak`` adds the machine's matmul
GFLOP/s in ``--peak-dtype`` (same threads) and the fraction of it the step reaches.
``--amp`` trains under ``AmpOptimWrapper`` in bf16 or fp16 (CUDA). ``--official [DIR]``
also times the official MCG-NJU/AMD step at the same settings (video configs; DIR or
``$AMD_OFFICIAL_ROOT`` is an export of its repository, imported at run time) under its own
autocast (fp16, ``--official-dtype``), with its max allocated memory on GPUs and the
speed-up of amd_mm's step over it.

``--dataloader`` times the config's data pipeline (``--pipeline train``: the training
pipeline of a pre-training or fine-tuning config; ``test``: its multi-view test
pipeline) on generated Kinetics-like videos (``--videos`` mp4s of ``--video-frames`` 300
frames at ``--video-size`` 340 x 256, written once into ``--data-dir``, default a
temporary folder; ``--frames``: read as JPEG frames instead): seconds per video and
clips/s in this process with one thread (median and spread of ``--rounds`` rounds over
all videos, wall and CPU time), the per-step profile (milliseconds per video of every
transform, ``RepeatAugment``'s own steps included), and videos/s and clips/s through a
DataLoader with each of ``--workers`` worker counts (default 1, 2 and the CPU count;
``--batches`` videos timed after each worker's first). With ``--official`` the same
videos also go through the official dataset class (``amd_mm.measure.official_data``;
SSv2 classes read JPEG frames, so both sides do then), the two implementations
alternating round by round, every video seeded alike on both sides, and the per-round
ratios official / amd_mm are summarised (``speedup``: median, quartiles, min, max); the
official class also goes through DataLoaders with the same worker counts. Where pandas is
not installed, a minimal ``read_csv`` stands in for it while the official classes read
their list files (``official.pandas`` in the output says which).
Without ``--official`` that part is skipped. ``--iters 0`` skips the training steps.

The reusable pieces (input geometry, synthetic batches, counters) live in
``amd_mm.measure``; this file is the command line around them.
"""
import argparse
import contextlib
import json
import os.path as osp
import statistics
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import amd_mm  # noqa: E402,F401  (applies amd_mm.compat before the toolboxes load)
import torch  # noqa: E402
from mmengine.config import DictAction  # noqa: E402

from amd_mm.measure.counters import (current_rss_mb, flop_counter,  # noqa: E402
                                      matmul_peak_gflops, peak_rss_mb, saved_for_backward_bytes,
                                      sync, time_calls, time_summary)
from amd_mm.measure.step import (DTYPES, build_model_and_optim_wrapper, input_geometry,  # noqa: E402
                                  load_step_config, make_batch)
from amd_mm.tools_lib.cli import run_main  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Benchmark training steps of a config')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--iters', type=int, default=10, help='timed steps (0: none)')
    parser.add_argument('--warmup', type=int, default=2, help='untimed steps before timing')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch intra-op threads (default: torch default)')
    parser.add_argument('--device', default=None, help='cpu or cuda (default: cuda if available)')
    parser.add_argument('--teacher-checkpoint', default=None,
                        help='teacher weights (default: random, checkpoint=None)')
    parser.add_argument('--no-flops', action='store_true', help='skip the FLOP-counted step')
    parser.add_argument('--amp', choices=['bf16', 'fp16'], default=None,
                        help='train under AmpOptimWrapper in this dtype (CUDA only; on CPU the '
                        'step falls back to fp32 with a note)')
    parser.add_argument('--matmul-peak', action='store_true',
                        help='also measure this machine\'s matmul GFLOP/s (2048x2048 on CPU, '
                        '8192x8192 on GPU) with the same threads, and the fraction of it the '
                        'step achieves')
    parser.add_argument('--peak-dtype', choices=['fp32', 'bf16', 'fp16'], default='fp32',
                        help='dtype of the --matmul-peak matmul (default fp32)')
    parser.add_argument('--matmul-size', type=int, default=None,
                        help='side of the --matmul-peak matmul (default 2048 on CPU, 8192 on GPU; '
                        'smaller only for smoke runs: it under-reads the peak)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--dataloader', action='store_true',
                        help='also time the data pipeline on generated videos')
    parser.add_argument('--pipeline', choices=['train', 'test'], default='train',
                        help='--dataloader: the training or the (multi-view) test pipeline')
    parser.add_argument('--videos', type=int, default=8,
                        help='--dataloader: benchmark videos (each round decodes all of them)')
    parser.add_argument('--rounds', type=int, default=8, help='--dataloader: timed rounds')
    parser.add_argument('--workers', type=int, nargs='+', default=None,
                        help='--dataloader: DataLoader worker counts (default 1, 2, CPU count)')
    parser.add_argument('--batches', type=int, default=10,
                        help='--dataloader: videos timed per worker count (after each '
                        "worker's first)")
    parser.add_argument('--frames', action='store_true',
                        help='--dataloader: read the videos as JPEG frames (RawframeDataset)')
    parser.add_argument('--data-dir', default=None,
                        help='--dataloader: where the benchmark videos are written and reused '
                        '(default: a temporary folder)')
    parser.add_argument('--video-size', type=int, nargs=2, default=(340, 256),
                        metavar=('W', 'H'), help='--dataloader: benchmark video size')
    parser.add_argument('--video-frames', type=int, default=300,
                        help='--dataloader: frames per benchmark video')
    parser.add_argument('--official', nargs='?', const='', default=None, metavar='DIR',
                        help='also time the official AMD step (DIR or $AMD_OFFICIAL_ROOT)')
    parser.add_argument('--official-dtype', choices=['fp16', 'bf16', 'fp32'], default='fp16',
                        help='autocast dtype of the official step (default fp16, as its code)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. train_dataloader.batch_size=8')
    return parser.parse_args(argv)


def load_bench_config(args):
    """The config with random teachers (unless asked for) and, with ``--amp``, trained
    under ``AmpOptimWrapper`` in that dtype."""
    cfg = load_step_config(args.config, args.cfg_options, args.teacher_checkpoint)
    if args.amp:
        optim = cfg.optim_wrapper
        optim.type = 'AmpOptimWrapper'
        optim.dtype = {'bf16': 'bfloat16', 'fp16': 'float16'}[args.amp]
    return cfg


def run_steps(model, optim_wrapper, data, device, iters, warmup, count_flops):
    log_vars, flops = {}, None
    for _ in range(warmup):
        log_vars = model.train_step(data, optim_wrapper)
    sync(device)
    if count_flops:
        counter = flop_counter()
        with counter:
            log_vars = model.train_step(data, optim_wrapper)
        sync(device)
        flops = int(counter.get_total_flops())
    # (the frozen teacher runs under no_grad: autograd saves nothing of it)
    saved = saved_for_backward_bytes(lambda: model.train_step(data, optim_wrapper),
                                     list(model.parameters()))
    sync(device)
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)

    def step():
        log_vars.update(model.train_step(data, optim_wrapper))

    times = time_calls(step, device, iters)
    return times, flops, saved, {k: float(v) for k, v in log_vars.items()}


def measure_dataloader(cfg, args) -> dict:
    import os
    import shutil
    import tempfile

    import cv2
    from mmengine.registry import init_default_scope

    from amd_mm.measure import data_pipeline as dp
    from amd_mm.tools_lib.demo_data import make_benchmark_videos
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    split = args.pipeline
    setting = root = official = None
    if args.official is not None:
        from amd_mm.measure.official_amd import official_root
        from amd_mm.measure.official_data import OfficialSetting
        root = official_root(args.official or None)
        if root is None:
            raise FileNotFoundError('--official: no export of MCG-NJU/AMD given and '
                                    '$AMD_OFFICIAL_ROOT is not set')
        setting = OfficialSetting.from_config(cfg, split)
    frames = args.frames or bool(setting and setting.frames)
    tmp = None if args.data_dir else tempfile.mkdtemp(prefix='amd_mm_bench_')
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one worker = one thread, as DataLoader workers run
    cv2.setNumThreads(0)      # as MMEngine sets it for training
    try:
        width, height = args.video_size
        data = make_benchmark_videos(args.data_dir or tmp, args.videos, args.video_frames,
                                     height, width, frames=frames, seed=args.seed)
        dataset = dp.build_dataset(cfg, split, data, frames)
        views = dp.clips_of(dataset.prepare_data(0))  # also the untimed first call
        impls = dict(amd_mm=dataset.prepare_data)
        if setting is not None:
            from amd_mm.measure.official_data import OfficialPipeline, import_official_data
            official = OfficialPipeline(import_official_data(root), setting, data)
            official.video(0)
            impls['official'] = official.video
        rounds = dp.alternating_rounds(impls, args.videos, args.rounds, args.seed)
        result = dict(pipeline=split, reads='jpeg frames' if frames else 'mp4 videos',
                      videos=args.videos, video_frames=args.video_frames,
                      video_size=[width, height], rounds=args.rounds, threads=1,
                      clips_per_video=views)
        result['amd_mm'] = dp.per_video(rounds['amd_mm']['wall'], views)
        result['amd_mm']['cpu_seconds_per_video'] = dp.spread(rounds['amd_mm']['cpu'], 5)
        result['profile'] = dp.profile(dataset, args.videos, args.seed)
        workers = args.workers or sorted({1, 2, os.cpu_count() or 1})
        result['workers'] = [dp.loader_throughput(dataset, w, args.batches, views)
                             for w in workers]
        if official is not None:
            result['official'] = dict(
                root=root, dataset=setting.dataset, kind=setting.kind,
                clips_per_video=setting.views,
                pandas='minimal read_csv stand-in' if official.pandas_stand_in else 'pandas',
                **dp.per_video(rounds['official']['wall'], setting.views))
            result['official']['cpu_seconds_per_video'] = dp.spread(rounds['official']['cpu'], 5)
            videos = dp.Videos(official.video, official.num_videos)
            result['official']['workers'] = [
                dp.loader_throughput(videos, w, args.batches, setting.views) for w in workers]
            result['speedup'] = dict(
                note='per round: official seconds per video / amd_mm seconds per video; the '
                     'same videos and seeds, alternating order',
                **dp.ratios(rounds['official'], rounds['amd_mm']))
        return result
    finally:
        torch.set_num_threads(threads)
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def measure_official(cfg, args, device) -> dict:
    from amd_mm.measure.official_amd import (OfficialSettings, official_root,
                                              time_official_steps)
    root = official_root(args.official or None)
    if root is None:
        raise FileNotFoundError('--official: no export of MCG-NJU/AMD given and '
                                '$AMD_OFFICIAL_ROOT is not set')
    settings = OfficialSettings.from_config(cfg)
    result = time_official_steps(root, settings, device, max(1, args.iters), args.warmup,
                                 DTYPES[args.official_dtype])
    return dict(root=root, **result)


def main(argv=None):
    args = parse_args(argv)
    # the one JSON line is the only thing on stdout: logs go to stderr, INFO is muted
    from mmengine.logging import MMLogger
    with contextlib.redirect_stdout(sys.stderr):
        MMLogger.get_instance('amd_mm_benchmark', log_level='WARNING')  # its handler: stderr
        result = measure(args)
    print(json.dumps(result), flush=True)
    return result


def measure(args) -> dict:
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device or ('cuda' if torch.cuda.is_available() else 'cpu'))
    torch.manual_seed(args.seed)
    cfg = load_bench_config(args)
    notes = []
    geometry = input_geometry(cfg)
    is_video, views, t, h, w = geometry
    batch_size = int(cfg.train_dataloader.batch_size)
    samples_per_step = batch_size * views

    result = dict(config=args.config, device=str(device), threads=torch.get_num_threads(),
                  torch=torch.__version__, batch_size=batch_size, views=views,
                  input_shape=[3, t, h, w] if is_video else [3, h, w],
                  samples_per_step=samples_per_step,
                  sample_unit='clip' if is_video else 'image',
                  teacher_checkpoint=cfg.model.get('teacher', {}).get('checkpoint')
                  if cfg.model.get('teacher') else None,
                  iters=args.iters, warmup=args.warmup, amp=args.amp,
                  cfg_options=args.cfg_options or {})
    if device.type == 'cuda':
        result['device_name'] = torch.cuda.get_device_name(device)

    if args.iters > 0:
        model, optim_wrapper = build_model_and_optim_wrapper(cfg, device, notes)
        data = make_batch(cfg, geometry, batch_size, args.seed)
        result['optim_wrapper'] = type(optim_wrapper).__name__
        opt = optim_wrapper.optimizer
        result['optimizer'] = dict(type=type(opt).__name__, **{
            k: opt.defaults[k] for k in ('fused', 'foreach') if opt.defaults.get(k) is not None})
        result['params_trainable'] = sum(p.numel() for p in model.parameters() if p.requires_grad)
        teacher = getattr(model, 'teacher', None)
        if teacher is not None:
            result['params_teacher'] = sum(p.numel() for p in teacher.parameters())
        rss_before = current_rss_mb()
        times, flops, saved, losses = run_steps(model, optim_wrapper, data, device, args.iters,
                                         args.warmup, not args.no_flops)
        median = statistics.median(times)
        result.update(step_time_s=time_summary(times),
                      samples_per_s=round(samples_per_step / median, 4))
        if is_video:
            result['videos_per_s'] = round(batch_size / median, 4)
        if device.type == 'cuda':
            result['peak_memory_mb'] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
            result['peak_memory_kind'] = 'torch.cuda.max_memory_allocated (timed steps)'
        else:
            peak = peak_rss_mb()
            result['peak_memory_mb'] = round(peak, 1)
            result['peak_memory_kind'] = 'process peak RSS (ru_maxrss)'
            result['rss_before_steps_mb'] = round(rss_before, 1)
            result['peak_over_build_mb'] = round(peak - rss_before, 1)
        result['saved_for_backward_mb'] = round(saved / 2**20, 1)
        if flops is not None:
            result['flops_per_step'] = flops
            result['gflops_per_s'] = round(flops / median / 1e9, 3)
        result['losses'] = losses
    if args.matmul_peak:
        peak = matmul_peak_gflops(device, size=args.matmul_size,
                                  dtype=DTYPES[args.peak_dtype] or torch.float32)
        result['matmul_peak_gflops'] = round(peak, 2)
        result['matmul_peak_dtype'] = args.peak_dtype
        if 'gflops_per_s' in result:
            result['fraction_of_matmul_peak'] = round(result['gflops_per_s'] / peak, 4)
    if args.official is not None and args.iters > 0:
        result['official'] = measure_official(cfg, args, device)
        if 'samples_per_s' in result:
            result['speedup_over_official'] = round(
                result['samples_per_s'] / result['official']['samples_per_s'], 4)
    if args.dataloader:
        result['dataloader'] = measure_dataloader(cfg, args)
    if notes:
        result['notes'] = notes
    return result


if __name__ == '__main__':
    run_main(main)
