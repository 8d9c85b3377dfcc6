from .core import AsymmetricDistillMixin
from .image_amd import AMD
from .video_amd import VideoAMD

__all__ = ['AsymmetricDistillMixin', 'AMD', 'VideoAMD']
