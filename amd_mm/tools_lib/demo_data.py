"""Small real datasets for the demo and the tests, made from scikit-learn's bundled digits.

* images: an ImageNet-style tree ``images/{train,val}/<class>/<n>.jpg`` of the
  8x8 digits upsampled and tinted, with ``images/meta/{train,val}.txt``
  (``<class>/<file> <label>``) annotation files;
* videos: ``videos/{train,val}/<n>.mp4`` clips of a digit moving in one of four
  directions (label = direction, so temporal order matters, as in
  Something-Something), with ``videos/{train,val}_list.txt`` (``<file> <label>``),
  and the same clips as raw frames ``rawframes/{train,val}/<n>/img_00001.jpg`` with
  ``rawframes/{train,val}_list.txt`` (``<dir> <num_frames> <label>``), and
  UCF101/HMDB51-style split lists ``videos/ucf101_{train,val}_split_{1,2,3}_videos.txt``;
* motion videos (:func:`make_motion_videos`, Something-Something-like):
  ``motion/{train,val}/<n>.mp4`` clips of the same kind of object (a digit) in every
  class, the class being *how* it moves (:data:`MOTIONS`: move right / left, down /
  up, rotate clockwise / counter-clockwise, zoom in / out), with
  ``motion/{train,val}_list.txt`` (``<file> <label>``). A single frame has the same
  distribution in every class, and every class is the time reversal of another, so
  neither one frame nor the unordered frames tell the direction of a motion: only
  temporal order does;
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


# Something-Something-like motions of one object; each odd class is the time reversal of
# the even class before it (the same clip played backwards).
MOTIONS = ('move_right', 'move_left', 'move_down', 'move_up', 'rotate_cw', 'rotate_ccw',
           'zoom_in', 'zoom_out')


def motion_states(motion: int, num_frames: int, size: int, rng: np.random.Generator):
    """Per-frame centre ``(T, 2)`` (x, y), angle ``(T,)`` (degrees, counter-clockwise on
    screen) and size ``(T,)`` (px) of the object for ``MOTIONS[motion]``.

    Every clip draws the same four offsets, a horizontal and a vertical shift, a turn and
    a zoom factor, each ``u * amplitude`` around a random base state: in ``move_right``
    / ``move_left`` the horizontal shift runs with time (``u`` from -0.5 to 0.5), in
    ``move_down`` / ``move_up`` the vertical one, in ``rotate_*`` the turn, in ``zoom_*``
    the zoom; the other offsets are still, with ``u`` drawn once per clip. So the state
    in one frame has the same distribution in every class; only how it changes over
    time tells the classes apart.
    """
    pair, reverse = motion // 2, motion % 2 == 1
    u = np.linspace(-0.5, 0.5, num_frames)
    offsets = [u if pair == k else np.full(num_frames, rng.uniform(-0.5, 0.5)) for k in range(4)]
    centre = rng.uniform(0.4, 0.6, size=2) * size + np.stack(offsets[:2], axis=1) * rng.uniform(0.25, 0.4) * size
    angle = rng.uniform(0, 360) - offsets[2] * rng.uniform(90, 150)  # decreasing: clockwise on screen
    scale = rng.uniform(0.4, 0.55) * size * rng.uniform(1.8, 2.4) ** offsets[3]
    states = centre, angle, scale
    return tuple(x[::-1] for x in states) if reverse else states


def motion_clip(digit: np.ndarray, motion: int, num_frames: int, size: int,
                rng: np.random.Generator) -> np.ndarray:
    """``(T, size, size, 3)`` uint8 frames of a digit performing ``MOTIONS[motion]`` on a
    plain background of a random colour."""
    import cv2
    centre, angle, scale = motion_states(motion, num_frames, size, rng)
    color = rng.uniform(120, 255, size=3) * rng.permutation([1.0, rng.uniform(0.3, 1), rng.uniform(0, 0.6)])
    background = rng.uniform(0, 90, size=3)
    big = cv2.resize(digit, (64, 64), interpolation=cv2.INTER_CUBIC).clip(0, 1).astype(np.float32)
    frames = np.empty((num_frames, size, size, 3), np.uint8)
    for t in range(num_frames):
        warp = cv2.getRotationMatrix2D((32.0, 32.0), float(angle[t]), float(scale[t]) / 64)
        warp[:, 2] += centre[t] - 32.0
        alpha = cv2.warpAffine(big, warp, (size, size), flags=cv2.INTER_LINEAR)[..., None]
        frames[t] = (background * (1 - alpha) + color * alpha).clip(0, 255).astype(np.uint8)
    return frames


def make_motion_videos(out: str, num_train: int = 96, num_val: int = 48, num_frames: int = 16,
                       size: int = 64, seed: int = 0) -> Dict[str, int]:
    """Write the motion videos (:data:`MOTIONS`, balanced classes) as
    ``motion/{train,val}/<n>.mp4`` with ``motion/{train,val}_list.txt``.

    Written at ``size`` px for models that read them at half that size (the study
    resizes them to 32 px): ``mp4v`` at 32 px blurs the digits' strokes (error about 60%
    of a stroke patch's contrast against 20% when written at 64 px and downscaled)."""
    images, _ = _digits()
    rng = np.random.default_rng(seed + 2)
    root = osp.join(out, 'motion')
    counts = {}
    for split, count in (('train', num_train), ('val', num_val)):
        lines = []
        for n in range(count):
            motion = n % len(MOTIONS)
            rel = f'{split}/{n:04d}.mp4'
            digit = images[rng.integers(len(images))]
            write_video(osp.join(root, rel), motion_clip(digit, motion, num_frames, size, rng))
            lines.append(f'{rel} {motion}')
        with open(osp.join(root, f'{split}_list.txt'), 'w') as f:
            f.write('\n'.join(lines) + '\n')
        counts[split] = count
    return counts


