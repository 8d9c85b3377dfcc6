from .asymmetric import AsymmetricMaskGenerator, AsymMask

__all__ = ['AsymmetricMaskGenerator', 'AsymMask']
