"""Reading checkpoints: loading a file safely, trusting it on purpose, taking the weights out.

* :func:`load_checkpoint_file`, the one loader of every tool and of MMEngine's local
  loads, loads it with ``weights_only=True`` and an allow-list of exactly the globals
  MMEngine checkpoints hold; anything else is refused with one sentence naming the file
  and how to trust it (``trust_checkpoints=True`` in the config, ``--trust-checkpoints``
  for tools/convert_checkpoint.py and tools/publish_checkpoint.py); a missing, empty,
  truncated or corrupt file is one sentence naming the file;
* :func:`extract_state_dict` takes the tensors out of the layouts met in practice;
* trust is a setting of this process, scoped to a run: :func:`trusting_checkpoints`
  (``with trusting_checkpoints(trusted_by(cfg)):`` in the tools that run a config).
"""
import contextlib
import logging
import os.path as osp
import pickle
import re
from typing import Mapping, Optional

import torch

from .files import resolve_checkpoint


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


# -- safe loading --------------------------------------------------------------------------
_TRUST = {'all': False}
_LAST = {'path': None}


def last_loaded() -> Optional[str]:
    """The file :func:`load_checkpoint_file` read last in this process (None: none yet);
    :class:`~amd_mm.checkpoints.CheckedLoadHook` names it when the runner loads one it found
    itself (MMEngine's automatic resume)."""
    return _LAST['path']


def trust_checkpoints(value: bool = True) -> bool:
    """Allow (True) or forbid (False, the default) full unpickling of checkpoints that
    weights-only loading refuses, for this process. Returns the previous setting. Prefer
    the scoped form, :func:`trusting_checkpoints`."""
    previous, _TRUST['all'] = _TRUST['all'], bool(value)
    return previous


@contextlib.contextmanager
def trusting_checkpoints(value: bool = True):
    """Trust (or not) checkpoints for the ``with`` block, then restore the setting:
    ``tools/train.py`` and ``tools/test.py`` run a config inside
    ``trusting_checkpoints(trusted_by(cfg))``."""
    previous = trust_checkpoints(value)
    try:
        yield
    finally:
        trust_checkpoints(previous)


def trusted_by(cfg) -> bool:
    """The config key ``trust_checkpoints`` (default False): whether a run of ``cfg`` may
    fully unpickle checkpoints the weights-only loader refuses."""
    return bool(cfg.get('trust_checkpoints', False))


def _history_buffer_getattr(obj, name):
    """The one use of ``builtins.getattr`` in MMEngine checkpoints: pickle (protocol 2)
    writes ``HistoryBuffer``'s statistics methods (``HistoryBuffer.min`` ...) as
    ``getattr(HistoryBuffer, 'min')``. Anything else is refused: a free ``getattr``
    would let a file reach any attribute of the allowed classes."""
    from mmengine.logging import HistoryBuffer
    known = {'min', 'max', 'current', 'mean', *getattr(HistoryBuffer, '_statistics_methods', {})}
    if obj is HistoryBuffer and name in known and not name.startswith('_'):
        return getattr(obj, name)
    raise pickle.UnpicklingError(f'Unsupported global: GLOBAL builtins.getattr({obj!r}, {name!r}) '
                                 'outside the HistoryBuffer statistics methods')


def mmengine_safe_globals() -> list:
    """What ``torch.load(weights_only=True)`` needs beyond tensors and containers to read
    MMEngine 0.10 checkpoints: ``HistoryBuffer`` (message hub), numpy arrays, dtypes and
    scalars (metrics, random states), under their numpy 2 and numpy 1 module names, and
    a ``getattr`` restricted to ``HistoryBuffer``'s statistics methods; plus
    ``argparse.Namespace``, the ``args`` of the official AMD / VideoMAE / MAE checkpoints
    (a plain attribute bag)."""
    import argparse

    import numpy as np
    from mmengine.logging import HistoryBuffer
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy 1
        from numpy.core import multiarray
    allowed = [HistoryBuffer, np.ndarray, np.dtype, multiarray._reconstruct, multiarray.scalar,
               (_history_buffer_getattr, 'builtins.getattr'), argparse.Namespace]
    for module in ('numpy._core.multiarray', 'numpy.core.multiarray'):
        allowed += [(multiarray._reconstruct, f'{module}._reconstruct'),
                    (multiarray.scalar, f'{module}.scalar')]
    dtypes = getattr(np, 'dtypes', None)  # numpy >= 1.25: one class per dtype
    if dtypes is not None:
        allowed += [getattr(dtypes, n) for n in dir(dtypes) if n.endswith('DType')]
    return allowed