# -- camera motion over natural photos (the study's video task) --------------------------
CAMERA_MOTIONS = ('pan_right', 'pan_left', 'pan_down', 'pan_up', 'rotate_cw', 'rotate_ccw',
                  'zoom_in', 'zoom_out')


def _photos(scale: float = 0.5):
    """scikit-learn's two bundled photos (china.jpg, flower.jpg; 427 x 640 RGB), scaled
    by ``scale`` with area averaging (so that the camera below samples them without
    aliasing), as float32 arrays."""
    import cv2
    from sklearn.datasets import load_sample_images
    return [cv2.resize(p, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA).astype(np.float32)
            for p in load_sample_images().images]


def camera_states(motion: int, num_frames: int, rng: np.random.Generator):
    """Per-frame offsets of a camera for ``CAMERA_MOTIONS[motion]``: horizontal and
    vertical pan, turn and zoom, each ``u`` in [-0.5, 0.5] (``(T, 4)``).

    As in :func:`motion_states`: one offset runs with time (``u`` from -0.5 to 0.5, or
    back for the odd class of a pair), the three others are still at a value drawn once
    per clip from the same range; so one frame's camera state has the same
    distribution in every class, and every class is the time reversal of another.
    """
    pair, reverse = motion // 2, motion % 2 == 1
    u = np.linspace(-0.5, 0.5, num_frames)
    if reverse:
        u = u[::-1]
    return np.stack([u if pair == k else np.full(num_frames, rng.uniform(-0.5, 0.5))
                     for k in range(4)], axis=1)


