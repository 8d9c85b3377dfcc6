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


def _block_to_amd(block: State, where: str) -> State:
    """One official block's tensors (keys after ``blocks.N.``) in TransformerBlock names;
    ``q_bias`` / ``v_bias`` become the fused ``qkv.bias`` with a zero key bias."""
    out = {}
    for key, value in block.items():
        if key in ('attn.q_bias', 'attn.v_bias'):
            continue
        for old, new in _BLOCK_TO_AMD:
            if key.startswith(old):
                out[new + key[len(old):]] = value
                break
        else:
            raise ValueError(f'{where}{key}: unexpected key in an official transformer block')
    if 'attn.q_bias' in block:
        q, v = block['attn.q_bias'], block['attn.v_bias']
        out['qkv.bias'] = torch.cat([q, torch.zeros_like(q), v])
    return out


def _block_to_official(block: State, where: str = '') -> State:
    out = {}
    for key, value in block.items():
        if key == 'qkv.bias':
            q, _, v = value.chunk(3)  # the key bias changes no output: dropped
            out['attn.q_bias'], out['attn.v_bias'] = q.clone(), v.clone()
            continue
        for old, new in _BLOCK_TO_AMD:
            if key.startswith(new):
                out[old + key[len(new):]] = value
                break
        else:
            raise ValueError(f'{where}{key}: unexpected key in an amd_mm transformer block')
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
    groups: Dict[str, State] = {}
    for key, value in state.items():
        if _UNUSED_OFFICIAL.match(key):
            continue
        m = re.match(r'(encoder\.projection_heads\.|generators\.\d+\.|encoder\.|decoder\.)', key)
        groups.setdefault(m.group(1) if m else '', {})[key] = value
    out: State = {}
    for prefix, group in groups.items():
        if prefix == 'encoder.projection_heads.':
            out.update({'branches.0.heads.' + k[len(prefix):]: v for k, v in group.items()})
        elif prefix == 'encoder.':
            out.update({'backbone.' + k: v for k, v in
                        _rename(strip_prefix(group, prefix), _VIDEOMAE_TO_MMACTION).items()})
        elif prefix == 'decoder.':
            out.update(_map_blocks(group, prefix, 'decoder.', _block_to_amd))
        elif prefix.startswith('generators.'):
            out.update(_map_blocks(group, prefix, 'branches.0.' + prefix, _block_to_amd))
        else:
            for key, value in group.items():
                if key.startswith('encoder_to_decoder.'):
                    out['decoder.embed.' + key[len('encoder_to_decoder.'):]] = value
                elif key == 'mask_token':
                    out['decoder.mask_token'] = value
                else:
                    raise ValueError(f'{key}: unexpected key in an official pre-training checkpoint')
    return out


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
    state = {k: v for k, v in state.items() if not any(p.match(k) for p in optional)}
    groups: Dict[str, State] = {}
    for key, value in state.items():
        m = re.match(r'(branches\.0\.heads\.|branches\.0\.generators\.\d+\.|backbone\.|decoder\.)', key)
        if m is None:
            raise ValueError(f'{key}: no official counterpart')
        groups.setdefault(m.group(1), {})[key] = value
    out: State = {}
    for prefix, group in groups.items():
        if prefix == 'branches.0.heads.':
            out.update({'encoder.projection_heads.' + k[len(prefix):]: v for k, v in group.items()})
        elif prefix == 'backbone.':
            out.update({'encoder.' + k: v for k, v in
                        _rename(strip_prefix(group, prefix), _MMACTION_TO_VIDEOMAE).items()})
        elif prefix.startswith('branches.0.generators.'):
            out.update(_map_blocks(group, prefix, prefix[len('branches.0.'):], _block_to_official))
        else:  # decoder.
            embed = {k: group.pop(k) for k in list(group) if k.startswith('decoder.embed.')}
            out.update({'encoder_to_decoder.' + k[len('decoder.embed.'):]: v for k, v in embed.items()})
            if 'decoder.mask_token' in group:
                out['mask_token'] = group.pop('decoder.mask_token')
            out.update(_map_blocks(group, prefix, 'decoder.', _block_to_official))
    return out


def missing_after_conversion(state: State, target: State) -> list:
    """Keys of ``target`` (a built model's state dict) that a converted ``state`` lacks,
    apart from :data:`NOT_IN_OFFICIAL_PRETRAIN`."""
    optional = [re.compile(p) for p in NOT_IN_OFFICIAL_PRETRAIN]
    return [k for k in target if k not in state and not any(p.match(k) for p in optional)]
