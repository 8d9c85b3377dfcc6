from .feature_generator import FeatureGenerator
from .pixel_decoder import PixelDecoder

__all__ = ['PixelDecoder', 'FeatureGenerator']
