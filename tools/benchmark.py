#!/usr/bin/env python
"""Time full training steps of an amd_mm config and print one JSON line.

    python tools/benchmark.py CONFIG [--iters N] [--warmup K] [--threads T] [--device cpu|cuda]
                              [--teacher-checkpoint PATH] [--no-flops] [--matmul-peak]
                              [--dataloader [--batches N] [--num-workers W]]
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
grows with the batch and dominates on GPUs. ``--matmul-peak`` adds the machine's fp32 2048 x 2048 matmul GFLOP/s (same
threads) and the fraction of it the step reaches. ``--dataloader`` also times the real
``train_dataloader`` (samples/s, clips/s and the same per worker), separately from the steps.
"""
import argparse
import contextlib
import json
import os
import os.path as osp
import resource
import statistics
import sys
import time
from functools import partial

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import amd_mm  # noqa: E402,F401  (applies amd_mm.compat before the toolboxes load)
import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402

from amd_mm.utils.cli import load_config, run_main  # noqa: E402


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
    parser.add_argument('--matmul-peak', action='store_true',
                        help='also measure this machine\'s fp32 2048x2048 matmul GFLOP/s with the '
                        'same threads, and the fraction of it the step achieves')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--dataloader', action='store_true',
                        help='also time the real train_dataloader')
    parser.add_argument('--batches', type=int, default=10,
                        help='dataloader batches to time (after one untimed batch)')
    parser.add_argument('--num-workers', type=int, default=None,
                        help='override train_dataloader.num_workers for --dataloader')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. train_dataloader.batch_size=8')
    return parser.parse_args(argv)


# -- config ----------------------------------------------------------------
def load_bench_config(args) -> Config:
    """The config with every teacher checkpoint None (random teachers) unless
    ``--cfg-options`` / ``--teacher-checkpoint`` name one."""
    cfg = load_config(args.config)
    model = cfg.model
    if model.get('teacher'):
        model.teacher.checkpoint = None
    for extra in model.get('extra_teachers', []) or []:
        if extra.get('teacher'):
            extra.teacher.checkpoint = None
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.teacher_checkpoint:
        if not cfg.model.get('teacher'):
            raise SystemExit('--teacher-checkpoint: the config has no model.teacher')
        cfg.model.teacher.checkpoint = args.teacher_checkpoint
    return cfg


def find_transform(pipeline, name):
    for step in pipeline or []:
        if step.get('type') == name:
            return step
        found = find_transform(step.get('transforms'), name)
        if found is not None:
            return found
    return None


def input_geometry(cfg):
    """``(is_video, views, frames, height, width)`` of one sample after the pipeline."""
    backbone = cfg.model.get('backbone', {})
    size = backbone.get('img_size', 224)
    h, w = (size, size) if isinstance(size, int) else tuple(size)
    dataset = cfg.train_dataloader.dataset
    while 'pipeline' not in dataset and 'dataset' in dataset:
        dataset = dataset.dataset
    pipeline = dataset.get('pipeline', [])
    fmt = find_transform(pipeline, 'FormatShape')
    is_video = cfg.get('default_scope') == 'mmaction' or (
        fmt is not None and fmt.get('input_format') == 'NCTHW')
    if not is_video:
        return False, 1, 1, h, w
    repeat = find_transform(pipeline, 'RepeatAugment')
    views = int(repeat.get('num_repeats', 4)) if repeat is not None else 1
    sample = find_transform(pipeline, 'SampleFrames')
    views *= int(sample.get('num_clips', 1)) if sample is not None else 1
    return True, views, int(backbone.get('num_frames', 16)), h, w


# -- synthetic data -----------------------------------------------------------
def make_batch(cfg, geometry, batch_size, seed):
    """One collated batch as the config's dataloader would give it."""
    from mmengine.registry import FUNCTIONS
    is_video, views, t, h, w = geometry
    gen = torch.Generator().manual_seed(seed)
    items = []
    for _ in range(batch_size):
        if is_video:
            from mmaction.structures import ActionDataSample
            inputs = torch.randint(0, 256, (views, 3, t, h, w), generator=gen, dtype=torch.uint8)
            sample = ActionDataSample().set_gt_label(0)
            sample.set_metainfo(dict(img_shape=(h, w), filename='synthetic.mp4'))
        else:
            from mmpretrain.structures import DataSample
            inputs = torch.randint(0, 256, (3, h, w), generator=gen, dtype=torch.uint8)
            sample = DataSample().set_gt_label(0)
            sample.set_metainfo(dict(img_shape=(h, w), img_path='synthetic.png'))
        items.append(dict(inputs=inputs, data_samples=sample))
    collate_cfg = dict(cfg.train_dataloader.get('collate_fn', dict(type='pseudo_collate')))
    collate = FUNCTIONS.get(collate_cfg.pop('type'))
    return partial(collate, **collate_cfg)(items)


