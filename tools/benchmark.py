#!/usr/bin/env python
"""Time full training steps of an amd_mm config and print one JSON line.

    python tools/benchmark.py CONFIG [--iters N] [--warmup K] [--threads T] [--device cpu|cuda]
                              [--amp bf16|fp16] [--teacher-checkpoint PATH] [--no-flops]
                              [--matmul-peak [--peak-dtype fp32|bf16|fp16]]
                              [--dataloader [--batches N] [--num-workers W]]
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
speed-up of amd_mm's step over it. ``--dataloader`` also
times the real ``train_dataloader`` (samples/s, clips/s and the same per worker),
separately from the steps.

The reusable pieces (input geometry, synthetic batches, counters) live in
``amd_mm.analysis``; this file is the command line around them.
"""
import argparse
import contextlib
import json
import os.path as osp
import statistics
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import amd_mm  # noqa: E402,F401  (applies amd_mm.compat before the toolboxes load)
import torch  # noqa: E402
from mmengine.config import DictAction  # noqa: E402

from amd_mm.analysis.counters import (current_rss_mb, flop_counter,  # noqa: E402
                                      matmul_peak_gflops, peak_rss_mb, saved_for_backward_bytes,
                                      sync, time_calls, time_summary)
from amd_mm.analysis.step import (DTYPES, build_model_and_optim_wrapper, input_geometry,  # noqa: E402
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
                        help='also time the real train_dataloader')
    parser.add_argument('--batches', type=int, default=10,
                        help='dataloader batches to time (after one untimed batch)')
    parser.add_argument('--num-workers', type=int, default=None,
                        help='override train_dataloader.num_workers for --dataloader')
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


def measure_dataloader(cfg, args, views):
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))  # also with --iters 0
    loader_cfg = cfg.train_dataloader.copy()
    if args.num_workers is not None:
        loader_cfg.num_workers = args.num_workers
    workers = int(loader_cfg.get('num_workers', 0))
    # workers kept across epochs, so a short data set does not time worker start-ups
    loader_cfg.persistent_workers = workers > 0
    loader = Runner.build_dataloader(loader_cfg, seed=args.seed)
    it = iter(loader)
    next(it)  # worker start-up, file lists, first decode: not timed
    samples, batches = 0, 0
    start = time.perf_counter()
    for _ in range(args.batches):
        try:
            batch = next(it)
        except StopIteration:
            it = iter(loader)
            batch = next(it)
        inputs = batch['inputs']
        samples += len(inputs) if isinstance(inputs, (list, tuple)) and not isinstance(
            inputs[0], (list, tuple)) else len(batch['data_samples'])
        batches += 1
    elapsed = time.perf_counter() - start
    per_s = samples / elapsed
    return dict(num_workers=workers, batches=batches, samples=samples, seconds=round(elapsed, 4),
                samples_per_s=round(per_s, 3), clips_per_s=round(per_s * views, 3),
                samples_per_s_per_worker=round(per_s / max(1, workers), 3),
                clips_per_s_per_worker=round(per_s * views / max(1, workers), 3),
                note='per worker: divided by max(1, num_workers); 0 workers: the main process')


def measure_official(cfg, args, device) -> dict:
    from amd_mm.analysis.official_amd import (OfficialSettings, official_root,
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
    if args.official is not None:
        result['official'] = measure_official(cfg, args, device)
        if 'samples_per_s' in result:
            result['speedup_over_official'] = round(
                result['samples_per_s'] / result['official']['samples_per_s'], 4)
    if args.dataloader:
        result['dataloader'] = measure_dataloader(cfg, args, views)
    if notes:
        result['notes'] = notes
    return result


if __name__ == '__main__':
    run_main(main)
