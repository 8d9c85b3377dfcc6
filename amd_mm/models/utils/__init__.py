from .tokens import gather_tokens, patchify, pixel_targets, sincos_pos_embed, token_grid
from .transformer import TransformerBlock, TransformerStack

__all__ = ['gather_tokens', 'patchify', 'pixel_targets', 'sincos_pos_embed', 'token_grid',
           'TransformerBlock', 'TransformerStack']
