"""What the shared core needs from an encoder, written once for images and videos.

:class:`MaskedEncoderMixin` runs a subset of tokens through the encoder,
taps chosen layers and can stop early. Concrete encoders subclass the
toolboxes' own ViTs (so their checkpoints load with no conversion) and supply
small protected hooks used only here (``_conv_embed``, ``_patch_pos``,
``_prefix_tokens``, ``_pre_blocks``, ``_final_norm``) and one public method other
modules call, :meth:`~MaskedEncoderMixin.encoder_blocks` (the transformer blocks, for
compiling them and for the depth).
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from ..utils.tokens import as_clip, gather_tokens, patchify, token_grid


class MaskedEncoderMixin:
    """Masked forward of a ViT: ``forward_masked(inputs, ids, out_layers)``.

    Attributes expected from the subclass: ``patch_embed`` with a conv
    ``projection``; ``with_cp`` (bool) turns on activation checkpointing of the
    blocks while training.
    """

    with_cp: bool = False
    #: embed only the tokens encoded (gather pixels, then the patch projection as a
    #: matmul) instead of convolving the whole input and gathering after: same values
    #: (up to float summation order), a fraction of the patch-embedding cost when
    #: most tokens are masked. False: the reference path (convolution, then gather).
    gather_embed: bool = True

    #: re-initialise after the toolbox's init (see :meth:`init_weights`): every
    #: ``nn.Linear`` xavier-uniform with zero bias, every ``LayerNorm`` 1 / 0 (the
    #: official pre-training init); subclasses add their own official extras.
    xavier_init: bool = False

    # -- initialisation ------------------------------------------------------
    def _apply_xavier_init(self) -> None:
        """Linear layers xavier-uniform (zero bias), LayerNorms 1 / 0, as the official
        MAE / VideoMAE / AMD encoders' ``_init_weights``; anything else is left as it is."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def _xavier_init_extras(self) -> None:
        """Official init of the non-Linear parts (class token, patch embedding...)."""

    def init_weights(self):
        """The toolbox's init, then, with ``xavier_init``, the official one (not when
        the encoder loads pre-trained weights, nor on a second call)."""
        first = not getattr(self, 'is_init', False)  # MMEngine BaseModule's public flag
        super().init_weights()
        pretrained = isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained'
        if self.xavier_init and first and not pretrained:
            self._apply_xavier_init()
            self._xavier_init_extras()

    # -- hooks -------------------------------------------------------------
    def _conv_embed(self, inputs: torch.Tensor) -> torch.Tensor:
        """``(B, N, C)`` patch tokens of the whole input, no position embedding."""
        raise NotImplementedError

    def _patch_pos(self, inputs: torch.Tensor, num_tokens: int) -> torch.Tensor:
        """``(1, N, C)`` position embedding of the patch tokens of ``inputs``."""
        raise NotImplementedError

    def _prefix_tokens(self, batch_size: int) -> Optional[torch.Tensor]:
        """``(B, P, C)`` tokens prepended to the patch tokens (class token), or None."""
        return None

    def _pre_blocks(self, x: torch.Tensor) -> torch.Tensor:
        """Applied to the whole sequence before the first block (e.g. a pre-norm)."""
        return x

    def encoder_blocks(self) -> Sequence[nn.Module]:
        """The transformer blocks, in order."""
        raise NotImplementedError

    def _final_norm(self) -> nn.Module:
        raise NotImplementedError

    # -- geometry (``enc_`` names: the toolboxes' classes own the plain ones) --
    @property
    def enc_patch_size(self) -> int:
        return int(self.patch_embed.projection.kernel_size[-1])

    @property
    def enc_tubelet_size(self) -> int:
        k = self.patch_embed.projection.kernel_size
        return int(k[0]) if len(k) == 3 else 1

    @property
    def enc_depth(self) -> int:
        return len(self.encoder_blocks())

    @property
    def enc_width(self) -> int:
        return int(self.patch_embed.projection.out_channels)

    def token_grid(self, inputs: torch.Tensor) -> Tuple[int, int, int]:
        return token_grid(inputs, self.enc_patch_size, self.enc_tubelet_size)

    def _can_gather_embed(self) -> bool:
        """The patch embedding is one non-overlapping convolution with nothing after it."""
        proj = getattr(self.patch_embed, 'projection', None)
        return (self.gather_embed and isinstance(proj, (nn.Conv2d, nn.Conv3d))
                and tuple(proj.kernel_size) == tuple(proj.stride) and proj.groups == 1
                and not any(proj.padding if isinstance(proj.padding, tuple) else (1,))
                and all(d == 1 for d in proj.dilation)
                and getattr(self.patch_embed, 'norm', None) is None)

    def _embed_tokens(self, inputs: torch.Tensor, ids: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``(B, K, C)`` patch tokens ``ids`` (all if None) with their position embedding."""
        grid = self.token_grid(inputs)
        pos = self._patch_pos(inputs, grid[0] * grid[1] * grid[2])
        check_clip_size(inputs, grid, pos.shape[1], type(self).__name__)
        if ids is None or not self._can_gather_embed():
            x = self._conv_embed(inputs)
            x = x + pos.to(x.dtype)
            return x if ids is None else gather_tokens(x, ids)
        proj = self.patch_embed.projection
        pixels = patchify(inputs, self.enc_patch_size, self.enc_tubelet_size, channels_first=True)
        x = F.linear(gather_tokens(pixels.flatten(2), ids), proj.weight.flatten(1), proj.bias)
        return x + gather_tokens(pos.to(x.dtype).expand(x.shape[0], -1, -1), ids)

    # -- forward -----------------------------------------------------------
    def forward_masked(self,
                       inputs: torch.Tensor,
                       ids: Optional[torch.Tensor],
                       out_layers: Sequence[int] = (),
                       stop_after: Optional[int] = None,
                       final_norm: bool = True) -> Tuple[Optional[torch.Tensor], List[torch.Tensor]]:
        """Encode the tokens ``ids`` (``(B, K)``, all tokens if None).

        Args:
            out_layers: 1-based block indices whose raw outputs are returned
                (patch tokens only, prefix tokens dropped), in this order.
            stop_after: run only the first ``stop_after`` blocks (default: all).
            final_norm: apply the final norm and return the normed tokens;
                False returns None in their place (teachers need no final norm).

        Returns:
            ``(tokens (B, K, C) or None, [features (B, K, C) per out_layer])``.
        """
        blocks = self.encoder_blocks()
        depth = len(blocks) if stop_after is None else int(stop_after)
        x = self._embed_tokens(inputs, ids)
        prefix = self._prefix_tokens(x.shape[0])
        num_prefix = 0
        if prefix is not None:
            num_prefix = prefix.shape[1]
            x = torch.cat([prefix.to(x.dtype), x], dim=1)
        x = self._pre_blocks(x)
        wanted = {int(layer): None for layer in out_layers}
        use_cp = self.with_cp and self.training and torch.is_grad_enabled()
        for index, block in enumerate(blocks[:depth], start=1):
            x = checkpoint(block, x, use_reentrant=False) if use_cp else block(x)
            if index in wanted:
                wanted[index] = x[:, num_prefix:]
        missing = [layer for layer, feat in wanted.items() if feat is None]
        if missing:
            raise ValueError(f'layers {missing} were requested but the encoder ran {depth} blocks')
        out = self._final_norm()(x)[:, num_prefix:] if final_norm else None
        return out, [wanted[int(layer)] for layer in out_layers]


def check_clip_size(inputs: torch.Tensor, grid: Tuple[int, int, int], num_pos: int, name: str):
    t, h, w = grid
    if t * h * w != num_pos:
        x = as_clip(inputs)
        raise ValueError(
            f'{name}: input of {tuple(x.shape[2:])} (frames, height, width) gives {t * h * w} '
            f'tokens but the position embedding holds {num_pos}; set img_size / num_frames '
            'of the backbone to the training crop.')
