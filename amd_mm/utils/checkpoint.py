"""Reading weights out of the checkpoint layouts met in practice."""
import os.path as osp
from typing import Mapping

import torch


def extract_state_dict(raw, path: str, key: str = 'checkpoint') -> dict:
    """The tensor dict of a checkpoint.

    Accepts a plain state dict, MMEngine checkpoints (``state_dict``) and the
    official releases (``model`` / ``module``). Raises one sentence naming the
    config ``key`` and ``path`` otherwise (e.g. an optimizer-only file).
    """
    if not isinstance(raw, Mapping):
        raise ValueError(f'{key}: {path!r} holds a {type(raw).__name__}, not a dict of weights.')
    state = raw
    for name in ('state_dict', 'model', 'module'):
        if isinstance(raw.get(name), Mapping):
            state = raw[name]
            break
    tensors = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise ValueError(
            f'{key}: {path!r} holds no model weights (top-level keys: '
            f'{sorted(map(str, raw))[:6]}); an optimizer-only or metadata-only file?')
    return tensors


def resolve_checkpoint(path: str, key: str = 'checkpoint') -> str:
    """A checkpoint file from ``path``: a file, or an MMEngine work_dir whose
    ``last_checkpoint`` names the newest checkpoint."""
    if osp.isdir(path):
        pointer = osp.join(path, 'last_checkpoint')
        if not osp.isfile(pointer):
            raise FileNotFoundError(
                f'{key}: {path!r} is a folder without a last_checkpoint file; train it first '
                'or give a checkpoint file.')
        with open(pointer) as f:
            target = f.read().strip()
        if not osp.isabs(target) and not osp.isfile(target):
            target = osp.join(path, osp.basename(target))
        path = target
    if not osp.isfile(path):
        raise FileNotFoundError(f'{key}: file {path!r} does not exist.')
    return path
