"""The official MCG-NJU/AMD data pipelines at an amd_mm config's settings (cost only).

Nothing of the official code is part of amd_mm: its ``dataset`` package (8d2ec6f) is
imported at run time from an export of its repository (``root``, the benchmark's
``--official DIR``, see :mod:`amd_mm.measure.official_amd`), and its dataset classes
are built as its scripts build them (``dataset/build.py``):

* pre-training: ``VideoMAE`` (Kinetics, decord) or ``VideoMAE_SSV2`` (JPEG frames) with
  ``DataAugmentationForMAE`` (multi-scale crop, normalisation, ``t_consist`` masks),
  ``num_sample`` augmented views per decoded video (``build_pretraining_dataset``);
* fine-tuning: ``VideoClsDataset`` (Kinetics) or ``SSRawFrameClsDataset`` (SSv2) in
  ``'train'`` mode: RandAugment, normalisation, random-resized crop, flip (not SSv2),
  random erasing, ``num_sample`` views;
* multi-view test: the same classes in ``'test'`` mode, one item per (clip, crop) view.

The settings (clip length, sampling rate, views, crop, RandAugment string, erasing
probability, mask ratios) are read from the amd_mm pipeline and model, so both sides
do the same work. Where pandas is missing (the official datasets read their list files
with ``pandas.read_csv(path, header=None, sep=' ')`` and use only ``.values``), a minimal
reader stands in for it while the classes are built; nothing else is replaced.
"""
import argparse
import contextlib
import importlib
import os.path as osp
import sys
import types
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np


def _number(token: str):
    try:
        return int(token)
    except ValueError:
        return token


def _read_csv(path, header=None, sep=' ', delimiter=None, **_):
    """What the official datasets use of ``pandas.read_csv``: ``.values`` of the
    space-separated columns, integers as ints."""
    with open(path) as f:
        rows = [[_number(x) for x in line.split(delimiter or sep)] for line in f.read().split('\n')
                if line.strip()]
    return types.SimpleNamespace(values=np.array(rows, dtype=object))


@contextlib.contextmanager
def pandas_stand_in():
    """Yields True (and puts a minimal ``pandas`` module in ``sys.modules``) if pandas is
    not installed, False otherwise."""
    try:
        import pandas  # noqa: F401
        yield False
        return
    except ImportError:
        pass
    module = types.ModuleType('pandas')
    module.read_csv = _read_csv
    sys.modules['pandas'] = module
    try:
        yield True
    finally:
        sys.modules.pop('pandas', None)


def import_official_data(root: str) -> types.SimpleNamespace:
    """The official ``dataset.datasets`` and ``dataset.build`` modules, imported from
    ``root``; ``sys.path`` and ``sys.modules`` are left as they were."""
    if not osp.isfile(osp.join(root, 'dataset', 'datasets.py')):
        raise FileNotFoundError(f'--official {root!r} has no dataset/datasets.py: not an export '
                                'of the MCG-NJU/AMD repository')
    ours = lambda name: name == 'dataset' or name.startswith('dataset.')  # noqa: E731
    saved_path = list(sys.path)
    saved = {name: sys.modules.pop(name) for name in list(sys.modules) if ours(name)}
    sys.path.insert(0, osp.abspath(root))
    try:
        modules = types.SimpleNamespace(datasets=importlib.import_module('dataset.datasets'),
                                        build=importlib.import_module('dataset.build'))
    finally:
        sys.path[:] = saved_path
        for name in [name for name in sys.modules if ours(name)]:
            sys.modules.pop(name)
        sys.modules.update(saved)
    return modules


def flat_pipeline(pipeline: List[dict]) -> List[dict]:
    """The transforms of a pipeline config, those inside ``RepeatAugment`` included."""
    out = []
    for step in pipeline:
        out.append(step)
        out.extend(flat_pipeline(step.get('transforms', [])) if step['type'] == 'RepeatAugment'
                   else [])
    return out


def _find(steps: List[dict], *types_: str) -> Optional[dict]:
    return next((s for s in steps if s['type'] in types_), None)


