"""Video pipeline pieces mmaction2 lacks for masked pre-training.

* :class:`CheckedDecordInit`: decord initialisation that names the file when a
  video cannot be decoded or is too short for the clip, and can skip such
  videos (logged with the file name and a running count) instead of failing.
* :class:`CheckedRawFrameDecode`: the same checks for raw-frame folders (a folder
  shorter than the clip, a missing or truncated frame), naming the folder or frame.
* :class:`CheckedLoadImageFromFile` (mmpretrain): image loading that refuses
  truncated or undecodable files the same way, instead of a grey-filled picture.
* :class:`RepeatAugment`: decode once, augment ``num_repeats`` times (the
  official ``num_sample`` repeated augmentation); the views come out as extra
  clips, ``(num_repeats, C, T, H, W)`` after ``FormatShape('NCTHW')``.
* :class:`PillowResize`: mmaction2's ``Resize`` computed by Pillow, as the official
  multi-scale crop resizes (antialiased when shrinking).
"""
import contextlib
import copy
import os
import os.path as osp
from typing import Dict, List, Optional

import mmcv
import numpy as np
from mmaction.datasets.transforms import DecordInit, RawFrameDecode, Resize
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform, Compose, LoadImageFromFile
from mmpretrain.registry import TRANSFORMS as MMPRETRAIN_TRANSFORMS
from mmengine.logging import print_log

from ..utils.errors import UserError


class BadVideoError(UserError, RuntimeError):
    """A video that cannot be used for training (unreadable or too short)."""


class BadImageError(UserError, RuntimeError):
    """An image that cannot be used for training (unreadable or truncated)."""


class _BadSampleMixin:
    """``on_bad='error'`` raises naming the file; ``'skip'`` logs and returns None.

    With ``'skip'``, :attr:`max_bad_in_a_row` bad samples in a row (no good one in
    between, in one data worker) raise anyway, naming the last one: then the list
    file or the data prefix is wrong, not a few files (MMEngine's dataset would
    otherwise give up after 1000 draws with "Cannot find valid image").
    """

    error_type = RuntimeError
    kind = 'sample'
    max_bad_in_a_row = 100

    def _init_bad(self, on_bad: str):
        if on_bad not in ('error', 'skip'):
            raise ValueError(f"{type(self).__name__}.on_bad={on_bad!r} must be 'error' or 'skip'")
        self.on_bad = on_bad
        self.num_skipped = 0
        self.bad_in_a_row = 0

    def _bad(self, message: str):
        if self.on_bad == 'error':
            raise self.error_type(message)
        self.num_skipped += 1
        self.bad_in_a_row += 1
        if self.bad_in_a_row >= self.max_bad_in_a_row:
            raise self.error_type(
                f"{self.bad_in_a_row} {self.kind}s in a row were bad (on_bad='skip'), the last "
                f'one {message}; check the list file and the data prefix')
        print_log(f'skipped bad {self.kind} ({self.num_skipped} so far in this worker): {message}',
                  logger='current', level=30)
        return None

    def __call__(self, results: Dict) -> Optional[Dict]:
        out = super().__call__(results)
        if out is not None:
            self.bad_in_a_row = 0
        return out


@contextlib.contextmanager
def _strict_pillow():
    """Pillow raises on truncated images inside this block (the global switch restored)."""
    from PIL import ImageFile
    truncated, ImageFile.LOAD_TRUNCATED_IMAGES = ImageFile.LOAD_TRUNCATED_IMAGES, False
    try:
        yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = truncated


