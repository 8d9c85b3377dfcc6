"""A tiny AVA 2.2-style spatio-temporal action detection set, made from scratch.

Writes ``<out>/ava/``:

* ``rawframes/<video_id>/img_00001.jpg ...`` (1-based, 64x64, ``fps`` frames a second
  from second ``timestamp_start``), each video showing two "persons" (bright squares
  carrying a digit) that move horizontally, move vertically or stand still;
* ``annotations/ava_{train,val}_v2.2.csv``: ``video_id,timestamp,x1,y1,x2,y2,action_id,
  person_id`` with normalised boxes, one row per (box, action): action 1 = moves
  horizontally, 2 = moves vertically, 3 = stands still (+ action 4 "is a digit >= 5",
  so some boxes carry two labels, as AVA's multi-label boxes);
* ``annotations/ava_{train,val}_excluded_timestamps_v2.2.csv`` (empty: the metric
  requires the file), ``annotations/ava_action_list_v2.2.pbtxt`` (label map),
* ``annotations/ava_dense_proposals_{train,val}.pkl``: ``'video_id,%04d' % ts ->
  float32 (N, 5)`` normalised ``[x1, y1, x2, y2, score]`` (the true boxes, slightly
  jittered, plus a low-score distractor).
"""
import os
import os.path as osp
import pickle
from typing import Dict

import numpy as np

ACTIONS = ('move_horizontal', 'move_vertical', 'stand_still', 'large_digit')
SIZE, BOX = 64, 20
TIMESTAMP_START, TIMESTAMP_END, FPS = 1, 6, 4


def _person_track(rng, kind: int, num_frames: int):
    """Top-left corners of a box over time for motion ``kind`` (0 h, 1 v, 2 still)."""
    start = rng.integers(0, SIZE - BOX, size=2).astype(float)
    speed = rng.uniform(0.8, 1.5) * rng.choice([-1, 1])
    track = np.repeat(start[None], num_frames, axis=0)
    t = np.arange(num_frames)
    if kind == 0:
        track[:, 1] = start[1] + speed * t
    elif kind == 1:
        track[:, 0] = start[0] + speed * t
    # bounce inside the frame
    period = 2 * (SIZE - BOX)
    track = np.abs((track % period + period) % period)
    track = np.where(track > SIZE - BOX, period - track, track)
    return track


def make_ava(out: str, num_train: int = 4, num_val: int = 2, seed: int = 0) -> Dict[str, int]:
    """Write the set; returns the number of videos per split."""
    from PIL import Image

    from .demo_data import _digits, _render_digit
    images, labels = _digits()
    rng = np.random.default_rng(seed + 7)
    root = osp.join(out, 'ava')
    ann_dir = osp.join(root, 'annotations')
    os.makedirs(ann_dir, exist_ok=True)
    num_frames = FPS * (TIMESTAMP_END - TIMESTAMP_START + 1)
    for split, count in (('train', num_train), ('val', num_val)):
        rows, proposals = [], {}
        for v in range(count):
            vid = f'{split}_{v:03d}'
            people = []
            for p in range(2):
                kind = int(rng.integers(0, 3))
                digit = int(rng.integers(len(images)))
                sprite = _render_digit(images[digit], BOX, rng)
                people.append((kind, labels[digit], sprite, _person_track(rng, kind, num_frames)))
            frame_dir = osp.join(root, 'rawframes', vid)
            os.makedirs(frame_dir, exist_ok=True)
            bg = rng.uniform(20, 60, size=3)
            for f in range(num_frames):
                canvas = np.broadcast_to(bg, (SIZE, SIZE, 3)).copy()
                for _, _, sprite, track in people:
                    y, x = track[f].round().astype(int)
                    canvas[y:y + BOX, x:x + BOX] = sprite
                Image.fromarray(canvas.astype(np.uint8)).save(
                    osp.join(frame_dir, f'img_{f + 1:05d}.jpg'), quality=95)
            for ts in range(TIMESTAMP_START + 1, TIMESTAMP_END):
                centre = FPS * (ts - TIMESTAMP_START)  # 0-based index of the 1-based centre frame
                boxes = []
                for pid, (kind, digit, _, track) in enumerate(people):
                    y, x = track[centre]
                    box = np.array([x, y, x + BOX, y + BOX]) / SIZE
                    boxes.append(box)
                    for action in [kind + 1] + ([4] if digit >= 5 else []):
                        rows.append(f'{vid},{ts:04d},' + ','.join(f'{c:.3f}' for c in box)
                                    + f',{action},{pid}')
                jitter = [np.clip(b + rng.normal(0, 0.01, 4), 0, 1) for b in boxes]
                distractor = np.array([0.0, 0.0, 0.2, 0.2])
                proposals[f'{vid},{ts:04d}'] = np.array(
                    [list(b) + [0.99] for b in jitter] + [list(distractor) + [0.3]], dtype=np.float32)
        with open(osp.join(ann_dir, f'ava_{split}_v2.2.csv'), 'w') as f:
            f.write('\n'.join(rows) + '\n')
        open(osp.join(ann_dir, f'ava_{split}_excluded_timestamps_v2.2.csv'), 'w').close()
        with open(osp.join(ann_dir, f'ava_dense_proposals_{split}.pkl'), 'wb') as f:
            pickle.dump(proposals, f)
    with open(osp.join(ann_dir, 'ava_action_list_v2.2.pbtxt'), 'w') as f:
        for i, name in enumerate(ACTIONS, start=1):
            f.write(f'item {{\n  name: "{name}"\n  id: {i}\n}}\n')
    return {'train': num_train, 'val': num_val}