def camera_clip(photo: np.ndarray, motion: int, num_frames: int, size: int,
                rng: np.random.Generator, view_range=(0.9, 1.3), min_contrast: float = 30.0) -> np.ndarray:
    """``(T, size, size, 3)`` uint8 frames of a camera moving over ``photo``
    (``CAMERA_MOTIONS[motion]``): the view is a square of ``view`` photo pixels around a
    random centre at a random angle, mapped to ``size`` px; the pan covers 30-45% of
    the view, the turn 60-100 degrees, the zoom a factor 1.6-2.0 over the clip.
    Content (photo, place, flip, colour gains) is drawn independently of the class."""
    import cv2
    offsets = camera_states(motion, num_frames, rng)
    if rng.random() < 0.5:
        photo = photo[:, ::-1]
    gains = rng.uniform(0.7, 1.3, size=3).astype(np.float32)
    h, w = photo.shape[:2]
    view = rng.uniform(*view_range) * size
    pan = offsets[:, :2] * rng.uniform(0.3, 0.45) * view
    angle = rng.uniform(0, 360) + offsets[:, 2] * rng.uniform(60, 100)
    zoom = rng.uniform(1.6, 2.0) ** offsets[:, 3]
    reach = view * 1.5 * 0.75 + 0.3 * view  # half-diagonal of the largest view plus the pan
    for _ in range(100):  # a place with texture: a flat view shows no motion
        centre = np.array([rng.uniform(reach, w - reach), rng.uniform(reach, h - reach)])
        x, y, r = int(centre[0]), int(centre[1]), int(view / 2)
        if photo[y - r:y + r, x - r:x + r].std(axis=(0, 1)).mean() >= min_contrast:
            break
    frames = np.empty((num_frames, size, size, 3), np.uint8)
    for t in range(num_frames):
        # output pixel -> photo pixel: rotate, scale by the view, move to the centre
        scale = view * zoom[t] / size
        theta = np.deg2rad(angle[t])
        rot = scale * np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
        shift = centre + pan[t] - rot @ np.array([size / 2, size / 2])
        warp = np.concatenate([rot, shift[:, None]], axis=1)
        frame = cv2.warpAffine(photo, warp, (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_REFLECT)
        frames[t] = (frame * gains).clip(0, 255).astype(np.uint8)
    return frames


def write_lossless_video(path: str, frames: np.ndarray, fps: int = 25):
    """Write ``(T, H, W, 3)`` RGB uint8 frames losslessly (FFV1 in an .avi): decord
    decodes them bit for bit (no codec artefacts)."""
    import cv2
    t, h, w, _ = frames.shape
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'FFV1'), fps, (w, h))
    if not writer.isOpened():
        raise RuntimeError(f'OpenCV could not open an FFV1 video writer for {path}')
    for frame in frames:
        writer.write(frame[..., ::-1].copy())  # RGB -> BGR
    writer.release()


def make_camera_videos(out: str, num_train: int = 96, num_val: int = 48, num_frames: int = 16,
                       size: int = 32, seed: int = 0, photo_scale: float = 0.5,
                       view_range=(0.9, 1.3)) -> Dict[str, int]:
    """Write camera-motion clips over natural photos (:data:`CAMERA_MOTIONS`, balanced
    classes) as lossless ``camera/{train,val}/<n>.avi`` with
    ``camera/{train,val}_list.txt`` (``<file> <label>``). The train clips view the left
    60% of each photo, the held-out clips the right 40%: no held-out pixel is seen in
    pre-training."""
    photos = _photos(photo_scale)
    rng = np.random.default_rng(seed + 3)
    root = osp.join(out, 'camera')
    counts = {}
    for split, count in (('train', num_train), ('val', num_val)):
        lines = []
        for n in range(count):
            motion = n % len(CAMERA_MOTIONS)
            photo = photos[rng.integers(len(photos))]
            cut = int(0.6 * photo.shape[1])
            part = photo[:, :cut] if split == 'train' else photo[:, cut:]
            rel = f'{split}/{n:04d}.avi'
            write_lossless_video(osp.join(root, rel), camera_clip(part, motion, num_frames, size, rng, view_range))
            lines.append(f'{rel} {motion}')
        with open(osp.join(root, f'{split}_list.txt'), 'w') as f:
            f.write('\n'.join(lines) + '\n')
        counts[split] = count
    return counts


