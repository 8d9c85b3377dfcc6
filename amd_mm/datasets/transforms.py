"""Video pipeline pieces mmaction2 lacks for masked pre-training.

* :class:`CheckedDecordInit`: decord initialisation that names the file when a
  video cannot be decoded or is too short for the clip, and can skip such
  videos (logged with the file name and a running count) instead of failing.
* :class:`CheckedLoadImageFromFile` (mmpretrain): image loading that refuses
  truncated or undecodable files the same way, instead of a grey-filled picture.
* :class:`RepeatAugment`: decode once, augment ``num_repeats`` times (the
  official ``num_sample`` repeated augmentation); the views come out as extra
  clips, ``(num_repeats, C, T, H, W)`` after ``FormatShape('NCTHW')``.
"""
import copy
from typing import Dict, List, Optional

import numpy as np
from mmaction.datasets.transforms import DecordInit
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform, Compose, LoadImageFromFile
from mmpretrain.registry import TRANSFORMS as MMPRETRAIN_TRANSFORMS
from mmengine.logging import print_log


class BadVideoError(RuntimeError):
    """A video that cannot be used for training (unreadable or too short)."""


class BadImageError(RuntimeError):
    """An image that cannot be used for training (unreadable or truncated)."""


class _BadSampleMixin:
    """``on_bad='error'`` raises naming the file; ``'skip'`` logs and returns None."""

    error_type = RuntimeError
    kind = 'sample'

    def _init_bad(self, on_bad: str):
        if on_bad not in ('error', 'skip'):
            raise ValueError(f"{type(self).__name__}.on_bad={on_bad!r} must be 'error' or 'skip'")
        self.on_bad = on_bad
        self.num_skipped = 0

    def _bad(self, message: str):
        if self.on_bad == 'error':
            raise self.error_type(message)
        self.num_skipped += 1
        print_log(f'skipped bad {self.kind} ({self.num_skipped} so far in this worker): {message}',
                  logger='current', level=30)
        return None


@TRANSFORMS.register_module()
class CheckedDecordInit(_BadSampleMixin, DecordInit):
    """``DecordInit`` with clear errors, or logged skips, for bad videos.

    Args:
        min_frames (int): frames a video must have, normally ``clip_len x
            frame_interval`` of the ``SampleFrames`` that follows (shorter videos
            would be filled with repeated frames without notice). 0 disables.
        on_bad (str): ``'error'`` (default) raises :class:`BadVideoError` naming the
            file; ``'skip'`` logs a warning with the file name and the number of
            videos skipped so far and returns None, so the dataset draws another
            sample (MMEngine's ``BaseDataset`` re-fetch in training).
        **kwargs: ``DecordInit`` arguments.
    """

    error_type = BadVideoError
    kind = 'video'

    def __init__(self, min_frames: int = 0, on_bad: str = 'error', **kwargs):
        super().__init__(**kwargs)
        self._init_bad(on_bad)
        self.min_frames = int(min_frames)

    def transform(self, results: Dict) -> Optional[Dict]:
        filename = results['filename']
        try:
            results = super().transform(results)
        except Exception as err:  # decord raises its own error types
            return self._bad(f'{filename}: cannot be decoded by decord '
                             f'({type(err).__name__}: {str(err).splitlines()[0][:200]})')
        if results['total_frames'] < self.min_frames:
            return self._bad(f'{filename}: {results["total_frames"]} frames, fewer than the '
                             f'{self.min_frames} the clip needs (clip_len x frame_interval)')
        return results

    def __repr__(self):
        return f'{type(self).__name__}(min_frames={self.min_frames}, on_bad={self.on_bad!r})'


@MMPRETRAIN_TRANSFORMS.register_module()
class CheckedLoadImageFromFile(_BadSampleMixin, LoadImageFromFile):
    """mmcv ``LoadImageFromFile`` that refuses truncated or undecodable images.

    OpenCV and Pillow decode a truncated JPEG into a picture whose missing part is
    grey, with at most a warning; this transform checks the file with Pillow
    (no truncated loading) and raises :class:`BadImageError` naming it, or with
    ``on_bad='skip'`` logs it and returns None (the dataset draws another sample).
    """

    error_type = BadImageError
    kind = 'image'

    def __init__(self, on_bad: str = 'error', **kwargs):
        super().__init__(**kwargs)
        self._init_bad(on_bad)

    def transform(self, results: Dict) -> Optional[Dict]:
        import io

        from mmengine.fileio import get
        from PIL import Image, ImageFile
        filename = results['img_path']
        try:
            data = get(filename, backend_args=self.backend_args)
            truncated, ImageFile.LOAD_TRUNCATED_IMAGES = ImageFile.LOAD_TRUNCATED_IMAGES, False
            try:
                with Image.open(io.BytesIO(data)) as img:
                    img.load()
            finally:
                ImageFile.LOAD_TRUNCATED_IMAGES = truncated
        except Exception as err:
            return self._bad(f'{filename}: cannot be decoded ({type(err).__name__}: '
                             f'{str(err).splitlines()[0][:200] if str(err) else ""})')
        return super().transform(results)


@TRANSFORMS.register_module()
class RepeatAugment(BaseTransform):
    """Apply ``transforms`` ``num_repeats`` times to one decoded clip.

    The decoded frames are shared (decoding happens once); each repeat draws
    its own random augmentation. Frames of the views are concatenated and
    ``num_clips`` multiplied, so ``FormatShape('NCTHW')`` yields
    ``(num_clips * num_repeats, C, T, H, W)``; the algorithms treat the views
    as independent samples.
    """

    def __init__(self, transforms: List[dict], num_repeats: int = 4):
        if num_repeats < 1:
            raise ValueError(f'RepeatAugment.num_repeats={num_repeats} must be >= 1')
        self.transforms = Compose(transforms)
        self.num_repeats = int(num_repeats)

    def transform(self, results: Dict) -> Optional[Dict]:
        views = []
        for _ in range(self.num_repeats):
            view = self.transforms(copy.copy(results))  # shallow: frames are not modified in place
            if view is None:
                return None
            views.append(view)
        out = views[0]
        out['imgs'] = [img for view in views for img in view['imgs']]
        out['num_clips'] = results.get('num_clips', 1) * self.num_repeats
        return out

    def __repr__(self):
        return f'{type(self).__name__}(num_repeats={self.num_repeats}, transforms={self.transforms})'

