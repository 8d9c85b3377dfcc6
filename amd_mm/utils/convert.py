"""Conversion of checkpoints between parameter layouts, in one place.

Layouts (detected from the keys by :func:`detect_layout`):

==============  =============================================================
``amd_mm``      an amd_mm / MMEngine training checkpoint: the encoder under
                ``backbone.`` (already toolbox names)
``mmpretrain``  mmpretrain ``VisionTransformer`` (``layers.N.ln1``, ``ffn.layers``)
``mmaction``    mmaction2 ``VisionTransformer`` (``blocks.N.norm1``, ``mlp.layers``,
                ``patch_embed.projection`` Conv3d)
``timm``        timm / official MAE image ViTs (``blocks.N.norm1``, ``mlp.fc1``,
                ``patch_embed.proj`` Conv2d); MAE pre-training releases also hold
                ``decoder_*`` and ``mask_token`` (dropped)
``videomae``    official VideoMAE / AMD / MVD releases (timm-style names,
                ``q_bias`` / ``v_bias``, Conv3d patch embedding, optional
                ``encoder.`` prefix of pre-training releases)
==============  =============================================================

:func:`convert` maps any of them to ``mmpretrain`` (images) or ``mmaction``
(videos) names, and back to ``timm`` / ``videomae`` for round trips.
"""
import re
from typing import Dict, Optional

import torch

State = Dict[str, torch.Tensor]

# (timm-style pattern, toolbox replacement) pairs, applied in order
_TIMM_TO_MMPRETRAIN = (
    (r'^patch_embed\.proj\.', 'patch_embed.projection.'),
    (r'^blocks\.(\d+)\.norm1\.', r'layers.\1.ln1.'),
    (r'^blocks\.(\d+)\.norm2\.', r'layers.\1.ln2.'),
    (r'^blocks\.(\d+)\.attn\.', r'layers.\1.attn.'),
    (r'^blocks\.(\d+)\.mlp\.fc1\.', r'layers.\1.ffn.layers.0.0.'),
    (r'^blocks\.(\d+)\.mlp\.fc2\.', r'layers.\1.ffn.layers.1.'),
    (r'^norm\.', 'ln1.'),
    (r'^fc_norm\.', 'ln2.'),
)
_VIDEOMAE_TO_MMACTION = (
    (r'^patch_embed\.proj\.', 'patch_embed.projection.'),
    (r'^blocks\.(\d+)\.mlp\.fc1\.', r'blocks.\1.mlp.layers.0.0.'),
    (r'^blocks\.(\d+)\.mlp\.fc2\.', r'blocks.\1.mlp.layers.1.'),
)
_MMPRETRAIN_TO_TIMM = (
    (r'^patch_embed\.projection\.', 'patch_embed.proj.'),
    (r'^layers\.(\d+)\.ln1\.', r'blocks.\1.norm1.'),
    (r'^layers\.(\d+)\.ln2\.', r'blocks.\1.norm2.'),
    (r'^layers\.(\d+)\.attn\.', r'blocks.\1.attn.'),
    (r'^layers\.(\d+)\.ffn\.layers\.0\.0\.', r'blocks.\1.mlp.fc1.'),
    (r'^layers\.(\d+)\.ffn\.layers\.1\.', r'blocks.\1.mlp.fc2.'),
    (r'^ln1\.', 'norm.'),
    (r'^ln2\.', 'fc_norm.'),
)
_MMACTION_TO_VIDEOMAE = (
    (r'^patch_embed\.projection\.', 'patch_embed.proj.'),
    (r'^blocks\.(\d+)\.mlp\.layers\.0\.0\.', r'blocks.\1.mlp.fc1.'),
    (r'^blocks\.(\d+)\.mlp\.layers\.1\.', r'blocks.\1.mlp.fc2.'),
)
_DROP = re.compile(r'^(head\.|decoder|mask_token|encoder_to_decoder|projection_heads|generators|'
                   r'generator_mask_tokens|pos_embed_generator)')


