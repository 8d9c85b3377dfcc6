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

Layouts are detected from the keys (see amd_mm/utils/convert.py). The output is
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
from amd_mm.utils.checkpoint import extract_state_dict, load_checkpoint_file  # noqa: E402
from amd_mm.utils.cli import run_main  # noqa: E402
from amd_mm.utils.convert import check_against, convert, detect_layout  # noqa: E402


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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src')
    parser.add_argument('dst')
    parser.add_argument('--to', choices=['mmpretrain', 'mmaction', 'timm', 'videomae'],
                        help='target names (default: the toolbox of the source modality)')
    parser.add_argument('--no-prefix', action='store_true', help="write keys without 'backbone.'")
    parser.add_argument('--config', help='check the result against the encoder of this config')
    parser.add_argument('--component', choices=['backbone', 'teacher'], default='backbone')
    parser.add_argument('--trust-checkpoints', action='store_true',
                        help='fully unpickle SRC if weights-only loading refuses it (pickle can '
                        'run code: only for files you trust)')
    args = parser.parse_args(argv)
    raw = load_checkpoint_file(args.src, key='src', trusted=args.trust_checkpoints)
    try:
        state = extract_state_dict(raw, args.src, key='src')
        layout = detect_layout(state)
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
