#!/usr/bin/env python
"""Per-GPU memory of a training step of any amd_mm config, estimated without running it.

    python tools/plan.py CONFIG [--gpu-memory 80 [40 24 ...]] [--dtype bf16|fp16|fp32]
                         [--with-cp] [--batch N] [--gpus N] [--teacher-dtype bf16|fp16]
                         [--headroom 0.1] [--no-search] [--official [DIR]]
                         [--measure [--device cpu|cuda]] [--json] [--markdown]
                         [--cfg-options key=value ...]

Prints the peak memory of one step at the config's per-GPU batch (videos x views) split
into parameters, frozen teacher, gradients, optimizer state, activations, temporaries,
the batch and DDP's gradient buckets; the largest per-GPU batch that fits each
``--gpu-memory`` (GiB, less ``--headroom``) with and without activation checkpointing of
the student's blocks (``backbone.with_cp`` of amd_mm's masked encoders; other backbones,
e.g. of fine-tuning configs, take it in the config); and the gradient accumulation that keeps
the config's reference batch (``auto_scale_lr.base_batch_size``, e.g. the official 512
videos per step) at that batch.

How: the model is built once on the CPU, its weights are replaced by fake tensors
(``FakeTensorMode``: shapes only) and the step runs on a fake batch of any size under
torch's ``MemTracker``; mixed precision follows CUDA autocast's rules. Details and
limits: ``amd_mm/measure/memory_plan.py``. ``--dtype`` defaults to the config's
(``AmpOptimWrapper``: its dtype or fp16; otherwise fp32).

``--official [DIR]`` also estimates the official MCG-NJU/AMD step at the same settings
(video configs; DIR or ``$AMD_OFFICIAL_ROOT`` is an export of its repository, imported at
run time) and the ratio amd_mm / official. ``--measure`` runs the step (and the official
one) for real on ``--device`` at the same batch and prints the measured peak beside the
estimate (on CUDA ``max_memory_allocated``; on the CPU the allocator's own count, see
``amd_mm/measure/counters.py``). ``--json`` prints one JSON line instead of the text
report; ``--markdown`` prints one row of the README's scaling table.
"""
import argparse
import contextlib
import json
import math
import os.path as osp
import re
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import amd_mm  # noqa: E402,F401  (applies amd_mm.compat before the toolboxes load)
import torch  # noqa: E402
from mmengine.config import DictAction  # noqa: E402

from amd_mm.measure.memory_plan import GiB, MiB, PARTS, StepPlanner, measure_step_memory  # noqa: E402
from amd_mm.measure.step import DTYPES, amp_dtype, load_step_config  # noqa: E402
from amd_mm.tools_lib.cli import run_main  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Per-GPU memory plan of a config')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--gpu-memory', type=float, nargs='+', default=[80.0],
                        help='GPU memory classes in GiB (default 80)')
    parser.add_argument('--dtype', choices=['bf16', 'fp16', 'fp32'], default=None,
                        help='precision of the step (default: the config\'s optim_wrapper)')
    parser.add_argument('--with-cp', action='store_true',
                        help='report the step with activation checkpointing of the student')
    parser.add_argument('--batch', type=int, default=None,
                        help='per-GPU batch (videos or images; default train_dataloader.batch_size)')
    parser.add_argument('--gpus', type=int, default=None,
                        help='data-parallel GPUs (default: from the config name, e.g. 32xb16; '
                        'else 1); > 1 adds DDP\'s gradient buckets')
    parser.add_argument('--teacher-dtype', choices=['bf16', 'fp16'], default=None,
                        help='store and run the frozen teacher in this dtype (teacher.dtype)')
    parser.add_argument('--headroom', type=float, default=0.1,
                        help='fraction of each GPU kept free for the CUDA context, library '
                        'workspaces and allocator fragmentation (default 0.1)')
    parser.add_argument('--no-search', action='store_true',
                        help='skip the largest-batch search (one estimate only)')
    parser.add_argument('--official', nargs='?', const='', default=None, metavar='DIR',
                        help='also estimate the official AMD step (DIR or $AMD_OFFICIAL_ROOT: '
                        'an export of MCG-NJU/AMD)')
    parser.add_argument('--measure', action='store_true',
                        help='also run the step for real on --device and measure its peak')
    parser.add_argument('--device', default=None, help='device of --measure (default: cuda if '
                        'available)')
    parser.add_argument('--json', action='store_true', help='print one JSON line')
    parser.add_argument('--markdown', action='store_true', help='print one README table row')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings')
    return parser.parse_args(argv)


