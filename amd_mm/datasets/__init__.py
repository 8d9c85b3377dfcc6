"""Only what the toolboxes' data pipelines lack: checked decoding (a bad video, frame or
image named), list-file checks before training, the official recipes' sampling and
augmentation. May import :mod:`amd_mm.utils` and the toolboxes; never the models,
engine or tools.
"""
from .finetune_transforms import (ClipRandAugment, PixelRandomErasing, SegmentSample, SpanSample,
                                  StrideSample)
from .list_files import ListFileError, check_datasets
from .transforms import (BadImageError, BadVideoError, CheckedDecordInit, CheckedLoadImageFromFile,
                         CheckedRawFrameDecode, PillowResize, RepeatAugment)

__all__ = ['BadImageError', 'BadVideoError', 'CheckedDecordInit', 'CheckedLoadImageFromFile',
           'CheckedRawFrameDecode', 'ListFileError', 'PillowResize', 'RepeatAugment',
           'check_datasets', 'ClipRandAugment', 'PixelRandomErasing', 'SegmentSample', 'SpanSample',
           'StrideSample']
