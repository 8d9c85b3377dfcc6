"""Image student / teacher encoder: mmpretrain's own VisionTransformer plus a masked forward."""
import torch
from mmpretrain.models.backbones import VisionTransformer

from ...registry import register_shared
from ..utils.tokens import sincos_pos_embed
from .masked_encoder import MaskedEncoderMixin


@register_shared
class MaskedViT(MaskedEncoderMixin, VisionTransformer):
    """mmpretrain ``VisionTransformer`` that can encode a subset of patches.

    Parameter names are mmpretrain's, so a pre-trained student loads into
    ``mmpretrain.models.VisionTransformer`` (fine-tuning) with
    ``init_cfg=dict(type='Pretrained', checkpoint=..., prefix='backbone.')`` and no
    conversion; MAE checkpoints of mmpretrain load into it as a teacher.

    Args:
        fixed_pos_embed (bool): initialise ``pos_embed`` as a 2D sin-cos table and
            freeze it (MAE). Defaults to True.
        with_cp (bool): activation checkpointing of the blocks while training.
        gather_embed (bool): embed only the encoded patches (a matmul on the gathered
            pixels) instead of convolving the whole image. False: the reference path.
        xavier_init (bool): initialise as the official MAE encoder
            (``models_mae.py`` ``initialize_weights``): every Linear xavier-uniform with
            zero bias, LayerNorms 1 / 0, the patch projection xavier-uniform as a
            matrix, the class token N(0, 0.02). False keeps mmpretrain's init.
            Defaults to False; the paper-scale configs set it.
        **kwargs: ``VisionTransformer`` arguments (``arch``, ``img_size``,
            ``patch_size``, ``drop_path_rate``, ``final_norm``...).
    """

    def __init__(self, fixed_pos_embed: bool = True, with_cp: bool = False,
                 gather_embed: bool = True, xavier_init: bool = False, **kwargs):
        kwargs.setdefault('out_type', 'raw')
        super().__init__(**kwargs)
        self.fixed_pos_embed = fixed_pos_embed
        self.with_cp = with_cp
        self.gather_embed = gather_embed
        self.xavier_init = xavier_init
        if fixed_pos_embed:
            self.pos_embed.requires_grad_(False)

    def init_weights(self):
        super().init_weights()
        pretrained = isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained'
        if self.fixed_pos_embed and not pretrained:
            h, w = self.patch_resolution
            table = sincos_pos_embed((1, h, w), self.embed_dims)
            with torch.no_grad():
                self.pos_embed.zero_()
                self.pos_embed[:, self.num_extra_tokens:].copy_(table)

    def _xavier_init_extras(self):
        weight = self.patch_embed.projection.weight
        with torch.no_grad():
            torch.nn.init.xavier_uniform_(weight.view(weight.shape[0], -1))
        if self.cls_token is not None:
            torch.nn.init.normal_(self.cls_token, std=0.02)

    def _conv_embed(self, inputs):
        return self.patch_embed(inputs)[0]

    def _patch_pos(self, inputs, num_tokens):
        return self.pos_embed[:, self.num_extra_tokens:]

    def _prefix_tokens(self, batch_size):
        if self.cls_token is None:
            return None
        cls = self.cls_token + self.pos_embed[:, :1]
        return cls.expand(batch_size, -1, -1)

    def encoder_blocks(self):
        return self.layers

    def _pre_blocks(self, x):
        return self.pre_norm(x)

    def _final_norm(self):
        return self.ln1 if self.final_norm else torch.nn.Identity()
