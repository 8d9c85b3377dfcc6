#!/usr/bin/env python
"""Train an amd_mm (or any mmpretrain / mmaction2) config with MMEngine's Runner.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
                          [--auto-scale-lr] [--cfg-options k=v ...] [--launcher pytorch]
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import amd_mm  # noqa: E402,F401  (applies amd_mm.compat before the toolboxes load)
from mmengine.config import Config  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from amd_mm.checkpoints import trusted_by, trusting_checkpoints  # noqa: E402
from amd_mm.compat import enable_cpu_distributed  # noqa: E402
from amd_mm.engine.optim_wrapper import enable_amp  # noqa: E402
from amd_mm.tools_lib.cli import run_main, with_checked_loads  # noqa: E402
from amd_mm.tools_lib.config_check import CfgOptionsAction, preflight  # noqa: E402
from amd_mm.tools_lib.workdir import settle_resume, use_resumable_loop, work_dir_lock  # noqa: E402
from amd_mm.utils.config import load_config  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from the given checkpoint, or with no value from the latest '
        'checkpoint in the work_dir')
    parser.add_argument('--amp', action='store_true', help='mixed precision (AmpOptimWrapper)')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the lr by total batch size / auto_scale_lr.base_batch_size')
    parser.add_argument('--no-validate', action='store_true', help='skip validation during training')
    parser.add_argument(
        '--cfg-options', nargs='+', action=CfgOptionsAction,
        help='override config settings, e.g. model.teacher.checkpoint=PATH')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def build_config(args) -> Config:
    enable_cpu_distributed(args.launcher)  # gloo on a machine without CUDA
    cfg = load_config(args.config, args.cfg_options, args.work_dir, args.launcher)
    if args.amp:
        note = enable_amp(cfg)  # keeps the non-finite guard (NonFiniteGuardAmpOptimWrapper)
        if note:
            print(note, file=sys.stderr)
    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg or 'base_batch_size' not in cfg.auto_scale_lr:
            raise SystemExit('--auto-scale-lr needs auto_scale_lr.base_batch_size in the config')
        cfg.auto_scale_lr.enable = True
    settle_resume(cfg, args.resume)
    use_resumable_loop(cfg)  # exact resume, same losses; refuses another batch size
    with_checked_loads(cfg)  # load_from / --resume / init_cfg Pretrained: strict where it matters
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    return cfg


def main(argv=None):
    args = parse_args(argv)
    cfg = build_config(args)
    preflight(cfg)  # config keys, dataset list files, AMP device: one sentence each
    # one run per work_dir; full unpickling only when the config opts in (trust_checkpoints)
    with work_dir_lock(cfg.work_dir, args.launcher), trusting_checkpoints(trusted_by(cfg)):
        runner = Runner.from_cfg(cfg)
        runner.train()


if __name__ == '__main__':
    run_main(main)
