from .tokens import (gather_tokens, patchify, pixel_targets, sincos_pos_embed, targets_to_patches,
                     token_grid, unpatchify)
from .transformer import TransformerBlock, TransformerStack

__all__ = ['gather_tokens', 'patchify', 'pixel_targets', 'sincos_pos_embed', 'targets_to_patches',
           'token_grid', 'unpatchify', 'TransformerBlock', 'TransformerStack']
