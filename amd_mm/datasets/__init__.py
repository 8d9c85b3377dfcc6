from .finetune_transforms import (ClipRandAugment, PixelRandomErasing, SegmentSample, SpanSample,
                                  StrideSample)
from .list_files import ListFileError, check_datasets
from .transforms import (BadImageError, BadVideoError, CheckedDecordInit, CheckedLoadImageFromFile,
                         CheckedRawFrameDecode, PillowResize, RepeatAugment)

__all__ = ['BadImageError', 'BadVideoError', 'CheckedDecordInit', 'CheckedLoadImageFromFile',
           'CheckedRawFrameDecode', 'ListFileError', 'PillowResize', 'RepeatAugment',
           'check_datasets', 'ClipRandAugment', 'PixelRandomErasing', 'SegmentSample', 'SpanSample',
           'StrideSample']
