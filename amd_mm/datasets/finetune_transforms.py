"""Pipeline pieces of the official AMD / VideoMAE fine-tuning recipe that the
toolboxes lack (run_class_finetuning.py and dataset/ of MCG-NJU/AMD at 8d2ec6f).

* :class:`ClipRandAugment`: timm's RandAugment (``rand-m7-n4-mstd0.5-inc1``), its
  random choices drawn once per clip and applied to every frame.
* :class:`PixelRandomErasing`: random erasing whose fill is per-pixel ``N(0, 1)`` in
  the normalised units the model sees (timm's ``'pixel'`` mode), run before the data
  preprocessor normalises; one box for all frames of a clip.
* :class:`SegmentSample`: TSN-style segment sampling (one frame in each of
  ``num_segments`` equal segments over the whole video), the official SSv2 sampling.
* :class:`SpanSample`: one clip of ``clip_len`` frames spread evenly over a window of
  ``clip_len x frame_interval`` frames, the official Kinetics sampling (and the SSv2
  pre-training one).
* :class:`StrideSample`: every ``frame_interval``-th frame from a random start, with the
  official loader's stepping rule at the end of short videos (Kinetics pre-training).

The samplers draw with numpy exactly as the official datasets do, so the same seed
gives the official frame indices.
"""
import random
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform
from mmpretrain.registry import TRANSFORMS as MMPRETRAIN_TRANSFORMS

_PIL_INTERPOLATION = ('nearest', 'bilinear', 'bicubic', 'lanczos', 'hamming', 'box')


def _as_clip(frames) -> np.ndarray:
    """The frames as one ``(T, H, W, C)`` array: the decoded batch they are views of
    (decord's ``DecordDecode`` splits one array into frames; it is only read here), else
    a stacked copy."""
    base = frames[0].base
    if (isinstance(base, np.ndarray) and base.ndim == 4 and len(base) == len(frames)
            and base.flags.c_contiguous
            and all(f.base is base and f.ctypes.data == base[i].ctypes.data
                    for i, f in enumerate(frames))):
        return base
    return np.stack(frames)


