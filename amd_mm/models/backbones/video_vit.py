"""Video student / teacher encoder: mmaction2's own VisionTransformer plus a masked forward."""
import torch
import torch.nn.functional as F
from mmaction.models.backbones.vit_mae import Attention, VisionTransformer, get_sinusoid_encoding

from ...registry import register_shared
from .masked_encoder import MaskedEncoderMixin


class FusedAttention(Attention):
    """mmaction2's ``Attention`` (same parameters: ``qkv``, ``q_bias``, ``v_bias``,
    ``proj``) computed with ``F.scaled_dot_product_attention`` instead of an
    explicit softmax: same result, less memory, flash / memory-efficient kernels
    on GPUs."""

    @classmethod
    def from_attention(cls, attn: Attention) -> 'FusedAttention':
        """A ``FusedAttention`` with the settings and the very parameters of ``attn``.

        Built on the meta device, so no random initialisation runs (the global random
        stream, and with it every later initialisation, is the same as without fusing).
        """
        with torch.device('meta'):
            fused = cls(attn.embed_dims, attn.num_heads, qkv_bias=hasattr(attn, 'q_bias'),
                        qk_scale=attn.scale, attn_drop_rate=attn.attn_drop.p,
                        drop_rate=attn.proj_drop.p, init_cfg=attn.init_cfg)
        fused.load_state_dict(attn.state_dict(), assign=True)
        return fused

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        bias = None
        if hasattr(self, 'q_bias'):
            bias = torch.cat((self.q_bias, torch.zeros_like(self.v_bias), self.v_bias))
        qkv = F.linear(x, self.qkv.weight, bias).reshape(b, n, 3, self.num_heads, -1)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        drop = self.attn_drop.p if self.training else 0.0
        x = F.scaled_dot_product_attention(q, k, v, dropout_p=drop, scale=self.scale)
        return self.proj_drop(self.proj(x.transpose(1, 2).reshape(b, n, -1)))


@register_shared
class MaskedVideoViT(MaskedEncoderMixin, VisionTransformer):
    """mmaction2 ``VisionTransformer`` (VideoMAE) that can encode a subset of tubelets.

    Parameter names are mmaction2's, so a pre-trained student loads into
    ``mmaction.models.VisionTransformer`` with
    ``init_cfg=dict(type='Pretrained', checkpoint=..., prefix='backbone.')`` and no
    conversion. Pre-training uses ``use_mean_pooling=False`` (a final ``norm``
    before the decoder, as VideoMAE); fine-tuning with mean pooling re-creates
    ``fc_norm`` as VideoMAE does.

    Args:
        fused_attention (bool): compute attention with
            ``F.scaled_dot_product_attention`` (same weights). Defaults to True.
        with_cp (bool): activation checkpointing of the blocks while training.
        gather_embed (bool): embed only the encoded tubelets (a matmul on the gathered
            pixels) instead of convolving the whole clip. False: the reference path.
        xavier_init (bool): initialise as the official AMD student
            (``modeling_pretrain.py:58-67``): every Linear xavier-uniform with zero
            bias, LayerNorms 1 / 0, the Conv3d patch embedding with PyTorch's default,
            ``q_bias`` / ``v_bias`` zero. False keeps mmaction2's init (Linear
            TruncNormal 0.02). Defaults to False; the paper-scale configs set it.
        **kwargs: ``VisionTransformer`` arguments (``img_size``, ``patch_size``,
            ``embed_dims``, ``depth``, ``num_heads``, ``num_frames``,
            ``tubelet_size``...).
    """

    def __init__(self, fused_attention: bool = True, with_cp: bool = False,
                 gather_embed: bool = True, xavier_init: bool = False, **kwargs):
        kwargs.setdefault('use_mean_pooling', False)
        super().__init__(**kwargs)
        self.with_cp = with_cp
        self.gather_embed = gather_embed
        self.xavier_init = xavier_init
        if fused_attention:
            for block in self.blocks:
                block.attn = FusedAttention.from_attention(block.attn)

    def _conv_embed(self, inputs):
        return self.patch_embed(inputs)[0]

    def _patch_pos(self, inputs, num_tokens):
        pos = self.pos_embed
        if pos.shape[1] != num_tokens and not isinstance(pos, torch.nn.Parameter):
            # fixed sin-cos table: recompute for another clip geometry
            pos = get_sinusoid_encoding(num_tokens, self.embed_dims).to(inputs.device)
        return pos

    def encoder_blocks(self):
        return self.blocks

    def _final_norm(self):
        return self.norm
