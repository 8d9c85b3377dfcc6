"""Small real datasets for the demo and the tests, made from scikit-learn's bundled digits.

* images (also the study's pictures, :mod:`amd_mm.tools_lib.study_data`): an
  ImageNet-style tree ``images/{train,val}/<class>/<n>.jpg`` of the 8x8 digits
  upsampled and tinted, with ``images/meta/{train,val}.txt``
  (``<class>/<file> <label>``) annotation files;
* videos: ``videos/{train,val}/<n>.mp4`` clips of a digit moving in one of four
  directions (label = direction, so temporal order matters, as in
  Something-Something), with ``videos/{train,val}_list.txt`` (``<file> <label>``),
  and the same clips as raw frames ``rawframes/{train,val}/<n>/img_00001.jpg`` with
  ``rawframes/{train,val}_list.txt`` (``<dir> <num_frames> <label>``), and
  UCF101/HMDB51-style split lists ``videos/ucf101_{train,val}_split_{1,2,3}_videos.txt``;
* benchmark videos (:func:`make_benchmark_videos`, Kinetics-400-like for timing data
  pipelines): ``bench/videos/video_<n>.mp4`` of 300 frames at 340 x 256 px and 30 fps, a
  textured scene panning under moving discs (broad histograms, motion, detail at every
  scale), with ``bench/videos_list.txt`` (``<file> <label>``) and, on request, the same
  frames as JPEGs ``bench/rawframes/video_<n>/img_00001.jpg`` with ``bench/rawframes_list.txt``
  (``<dir> <num_frames> <label>``), as Something-Something V2 is read by the official code.

Frame sizes are multiples of 32 (decord 0.6.0 mis-decodes some other widths)
and videos are written with OpenCV's ``mp4v`` codec (``avc1`` is unavailable).
"""
import os
import os.path as osp
from typing import Dict

import numpy as np

DIRECTIONS = ('right', 'left', 'down', 'up')


def _digits():
    from sklearn.datasets import load_digits
    data = load_digits()
    return data.images.astype(np.float32) / 16.0, data.target.astype(int)


def _render_digit(digit: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """An 8x8 digit as a ``size x size`` RGB uint8 picture on a textured background."""
    import cv2
    big = cv2.resize(digit, (size, size), interpolation=cv2.INTER_CUBIC).clip(0, 1)
    fg = rng.uniform(0.5, 1.0, size=3)
    bg = rng.uniform(0.0, 0.35, size=3)
    noise = rng.normal(0, 0.03, size=(size, size, 1))
    img = big[..., None] * fg + (1 - big[..., None]) * bg + noise
    return (img.clip(0, 1) * 255).astype(np.uint8)


def make_images(out: str, num_train: int = 500, num_val: int = 200, size: int = 32,
                seed: int = 0) -> Dict[str, int]:
    """Write the image tree; returns the number of files per split."""
    from PIL import Image
    images, labels = _digits()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(images))
    splits = {'train': order[:num_train], 'val': order[num_train:num_train + num_val]}
    os.makedirs(osp.join(out, 'images', 'meta'), exist_ok=True)
    for split, idx in splits.items():
        lines = []
        for n, i in enumerate(idx):
            cls = f'digit_{labels[i]}'
            rel = f'{cls}/{n:05d}.jpg'
            path = osp.join(out, 'images', split, rel)
            os.makedirs(osp.dirname(path), exist_ok=True)
            Image.fromarray(_render_digit(images[i], size, rng)).save(path, quality=95)
            lines.append(f'{rel} {labels[i]}')
        with open(osp.join(out, 'images', 'meta', f'{split}.txt'), 'w') as f:
            f.write('\n'.join(lines) + '\n')
    return {k: len(v) for k, v in splits.items()}


def write_video(path: str, frames: np.ndarray, fps: int = 25):
    """Write ``(T, H, W, 3)`` RGB uint8 frames as an mp4 (``mp4v``)."""
    import cv2
    t, h, w, _ = frames.shape
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), fps, (w, h))
    if not writer.isOpened():
        raise RuntimeError(f'OpenCV could not open a video writer for {path}')
    for frame in frames:
        writer.write(frame[..., ::-1].copy())  # RGB -> BGR
    writer.release()


def write_frames(folder: str, frames: np.ndarray, tmpl: str = 'img_{:05d}.jpg'):
    """Write ``(T, H, W, 3)`` RGB frames as 1-based JPEGs (mmaction2 raw-frame layout)."""
    from PIL import Image
    os.makedirs(folder, exist_ok=True)
    for i, frame in enumerate(frames, start=1):
        Image.fromarray(frame).save(osp.join(folder, tmpl.format(i)), quality=95)


