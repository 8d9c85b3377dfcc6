"""Student encoders (the toolboxes' ViTs with a masked forward, same parameter names) and
the frozen teacher built on them. May import :mod:`..utils`, :mod:`amd_mm.checkpoints`
and :mod:`amd_mm.registry`."""
from .image_vit import MaskedViT
from .masked_encoder import MaskedEncoderMixin
from .teacher import FrameTeacher, FrozenTeacher
from .video_vit import FusedAttention, MaskedVideoViT

__all__ = ['MaskedEncoderMixin', 'MaskedViT', 'MaskedVideoViT', 'FusedAttention', 'FrozenTeacher', 'FrameTeacher']