class _Recorded:
    """Stands in for a timm ``AugmentOp.aug_fn``: instead of transforming an image, adds
    the call (timm's operation function, its level arguments and keywords) to the plan
    that timm's ``RandAugment`` passes along."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, plan, *args, **kwargs):
        return plan + [(self.fn, args, kwargs)]


@TRANSFORMS.register_module()
class ClipRandAugment(BaseTransform):
    """timm RandAugment applied with the same random parameters to every frame.

    The augmentation is timm's own (``timm.data.auto_augment.rand_augment_transform``):
    the ops are chosen with ``numpy.random`` and each op's application, magnitude
    noise and sign are drawn from Python's ``random``, by timm's ``RandAugment`` and
    ``AugmentOp`` code, once per clip (the next clip, or the next repeated view, draws
    anew).

    Two backends apply the drawn ops:

    * ``'clip'`` (default): timm's objects draw (their image functions replaced by a
      recorder, :meth:`draw`), then each op runs once on the whole ``(T, H, W, 3)`` clip
      (:mod:`amd_mm.datasets.clip_ops`) with Pillow's own arithmetic, so the output is
      timm's byte for byte. Ops without a whole-clip version (rotation, which Pillow
      does faster; warps with filters other than bilinear and bicubic) run frame by
      frame through timm, their own draws repeated per frame.
    * ``'pillow'``: timm's transform on every frame through Pillow, Python's and numpy's
      generators snapshotted before the first frame and restored before every other
      frame (the reference; several times slower).

    Args:
        config_str (str): timm's RandAugment string; the official fine-tuning recipe
            is ``'rand-m7-n4-mstd0.5-inc1'`` (magnitude 7 of 10 with noise std 0.5,
            4 ops, each applied with probability 0.5, the increasing op set).
        interpolation (str): PIL resampling of the geometric ops (official: bicubic).
        hparams (dict, optional): further timm hparams, e.g. ``translate_const``
            (the official code passes ``int(0.45 x crop size)``) or ``img_mean`` (the
            fill of geometric ops; timm's default grey 128).
        backend (str): ``'clip'`` or ``'pillow'``, see above.

    Frames (``results['imgs']``, H x W x 3 uint8, RGB) are replaced by new arrays,
    the input frames are left untouched.
    """

    def __init__(self, config_str: str = 'rand-m7-n4-mstd0.5-inc1',
                 interpolation: str = 'bicubic', hparams: Optional[dict] = None,
                 backend: str = 'clip'):
        import copy

        from PIL import Image
        from timm.data.auto_augment import rand_augment_transform
        if interpolation not in _PIL_INTERPOLATION:
            raise ValueError(f'ClipRandAugment.interpolation={interpolation!r} must be one of '
                             f'{_PIL_INTERPOLATION}')
        if backend not in ('clip', 'pillow'):
            raise ValueError(f"ClipRandAugment.backend={backend!r} must be 'clip' or 'pillow'")
        self.config_str = config_str
        self.interpolation = interpolation
        self.hparams = dict(hparams or {})
        self.backend = backend
        timm_hparams = dict(self.hparams)  # timm adds magnitude_std to the dict it gets
        timm_hparams['interpolation'] = getattr(Image.Resampling, interpolation.upper())
        self.augment = rand_augment_transform(config_str, timm_hparams)
        # the same timm objects, their image functions replaced by recorders
        self._recorder = copy.copy(self.augment)
        self._recorder.ops = []
        for op in self.augment.ops:
            recorded = copy.copy(op)
            recorded.aug_fn = _Recorded(op.aug_fn)
            self._recorder.ops.append(recorded)

    def draw(self) -> List[tuple]:
        """One clip's ops as timm draws them: ``[(timm op function, args, kwargs), ...]``
        in the order they apply (ops that the draw skipped are absent)."""
        return self._recorder([])

    def transform(self, results: Dict) -> Dict:
        frames = results['imgs']
        shapes = {(f.shape, f.dtype) for f in frames}
        whole_clip = (self.backend == 'clip' and len(shapes) == 1
                      and frames[0].ndim == 3 and frames[0].shape[2] == 3
                      and frames[0].dtype == np.uint8)
        if not whole_clip:
            results['imgs'] = self._frame_by_frame(self.augment, frames)
            return results
        from . import clip_ops
        clip = decoded = _as_clip(frames)
        for fn, args, kwargs in self.draw():
            op = clip_ops.clip_op(fn, kwargs)
            if op is not None:
                clip = op(clip, *args, **kwargs)
            else:
                clip = np.stack(self._frame_by_frame(lambda img: fn(img, *args, **kwargs), clip))
        if clip is decoded:  # nothing applied: still new arrays (the input may be shared)
            clip = clip.copy()
        results['imgs'] = list(clip)
        return results

    @staticmethod
    def _frame_by_frame(augment, frames) -> list:
        """``augment`` on every frame through Pillow, with the draws of the first frame
        repeated on every other frame."""
        from PIL import Image
        py_state, np_state = random.getstate(), np.random.get_state()
        out = []
        for i, frame in enumerate(frames):
            if i:
                random.setstate(py_state)
                np.random.set_state(np_state)
            out.append(np.array(augment(Image.fromarray(frame))))  # writable
        return out

    def __repr__(self):
        return (f'{type(self).__name__}(config_str={self.config_str!r}, '
                f'interpolation={self.interpolation!r}, hparams={self.hparams}, '
                f'backend={self.backend!r})')


@TRANSFORMS.register_module()
@MMPRETRAIN_TRANSFORMS.register_module()
class PixelRandomErasing(BaseTransform):
    """Random erasing filled with per-pixel noise that is ``N(0, 1)`` after normalisation.

    The official recipe (timm's ``RandomErasing(mode='pixel')`` on the normalised
    tensor) fills the box with ``N(0, 1)``. Here the pipeline still holds pixels, so
    the box gets ``mean + std * N(0, 1)`` per pixel and channel as float32, unclipped
    and unrounded: the data preprocessor's ``(x - mean) / std`` turns it into exactly
    that ``N(0, 1)``. ``mean`` and ``std`` must be the preprocessor's, in the channel
    order of the arrays at this point (RGB for decord videos, BGR for images loaded
    by OpenCV in mmpretrain).

    With probability ``erase_prob`` a box is drawn as timm does: up to ``max_attempts``
    times an area ``U(min_area_ratio, max_area_ratio) x H x W`` and an aspect ratio
    log-uniform in ``[min_aspect, 1 / min_aspect]``, until the box fits strictly
    inside the image (otherwise nothing is erased). A clip (``results['imgs']``) gets
    one box for all its frames, each frame its own noise (the official ``cube``
    mode); an image (``results['img']``) its own box. Erased frames become float32;
    frames not erased keep their dtype.

    Args:
        mean (sequence of 3 floats): pixel mean of the data preprocessor.
        std (sequence of 3 floats): pixel std of the data preprocessor.
        erase_prob (float): probability of erasing (official ``--reprob`` 0.25).
        min_area_ratio, max_area_ratio (float): box area range (timm: 0.02, 1/3).
        min_aspect (float): aspect ratios log-uniform in ``[min_aspect, 1/min_aspect]``
            (timm: 0.3).
        max_attempts (int): draws until a box fits (official video: 100, timm's image
            erasing: 10).
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float], erase_prob: float = 0.25,
                 min_area_ratio: float = 0.02, max_area_ratio: float = 1 / 3,
                 min_aspect: float = 0.3, max_attempts: int = 100):
        if len(mean) != 3 or len(std) != 3:
            raise ValueError('PixelRandomErasing.mean and .std need one value per channel (3)')
        if not 0 <= erase_prob <= 1:
            raise ValueError(f'PixelRandomErasing.erase_prob={erase_prob} must be in [0, 1]')
        if not 0 < min_area_ratio <= max_area_ratio <= 1:
            raise ValueError('PixelRandomErasing needs 0 < min_area_ratio <= max_area_ratio <= 1')
        if not 0 < min_aspect <= 1:
            raise ValueError(f'PixelRandomErasing.min_aspect={min_aspect} must be in (0, 1]')
        self.mean = np.asarray(mean, np.float32)
        self.std = np.asarray(std, np.float32)
        self.erase_prob = float(erase_prob)
        self.min_area_ratio, self.max_area_ratio = float(min_area_ratio), float(max_area_ratio)
        self.log_aspect = (float(np.log(min_aspect)), float(-np.log(min_aspect)))
        self.max_attempts = int(max_attempts)

    def draw_box(self, height: int, width: int) -> Optional[tuple]:
        """``(top, left, h, w)`` of the box to erase, or None (no erasing)."""
        if np.random.rand() >= self.erase_prob:
            return None
        for _ in range(self.max_attempts):
            area = np.random.uniform(self.min_area_ratio, self.max_area_ratio) * height * width
            aspect = np.exp(np.random.uniform(*self.log_aspect))
            h = int(round(np.sqrt(area * aspect)))
            w = int(round(np.sqrt(area / aspect)))
            if w < width and h < height:
                return (int(np.random.randint(0, height - h + 1)),
                        int(np.random.randint(0, width - w + 1)), h, w)
        return None

    def _fill(self, shape) -> np.ndarray:
        """``mean + std * N(0, 1)`` per value, float32. The normals come from a numpy
        ``Generator`` seeded from the global numpy state (reproducible under
        ``np.random.seed``, as the box is; its sampler is several times faster than the
        legacy global one)."""
        rng = np.random.default_rng(np.random.randint(2**31, size=2))
        noise = rng.standard_normal(shape, dtype=np.float32)
        noise *= self.std
        noise += self.mean
        return noise

    def transform(self, results: Dict) -> Dict:
        key = 'imgs' if 'imgs' in results else 'img'
        frames = results[key] if key == 'imgs' else [results[key]]
        box = self.draw_box(*frames[0].shape[:2])
        if box is not None:
            top, left, h, w = box
            # all frames at once (one float copy), each its own noise
            clip = np.stack(frames).astype(np.float32)
            clip[:, top:top + h, left:left + w] = self._fill((len(frames), h, w, clip.shape[3]))
            results[key] = list(clip) if key == 'imgs' else clip[0]
        return results

    def __repr__(self):
        return (f'{type(self).__name__}(erase_prob={self.erase_prob}, '
                f'area=({self.min_area_ratio}, {self.max_area_ratio}), '
                f'min_aspect={np.exp(self.log_aspect[0]):.3g}, max_attempts={self.max_attempts})')


