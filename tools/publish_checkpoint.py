#!/usr/bin/env python
"""Prepare a trained checkpoint for people who have only mmpretrain / mmaction2.

    python tools/publish_checkpoint.py IN OUT [--backbone-only] [--trust-checkpoints]

IN is a training checkpoint (or a work_dir: its last checkpoint). The optimizer, the
message hub and every other non-tensor state are dropped, ``meta`` is reduced to plain
types, and the file is written as ``OUT-<first 8 hex digits of its sha256>.pth``
(OpenMMLab's publish convention). It loads with torch's default ``weights_only=True``, so
a process without amd_mm reads it, e.g. through
``init_cfg=dict(type='Pretrained', checkpoint=..., prefix='backbone.')``.
``--backbone-only`` keeps just the student (``backbone.`` keys).

IN is loaded weights-only (tensors, containers and the few MMEngine / numpy types its
checkpoints hold); a file that needs more (pickle can run code) is refused unless
``--trust-checkpoints`` is given. Errors are one sentence naming the file.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from amd_mm.checkpoints.publish import describe, publish  # noqa: E402
from amd_mm.tools_lib.cli import run_main  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', metavar='IN', help='training checkpoint or work_dir')
    parser.add_argument('out', metavar='OUT', help="output name; '-<sha256[:8]>.pth' is appended")
    parser.add_argument('--backbone-only', action='store_true',
                        help="keep only the student encoder ('backbone.' keys)")
    parser.add_argument('--trust-checkpoints', action='store_true',
                        help='fully unpickle IN if weights-only loading refuses it (pickle can '
                        'run code: only for files you trust)')
    args = parser.parse_args(argv)
    final = publish(args.src, args.out, args.backbone_only, trusted=args.trust_checkpoints)
    print(describe(final))
    return final


if __name__ == '__main__':
    run_main(main)
