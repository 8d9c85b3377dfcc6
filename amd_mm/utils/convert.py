"""Conversion of foreign checkpoints to amd_mm / toolbox parameter names, in one place.

Layouts understood (detected from the keys):

* ``videomae``: official VideoMAE / AMD / MVD releases (timm-style names under an
  optional ``encoder.`` prefix: ``patch_embed.proj``, ``blocks.N.mlp.fc1``,
  ``attn.q_bias`` / ``v_bias``) -> mmaction2 ``VisionTransformer`` names.
* ``mmaction`` / ``mmpretrain``: already toolbox names, returned as they are.
"""
from typing import Dict

import torch

VIDEOMAE_RENAMES = (
    ('patch_embed.proj.', 'patch_embed.projection.'),
    ('.mlp.fc1.', '.mlp.layers.0.0.'),
    ('.mlp.fc2.', '.mlp.layers.1.'),
)


def detect_layout(state: Dict[str, torch.Tensor]) -> str:
    keys = list(state)
    if any(k.startswith(('encoder.patch_embed.proj.', 'patch_embed.proj.')) for k in keys):
        return 'videomae'
    if any(k.startswith(('layers.', 'backbone.layers.')) for k in keys):
        return 'mmpretrain'
    return 'mmaction'


def videomae_to_mmaction(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Official VideoMAE-family encoder weights -> mmaction2 ``VisionTransformer`` names.

    Keys of a pre-training release (``encoder.*``) keep only the encoder;
    decoder, heads and mask tokens are dropped.
    """
    if any(k.startswith('encoder.') for k in state):
        state = {k[len('encoder.'):]: v for k, v in state.items() if k.startswith('encoder.')}
    out = {}
    for key, value in state.items():
        if key.startswith(('head.', 'projection_heads.')):
            continue
        for old, new in VIDEOMAE_RENAMES:
            key = key.replace(old, new)
        out[key] = value
    return out


def to_toolbox_names(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Whatever layout ``state`` has, the toolbox names of its encoder."""
    return videomae_to_mmaction(state) if detect_layout(state) == 'videomae' else state
