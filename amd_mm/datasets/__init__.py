from .transforms import (BadImageError, BadVideoError, CheckedDecordInit, CheckedLoadImageFromFile,
                         PillowResize, RepeatAugment, SpanSampleFrames)

__all__ = ['BadImageError', 'BadVideoError', 'CheckedDecordInit', 'CheckedLoadImageFromFile',
           'PillowResize', 'RepeatAugment', 'SpanSampleFrames']
