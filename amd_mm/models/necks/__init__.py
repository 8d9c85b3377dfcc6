"""The pixel decoder and the feature generators, sharing one mask-token insertion
(:mod:`.mask_tokens`). May import :mod:`..utils` and :mod:`amd_mm.registry`."""
from .feature_generator import FeatureGenerator
from .pixel_decoder import PixelDecoder

__all__ = ['PixelDecoder', 'FeatureGenerator']