@dataclass
class OfficialSetting:
    """Which official class reproduces an amd_mm pipeline, and its arguments."""
    kind: str              # 'pretrain', 'finetune' or 'test'
    dataset: str           # the official class
    frames: bool           # reads JPEG frames (SSv2 classes) instead of videos
    views: int             # clips per video
    kwargs: Dict = field(default_factory=dict)   # class arguments (paths added later)
    args: Dict = field(default_factory=dict)     # its ``args`` namespace

    @classmethod
    def from_config(cls, cfg, split: str) -> 'OfficialSetting':
        """The official counterpart of ``cfg``'s ``split`` (``'train'`` or ``'test'``)
        pipeline; ValueError naming what is missing if there is none."""
        steps = flat_pipeline(cfg[f'{split}_dataloader'].dataset.pipeline)
        sampler = _find(steps, 'SampleFrames', 'SpanSample', 'StrideSample', 'SegmentSample')
        if sampler is None:
            raise ValueError(f'{split}_dataloader.dataset.pipeline has no frame sampler the '
                             'official loaders have (SampleFrames, SpanSample, StrideSample, '
                             'SegmentSample)')
        ssv2 = sampler['type'] == 'SegmentSample'
        clip_len = sampler.get('clip_len', sampler.get('num_segments', 16))
        rate = sampler.get('frame_interval', 1)
        repeat = _find(steps, 'RepeatAugment')
        repeats = repeat.get('num_repeats', 4) if repeat else 1
        if split == 'test':
            crop = _find(steps, 'ThreeCrop')
            if crop is None:
                raise ValueError('test_dataloader.dataset.pipeline has no ThreeCrop: the official '
                                 'test loader takes 3 crops per clip')
            clips = sampler.get('num_clips', 1)
            common = dict(mode='test', test_num_segment=clips, test_num_crop=3,
                          crop_size=crop['crop_size'], short_side_size=crop['crop_size'],
                          num_crop=3, keep_aspect_ratio=True, new_height=256, new_width=320)
            if ssv2:
                return cls('test', 'SSRawFrameClsDataset', True, clips * 3,
                           dict(common, clip_len=1, num_segment=clip_len))
            return cls('test', 'VideoClsDataset', False, clips * 3,
                       dict(common, clip_len=clip_len, frame_sample_rate=rate, num_segment=1))
        msc = _find(steps, 'MultiScaleCrop')
        if msc is not None:  # masked pre-training
            size = msc['input_size']
            size = size if isinstance(size, int) else size[0]
            masks = cfg.model.mask_generator
            backbone = cfg.model.backbone
            tubelet, patch = backbone.get('tubelet_size', 2), backbone.get('patch_size', 16)
            args = dict(input_size=size, imagenet_default_mean_and_std=True, mask_type='t_consist',
                        window_size=(clip_len // tubelet, size // patch, size // patch),
                        mask_ratio=masks.student_ratio, mask_ratio_teacher=masks.teacher_ratio)
            span = sampler['type'] == 'SpanSample'  # the SSv2 pre-training window
            kwargs = dict(train=True, test_mode=False, name_pattern='img_{:05}.jpg',
                          video_ext='mp4', is_color=True, modality='rgb', num_segments=1,
                          num_crop=1, new_length=clip_len, new_step=rate, temporal_jitter=False,
                          video_loader=True, use_decord=True, lazy_init=False,
                          num_sample=repeats)
            return cls('pretrain', 'VideoMAE_SSV2' if span else 'VideoMAE', span, repeats,
                       kwargs, args)
        augment = _find(steps, 'ClipRandAugment')
        if augment is None:
            raise ValueError('train_dataloader.dataset.pipeline has neither MultiScaleCrop '
                             '(pre-training) nor ClipRandAugment (fine-tuning): no official '
                             'counterpart')
        resize = _find(steps, 'Resize')
        size = resize['scale'][0] if resize else 224
        erase = _find(steps, 'PixelRandomErasing')
        args = dict(reprob=erase.get('erase_prob', 0.25) if erase else 0.0, remode='pixel',
                    recount=1, aa=augment.get('config_str', 'rand-m7-n4-mstd0.5-inc1'),
                    train_interpolation=augment.get('interpolation', 'bicubic'),
                    num_sample=repeats, input_size=size,
                    data_set='SSV2' if _find(steps, 'Flip') is None else 'K400')
        common = dict(mode='train', crop_size=size, short_side_size=size, num_crop=1,
                      keep_aspect_ratio=True, new_height=256, new_width=320, test_num_segment=2,
                      test_num_crop=3)
        if ssv2:
            return cls('finetune', 'SSRawFrameClsDataset', True, repeats,
                       dict(common, clip_len=1, num_segment=clip_len), args)
        return cls('finetune', 'VideoClsDataset', False, repeats,
                   dict(common, clip_len=clip_len, frame_sample_rate=rate, num_segment=1), args)


class OfficialPipeline:
    """The official dataset of :class:`OfficialSetting` on the benchmark data;
    ``video(i)`` runs everything it does for video ``i`` (test: every view)."""

    def __init__(self, modules, setting: OfficialSetting, data: Dict[str, str]):
        self.setting = setting
        args = argparse.Namespace(**setting.args)
        cls = getattr(modules.datasets, setting.dataset)
        root = data['rawframes'] if setting.frames else data['videos']
        listing = data['frame_list'] if setting.frames else data['video_list']
        with open(listing) as f:
            self.num_videos = sum(1 for line in f if line.strip())
        with pandas_stand_in() as stood_in:
            if setting.kind == 'pretrain':
                transform = modules.build.DataAugmentationForMAE(args)
                self.dataset = cls(root=root, setting=listing, transform=transform,
                                   **setting.kwargs)
            else:
                self.dataset = cls(anno_path=listing, data_root=root, args=args, **setting.kwargs)
        self.pandas_stand_in = stood_in

    def video(self, index: int):
        """Everything the official loader does for video ``index``."""
        if self.setting.kind != 'test':
            return self._item(index)
        return [self._item(view * self.num_videos + index) for view in range(self.setting.views)]

    def _item(self, index: int):
        # the pre-training classes print an error and retry another video on any failure:
        # a failure here must stop the benchmark instead
        import io
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            try:
                return self.dataset[index]
            except RecursionError:
                pass
        raise RuntimeError(f'the official {self.setting.dataset} failed: '
                           f'{printed.getvalue().strip().splitlines()[:1]}')
