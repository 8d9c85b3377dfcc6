"""The study's data (``tools/study.py``, docs/STUDY.md): generated from what scikit-learn
ships (its 1797 8x8 digits and its two photos, ``china.jpg`` and ``flower.jpg``). Clips
are stored without loss (PNG), so every arm reads exactly the generated pixels; the
pictures are the demo's JPEGs (quality 95), decoded the same way for every arm.

* Videos (:func:`make_photo_motion`): a digit of a random colour performing one of
  eight motions (:data:`MOTIONS`) over a still, blurred crop of a photo; 16 frames
  of 32 x 32 px per clip as mmaction2 raw frames
  (``photomotion/{train,val}/<n>/img_00001.png``, lists ``<dir> 16 <label>``). One
  frame has the same distribution in every class and every class is the time
  reversal of another (:func:`motion_states`): only the frames' order tells the
  classes apart.
* Images (:func:`make_tinted_digits`): the demo's tinted digits, still, in the
  ImageNet-style tree mmpretrain's ``CustomDataset`` reads
  (``images/{train,val}/digit_<k>/<n>.jpg``, ``images/meta/{train,val}.txt``).
  :data:`IMAGE_TASKS` also holds the harder pictures the pilots tried (digits over
  blurred photo crops, digits of random place and size; docs/STUDY.md).

Train and held-out samples use different digits of scikit-learn's set and
backgrounds from different parts of the photos (the left 60% and the right 40%).
:data:`VIDEO_TASKS` also holds the tasks the pilots tried and left (docs/STUDY.md).
"""
import os
import os.path as osp
from typing import Callable, Dict

import numpy as np

from .demo_data import _digits

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


def photos(scale: float = 1.0):
    """scikit-learn's two photos (427 x 640 RGB) as float32, scaled by ``scale`` with
    area averaging."""
    import cv2
    from sklearn.datasets import load_sample_images
    return [cv2.resize(p, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA).astype(np.float32)
            for p in load_sample_images().images]


def photo_crop(photos_, split: str, size: int, rng: np.random.Generator,
               min_contrast: float = 0.0) -> np.ndarray:
    """A random ``size x size`` crop of a random photo: from its left 60% for ``'train'``,
    its right 40% otherwise; with ``min_contrast``, the first of up to 100 draws whose
    mean per-channel std reaches it."""
    photo = photos_[rng.integers(len(photos_))]
    cut = int(0.6 * photo.shape[1])
    part = photo[:, :cut] if split == 'train' else photo[:, cut:]
    for _ in range(100):
        y, x = rng.integers(0, part.shape[0] - size), rng.integers(0, part.shape[1] - size)
        crop = part[y:y + size, x:x + size]
        if crop.std(axis=(0, 1)).mean() >= min_contrast:
            break
    return np.ascontiguousarray(crop)