@TRANSFORMS.register_module()
class CheckedDecordInit(_BadSampleMixin, DecordInit):
    """``DecordInit`` with clear errors, or logged skips, for bad videos.

    A video with no frames is always bad. Shorter videos than the clip needs are
    either padded by the sampler that follows (the paper-scale configs'
    ``StrideSample`` / ``SpanSample`` repeat the last sampled frame with the official
    loaders' indices; ``SampleFrames(out_of_bound_opt='repeat_last')`` repeats it too)
    or refused here with ``min_frames``.

    Args:
        min_frames (int): frames a video must have, e.g. ``clip_len x
            frame_interval`` of the ``SampleFrames`` that follows to refuse videos that
            would be padded. 0 (default) accepts any video with at least one frame.
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

    def _get_video_reader(self, filename: str):
        """A local file (the ``'disk'`` backend without arguments) is opened by decord
        itself: no copy of the file into a Python buffer, which decord then reads back
        through Python (about 2 ms of a K400-sized clip); other backends as mmaction2."""
        if self.io_backend == 'disk' and not self.kwargs and osp.isfile(filename):
            import decord
            return decord.VideoReader(filename, num_threads=self.num_threads)
        return super()._get_video_reader(filename)

    def transform(self, results: Dict) -> Optional[Dict]:
        filename = results['filename']
        try:
            results = super().transform(results)
        except Exception as err:  # decord raises its own error types
            return self._bad(f'{filename}: cannot be decoded by decord '
                             f'({type(err).__name__}: {str(err).splitlines()[0][:200]})')
        if results['total_frames'] < 1:
            return self._bad(f'{filename}: decord reads no frames')
        if results['total_frames'] < self.min_frames:
            return self._bad(f'{filename}: {results["total_frames"]} frames, fewer than the '
                             f'{self.min_frames} the clip needs (clip_len x frame_interval)')
        return results

    def __repr__(self):
        return f'{type(self).__name__}(min_frames={self.min_frames}, on_bad={self.on_bad!r})'


class _RecordingFiles:
    """A file client that remembers the last path it was asked for."""

    def __init__(self, client):
        self.client, self.last = client, None

    def get(self, path):
        self.last = path
        return self.client.get(path)


@TRANSFORMS.register_module()
class CheckedRawFrameDecode(_BadSampleMixin, RawFrameDecode):
    """``RawFrameDecode`` with the checks :class:`CheckedDecordInit` makes for videos.

    Raw frames have no container to ask how long the video is: the frame count comes
    from the list file, and mmaction2's ``SampleFrames`` fills a clip longer than the
    folder by looping back to its first frame (``out_of_bound_opt='loop'``, the
    default) without a word. Here, a folder shorter than the clip is either padded,
    as the official loader pads short videos (``SampleFrames(out_of_bound_opt=
    'repeat_last')`` before this transform: the last sampled frame repeated), or
    refused (``min_frames``); a loop is always refused. A frame that is missing (the
    list gives more frames than the folder holds) or truncated / undecodable is
    refused naming its file: frames are decoded by Pillow with truncated images
    refused, where OpenCV fails without naming the file (or, in some builds, fills the
    missing part with grey).

    Args:
        min_frames (int): frames a folder must have, e.g. ``clip_len x
            frame_interval`` of the ``SampleFrames`` before it, to refuse folders
            that would be padded. 0 (default) accepts any folder with one frame.
        on_bad (str): ``'error'`` (default) raises :class:`BadVideoError` naming the
            folder or frame; ``'skip'`` logs it and returns None, so the dataset
            draws another sample (see :class:`_BadSampleMixin`).
        **kwargs: ``RawFrameDecode`` arguments (``io_backend``, ...);
            ``decoding_backend`` can only be ``'pillow'``.
    """

    error_type = BadVideoError
    kind = 'frame folder'

    def __init__(self, min_frames: int = 0, on_bad: str = 'error', **kwargs):
        backend = kwargs.pop('decoding_backend', 'pillow')
        if backend != 'pillow':
            raise ValueError(f'CheckedRawFrameDecode.decoding_backend={backend!r}: only '
                             "'pillow' refuses truncated frames; use RawFrameDecode for others")
        super().__init__(decoding_backend='pillow', **kwargs)
        self._init_bad(on_bad)
        self.min_frames = int(min_frames)

    @staticmethod
    def _loops(results: Dict) -> bool:
        """Whether the sampled indices of a clip go back (SampleFrames looped)."""
        inds = np.asarray(results['frame_inds']).reshape(-1)
        clip_len = int(results.get('clip_len') or 0)
        if clip_len < 2 or inds.size % clip_len:
            return False
        return bool((np.diff(inds.reshape(-1, clip_len), axis=1) < 0).any())

    def _missing(self, folder: str, path: str, total: int) -> str:
        if not osp.isdir(folder):
            return f'{folder}: no such frame folder'
        held = len(os.listdir(folder))
        return (f'{path}: no such frame; the list gives {folder} {total} frames and the folder '
                f'holds {held} files')

    def transform(self, results: Dict) -> Optional[Dict]:
        folder, total = results['frame_dir'], int(results['total_frames'])
        need = f'{results.get("clip_len", "?")} x {results.get("frame_interval", "?")}'
        if total < 1:
            return self._bad(f'{folder}: the list gives it {total} frames')
        if total < self.min_frames:
            return self._bad(f'{folder}: {total} frames, fewer than the {self.min_frames} the '
                             'clip needs (min_frames)')
        if self._loops(results):
            return self._bad(
                f'{folder}: {total} frames, fewer than the clip needs ({need}), and SampleFrames '
                "looped back to the first frame; pad with SampleFrames(out_of_bound_opt="
                "'repeat_last') or refuse with min_frames")
        if self.file_client is None:
            from mmengine.fileio import FileClient
            self.file_client = _RecordingFiles(FileClient(self.io_backend, **self.kwargs))
        try:
            with _strict_pillow():
                return super().transform(results)
        except FileNotFoundError:
            return self._bad(self._missing(folder, self.file_client.last, total))
        except Exception as err:
            return self._bad(f'{self.file_client.last}: cannot be decoded ({type(err).__name__}: '
                             f'{str(err).splitlines()[0][:200] if str(err) else ""})')

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
        from PIL import Image
        filename = results['img_path']
        try:
            data = get(filename, backend_args=self.backend_args)
            with _strict_pillow(), Image.open(io.BytesIO(data)) as img:
                img.load()
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


@TRANSFORMS.register_module()
class PillowResize(Resize):
    """mmaction2 ``Resize`` with the resizing done by Pillow (``mmcv.imresize(...,
    backend='pillow')``) instead of OpenCV: the official multi-scale crop resizes its
    PIL frames with ``Image.BILINEAR`` (``dataset/transforms.py:391``), which averages
    over the source pixels when shrinking, where OpenCV's bilinear samples four."""

    def _resize_imgs(self, imgs, new_w, new_h):
        return [mmcv.imresize(img, (new_w, new_h), interpolation=self.interpolation, backend='pillow')
                for img in imgs]
