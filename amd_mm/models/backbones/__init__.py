from .image_vit import MaskedViT
from .masked_encoder import MaskedEncoderMixin
from .teacher import FrameTeacher, FrozenTeacher
from .video_vit import FusedAttention, MaskedVideoViT

__all__ = ['MaskedEncoderMixin', 'MaskedViT', 'MaskedVideoViT', 'FusedAttention', 'FrozenTeacher', 'FrameTeacher']
