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
(videos) names, and back to ``timm`` / ``videomae`` for round trips: encoder weights only.

Whole pre-training models (:func:`convert_official_pretrain`, :func:`to_official_pretrain`):
an official AMD pre-training checkpoint (``PretrainAMD`` of MCG-NJU/AMD
``models/modeling_pretrain.py``: ``encoder.`` with ``encoder.projection_heads.N``,
``encoder_to_decoder``, ``decoder.``, ``generators.N``, ``mask_token``) or an official
VideoMAE one (the same without heads and generators) <-> the whole amd_mm ``VideoAMD``
state dict (``backbone.``, ``decoder.``, ``branches.0.heads.N``,
``branches.0.generators.N``), so pre-training continues from it
(``load_from=`` the converted file). What the official checkpoint does not hold
(:data:`NOT_IN_OFFICIAL_PRETRAIN`) keeps the fresh initialisation of the built model.
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


# -- whole pre-training models: official PretrainAMD / VideoMAE <-> amd_mm VideoAMD ------------

#: amd_mm keys an official pre-training checkpoint cannot provide (regex, with why):
#: they keep the values of the freshly built model when the converted file is loaded.
NOT_IN_OFFICIAL_PRETRAIN = {
    r'^branches\.0\.generators\.\d+\.mask_token$':
        'the official generators keep their mask tokens in a plain Python list '
        '(models/modeling_pretrain.py:283), so they are never saved: fresh init, N(0, 0.02)',
    r'^backbone\.pos_embed$': 'a fixed sin-cos table, rebuilt from the geometry',
    r'^mask_generator\.step$': 'the mask generator restarts its step counter',
}
_UNUSED_OFFICIAL = re.compile(r'^generators\.\d+\.norm\.|^(encoder\.)?pos_embed(_generator)?$')

# official Block (modeling_finetune_amd.Block) suffixes <-> amd_mm TransformerBlock suffixes
_BLOCK_TO_AMD = (('norm1.', 'norm1.'), ('norm2.', 'norm2.'), ('attn.qkv.weight', 'qkv.weight'),
                 ('attn.proj.', 'proj.'), ('mlp.fc1.', 'mlp.0.'), ('mlp.fc2.', 'mlp.2.'))


def _swap_prefix(key: str, pairs, where: str) -> str:
    """``key`` with the first matching ``(old, new)`` prefix replaced."""
    for old, new in pairs:
        if key.startswith(old):
            return new + key[len(old):]
    raise ValueError(f'{where}{key}: unexpected key in a transformer block')


def _block_to_amd(block: State, where: str = '') -> State:
    """One official block's tensors (keys after ``blocks.N.``) in TransformerBlock names;
    ``q_bias`` / ``v_bias`` become the fused ``qkv.bias`` with a zero key bias."""
    out = {_swap_prefix(k, _BLOCK_TO_AMD, where): v for k, v in block.items()
           if k not in ('attn.q_bias', 'attn.v_bias')}
    if 'attn.q_bias' in block:
        q, v = block['attn.q_bias'], block['attn.v_bias']
        out['qkv.bias'] = torch.cat([q, torch.zeros_like(q), v])
    return out


def _block_to_official(block: State, where: str = '') -> State:
    """The inverse of :func:`_block_to_amd`; the key bias (no effect on any output) is dropped."""
    out = {_swap_prefix(k, [(new, old) for old, new in _BLOCK_TO_AMD], where): v
           for k, v in block.items() if k != 'qkv.bias'}
    if 'qkv.bias' in block:
        q, _, v = block['qkv.bias'].chunk(3)
        out['attn.q_bias'], out['attn.v_bias'] = q.clone(), v.clone()
    return out


def _map_blocks(state: State, src: str, dst: str, fn) -> State:
    """Apply ``fn`` to every ``<src>blocks.N.`` group of ``state``, written under ``<dst>``;
    other keys under ``src`` are copied with the prefix changed."""
    out, blocks = {}, {}
    for key, value in state.items():
        rest = key[len(src):]
        m = re.match(r'blocks\.(\d+)\.(.*)$', rest)
        if m:
            blocks.setdefault(int(m.group(1)), {})[m.group(2)] = value
        else:
            out[dst + rest] = value
    for index, block in sorted(blocks.items()):
        out.update({f'{dst}blocks.{index}.{k}': v for k, v in fn(block, f'{src}blocks.{index}.').items()})
    return out


def is_official_pretrain(state: State) -> bool:
    """An official AMD / VideoMAE *pre-training* checkpoint (encoder plus decoder)."""
    return any(k.startswith('encoder.') for k in state) and \
        any(k.startswith(('decoder.', 'encoder_to_decoder.')) for k in state)