_UNSAFE = re.compile(r'(?:Unsupported global: GLOBAL|unsupported GLOBAL) ([^\s(]+(?:\([^)]*\))?)')


TRUST_HINT = 'set trust_checkpoints=True in the config'


def load_checkpoint_file(path: str, key: Optional[str] = None, map_location='cpu',
                         trusted: Optional[bool] = None, trust_hint: str = TRUST_HINT):
    """``torch.load`` a checkpoint the safe way, with one sentence for every failure: the
    one loader of the project (the teacher, MMEngine's ``--resume`` / ``load_from`` /
    ``init_cfg`` ``Pretrained`` through :mod:`amd_mm.compat`, tools/test.py,
    tools/convert_checkpoint.py, tools/publish_checkpoint.py).

    Weights-only first: loads with ``weights_only=True`` and :func:`mmengine_safe_globals`.
    A file that needs any other global (arbitrary code could run while unpickling it) is
    refused with a ``ValueError`` naming the file, the global and how to trust it
    (``trust_hint``: the config key, or a tool's ``--trust-checkpoints``) unless
    ``trusted`` (default: the process setting of :func:`trust_checkpoints`), in which case
    it is fully unpickled and a warning says so. A missing file is a
    ``FileNotFoundError``; an empty, truncated or corrupt one a ``ValueError``; both name
    ``key`` (the config key or argument, default ``checkpoint``) and the file. A folder is
    an MMEngine work_dir: its ``last_checkpoint`` is loaded (:func:`resolve_checkpoint`).
    """
    what = key or 'checkpoint'
    if osp.isdir(path):
        path = resolve_checkpoint(path, what)
    _LAST['path'] = path
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what}: file {path!r} does not exist.')
    if osp.getsize(path) == 0:
        raise ValueError(f'{what}: {path!r} is empty (0 bytes): a checkpoint cut off while it '
                         'was written? Use an earlier checkpoint.')
    try:
        with torch.serialization.safe_globals(mmengine_safe_globals()):
            return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001 - every failure of reading this file is the file's
        reason = _first_line(err.__context__ if isinstance(err, pickle.UnpicklingError)
                             and err.__context__ is not None else err)
        unsafe = _UNSAFE.search(str(err)) or _UNSAFE.search(reason)
        if unsafe is None or not _resolvable(unsafe.group(1)):  # a cut-off name: a cut-off file
            raise _unreadable(what, path, reason) from err
        if not (_TRUST['all'] if trusted is None else trusted):
            raise ValueError(
                f'{what}: {path!r} needs {unsafe.group(1)} to be unpickled, which could run '
                f'arbitrary code, so the safe (weights-only) loader refused it; if you trust the '
                f'file, {trust_hint}.') from err
    from mmengine.logging import print_log
    print_log(f'{what}: {path!r} needs {unsafe.group(1)}: fully unpickling it because the '
              'checkpoint is trusted.', logger='current',
              level=logging.WARNING)
    try:
        return torch.load(path, map_location=map_location, weights_only=False)
    except Exception as err:  # noqa: BLE001
        raise _unreadable(what, path, _first_line(err)) from err


def _resolvable(name: str) -> bool:
    """Whether a global named in a refused pickle exists (a truncated file can end in
    the middle of a name, e.g. ``torch._utils._rebuild_tens``)."""
    import importlib
    if '(' in name:
        return True
    module, _, attr = name.rpartition('.')
    try:
        return hasattr(importlib.import_module(module), attr)
    except Exception:  # noqa: BLE001 - not importable: not a real global
        return False


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    if not text:
        return type(err).__name__
    return f'{type(err).__name__}: {text[0].split(". ")[0][:160]}'


def _unreadable(what: str, path: str, reason: str) -> ValueError:
    return ValueError(f'{what}: {path!r} is not a readable checkpoint ({reason}); the file is '
                      'truncated or corrupt, e.g. cut off while it was written or copied.')