def _rename(state: State, rules) -> State:
    out = {}
    for key, value in state.items():
        for pattern, repl in rules:
            new, n = re.subn(pattern, repl, key)
            if n:
                key = new
                break
        out[key] = value
    return out


def detect_layout(state: State) -> str:
    """Name the layout of a state dict (see the module docstring)."""
    keys = list(state)
    if any(k.startswith('backbone.') for k in keys):
        return 'amd_mm'
    if any(k.startswith('encoder.') for k in keys):
        return 'videomae'
    proj = state.get('patch_embed.proj.weight')
    if proj is not None:
        return 'videomae' if proj.dim() == 5 else 'timm'
    if any(re.match(r'layers\.\d+\.', k) for k in keys):
        return 'mmpretrain'
    if any(re.match(r'blocks\.\d+\.', k) for k in keys):
        return 'mmaction'
    raise ValueError(f'unknown checkpoint layout (first keys: {keys[:5]})')


def strip_prefix(state: State, prefix: str) -> State:
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def convert(state: State, to: Optional[str] = None) -> State:
    """Encoder weights of ``state`` in the ``to`` layout.

    ``to=None`` picks the toolbox layout of the source: ``mmpretrain`` for image
    layouts, ``mmaction`` for video layouts. Heads, decoders, generators and mask
    tokens of pre-training releases are dropped.
    """
    layout = detect_layout(state)
    if layout == 'amd_mm':
        state = strip_prefix(state, 'backbone.')
        layout = detect_layout(state)
    if layout == 'videomae' and any(k.startswith('encoder.') for k in state):
        state = strip_prefix(state, 'encoder.')
    state = {k: v for k, v in state.items() if not _DROP.match(k)}
    image = layout in ('timm', 'mmpretrain')
    # to the toolbox names first
    if layout == 'timm':
        state = _rename(state, _TIMM_TO_MMPRETRAIN)
    elif layout == 'videomae':
        state = _rename(state, _VIDEOMAE_TO_MMACTION)
    to = to or ('mmpretrain' if image else 'mmaction')
    if to in ('mmpretrain', 'mmaction'):
        if (to == 'mmpretrain') != image:
            raise ValueError(f'cannot convert a {"image" if image else "video"} checkpoint to {to} names')
        return state
    if to == 'timm' and image:
        return _rename(state, _MMPRETRAIN_TO_TIMM)
    if to == 'videomae' and not image:
        return _rename(state, _MMACTION_TO_VIDEOMAE)
    raise ValueError(f'cannot convert a {"image" if image else "video"} checkpoint to {to!r}')


def to_toolbox_names(state: State) -> State:
    """Foreign releases (timm / MAE / VideoMAE) -> toolbox names; toolbox layouts unchanged.

    Used by the teacher loader, so official releases load with no conversion step.
    """
    try:
        layout = detect_layout(state)
    except ValueError:
        return state  # unknown: the caller reports what is missing
    return convert(state) if layout in ('timm', 'videomae') else state


def check_against(state: State, target: State, source: str = 'checkpoint') -> None:
    """Raise one sentence naming the first key whose shape differs from ``target``'s,
    or listing target keys the converted checkpoint lacks."""
    for key, value in state.items():
        if key in target and tuple(target[key].shape) != tuple(value.shape):
            raise ValueError(f'{source}: {key!r} has shape {tuple(value.shape)} but the target '
                             f'expects {tuple(target[key].shape)}')
    # final / pooling norms may be new in the target (e.g. mean pooling's fc_norm)
    missing = [k for k in target if k not in state
               and k.split('.')[0] not in ('ln1', 'ln2', 'norm', 'fc_norm')]
    if missing:
        raise ValueError(f'{source}: the target needs {len(missing)} keys the checkpoint lacks, '
                         f'first {missing[:3]}')