def gpus_of(config: str) -> int:
    match = re.search(r'(\d+)xb\d+', osp.basename(config))
    return int(match.group(1)) if match else 1


def dtype_name(dtype) -> str:
    return {None: 'fp32', torch.bfloat16: 'bf16', torch.float16: 'fp16'}[dtype]


def load(args):
    cfg = load_step_config(args.config, args.cfg_options)
    if args.batch:
        cfg.train_dataloader.batch_size = args.batch
    if args.teacher_dtype:
        if not cfg.model.get('teacher'):
            raise ValueError('--teacher-dtype: the config has no model.teacher')
        cfg.model.teacher.dtype = {'bf16': 'bfloat16', 'fp16': 'float16'}[args.teacher_dtype]
    dtype = DTYPES[args.dtype] if args.dtype else amp_dtype(cfg)
    return cfg, dtype


def measure_device(args) -> torch.device:
    return torch.device(args.device or ('cuda' if torch.cuda.is_available() else 'cpu'))


def official_export(args) -> str:
    from amd_mm.measure.official_amd import official_root
    root = official_root(args.official or None)
    if root is None:
        raise FileNotFoundError('--official: no export of MCG-NJU/AMD given and '
                                '$AMD_OFFICIAL_ROOT is not set (git --git-dir=<mirror> archive '
                                'HEAD | tar -x -C DIR)')
    return root


def plan(args) -> dict:
    root = official_export(args) if args.official is not None else None
    cfg, dtype = load(args)
    gpus = args.gpus or gpus_of(args.config)
    batch = int(cfg.train_dataloader.batch_size)
    base = (cfg.get('auto_scale_lr') or {}).get('base_batch_size')
    started = time.time()
    planner = StepPlanner(cfg, dtype, gpus)
    views = planner.views
    main = planner.estimate(batch, args.with_cp)
    result = dict(config=args.config, dtype=dtype_name(dtype), gpus=gpus, batch_size=batch,
                  views=views, samples_per_step=batch * views, with_cp=args.with_cp,
                  teacher_dtype=args.teacher_dtype, unit='MiB', estimate=main.as_dict(),
                  reference_batch=base, headroom=args.headroom)
    if not args.with_cp and planner.supports_cp:
        result['estimate_with_cp'] = planner.estimate(batch, True).as_dict()
    if not args.no_search:
        fits = []
        for memory in args.gpu_memory:
            usable = int(memory * GiB * (1 - args.headroom))
            row = dict(gpu_memory=memory, usable_gib=round(usable / GiB, 2),
                       fits_config_batch=main.peak <= usable)
            for key, cp in (('largest_batch', False), ('largest_batch_with_cp', True)):
                if cp and not planner.supports_cp:
                    continue
                largest, _ = planner.largest_batch(usable, cp)
                row[key] = largest
                if base and largest:
                    row[key.replace('largest_batch', 'accumulation')] = math.ceil(
                        base / (gpus * largest))
            if base:
                row['accumulation_at_config_batch'] = math.ceil(base / (gpus * batch))
            fits.append(row)
        result['fits'] = fits
    if planner.notes:
        result['notes'] = planner.notes
    if args.official is not None:
        result['official'] = plan_official(args, root, cfg, planner, dtype, gpus, main)
    if args.measure:
        device = measure_device(args)
        measured = measure_step_memory(cfg, batch, device, dtype, args.with_cp)
        result['measured'] = dict(device=str(device), method=measured['method'],
                                  peak=round(measured['peak_bytes'] / MiB, 2),
                                  estimate_over_measured=round(main.peak / measured['peak_bytes'], 4))
        if device.type == 'cuda':
            result['measured']['device_name'] = torch.cuda.get_device_name(device)
    result['seconds'] = round(time.time() - started, 1)
    return result


def plan_official(args, root, cfg, planner, dtype, gpus, ours) -> dict:
    from amd_mm.measure.official_amd import OfficialPlanner, OfficialSettings
    settings = OfficialSettings.from_config(cfg, planner.model)
    official = OfficialPlanner(root, settings, dtype, gpus, with_cp=args.with_cp)
    theirs = official.estimate(settings.videos)
    out = dict(root=root, estimate=theirs.as_dict(),
               amd_mm_over_official=round(ours.peak / theirs.peak, 4),
               note='the official loop zeroes gradients after the forward, so the previous '
                    "step's gradients are alive during it; torch's AdamW uses foreach on CUDA")
    if args.measure:
        from amd_mm.measure.official_amd import measure_official_memory
        measured = measure_official_memory(root, settings, measure_device(args), dtype)
        out['measured'] = dict(peak=round(measured['peak_bytes'] / MiB, 2),
                               estimate_over_measured=round(theirs.peak / measured['peak_bytes'], 4))
    return out


