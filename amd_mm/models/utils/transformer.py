"""A plain pre-norm transformer block with fused attention, for the necks.

The encoders reuse the toolboxes' own blocks (so their weights load with no
conversion); the pixel decoder and the feature generators use this one.
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn.bricks import DropPath


class TransformerBlock(nn.Module):
    """``x + Attn(LN(x))`` then ``x + MLP(LN(x))``; attention via ``F.scaled_dot_product_attention``.

    ``drop_path`` (stochastic depth, per sample, training only) drops both residual
    branches, as the official blocks (0 in the released AMD scripts). With
    ``qkv_bias`` the key bias is a parameter too; it never changes the output (a
    constant added to every key of a query cancels in the softmax) and gets zero
    gradient, so the block equals the official one with ``q_bias`` / ``v_bias`` only.
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, qkv_bias: bool = True,
                 norm_eps: float = 1e-6, drop_path: float = 0.0):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'width {dim} is not divisible by num_heads={num_heads}')
        self.num_heads = num_heads
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor, num_out: Optional[int] = None) -> torch.Tensor:
        """``x (B, N, C)`` -> ``(B, N, C)``, or only the last ``num_out`` tokens
        ``(B, num_out, C)``: keys and values still come from every token (same
        values); queries, attention, projection, residual and MLP are computed only
        for the tokens returned."""
        b, n, c = x.shape
        heads, head_dim = self.num_heads, c // self.num_heads
        h = self.norm1(x)
        if num_out is None or num_out >= n:
            qkv = self.qkv(h).reshape(b, n, 3, heads, head_dim)
            q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        else:
            weight, bias = self.qkv.weight, self.qkv.bias
            q = F.linear(h[:, n - num_out:], weight[:c], None if bias is None else bias[:c])
            kv = F.linear(h, weight[c:], None if bias is None else bias[c:])
            q = q.reshape(b, num_out, heads, head_dim).transpose(1, 2)
            k, v = kv.reshape(b, n, 2, heads, head_dim).permute(2, 0, 3, 1, 4).unbind(0)
            x, n = x[:, n - num_out:], num_out
        attn = F.scaled_dot_product_attention(q, k, v).transpose(1, 2)
        x = x + self.drop_path(self.proj(attn.reshape(b, n, c)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class TransformerStack(nn.Sequential):
    """``depth`` blocks of :class:`TransformerBlock`, xavier-initialised as MAE; drop-path
    rates rise linearly from 0 to ``drop_path_rate`` over the blocks (the official rule)."""

    def __init__(self, dim: int, depth: int, num_heads: int, mlp_ratio: float = 4.0,
                 drop_path_rate: float = 0.0):
        rates = torch.linspace(0, drop_path_rate, depth).tolist() if depth else []
        super().__init__(*[TransformerBlock(dim, num_heads, mlp_ratio, drop_path=rate) for rate in rates])
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor, num_out: Optional[int] = None) -> torch.Tensor:
        """Run every block; with ``num_out`` the last block computes (and the stack
        returns) only the last ``num_out`` tokens, the only ones a decoder or
        generator reads: less compute, same values."""
        last = len(self) - 1
        for index, block in enumerate(self):
            x = block(x, num_out if index == last else None)
        return x


def compile_blocks(blocks, options: Optional[dict] = None):
    """``torch.compile`` each block in place (``nn.Module.compile``): parameter names,
    checkpoints and the eager code stay as they are; the first step compiles (minutes
    on CPUs), later steps run fused kernels. ``options`` are inductor options, e.g.
    ``{'freezing': True}`` for blocks whose weights never change (frozen teachers)."""
    for block in blocks:
        block.compile(options=dict(options) if options else None)