class _IndexSample(BaseTransform):
    """Common output of the samplers: frame indices of ``num_clips`` clips."""

    def __init__(self, clip_len: int, num_clips: int = 1, test_mode: bool = False):
        if clip_len < 1 or num_clips < 1:
            raise ValueError(f'{type(self).__name__} needs at least 1 frame per clip and 1 clip, '
                             f'got {clip_len} and {num_clips}')
        if num_clips > 1 and not test_mode:
            raise ValueError(f'{type(self).__name__}.num_clips > 1 is a test protocol: '
                             'set test_mode=True')
        self.clip_len = int(clip_len)
        self.num_clips = int(num_clips)
        self.test_mode = bool(test_mode)

    def indices(self, num_frames: int) -> np.ndarray:
        raise NotImplementedError

    def transform(self, results: Dict) -> Dict:
        inds = np.asarray(self.indices(int(results['total_frames'])), np.int64)
        results['frame_inds'] = (inds + results.get('start_index', 0)).astype(np.int32)
        results['clip_len'] = self.clip_len
        results['frame_interval'] = getattr(self, 'frame_interval', None)
        results['num_clips'] = self.num_clips
        return results


@TRANSFORMS.register_module()
class SegmentSample(_IndexSample):
    """TSN-style sampling over the whole video (official SSv2 fine-tuning).

    The video is cut into ``num_segments`` segments, one frame each; the clip has
    ``num_segments`` frames.

    * training: segments of ``n // num_segments`` frames, a random frame in each
      (``SSRawFrameClsDataset.load_frame``); a video with fewer frames than segments
      gives frame 0 repeated, then all its frames;
    * test (``test_mode=True``): segments of ``n / num_segments`` frames; clip 0 takes
      the first frame of each segment, clip ``k >= 1`` the frame ``tick / (num_clips +
      1 - k)`` later (``tick`` = segment length): the official ``test_num_segment``
      views (with 2 clips: segment starts, and half a segment later).

    Args:
        num_segments (int): frames per clip (official ``--num_frames`` 16).
        num_clips (int): test views (official ``--test_num_segment`` 2 for SSv2).
        test_mode (bool): deterministic test sampling.
    """

    def __init__(self, num_segments: int = 16, num_clips: int = 1, test_mode: bool = False):
        super().__init__(num_segments, num_clips, test_mode)

    def indices(self, num_frames: int) -> np.ndarray:
        segments = self.clip_len
        if self.test_mode:
            tick = num_frames / float(segments)
            offsets = [0.0] + [tick / (self.num_clips + 1 - k) for k in range(1, self.num_clips)]
            return np.array([int(tick * x + off) for off in offsets for x in range(segments)])
        average = num_frames // segments
        if average > 0:
            return np.arange(segments) * average + np.random.randint(average, size=segments)
        return np.array([0] * (segments - num_frames) + list(range(num_frames)))

    def __repr__(self):
        return (f'{type(self).__name__}(num_segments={self.clip_len}, '
                f'num_clips={self.num_clips}, test_mode={self.test_mode})')