def cluttered_digit(digit: np.ndarray, background: np.ndarray, size: int,
                    rng: np.random.Generator, scale_range=(0.45, 0.75), tilt: float = 20.0,
                    blur: float = 0.0) -> np.ndarray:
    """A ``size x size`` RGB uint8 picture of an 8x8 digit drawn at a random place,
    scale (45-75% of the picture), tilt (up to 20 degrees) and colour over
    ``background`` (a crop of a photo)."""
    import cv2
    big = cv2.resize(digit, (64, 64), interpolation=cv2.INTER_CUBIC).clip(0, 1).astype(np.float32)
    if blur:
        background = cv2.GaussianBlur(np.ascontiguousarray(background, dtype=np.float32), (0, 0), blur)
    scale = rng.uniform(*scale_range) * size
    centre = rng.uniform(0.5 * scale, size - 0.5 * scale, size=2)
    warp = cv2.getRotationMatrix2D((32.0, 32.0), float(rng.uniform(-tilt, tilt)), scale / 64)
    warp[:, 2] += centre - 32.0
    alpha = cv2.warpAffine(big, warp, (size, size), flags=cv2.INTER_LINEAR)[..., None]
    color = rng.uniform(0, 255, size=3)
    if abs(color.mean() - background.mean()) < 64:  # keep the digit visible
        color = np.where(background.mean() > 127, color * 0.3, 255 - (255 - color) * 0.3)
    img = background * (1 - alpha) + color * alpha
    return img.clip(0, 255).astype(np.uint8)


def make_cluttered_digits(out: str, num_train: int = 1297, num_val: int = 500, size: int = 32,
                          seed: int = 0, name: str = 'clutter', **style) -> Dict[str, int]:
    """Digits over crops of natural photos (:func:`cluttered_digit`), lossless PNGs in
    the ImageNet-style tree of :func:`make_images` (``clutter/{train,val}/<class>/<n>.png``,
    ``clutter/meta/{train,val}.txt``). Train and held-out digits are different
    scikit-learn samples; their backgrounds come from the left 60% and the right 40%
    of the photos."""
    from PIL import Image
    images, labels = _digits()
    photos = _photos()
    rng = np.random.default_rng(seed + 4)
    order = rng.permutation(len(images))
    splits = {'train': order[:num_train], 'val': order[num_train:num_train + num_val]}
    root = osp.join(out, name)
    os.makedirs(osp.join(root, 'meta'), exist_ok=True)
    for split, idx in splits.items():
        lines = []
        for n, i in enumerate(idx):
            photo = photos[rng.integers(len(photos))]
            cut = int(0.6 * photo.shape[1])
            part = photo[:, :cut] if split == 'train' else photo[:, cut:]
            y, x = rng.integers(0, part.shape[0] - size), rng.integers(0, part.shape[1] - size)
            background = part[y:y + size, x:x + size] * rng.uniform(0.6, 1.2, size=3)
            rel = f'digit_{labels[i]}/{n:05d}.png'
            path = osp.join(root, split, rel)
            os.makedirs(osp.dirname(path), exist_ok=True)
            Image.fromarray(cluttered_digit(images[i], background, size, rng, **style)).save(path)
            lines.append(f'{rel} {labels[i]}')
        with open(osp.join(root, 'meta', f'{split}.txt'), 'w') as f:
            f.write('\n'.join(lines) + '\n')
    return {k: len(v) for k, v in splits.items()}


def object_clip(texture: np.ndarray, background: np.ndarray, motion: int, num_frames: int,
                size: int, rng: np.random.Generator) -> np.ndarray:
    """``(T, size, size, 3)`` uint8 frames of a square of photo texture performing
    ``MOTIONS[motion]`` (:func:`motion_states`) over a still, blurred photo crop."""
    import cv2
    centre, angle, scale = motion_states(motion, num_frames, size, rng)
    side = texture.shape[0]
    ones = np.ones((side, side), np.float32)
    bg = cv2.GaussianBlur(background, (0, 0), sigmaX=2.0).astype(np.float32)
    frames = np.empty((num_frames, size, size, 3), np.uint8)
    for t in range(num_frames):
        warp = cv2.getRotationMatrix2D((side / 2, side / 2), float(angle[t]), float(scale[t]) / side * 0.8)
        warp[:, 2] += centre[t] - side / 2
        tex = cv2.warpAffine(texture, warp, (size, size), flags=cv2.INTER_LINEAR)
        alpha = cv2.warpAffine(ones, warp, (size, size), flags=cv2.INTER_LINEAR)[..., None]
        frames[t] = (bg * (1 - alpha) + tex * alpha).clip(0, 255).astype(np.uint8)
    return frames


