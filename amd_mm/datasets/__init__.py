from .finetune_transforms import ClipRandAugment, PixelRandomErasing, SegmentSample, SpanSample
from .list_files import ListFileError, check_datasets
from .transforms import (BadImageError, BadVideoError, CheckedDecordInit, CheckedLoadImageFromFile,
                         CheckedRawFrameDecode, RepeatAugment)

__all__ = ['BadImageError', 'BadVideoError', 'CheckedDecordInit', 'CheckedLoadImageFromFile',
           'CheckedRawFrameDecode', 'ListFileError', 'RepeatAugment', 'check_datasets',
           'ClipRandAugment', 'PixelRandomErasing', 'SegmentSample', 'SpanSample']