@TRANSFORMS.register_module()
class SpanSample(_IndexSample):
    """Clips of ``clip_len`` frames over ``clip_len x frame_interval`` frames (official
    Kinetics fine-tuning, ``VideoClsDataset.loadvideo_decord``).

    * training: a window of ``span = clip_len x frame_interval`` frames ending at a
      random frame, ``clip_len`` frames spread evenly over it (``linspace``: steps of
      ``span / (clip_len - 1)`` frames, the last frame of the window included); a video
      no longer than the window gives ``n // frame_interval`` frames spread over it,
      then its last frame repeated;
    * test (``test_mode=True``): every ``frame_interval``-th frame (the last one
      repeated if fewer than ``clip_len``), ``num_clips`` runs of ``clip_len`` of them
      starting evenly from the first to the last possible start.

    Args:
        clip_len (int): frames per clip (official ``--num_frames`` 16).
        frame_interval (int): official ``--sampling_rate`` (4).
        num_clips (int): test views (official ``--test_num_segment`` 5 for K400).
        test_mode (bool): deterministic test sampling.
    """

    def __init__(self, clip_len: int = 16, frame_interval: int = 4, num_clips: int = 1,
                 test_mode: bool = False):
        super().__init__(clip_len, num_clips, test_mode)
        if frame_interval < 1:
            raise ValueError(f'SpanSample.frame_interval={frame_interval} must be >= 1')
        self.frame_interval = int(frame_interval)

    def indices(self, num_frames: int) -> np.ndarray:
        clip_len, rate = self.clip_len, self.frame_interval
        if self.test_mode:
            grid = list(range(0, num_frames, rate))
            grid += [grid[-1]] * (clip_len - len(grid))
            step = 0.0
            if self.num_clips > 1:
                step = max((len(grid) - clip_len) / (self.num_clips - 1), 0)
            starts = [int(k * step) for k in range(self.num_clips)]
            return np.array([grid[s + j] for s in starts for j in range(clip_len)])
        span = clip_len * rate
        if num_frames <= span:
            inds = np.linspace(0, num_frames, num=num_frames // rate)
            inds = np.concatenate((inds, np.full(clip_len - num_frames // rate, num_frames)))
            return np.clip(inds, 0, num_frames - 1).astype(np.int64)
        end = np.random.randint(span, num_frames)
        inds = np.linspace(end - span, end, num=clip_len)
        return np.clip(inds, end - span, end - 1).astype(np.int64)

    def __repr__(self):
        return (f'{type(self).__name__}(clip_len={self.clip_len}, '
                f'frame_interval={self.frame_interval}, num_clips={self.num_clips}, '
                f'test_mode={self.test_mode})')


@TRANSFORMS.register_module()
class StrideSample(_IndexSample):
    """Every ``frame_interval``-th frame from a random start, stepped as the official
    Kinetics pre-training loader steps (``VideoMAE._sample_train_indices`` and
    ``_video_TSN_decord_batch_loader`` of ``dataset/datasets.py``, one segment, no
    temporal jitter).

    * start: uniform in ``[0, n - span]`` (``span = clip_len x frame_interval``), drawn
      as ``np.random.randint(n - span + 1, size=1)``; 0 when the video is shorter than
      ``span``;
    * the next frame is ``frame_interval`` later while that frame lies before the last
      frame of the video (index at most ``n - 2``); otherwise the current frame repeats
      to the end of the clip.

    For ``n >= span`` this is mmaction2's ``SampleFrames`` (same draw, same indices). For
    shorter videos mmaction2's ``out_of_bound_opt='repeat_last'`` keeps the last multiple
    of ``frame_interval`` up to ``n - 1``; the official loop stops one step earlier when
    that multiple is ``n - 1`` itself (``n % frame_interval == 1``).

    Args:
        clip_len (int): frames per clip (official ``--num_frames`` 16).
        frame_interval (int): official ``--sampling_rate`` (4 for Kinetics).
    """

    def __init__(self, clip_len: int = 16, frame_interval: int = 4):
        super().__init__(clip_len)
        if frame_interval < 1:
            raise ValueError(f'StrideSample.frame_interval={frame_interval} must be >= 1')
        self.frame_interval = int(frame_interval)

    def indices(self, num_frames: int) -> np.ndarray:
        room = num_frames - self.clip_len * self.frame_interval + 1
        frame = int(np.random.randint(room, size=1)[0]) if room > 0 else 0
        out = []
        for _ in range(self.clip_len):
            out.append(frame)
            if frame + self.frame_interval <= num_frames - 2:
                frame += self.frame_interval
        return np.array(out)

    def __repr__(self):
        return (f'{type(self).__name__}(clip_len={self.clip_len}, '
                f'frame_interval={self.frame_interval})')
