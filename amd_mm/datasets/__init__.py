from .finetune_transforms import ClipRandAugment, PixelRandomErasing, SegmentSample, SpanSample
from .transforms import (BadImageError, BadVideoError, CheckedDecordInit, CheckedLoadImageFromFile,
                         RepeatAugment)

__all__ = ['BadImageError', 'BadVideoError', 'CheckedDecordInit', 'CheckedLoadImageFromFile',
           'RepeatAugment', 'ClipRandAugment', 'PixelRandomErasing', 'SegmentSample',
           'SpanSample']
