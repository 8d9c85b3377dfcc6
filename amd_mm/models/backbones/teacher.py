"""The frozen teacher: a toolbox ViT loaded from a checkpoint, run on teacher-visible tokens."""
import contextlib
import os.path as osp
from typing import List, Optional, Sequence

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model import BaseModule

from ...checkpoints import (extract_state_dict, load_checkpoint_file, resolve_checkpoint,
                           sha256_file, to_toolbox_names)
from ...registry import build_model, register_shared
from ..utils.frozen import FrozenModule
from ..utils.tokens import gather_tokens
from ..utils.transformer import compile_blocks


TEACHER_DTYPES = ('bfloat16', 'float16')


def teacher_dtype(dtype) -> Optional[torch.dtype]:
    """``teacher.dtype`` as a torch dtype: None (fp32), ``'bfloat16'`` or ``'float16'``."""
    if dtype is None:
        return None
    if dtype in TEACHER_DTYPES or dtype in [getattr(torch, d) for d in TEACHER_DTYPES]:
        return getattr(torch, dtype) if isinstance(dtype, str) else dtype
    raise ValueError(f'teacher.dtype={dtype!r} is not one of {", ".join(map(repr, TEACHER_DTYPES))} '
                     'or None (fp32).')


@register_shared
class FrozenTeacher(FrozenModule, BaseModule):
    """A frozen encoder that returns features of chosen layers on a token subset.

    It is built from any masked encoder config (``MaskedViT`` for images,
    ``MaskedVideoViT`` for videos), loads ``checkpoint`` at build time, and stays
    in eval mode with ``requires_grad=False`` whatever ``train()`` is called with
    (:class:`~amd_mm.models.utils.frozen.FrozenModule`).

    Args:
        backbone (dict): encoder config.
        checkpoint (str, optional): weights file (an MMEngine checkpoint with
            ``state_dict``, or a release with ``model`` / ``module`` keys), or a
            work_dir whose ``last_checkpoint`` names the file (the file of that name
            beside the pointer is preferred: a copied or moved work_dir loads its own
            file). Loaded weights-only (see
            :func:`~amd_mm.checkpoints.load_checkpoint_file`). The resolved file and
            its sha256 are logged and kept in :attr:`source`. None keeps random weights
            (building and benchmarking; training needs ``allow_random_teacher=True``).
        prefix (str, optional): key prefix of the encoder in the checkpoint,
            e.g. ``'backbone.'`` for mmpretrain / amd_mm checkpoints. None detects
            ``backbone.`` or takes the keys as they are.
        dtype (str, optional): ``'bfloat16'`` / ``'float16'``: the weights of the
            teacher's linear and convolution layers are stored in this dtype (half
            the memory of float32; norms stay float32) and the teacher runs under
            autocast in it. None (default): float32 weights; the teacher runs in the
            precision of the surrounding step (fp32, or the ``AmpOptimWrapper``'s
            autocast dtype).
    """

    def __init__(self,
                 backbone: dict,
                 checkpoint: Optional[str] = None,
                 prefix: Optional[str] = None,
                 dtype: Optional[str] = None,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.backbone = build_model(backbone)
        if not hasattr(self.backbone, 'forward_masked'):
            raise TypeError(f'teacher.backbone type {type(self.backbone).__name__} has no '
                            'forward_masked: use MaskedViT or MaskedVideoViT.')
        self.checkpoint = checkpoint
        self.source = None  # dict(file=..., sha256=...) of the loaded weights
        self.dtype = teacher_dtype(dtype)
        self.backbone.init_weights()
        if checkpoint is not None:
            self.load_checkpoint(checkpoint, prefix)
        else:
            print_log('teacher.checkpoint is None: the teacher keeps random weights '
                      '(fine for building or benchmarking, not for training).',
                      logger='current', level=30)
        self.is_init = True  # the runner's init_weights() must not overwrite the weights
        self.freeze()
        if self.dtype is not None:
            self._store_weights_in(self.dtype)

    def _store_weights_in(self, dtype: torch.dtype):
        """Linear and convolution weights in ``dtype``: autocast would cast them to it
        for every matmul anyway, so the results are the same and the copies are saved."""
        for module in self.backbone.modules():
            if isinstance(module, (nn.Linear, nn.Conv2d, nn.Conv3d)):
                module.to(dtype)

    def _precision(self, inputs: torch.Tensor):
        """Autocast in ``dtype`` if set; otherwise whatever the caller runs under."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(inputs.device.type, dtype=self.dtype)

    def compile_blocks(self, options: Optional[dict] = None):
        """Compile the encoder's blocks with inductor ``freezing`` (weights folded in as
        constants, pre-packed for the CPU / GPU matmul libraries): valid because the
        teacher's weights never change after they are loaded."""
        compile_blocks(self.backbone.encoder_blocks(), dict(options or {}, freezing=True))

    # -- weights -----------------------------------------------------------
    def load_checkpoint(self, path: str, prefix: Optional[str] = None):
        """Load encoder weights, with one clear error for every way it can go wrong."""
        path = resolve_checkpoint(path, key='teacher.checkpoint')
        raw = load_checkpoint_file(path, key='teacher.checkpoint')
        self.source = dict(file=osp.abspath(path), sha256=sha256_file(path))
        print_log(f"teacher.checkpoint {self.checkpoint!r}: loading {self.source['file']} "
                  f"(sha256 {self.source['sha256']})", logger='current')
        state = extract_state_dict(raw, path, key='teacher.checkpoint')
        state = to_toolbox_names(state)  # official VideoMAE / AMD releases load as they are
        if prefix is None and any(k.startswith('backbone.') for k in state):
            prefix = 'backbone.'
        if prefix:
            state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
            if not state:
                raise ValueError(f'teacher.checkpoint {path!r} has no keys under '
                                 f'teacher.prefix={prefix!r}.')
        own = self.backbone.state_dict()
        if not isinstance(getattr(self.backbone, 'pos_embed', None), nn.Parameter):
            state.pop('pos_embed', None)  # a fixed sin-cos table: ours fits the configured clip
        for key, value in state.items():
            if key in own and own[key].shape != value.shape:
                raise ValueError(
                    f'teacher.checkpoint {path!r}: {key!r} has shape {tuple(value.shape)} '
                    f'but teacher.backbone expects {tuple(own[key].shape)}; check the '
                    'teacher.backbone width / depth / patch size / tubelet / num_frames.')
        missing = [k for k in own if k not in state and not self._optional_key(k)]
        if missing:
            raise ValueError(
                f'teacher.checkpoint {path!r} lacks {len(missing)} teacher weights, first '
                f'{missing[:3]}; is it a checkpoint of this architecture (teacher.backbone) '
                'and is teacher.prefix right? Foreign releases: convert with '
                'tools/convert_checkpoint.py.')
        unexpected = [k for k in state if k not in own]
        if unexpected:
            print_log(f'teacher.checkpoint {path!r}: ignoring {len(unexpected)} keys the '
                      f'teacher does not use, first {unexpected[:3]}', logger='current', level=30)
        self.backbone.load_state_dict(state, strict=False)

    @staticmethod
    def _optional_key(key: str) -> bool:
        # final norms are not used (teacher targets are raw block outputs) and
        # fixed sin-cos tables are recomputed, so releases may omit them
        return key.split('.')[0] in ('ln1', 'ln2', 'norm', 'fc_norm', 'pos_embed')

    # -- geometry and forward -----------------------------------------------
    @property
    def enc_depth(self) -> int:
        return self.backbone.enc_depth

    @property
    def enc_width(self) -> int:
        return self.backbone.enc_width

    @torch.no_grad()
    def forward(self, inputs: torch.Tensor, ids: torch.Tensor,
                layers: Sequence[int]) -> List[torch.Tensor]:
        """Raw block outputs of ``layers`` on the tokens ``ids`` ``(B, K)`` (a teacher runs
        ``AsymMask.ids_teacher(ratio)``: every token it sees), stopping after
        ``max(layers)``: one ``(B, K, C)`` float32 tensor per layer."""
        with self._precision(inputs):
            _, feats = self.backbone.forward_masked(
                inputs, ids, out_layers=layers, stop_after=max(layers), final_norm=False)
        return [f.float() for f in feats]


