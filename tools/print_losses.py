#!/usr/bin/env python
"""Print the first and last logged values of every loss term of a training run.

    python tools/print_losses.py work_dirs/amd_image_tiny
"""
import argparse
import glob
import json
import os.path as osp
import sys


def read_scalars(work_dir: str):
    runs = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if not runs:
        raise SystemExit(f'no MMEngine scalars.json under {work_dir!r}: was it trained?')
    with open(runs[-1]) as f:
        return [json.loads(line) for line in f if line.strip()]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('work_dir')
    args = parser.parse_args(argv)
    rows = [r for r in read_scalars(args.work_dir) if 'loss' in r]
    keys = sorted({k for r in rows for k in r if k.startswith('loss')})
    first, last = rows[0], rows[-1]
    print(f'{args.work_dir}: {len(rows)} logged iterations (iter {first.get("iter")} -> {last.get("iter")})')
    for key in keys:
        print(f'  {key:10s} {first.get(key, float("nan")):9.4f} -> {last.get(key, float("nan")):9.4f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
