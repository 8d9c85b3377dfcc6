"""Checkpoints for people who have only the toolboxes (OpenMMLab's publish convention).

A training checkpoint written by MMEngine holds the optimizer, the message hub
(``HistoryBuffer`` objects, numpy arrays and dtypes) and other pickled state; torch >= 2.6
loads with ``weights_only=True`` by default and refuses it. :func:`publish` keeps only
what a fine-tuning process needs: the model's tensors (on CPU, contiguous) under
``state_dict`` and the plain-typed part of ``meta``, and names the file after the first 8
hex digits of its sha256 (``OUT-<sha8>.pth``), as OpenMMLab's ``publish_model.py`` tools do.
"""
import numbers
import os
import os.path as osp
from typing import Optional

import torch

from .files import resolve_checkpoint, sha256_file
from .loading import extract_state_dict, load_checkpoint_file

_DROP = object()


def plain(value):
    """``value`` reduced to types ``torch.load(weights_only=True)`` accepts without
    allow-listing (str, bool, int, float, None, lists and str-keyed dicts of them);
    numpy scalars become Python numbers; anything else is dropped."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if hasattr(value, 'item') and getattr(value, 'ndim', None) == 0:  # numpy / torch scalar
        return plain(value.item())
    if isinstance(value, (list, tuple)):
        items = [plain(v) for v in value]
        return _DROP if any(v is _DROP for v in items) else items
    if isinstance(value, dict):
        out = {str(k): plain(v) for k, v in value.items() if isinstance(k, (str, int))}
        return {k: v for k, v in out.items() if v is not _DROP}
    return _DROP


def publishable(raw, source: str, backbone_only: bool = False) -> dict:
    """The published form of a loaded checkpoint ``raw`` (read from ``source``)."""
    state = extract_state_dict(raw, source, key='IN')
    if backbone_only:
        state = {k: v for k, v in state.items() if k.startswith('backbone.')}
        if not state:
            raise ValueError(f"IN: {source!r} has no 'backbone.' weights to keep with "
                             '--backbone-only (is it an amd_mm / MMEngine model checkpoint?).')
    state = {k: v.detach().cpu().contiguous().clone() for k, v in state.items()}
    meta = plain(raw['meta']) if isinstance(raw.get('meta'), dict) else {}
    meta['published_from'] = osp.basename(source)
    meta['backbone_only'] = bool(backbone_only)
    return {'state_dict': state, 'meta': meta}


def publish(src: str, out: str, backbone_only: bool = False, trusted: bool = False) -> str:
    """Write the published form of checkpoint ``src`` (a file or a work_dir) as
    ``<out stem>-<sha256[:8]>.pth`` and return that path.

    ``src`` is read by the project's one loader
    (:func:`~amd_mm.checkpoints.load_checkpoint_file`): weights-only with the
    globals MMEngine checkpoints hold; a file that needs more to unpickle (it could run
    code) is refused unless ``trusted`` (``--trust-checkpoints``). A truncated or corrupt
    file is one sentence naming it. The result is checked to load with torch's plain
    ``weights_only=True`` (no allow-list), as a process without amd_mm loads it.
    """
    src = resolve_checkpoint(src, key='IN')
    raw = load_checkpoint_file(src, key='IN', trusted=trusted,
                               trust_hint='pass --trust-checkpoints')
    published = publishable(raw, src, backbone_only)
    stem = out[:-len('.pth')] if out.endswith('.pth') else out
    os.makedirs(osp.dirname(osp.abspath(stem)), exist_ok=True)
    tmp = stem + '.publishing.pth'
    torch.save(published, tmp)
    try:
        torch.load(tmp, map_location='cpu', weights_only=True)  # what a plain toolbox does
        final = f'{stem}-{sha256_file(tmp)[:8]}.pth'
        os.replace(tmp, final)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    return final


def describe(path: str, published: Optional[dict] = None) -> str:
    published = published or load_checkpoint_file(path, key='OUT')
    state = published['state_dict']
    numel = sum(v.numel() for v in state.values())
    return (f'{path}: {len(state)} tensors ({numel / 1e6:.2f} M values), '
            f'{osp.getsize(path) / 2**20:.1f} MiB, meta keys {sorted(published["meta"])}')
