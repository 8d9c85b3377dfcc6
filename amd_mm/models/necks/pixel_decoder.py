"""MAE-style pixel decoder shared by images and videos."""
from typing import Optional

import torch
import torch.nn as nn

from ...registry import register_shared
from ..utils.transformer import TransformerStack
from .mask_tokens import MaskTokenPredictor


@register_shared
class PixelDecoder(MaskTokenPredictor, nn.Module):
    """Predicts the pixels of the tokens hidden from the student.

    The student's tokens ``(B, n_s, C_in)`` are embedded, a learned mask token fills
    every hidden position (``ids_masked``), fixed sin-cos positions are added
    (:class:`~amd_mm.models.necks.mask_tokens.MaskTokenPredictor`), and a small
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

    def forward(self, latent: torch.Tensor, ids_student: torch.Tensor, ids_masked: torch.Tensor,
                grid) -> torch.Tensor:
        """``latent (B, n_s, C_in)`` at ``ids_student`` -> predictions
        ``(B, n_m, out_dims)`` at ``ids_masked``."""
        x = self.predict(self.embed(latent), ids_student, ids_masked, grid, latent.dtype)
        return self.head(self.norm(x))