# (official prefix, amd_mm prefix, how), first match wins; ``{}`` is a layer index
_PRETRAIN_PARTS = (
    ('encoder.projection_heads.', 'branches.0.heads.', 'plain'),
    ('encoder_to_decoder.', 'decoder.embed.', 'plain'),
    ('mask_token', 'decoder.mask_token', 'plain'),
    ('encoder.', 'backbone.', 'encoder'),
    ('generators.{}.', 'branches.0.generators.{}.', 'blocks'),
    ('decoder.', 'decoder.', 'blocks'),
)


def _convert_parts(state: State, to_amd: bool) -> State:
    """Move every key of ``state`` from one side of :data:`_PRETRAIN_PARTS` to the other."""
    parts = [(src, dst, how) if to_amd else (dst, src, how) for src, dst, how in _PRETRAIN_PARTS]
    patterns = [re.compile('^' + re.escape(src).replace(r'\{\}', r'(\d+)')) for src, _, _ in parts]
    groups: Dict[tuple, State] = {}
    for key, value in state.items():
        for (src, dst, how), pattern in zip(parts, patterns):
            m = pattern.match(key)
            if m:
                groups.setdefault((m.group(0), dst.format(*m.groups()), how), {})[key] = value
                break
        else:
            raise ValueError(f'{key}: no counterpart in the {"amd_mm" if to_amd else "official"} layout')
    out: State = {}
    for (src, dst, how), group in groups.items():
        if how == 'blocks':
            out.update(_map_blocks(group, src, dst, _block_to_amd if to_amd else _block_to_official))
            continue
        group = strip_prefix(group, src) if src.endswith('.') else {'': group[src]}
        if how == 'encoder':
            group = _rename(group, _VIDEOMAE_TO_MMACTION if to_amd else _MMACTION_TO_VIDEOMAE)
        out.update({dst + k: v for k, v in group.items()})
    return out


def convert_official_pretrain(state: State) -> State:
    """An official AMD (or VideoMAE) pre-training state dict -> amd_mm ``VideoAMD`` keys.

    ``encoder.`` -> ``backbone.`` (mmaction2 names), ``encoder.projection_heads.N`` ->
    ``branches.0.heads.N``, ``encoder_to_decoder`` -> ``decoder.embed``, ``mask_token`` ->
    ``decoder.mask_token``, ``generators.N.blocks`` -> ``branches.0.generators.N.blocks``;
    ``q_bias`` / ``v_bias`` of decoder and generator blocks become ``qkv.bias`` (zero key
    bias). Dropped: the generators' final norms (built but never applied by the official
    ``Generator.forward``) and fixed position tables. Not provided:
    :data:`NOT_IN_OFFICIAL_PRETRAIN`.
    """
    if not is_official_pretrain(state):
        raise ValueError('not an official AMD / VideoMAE pre-training checkpoint (needs encoder. '
                         f'and decoder. keys; first keys: {list(state)[:4]})')
    return _convert_parts({k: v for k, v in state.items() if not _UNUSED_OFFICIAL.match(k)}, to_amd=True)


def to_official_pretrain(state: State) -> State:
    """amd_mm ``VideoAMD`` state dict -> the official ``PretrainAMD`` layout (the inverse of
    :func:`convert_official_pretrain`; without a teacher branch: the VideoMAE layout).
    Raises for what the official model cannot hold (a decoder input bias, extra teachers);
    the generators' mask tokens, fixed tables and the mask generator's step are left out."""
    if any(k.startswith('branches.') and not k.startswith('branches.0.') for k in state):
        raise ValueError('the official layout has one teacher: extra_teachers cannot be converted')
    if 'decoder.embed.bias' in state:
        raise ValueError('decoder.embed.bias has no place in the official layout (its '
                         'encoder_to_decoder has no bias): train with model.decoder.embed_bias=False')
    optional = [re.compile(p) for p in NOT_IN_OFFICIAL_PRETRAIN]
    return _convert_parts({k: v for k, v in state.items() if not any(p.match(k) for p in optional)},
                          to_amd=False)


def missing_after_conversion(state: State, target: State) -> list:
    """Keys of ``target`` (a built model's state dict) that a converted ``state`` lacks,
    apart from :data:`NOT_IN_OFFICIAL_PRETRAIN`."""
    optional = [re.compile(p) for p in NOT_IN_OFFICIAL_PRETRAIN]
    return [k for k in target if k not in state and not any(p.match(k) for p in optional)]