@register_shared
class FrameTeacher(FrozenTeacher):
    """An image teacher applied frame by frame to clips (MVD's image teacher).

    The image encoder (e.g. an MAE ``MaskedViT``) sees the first frame of every
    tubelet (frames ``0, tubelet, 2 * tubelet, ...``) in full; its patch features
    line up with the video tokens (``t * H * W + h * W + w``), and the requested
    token subsets are gathered from them.

    Args:
        tubelet_size (int): the student's tubelet size. Other arguments as
            :class:`FrozenTeacher`.
    """

    def __init__(self, backbone: dict, tubelet_size: int = 2, **kwargs):
        super().__init__(backbone, **kwargs)
        self.tubelet_size = int(tubelet_size)

    @torch.no_grad()
    def forward(self, inputs: torch.Tensor, ids: torch.Tensor,
                layers: Sequence[int]) -> List[torch.Tensor]:
        if inputs.dim() != 5:
            raise ValueError(f'FrameTeacher expects clips (B, C, T, H, W), got {tuple(inputs.shape)}')
        b = inputs.shape[0]
        frames = inputs[:, :, ::self.tubelet_size].transpose(1, 2).flatten(0, 1)  # (B*T', C, H, W)
        with self._precision(frames):
            _, feats = self.backbone.forward_masked(frames, None, out_layers=layers,
                                                    stop_after=max(layers), final_norm=False)
        # (B, T' * H * W, C): every video token, then the requested ones
        return [gather_tokens(f.float().reshape(b, -1, f.shape[-1]), ids) for f in feats]