def moving_digit_clip(digit: np.ndarray, direction: int, num_frames: int, size: int,
                      rng: np.random.Generator) -> np.ndarray:
    """``(T, size, size, 3)`` frames of a digit gliding in ``DIRECTIONS[direction]``."""
    sprite = _render_digit(digit, size // 2, rng).astype(np.float32)
    bg = rng.uniform(0, 80, size=3).astype(np.float32)
    travel = size - size // 2
    start = rng.integers(0, travel + 1, size=2)
    frames = np.empty((num_frames, size, size, 3), np.uint8)
    for t in range(num_frames):
        step = int(round(t * travel / max(1, num_frames - 1)))
        y, x = start
        if DIRECTIONS[direction] == 'right':
            x = step
        elif DIRECTIONS[direction] == 'left':
            x = travel - step
        elif DIRECTIONS[direction] == 'down':
            y = step
        else:
            y = travel - step
        canvas = np.broadcast_to(bg, (size, size, 3)).copy()
        canvas[y:y + size // 2, x:x + size // 2] = sprite
        frames[t] = canvas.clip(0, 255).astype(np.uint8)
    return frames


def make_videos(out: str, num_train: int = 48, num_val: int = 16, num_frames: int = 32,
                size: int = 64, seed: int = 0) -> Dict[str, int]:
    """Write the moving-digit videos and their list files."""
    images, _ = _digits()
    rng = np.random.default_rng(seed + 1)
    root = osp.join(out, 'videos')
    counts = {}
    for split, count in (('train', num_train), ('val', num_val)):
        lines, frame_lines = [], []
        for n in range(count):
            direction = n % len(DIRECTIONS)
            clip = moving_digit_clip(images[rng.integers(len(images))], direction, num_frames,
                                     size, rng)
            rel = f'{split}/{n:04d}.mp4'
            write_video(osp.join(root, rel), clip)
            lines.append(f'{rel} {direction}')
            write_frames(osp.join(out, 'rawframes', split, f'{n:04d}'), clip)
            frame_lines.append(f'{split}/{n:04d} {num_frames} {direction}')
        with open(osp.join(root, f'{split}_list.txt'), 'w') as f:
            f.write('\n'.join(lines) + '\n')
        with open(osp.join(out, 'rawframes', f'{split}_list.txt'), 'w') as f:
            f.write('\n'.join(frame_lines) + '\n')
        counts[split] = count
    write_splits(root, 'ucf101', num_train + num_val, seed)
    return counts


def write_splits(root: str, name: str, total: int, seed: int = 0, num_splits: int = 3):
    """UCF101 / HMDB51-style split lists over all demo videos:
    ``<name>_{train,val}_split_<k>_videos.txt`` (``<file> <label>``), three different
    train/val partitions, as mmaction2's converted split files."""
    with open(osp.join(root, 'train_list.txt')) as f:
        lines = [l.strip() for l in f if l.strip()]
    with open(osp.join(root, 'val_list.txt')) as f:
        lines += [l.strip() for l in f if l.strip()]
    lines = lines[:total]
    for k in range(1, num_splits + 1):
        order = np.random.default_rng(seed + k).permutation(len(lines))
        cut = int(0.75 * len(lines))
        for split, idx in (('train', order[:cut]), ('val', order[cut:])):
            with open(osp.join(root, f'{name}_{split}_split_{k}_videos.txt'), 'w') as f:
                f.write('\n'.join(lines[i] for i in sorted(idx)) + '\n')


def benchmark_frames(num_frames: int = 300, height: int = 256, width: int = 340,
                     seed: int = 0) -> np.ndarray:
    """``(T, H, W, 3)`` uint8 frames of a Kinetics-like clip: a colour-graded, blurred
    noise texture panning under four moving discs, so that frames have broad colour
    histograms, detail at every scale and motion (what decoding, histogram and warping
    operations cost depends on)."""
    import cv2
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([np.sin(xx / rng.uniform(20, 60) + c) * 60 + rng.uniform(60, 180)
                     for c in range(3)], -1)
    texture = cv2.GaussianBlur(rng.normal(0, 40, (height * 2, width * 2, 3)).astype(np.float32),
                               (0, 0), 3)
    discs = [(rng.uniform(0, width), rng.uniform(0, height), rng.uniform(-2, 2),
              rng.uniform(-2, 2), rng.uniform(15, 50), rng.uniform(0, 255, 3)) for _ in range(4)]
    frames = np.empty((num_frames, height, width, 3), np.uint8)
    for t in range(num_frames):
        dx, dy = int(t * 0.7) % width, int(t * 0.3) % height
        img = base + texture[dy:dy + height, dx:dx + width]
        for x, y, vx, vy, r, colour in discs:
            cx, cy = (x + vx * t) % width, (y + vy * t) % height
            img[(xx - cx) ** 2 + (yy - cy) ** 2 < r * r] = colour
        frames[t] = img.clip(0, 255).astype(np.uint8)
    return frames


def make_benchmark_videos(out: str, num_videos: int = 8, num_frames: int = 300,
                          height: int = 256, width: int = 340, fps: int = 30,
                          frames: bool = False, seed: int = 0) -> Dict[str, str]:
    """Write ``num_videos`` benchmark videos (:func:`benchmark_frames`, ``mp4v``) under
    ``out/bench`` with their list file, and with ``frames=True`` their JPEG frames.
    Returns the paths: ``root``, ``videos``, ``video_list`` and, with frames,
    ``rawframes`` and ``frame_list``. Videos already there (same name) are kept."""
    root = osp.join(out, 'bench')
    paths = dict(root=root, videos=osp.join(root, 'videos'),
                 video_list=osp.join(root, 'videos_list.txt'))
    if frames:
        paths.update(rawframes=osp.join(root, 'rawframes'),
                     frame_list=osp.join(root, 'rawframes_list.txt'))
    video_lines, frame_lines = [], []
    for n in range(num_videos):
        name = f'video_{n:04d}'  # not a number: pandas would read '0001' as 1
        video = osp.join(paths['videos'], f'{name}.mp4')
        folder = osp.join(root, 'rawframes', name)
        need_video = not osp.isfile(video)
        need_frames = frames and not osp.isfile(osp.join(folder, f'img_{num_frames:05d}.jpg'))
        if need_video or need_frames:
            clip = benchmark_frames(num_frames, height, width, seed + n)
            if need_video:
                write_video(video, clip, fps)
            if need_frames:
                write_frames(folder, clip)
        video_lines.append(f'{name}.mp4 {n}')
        frame_lines.append(f'{name} {num_frames} {n}')
    with open(paths['video_list'], 'w') as f:
        f.write('\n'.join(video_lines) + '\n')
    if frames:
        with open(paths['frame_list'], 'w') as f:
            f.write('\n'.join(frame_lines) + '\n')
    return paths