def _visible_colour(background: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random colour, pushed away from the background's mean brightness."""
    color = rng.uniform(0, 255, size=3)
    if abs(color.mean() - background.mean()) < 64:
        color = np.where(background.mean() > 127, color * 0.3, 255 - (255 - color) * 0.3)
    return color


def _blurred(background: np.ndarray, sigma: float) -> np.ndarray:
    import cv2
    bg = np.ascontiguousarray(background, dtype=np.float32)
    return cv2.GaussianBlur(bg, (0, 0), sigmaX=sigma) if sigma else bg


def _digit_alpha(digit: np.ndarray, centre, angle: float, scale: float, size: int) -> np.ndarray:
    import cv2
    big = cv2.resize(digit, (64, 64), interpolation=cv2.INTER_CUBIC).clip(0, 1).astype(np.float32)
    warp = cv2.getRotationMatrix2D((32.0, 32.0), float(angle), float(scale) / 64)
    warp[:, 2] += np.asarray(centre, dtype=np.float64) - 32.0
    return cv2.warpAffine(big, warp, (size, size), flags=cv2.INTER_LINEAR)[..., None]


def digit_motion_clip(digit: np.ndarray, background: np.ndarray, motion: int, num_frames: int,
                      size: int, rng: np.random.Generator, blur: float = 2.0) -> np.ndarray:
    """``(T, size, size, 3)`` uint8 frames: a digit of a random colour performing
    ``MOTIONS[motion]`` over ``background`` (a photo crop, Gaussian-blurred by
    ``blur`` px; 0 keeps it sharp), which stays still."""
    bg = _blurred(background, blur)
    color = _visible_colour(bg, rng)
    centre, angle, scale = motion_states(motion, num_frames, size, rng)
    frames = np.empty((num_frames, size, size, 3), np.uint8)
    for t in range(num_frames):
        alpha = _digit_alpha(digit, centre[t], angle[t], scale[t], size)
        frames[t] = (bg * (1 - alpha) + color * alpha).clip(0, 255).astype(np.uint8)
    return frames


def texture_motion_clip(digit: np.ndarray, background: np.ndarray, motion: int, num_frames: int,
                        size: int, rng: np.random.Generator, blur: float = 2.0) -> np.ndarray:
    """Pilot task left (docs/STUDY.md): a square of sharp photo texture (a crop of the
    same photo region) performing ``MOTIONS[motion]`` over the blurred ``background``."""
    import cv2
    side = 24
    texture = np.ascontiguousarray(background[:side, :side])
    centre, angle, scale = motion_states(motion, num_frames, size, rng)
    bg = _blurred(background, blur)
    ones = np.ones((side, side), np.float32)
    frames = np.empty((num_frames, size, size, 3), np.uint8)
    for t in range(num_frames):
        warp = cv2.getRotationMatrix2D((side / 2, side / 2), float(angle[t]), float(scale[t]) / side * 0.8)
        warp[:, 2] += centre[t] - side / 2
        tex = cv2.warpAffine(texture, warp, (size, size), flags=cv2.INTER_LINEAR)
        alpha = cv2.warpAffine(ones, warp, (size, size), flags=cv2.INTER_LINEAR)[..., None]
        frames[t] = (bg * (1 - alpha) + tex * alpha).clip(0, 255).astype(np.uint8)
    return frames


# name -> (clip function, background crop size as a multiple of the frame size, min contrast)
VIDEO_TASKS: Dict[str, tuple] = {
    'photomotion': (digit_motion_clip, 1, 0.0),
    'texturemotion': (texture_motion_clip, 1, 30.0),
}


def write_frame_folder(folder: str, frames: np.ndarray, tmpl: str = 'img_{:05d}.png'):
    """``(T, H, W, 3)`` RGB uint8 frames as 1-based lossless PNGs (mmaction2 raw frames)."""
    from PIL import Image
    os.makedirs(folder, exist_ok=True)
    for i, frame in enumerate(frames, start=1):
        Image.fromarray(frame).save(osp.join(folder, tmpl.format(i)))


def make_photo_motion(out: str, num_train: int = 96, num_val: int = 48, num_frames: int = 16,
                      size: int = 32, seed: int = 0, task: str = 'photomotion') -> Dict[str, int]:
    """Write the motion clips of ``task`` (:data:`VIDEO_TASKS`; balanced classes) as raw
    frames ``<task>/{train,val}/<n>/img_00001.png`` with ``<task>/{train,val}_list.txt``
    (``<split>/<n> <num_frames> <label>``); returns the clips per split."""
    clip_fn, _, min_contrast = VIDEO_TASKS[task]
    digits, _ = _digits()
    photos_ = photos()
    rng = np.random.default_rng(seed + 5)
    root = osp.join(out, task)
    counts = {}
    for split, count in (('train', num_train), ('val', num_val)):
        lines = []
        for n in range(count):
            motion = n % len(MOTIONS)
            background = photo_crop(photos_, split, size, rng, min_contrast)
            clip = clip_fn(digits[rng.integers(len(digits))], background, motion, num_frames, size, rng)
            write_frame_folder(osp.join(root, split, f'{n:04d}'), clip)
            lines.append(f'{split}/{n:04d} {num_frames} {motion}')
        with open(osp.join(root, f'{split}_list.txt'), 'w') as f:
            f.write('\n'.join(lines) + '\n')
        counts[split] = count
    return counts


def photo_digit(digit: np.ndarray, background: np.ndarray, size: int, rng: np.random.Generator,
                blur: float = 3.0, scale_range=(0.6, 0.8), tilt: float = 10.0) -> np.ndarray:
    """A ``size x size`` RGB uint8 picture: a digit of a random colour, place, scale
    (``scale_range`` of the picture) and tilt (up to ``tilt`` degrees) over a photo
    crop blurred by ``blur`` px."""
    bg = _blurred(background, blur)
    color = _visible_colour(bg, rng)
    scale = rng.uniform(*scale_range) * size
    centre = rng.uniform(0.5 * scale, size - 0.5 * scale, size=2)
    alpha = _digit_alpha(digit, centre, rng.uniform(-tilt, tilt), scale, size)
    return (bg * (1 - alpha) + color * alpha).clip(0, 255).astype(np.uint8)


def _write_digit_tree(root: str, num_train: int, num_val: int, rng: np.random.Generator,
                      draw: Callable) -> Dict[str, int]:
    """Pictures ``draw(digit, split)`` of scikit-learn's digits (different digits in
    train and held-out, dealt by ``rng``) as ``root/{train,val}/digit_<k>/<n>.png`` with
    ``root/meta/{train,val}.txt`` (``digit_<k>/<n>.png <k>``)."""
    from PIL import Image
    images, labels = _digits()
    order = rng.permutation(len(images))
    splits = {'train': order[:num_train], 'val': order[num_train:num_train + num_val]}
    os.makedirs(osp.join(root, 'meta'), exist_ok=True)
    for split, idx in splits.items():
        lines = []
        for n, i in enumerate(idx):
            rel = f'digit_{labels[i]}/{n:05d}.png'
            path = osp.join(root, split, rel)
            os.makedirs(osp.dirname(path), exist_ok=True)
            Image.fromarray(draw(images[i], split)).save(path)
            lines.append(f'{rel} {labels[i]}')
        with open(osp.join(root, 'meta', f'{split}.txt'), 'w') as f:
            f.write('\n'.join(lines) + '\n')
    return {k: len(v) for k, v in splits.items()}


def make_photo_digits(out: str, num_train: int = 1297, num_val: int = 500, size: int = 32,
                      seed: int = 0, name: str = 'photodigits', **style) -> Dict[str, int]:
    """Write :func:`photo_digit` pictures (:func:`_write_digit_tree`) under ``<name>/``."""
    photos_ = photos()
    rng = np.random.default_rng(seed + 4)

    def draw(digit, split):
        background = photo_crop(photos_, split, size, rng) * rng.uniform(0.6, 1.2, size=3)
        return photo_digit(digit, background, size, rng, **style)
    return _write_digit_tree(osp.join(out, name), num_train, num_val, rng, draw)


def placed_digit(digit: np.ndarray, size: int, rng: np.random.Generator,
                 scale_range=(0.5, 0.65)) -> np.ndarray:
    """A ``size x size`` RGB uint8 picture: a digit of a random bright colour, scale
    (``scale_range`` of the picture) and place over a dark background of a random colour
    with a little noise."""
    bg = rng.uniform(0, 90, size=3)
    fg = rng.uniform(120, 255, size=3)
    scale = rng.uniform(*scale_range) * size
    centre = rng.uniform(0.5 * scale, size - 0.5 * scale, size=2)
    alpha = _digit_alpha(digit, centre, 0.0, scale, size)
    img = bg * (1 - alpha) + fg * alpha + rng.normal(0, 8, size=(size, size, 1))
    return img.clip(0, 255).astype(np.uint8)


def make_placed_digits(out: str, num_train: int = 1297, num_val: int = 500, size: int = 32,
                       seed: int = 0, name: str = 'placeddigits') -> Dict[str, int]:
    """Write :func:`placed_digit` pictures (:func:`_write_digit_tree`) under ``<name>/``."""
    rng = np.random.default_rng(seed + 6)
    return _write_digit_tree(osp.join(out, name), num_train, num_val, rng,
                             lambda digit, split: placed_digit(digit, size, rng))


def make_tinted_digits(out: str, num_train: int = 1297, num_val: int = 500, size: int = 32,
                       seed: int = 0) -> Dict[str, int]:
    """The demo's pictures (:func:`amd_mm.tools_lib.demo_data.make_images`: a centred digit
    of a random bright colour over a dark one, a little noise) under ``images/``."""
    from .demo_data import make_images
    return make_images(out, num_train=num_train, num_val=num_val, size=size, seed=seed)


# name -> (folder under the data root, writer); the study uses 'digits', the others are
# the pilots' harder variants (docs/STUDY.md)
IMAGE_TASKS: Dict[str, tuple] = {'digits': ('images', make_tinted_digits),
                                 'photodigits': ('photodigits', make_photo_digits),
                                 'placeddigits': ('placeddigits', make_placed_digits)}