def digit_over_photo_clip(digit: np.ndarray, background: np.ndarray, motion: int, num_frames: int,
                          size: int, rng: np.random.Generator, blur: float = 2.0) -> np.ndarray:
    """A digit of a random colour performing ``MOTIONS[motion]`` over a still, blurred
    photo crop (``blur``: Gaussian sigma in px; 0 keeps the photo sharp)."""
    import cv2
    bg = np.ascontiguousarray(background, dtype=np.float32)
    if blur:
        bg = cv2.GaussianBlur(bg, (0, 0), sigmaX=blur)
    color = rng.uniform(0, 255, size=3)
    if abs(color.mean() - bg.mean()) < 64:  # keep the digit visible
        color = np.where(bg.mean() > 127, color * 0.3, 255 - (255 - color) * 0.3)
    centre, angle, scale = motion_states(motion, num_frames, size, rng)
    big = cv2.resize(digit, (64, 64), interpolation=cv2.INTER_CUBIC).clip(0, 1).astype(np.float32)
    frames = np.empty((num_frames, size, size, 3), np.uint8)
    for t in range(num_frames):
        warp = cv2.getRotationMatrix2D((32.0, 32.0), float(angle[t]), float(scale[t]) / 64)
        warp[:, 2] += centre[t] - 32.0
        alpha = cv2.warpAffine(big, warp, (size, size), flags=cv2.INTER_LINEAR)[..., None]
        frames[t] = (bg * (1 - alpha) + color * alpha).clip(0, 255).astype(np.uint8)
    return frames


def make_object_videos(out: str, num_train: int = 96, num_val: int = 48, num_frames: int = 16,
                       size: int = 32, seed: int = 0, obj: str = 'texture', name: str = 'objects',
                       blur: float = 2.0) -> Dict[str, int]:
    """Object-motion clips over natural photos, lossless ``objects/{train,val}/<n>.avi``."""
    photos = _photos(1.0)
    digits, _ = _digits()
    rng = np.random.default_rng(seed + 5)
    root = osp.join(out, name)
    counts = {}
    for split, count in (('train', num_train), ('val', num_val)):
        lines = []
        for n in range(count):
            motion = n % len(MOTIONS)
            crops = []
            for k in range(2):
                photo = photos[rng.integers(len(photos))]
                cut = int(0.6 * photo.shape[1])
                part = photo[:, :cut] if split == 'train' else photo[:, cut:]
                side = size if k else 24
                for _ in range(100):
                    y, x = rng.integers(0, part.shape[0] - side), rng.integers(0, part.shape[1] - side)
                    crop = part[y:y + side, x:x + side]
                    if k or crop.std(axis=(0, 1)).mean() >= 30:
                        break
                crops.append(np.ascontiguousarray(crop))
            rel = f'{split}/{n:04d}.avi'
            if obj == 'digit':
                clip = digit_over_photo_clip(digits[rng.integers(len(digits))], crops[1], motion,
                                             num_frames, size, rng, blur)
            else:
                clip = object_clip(crops[0], crops[1], motion, num_frames, size, rng)
            write_lossless_video(osp.join(root, rel), clip)
            lines.append(f'{rel} {motion}')
        with open(osp.join(root, f'{split}_list.txt'), 'w') as f:
            f.write('\n'.join(lines) + '\n')
        counts[split] = count
    return counts

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
