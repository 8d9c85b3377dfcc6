"""MAE-style pixel decoder shared by images and videos."""
from typing import Optional

import torch
import torch.nn as nn

from ...registry import register_shared
from ..utils.tokens import gather_tokens, sincos_pos_embed
from ..utils.transformer import TransformerStack


@register_shared
class PixelDecoder(nn.Module):
    """Predicts the pixels of the tokens hidden from the student.

    Visible tokens ``(B, n_s, C_in)`` are embedded, a learned mask token fills
    every hidden position, fixed sin-cos positions are added, and a small
    transformer predicts ``out_dims`` values per hidden token.

    Args:
        in_dims (int): student width (filled in by the algorithm if None).
        out_dims (int): values per token, ``tubelet * patch**2 * 3`` (filled in by
            the algorithm if None).
        embed_dims (int): decoder width. depth (int), num_heads (int), mlp_ratio.
        prune_last_block (bool): run the last block's projection and MLP only on the
            hidden tokens it predicts (attention still sees every token): same
            predictions, less compute. False runs it on every token (reference path).
        embed_bias (bool): a bias in the input projection ``embed`` (MAE: yes; the
            official AMD ``encoder_to_decoder`` has none, ``modeling_pretrain.py:304``).
        embed_init (str): ``'xavier'`` (MAE) or ``'torch'``, PyTorch's ``nn.Linear``
            default, which the official AMD ``encoder_to_decoder`` keeps (it is outside
            the modules the official ``_init_weights`` visits).
        drop_path_rate (float): stochastic depth of the blocks, rising linearly to this
            rate (official: the student's ``drop_path``, 0 in the released scripts).
    """

    def __init__(self, in_dims: Optional[int] = None, out_dims: Optional[int] = None,
                 embed_dims: int = 512, depth: int = 8, num_heads: int = 16,
                 mlp_ratio: float = 4.0, prune_last_block: bool = True, embed_bias: bool = True,
                 embed_init: str = 'xavier', drop_path_rate: float = 0.0):
        super().__init__()
        self.prune_last_block = prune_last_block
        if in_dims is None or out_dims is None:
            raise ValueError('PixelDecoder needs in_dims and out_dims (the algorithm fills them in).')
        if embed_init not in ('xavier', 'torch'):
            raise ValueError(f"model.decoder.embed_init={embed_init!r} must be 'xavier' or 'torch'")
        self.embed_dims = embed_dims
        self.embed = nn.Linear(in_dims, embed_dims, bias=embed_bias)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, embed_dims))
        self.blocks = TransformerStack(embed_dims, depth, num_heads, mlp_ratio, drop_path_rate)
        self.norm = nn.LayerNorm(embed_dims, eps=1e-6)
        self.head = nn.Linear(embed_dims, out_dims)
        nn.init.trunc_normal_(self.mask_token, std=0.02)
        for m in (self.embed, self.head) if embed_init == 'xavier' else (self.head,):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)

    def forward(self, latent: torch.Tensor, ids_visible: torch.Tensor, ids_target: torch.Tensor,
                grid) -> torch.Tensor:
        """``latent (B, n_s, C_in)`` at ``ids_visible`` -> predictions ``(B, n_t, out_dims)`` at ``ids_target``."""
        b = latent.shape[0]
        pos = sincos_pos_embed(grid, self.embed_dims, latent.device, latent.dtype).expand(b, -1, -1)
        visible = self.embed(latent) + gather_tokens(pos, ids_visible)
        hidden = self.mask_token.to(latent.dtype) + gather_tokens(pos, ids_target)
        n_out = hidden.shape[1]
        x = self.blocks(torch.cat([visible, hidden], dim=1),
                        num_out=n_out if self.prune_last_block else None)
        return self.head(self.norm(x[:, x.shape[1] - n_out:]))