# -- memory --------------------------------------------------------------------
def current_rss_mb() -> float:
    try:
        import psutil
        return psutil.Process().memory_info().rss / 2**20
    except ImportError:
        with open('/proc/self/statm') as f:
            return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# -- FLOPs ----------------------------------------------------------------------
def flop_counter():
    """``FlopCounterMode`` that also counts the CPU fused-attention kernels (torch counts
    only the CUDA ones), so fused and explicit attention are counted alike."""
    from torch.utils import flop_counter as fc
    aten = torch.ops.aten
    mapping = {}

    def fwd(query, key, value, *args, out_shape=None, **kwargs):
        return fc.sdpa_flop_count(query, key, value)

    def bwd(grad_out, query, key, value, *args, out_shape=None, **kwargs):
        return fc.sdpa_backward_flop_count(grad_out, query, key, value)

    for name, fn in (('_scaled_dot_product_flash_attention_for_cpu', fwd),
                     ('_scaled_dot_product_flash_attention_for_cpu_backward', bwd)):
        op = getattr(aten, name, None)
        if op is not None and op not in getattr(fc, "flop_registry", {}):
            mapping[op] = fn
    return fc.FlopCounterMode(display=False, custom_mapping=mapping)


def saved_for_backward_bytes(step, params) -> int:
    """Bytes of the distinct storages autograd saves for backward during ``step()``,
    leaving out ``params`` (weights saved by linear layers are not activations)."""
    skip = {p.untyped_storage().data_ptr() for p in params}
    seen = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in skip and storage.device.type != 'meta':
            seen[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        step()
    return sum(seen.values())


def matmul_peak_gflops(device, size=2048, reps=20) -> float:
    """Best-of-``reps`` fp32 ``size x size`` matmul throughput (GFLOP/s)."""
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    for _ in range(3):
        a @ b
    best = float('inf')
    for _ in range(reps):
        sync(device)
        start = time.perf_counter()
        a @ b
        sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * size ** 3 / best / 1e9


# -- the measurement --------------------------------------------------------------
def build(cfg, device, notes):
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import MODELS, init_default_scope
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.to(device)
    model.train()
    optim_cfg = cfg.optim_wrapper.copy()
    if optim_cfg.get('type') == 'AmpOptimWrapper' and device.type != 'cuda':
        optim_cfg.type = 'OptimWrapper'
        for key in ('loss_scale', 'dtype', 'use_fsdp'):
            optim_cfg.pop(key, None)
        notes.append('AmpOptimWrapper needs CUDA: fell back to OptimWrapper (fp32)')
    if optim_cfg.get('accumulative_counts', 1) != 1:
        notes.append(f"accumulative_counts={optim_cfg.accumulative_counts} set to 1: every "
                     'timed step updates the weights')
        optim_cfg.accumulative_counts = 1
    optim_wrapper = build_optim_wrapper(model, optim_cfg)
    return model, optim_wrapper


def sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def run_steps(model, optim_wrapper, data, device, iters, warmup, count_flops):
    times, log_vars, flops = [], {}, None
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
    for _ in range(iters):
        sync(device)
        start = time.perf_counter()
        log_vars = model.train_step(data, optim_wrapper)
        sync(device)
        times.append(time.perf_counter() - start)
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
                  iters=args.iters, warmup=args.warmup, cfg_options=args.cfg_options or {})
    if device.type == 'cuda':
        result['device_name'] = torch.cuda.get_device_name(device)

    if args.iters > 0:
        model, optim_wrapper = build(cfg, device, notes)
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
        result.update(
            step_time_s=dict(median=round(median, 5), min=round(min(times), 5),
                             max=round(max(times), 5)),
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
        peak = matmul_peak_gflops(device)
        result['matmul_peak_gflops'] = round(peak, 2)
        if 'gflops_per_s' in result:
            result['fraction_of_matmul_peak'] = round(result['gflops_per_s'] / peak, 4)
    if args.dataloader:
        result['dataloader'] = measure_dataloader(cfg, args, views)
    if notes:
        result['notes'] = notes
    return result


if __name__ == '__main__':
    run_main(main)
