"""Building blocks of the models, written once for images and videos: token bookkeeping
(patchify, gathers, pixel targets, sin-cos positions), transformer blocks, and frozen
modules held outside a module tree (:mod:`.frozen`). May import torch and mmcv (DropPath),
no other amd_mm package."""
from .tokens import (gather_tokens, patchify, pixel_targets, sincos_pos_embed, targets_to_patches,
                     token_grid, unpatchify)
from .transformer import TransformerBlock, TransformerStack

__all__ = ['gather_tokens', 'patchify', 'pixel_targets', 'sincos_pos_embed', 'targets_to_patches',
           'token_grid', 'unpatchify', 'TransformerBlock', 'TransformerStack']
