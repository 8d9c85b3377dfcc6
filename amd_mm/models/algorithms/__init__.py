from .core import AsymmetricDistillMixin
from .image_amd import AMD

__all__ = ['AsymmetricDistillMixin', 'AMD']
