"""The generator of AMD's generative alignment branch."""
from typing import Optional

import torch
import torch.nn as nn

from ...registry import register_shared
from ..utils.transformer import TransformerStack
from .mask_tokens import MaskTokenPredictor


@register_shared
class FeatureGenerator(MaskTokenPredictor, nn.Module):
    """Predicts the teacher's features on tokens only the teacher sees.

    Input: projected student features ``(B, n_s, C)`` (C = teacher width) at
    ``ids_student``; a learned mask token (a registered parameter, so it is
    trained and saved, unlike the official code's plain list) fills ``ids_teacher_only``;
    fixed sin-cos positions are added to both. Output: the transformer's raw
    outputs on the ``ids_teacher_only`` tokens, with no final norm (as the official
    generator).

    Args:
        embed_dims (int): teacher width (filled in by the algorithm if None).
        depth (int): blocks (official: 2). num_heads (int): default
            ``embed_dims // 64``. mlp_ratio (float).
        prune_last_block (bool): run the last block's projection and MLP only on the
            teacher-only tokens it predicts (attention still sees every token): same
            predictions, less compute. False runs it on every token (reference path).
        drop_path_rate (float): stochastic depth of the blocks, rising linearly to this
            rate (official: the student's ``drop_path``, 0 in the released scripts).
    """

    def __init__(self, embed_dims: Optional[int] = None, depth: int = 2,
                 num_heads: Optional[int] = None, mlp_ratio: float = 4.0,
                 prune_last_block: bool = True, drop_path_rate: float = 0.0):
        super().__init__()
        self.prune_last_block = prune_last_block
        if embed_dims is None:
            raise ValueError('FeatureGenerator needs embed_dims (the algorithm fills in the teacher width).')
        self.embed_dims = embed_dims
        self.mask_token = nn.Parameter(torch.zeros(1, 1, embed_dims))
        self.blocks = TransformerStack(embed_dims, depth, num_heads or max(1, embed_dims // 64), mlp_ratio,
                                       drop_path_rate)
        nn.init.trunc_normal_(self.mask_token, std=0.02)

    def forward(self, feats: torch.Tensor, ids_student: torch.Tensor,
                ids_teacher_only: torch.Tensor, grid) -> torch.Tensor:
        """``feats (B, n_s, C)`` at ``ids_student`` -> ``(B, n_t, C)`` at ``ids_teacher_only``
        (:class:`~amd_mm.models.necks.mask_tokens.MaskTokenPredictor`)."""
        return self.predict(feats, ids_student, ids_teacher_only, grid, feats.dtype)
