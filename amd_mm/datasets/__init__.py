from .transforms import BadVideoError, CheckedDecordInit, RepeatAugment

__all__ = ['BadVideoError', 'CheckedDecordInit', 'RepeatAugment']
