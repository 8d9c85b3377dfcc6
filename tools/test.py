#!/usr/bin/env python
"""Evaluate a checkpoint with a config's test (or val) loop and print the metrics.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--cfg-options k=v ...]
                         [--launcher pytorch] [--out results.pkl]
"""
import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import amd_mm  # noqa: E402,F401  (applies amd_mm.compat before the toolboxes load)
from mmengine.runner import Runner  # noqa: E402

from amd_mm.checkpoints import trusted_by, trusting_checkpoints  # noqa: E402
from amd_mm.compat import enable_cpu_distributed  # noqa: E402
from amd_mm.tools_lib.cli import run_main, with_checked_loads  # noqa: E402
from amd_mm.tools_lib.config_check import CfgOptionsAction, preflight  # noqa: E402
from amd_mm.utils.config import load_config  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (and evaluate) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save logs and metrics')
    parser.add_argument('--out', help='dump the raw predictions to this pickle file')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction,
                        help='override config settings')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main(argv=None):
    args = parse_args(argv)
    if not osp.isfile(args.checkpoint):
        raise SystemExit(f'checkpoint file {args.checkpoint!r} does not exist')
    enable_cpu_distributed(args.launcher)  # gloo on a machine without CUDA
    cfg = load_config(args.config, args.cfg_options, args.work_dir, args.launcher)
    cfg.load_from = args.checkpoint
    with_checked_loads(cfg)  # a checkpoint of another model is an error, not random weights
    if cfg.get('test_dataloader') is None:
        if cfg.get('val_dataloader') is None:
            raise SystemExit(f'{args.config} has neither test_dataloader nor val_dataloader: '
                             'a pre-training config has nothing to evaluate; use a fine-tuning config')
        cfg.test_dataloader, cfg.test_evaluator = cfg.val_dataloader, cfg.val_evaluator
        cfg.test_cfg = cfg.get('test_cfg') or dict(type='TestLoop')
    if args.out:
        cfg.test_evaluator = list(cfg.test_evaluator) if isinstance(cfg.test_evaluator, (list, tuple)) \
            else [cfg.test_evaluator]
        cfg.test_evaluator.append(dict(type='DumpResults', out_file_path=args.out))
    preflight(cfg, loaders=('test',), train=False)
    with trusting_checkpoints(trusted_by(cfg)):  # full unpickling only when the config opts in
        metrics = Runner.from_cfg(cfg).test()
    print(json.dumps({k: (round(v, 6) if isinstance(v, float) else v) for k, v in metrics.items()},
                     default=str))


if __name__ == '__main__':
    run_main(main)