def size(mib: float) -> str:
    return f'{mib / 1024:.2f} GiB' if mib >= 1024 else f'{mib:.1f} MiB'


def report(result: dict) -> str:
    est = result['estimate']
    lines = [f"{result['config']}",
             f"  per GPU: {result['batch_size']} x {result['views']} views = "
             f"{result['samples_per_step']} samples, {result['dtype']}, {result['gpus']} GPU(s)"
             + (', activation checkpointing' if result['with_cp'] else '')
             + (f", teacher in {result['teacher_dtype']}" if result['teacher_dtype'] else ''),
             f"  peak {size(est['peak'])} = " + ' + '.join(
                 f"{name.replace('_', ' ')} {size(est['parts'][name])}" for name in PARTS
                 if est['parts'].get(name))]
    if 'estimate_with_cp' in result:
        lines.append(f"  with activation checkpointing (backbone.with_cp): "
                     f"{size(result['estimate_with_cp']['peak'])}")
    for row in result.get('fits', []):
        acc = ''
        if result.get('reference_batch'):
            acc = (f"; accumulation to {result['reference_batch']} per step: "
                   f"{row.get('accumulation_at_config_batch')} at the config's batch")
        cp = (f" ({row['largest_batch_with_cp']} with checkpointing)"
              if 'largest_batch_with_cp' in row else '')
        lines.append(f"  {row['gpu_memory']:g} GiB GPU ({row['usable_gib']:g} usable): config batch "
                     f"{'fits' if row['fits_config_batch'] else 'does NOT fit'}; largest batch "
                     f"{row['largest_batch']}{cp}" + acc)
    if 'official' in result:
        off = result['official']
        lines.append(f"  official AMD step: {size(off['estimate']['peak'])}; amd_mm / official "
                     f"= {off['amd_mm_over_official']:.2f}")
        if 'measured' in off:
            lines.append(f"  official measured: {size(off['measured']['peak'])}; estimate / "
                         f"measured = {off['measured']['estimate_over_measured']:.3f}")
    if 'measured' in result:
        m = result['measured']
        lines.append(f"  measured on {m['device']}: {size(m['peak'])}; estimate / measured = "
                     f"{m['estimate_over_measured']:.3f}")
    for note in result.get('notes', []):
        lines.append(f'  note: {note}')
    return '\n'.join(lines)


def markdown_row(result: dict) -> str:
    """A row of the README's scaling table: config, batch x views, peak (with
    checkpointing), fits at the config's batch and largest batch per memory class, and
    the reference batch as GPUs x batch x accumulation (GiB; '-' where not searched)."""
    fits = result.get('fits', [])
    gib = lambda mib: f'{mib / 1024:.1f}'  # noqa: E731
    cp = result.get('estimate_with_cp')
    fit = ' / '.join('yes' if r['fits_config_batch'] else '**no**' for r in fits) or '-'
    largest = ' / '.join(f"{r['largest_batch']} ({r.get('largest_batch_with_cp', '-')})"
                         for r in fits) or '-'
    base, gpus, batch = result.get('reference_batch'), result['gpus'], result['batch_size']
    reference = (f'{base} = {gpus} x {batch} x {max(1, math.ceil(base / (gpus * batch)))}'
                 if base else '-')
    return (f"| `{osp.basename(result['config'])}` | {batch} x {result['views']} | "
            f"{gib(result['estimate']['peak'])} ({gib(cp['peak']) if cp else '-'}) | {fit} | "
            f'{largest} | {reference} |')


def main(argv=None):
    args = parse_args(argv)
    from mmengine.logging import MMLogger
    with contextlib.redirect_stdout(sys.stderr):
        MMLogger.get_instance('amd_mm_plan', log_level='WARNING')
        result = plan(args)
    if args.json:
        print(json.dumps(result), flush=True)
    elif args.markdown:
        print(markdown_row(result), flush=True)
    else:
        print(report(result), flush=True)
    return result


if __name__ == '__main__':
    run_main(main)
