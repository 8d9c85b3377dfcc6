#!/usr/bin/env python
"""Convert encoder weights between layouts (one tool for every conversion).

    # an official MAE / timm ViT or VideoMAE / AMD release -> toolbox names under backbone.
    python tools/convert_checkpoint.py SRC.pth DST.pth
    # check the result against the encoder a config builds (fails on the first mismatch)
    python tools/convert_checkpoint.py SRC.pth DST.pth --config CONFIG [--component teacher]
    # an amd_mm pre-training checkpoint -> a plain backbone state dict
    python tools/convert_checkpoint.py work_dirs/x/epoch_800.pth vit_s.pth --no-prefix
    # toolbox names -> timm / official VideoMAE names
    python tools/convert_checkpoint.py SRC.pth DST.pth --to timm
    # a whole official AMD (or VideoMAE) pre-training checkpoint -> the whole amd_mm VideoAMD
    # (student, decoder, projection heads, generators), to continue pre-training with
    # --cfg-options load_from=DST.pth; --config checks it against the model of CONFIG
    python tools/convert_checkpoint.py checkpoint-199.pth DST.pth --whole [--config CONFIG]
    # ... and back: an amd_mm VideoAMD checkpoint -> the official PretrainAMD layout
    python tools/convert_checkpoint.py work_dirs/x/epoch_200.pth DST.pth --whole --to videomae

Layouts are detected from the keys (see amd_mm/checkpoints/convert.py). The output is
``{'state_dict': {...}, 'meta': {...}}``; with the default ``backbone.`` prefix it loads
into the toolboxes' fine-tuning backbones through
``init_cfg=dict(type='Pretrained', checkpoint=DST, prefix='backbone.')`` and into
``FrozenTeacher(checkpoint=DST)``.

The source is loaded weights-only (tensors, containers and the few MMEngine / numpy types
its checkpoints hold); a file that needs more (pickle can run code) is refused unless
``--trust-checkpoints`` is given. Errors are one sentence naming the file.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import torch  # noqa: E402

import amd_mm  # noqa: E402,F401
from amd_mm.checkpoints import extract_state_dict, load_checkpoint_file  # noqa: E402
from amd_mm.checkpoints.convert import (NOT_IN_OFFICIAL_PRETRAIN, check_against,  # noqa: E402
                                        convert, convert_official_pretrain, detect_layout,
                                        is_official_pretrain, missing_after_conversion,
                                        to_official_pretrain)
from amd_mm.tools_lib.cli import run_main  # noqa: E402


def target_state(config: str, component: str) -> dict:
    from mmengine.config import Config
    from mmengine.registry import MODELS, init_default_scope
    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    model_cfg = cfg.model
    part = model_cfg.get('teacher', {}).get('backbone') if component == 'teacher' else model_cfg.backbone
    if part is None:
        raise SystemExit(f'{config}: model.{component} has no backbone to check against')
    part = dict(part)
    part.pop('init_cfg', None)
    return MODELS.build(part).state_dict()


def whole_model_state(config: str) -> dict:
    """State dict of the whole pre-training model of ``config`` (teachers not built from
    their checkpoints; they are not part of the state dict)."""
    from mmengine.config import Config
    from mmengine.registry import MODELS, DefaultScope
    cfg = Config.fromfile(config)
    model_cfg = cfg.model
    if 'mask_generator' not in model_cfg:
        raise ValueError(f'{config}: --whole needs a pre-training config (model.mask_generator)')
    if model_cfg.get('teacher'):
        model_cfg.teacher.checkpoint = None
    for extra in model_cfg.get('extra_teachers', []):
        extra.teacher.checkpoint = None
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'mmaction')):
        return MODELS.build(model_cfg).state_dict()


def convert_whole(state: dict, args) -> tuple:
    """(converted state, notes) for ``--whole``."""
    if args.to == 'videomae':
        return to_official_pretrain(state), []
    if args.to is not None:
        raise ValueError("--whole converts official pre-training checkpoints to amd_mm names, or "
                         "back with --to videomae")
    if not is_official_pretrain(state):
        raise ValueError('--whole: the source is not an official AMD / VideoMAE pre-training '
                         'checkpoint (no encoder. and decoder. keys)')
    out = convert_official_pretrain(state)
    if args.config:
        target = whole_model_state(args.config)
        check_against(out, {k: v for k, v in target.items() if k in out}, source=args.src)
        missing = missing_after_conversion(out, target)
        if missing:
            raise ValueError(f'{args.src}: the model of {args.config} needs {len(missing)} keys the '
                             f'checkpoint lacks, first {missing[:3]}')
        extra = [k for k in out if k not in target]
        if extra:
            raise ValueError(f'{args.src}: {len(extra)} converted keys have no place in the model of '
                             f'{args.config}, first {extra[:3]}')
    has_generators = any(k.startswith('branches.0.generators.') for k in out)
    notes = [f'not in the official checkpoint, keeps the built model\'s value: {why} ({key})'
             for key, why in NOT_IN_OFFICIAL_PRETRAIN.items() if has_generators or 'generators' not in key]
    return out, notes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src')
    parser.add_argument('dst')
    parser.add_argument('--to', choices=['mmpretrain', 'mmaction', 'timm', 'videomae'],
                        help='target names (default: the toolbox of the source modality)')
    parser.add_argument('--no-prefix', action='store_true', help="write keys without 'backbone.'")
    parser.add_argument('--config', help='check the result against the encoder of this config')
    parser.add_argument('--component', choices=['backbone', 'teacher'], default='backbone')
    parser.add_argument('--whole', action='store_true',
                        help='convert the whole pre-training model (official AMD / VideoMAE '
                             '<-> amd_mm VideoAMD), not only the encoder')
    parser.add_argument('--trust-checkpoints', action='store_true',
                        help='fully unpickle SRC if weights-only loading refuses it (pickle can '
                        'run code: only for files you trust)')
    args = parser.parse_args(argv)
    raw = load_checkpoint_file(args.src, key='src', trusted=args.trust_checkpoints,
                               trust_hint='pass --trust-checkpoints')
    try:
        state = extract_state_dict(raw, args.src, key='src')
        layout = detect_layout(state)
        if args.whole:
            out, notes = convert_whole(state, args)
            torch.save({'state_dict': out, 'meta': dict(converted_from=osp.basename(args.src),
                                                        source_layout=layout, whole=True)}, args.dst)
            print(f'{args.src} ({layout}, whole model) -> {args.dst}: {len(out)} tensors')
            for note in notes:
                print(note)
            return
        out = convert(state, args.to)
        if args.config:
            check_against(out, {k: v for k, v in target_state(args.config, args.component).items()
                                if k != 'pos_embed' or 'pos_embed' in out}, source=args.src)
    except ValueError as err:
        raise SystemExit(f'convert_checkpoint: {err}')
    prefix = '' if args.no_prefix or args.to in ('timm', 'videomae') else 'backbone.'
    torch.save({'state_dict': {prefix + k: v for k, v in out.items()},
                'meta': dict(converted_from=osp.basename(args.src), source_layout=layout)}, args.dst)
    print(f'{args.src} ({layout}) -> {args.dst}: {len(out)} tensors, prefix {prefix!r}')


if __name__ == '__main__':
    run_main(main)
