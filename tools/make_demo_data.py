#!/usr/bin/env python
"""Write the small real datasets that the tiny configs, the demo and the tests read.

    python tools/make_demo_data.py                 # everything into data/demo/
    python tools/make_demo_data.py --only images   # just the image tree

Parts: images (ImageNet-style tree), videos (mp4 + list and split files, raw frames),
ava (AVA 2.2-style raw frames, csv annotations, proposals, label map).
"""
import argparse
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from amd_mm.tools_lib import demo_ava, demo_data  # noqa: E402

PARTS = ('images', 'videos', 'ava')


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('--out', default='data/demo', help='output folder (default: data/demo)')
    parser.add_argument('--only', nargs='+', choices=PARTS, default=list(PARTS))
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--force', action='store_true', help='rewrite parts that already exist')
    args = parser.parse_args()
    markers = {'images': 'images/meta/val.txt', 'videos': 'videos/val_list.txt',
               'ava': 'ava/annotations/ava_action_list_v2.2.pbtxt'}
    makers = {'images': demo_data.make_images, 'videos': demo_data.make_videos, 'ava': demo_ava.make_ava}
    for part in args.only:
        if not args.force and osp.isfile(osp.join(args.out, markers[part])):
            print(f'{part}: already in {args.out} (use --force to rewrite)')
            continue
        start = time.time()
        counts = makers[part](args.out, seed=args.seed)
        print(f'{part}: wrote {counts} to {osp.join(args.out, part)} in {time.time() - start:.1f}s')


if __name__ == '__main__':
    main()
