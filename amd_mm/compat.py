"""The one place where known defects of the pinned dependencies are patched.

Each fix is small, idempotent, applied once by :func:`apply` (called on
``import amd_mm``) and covered by ``tests/test_compat.py``. Nothing here edits
installed files.

Fixes:

* **mmaction2 1.2.0 lacks ``mmaction/models/localizers/drn``** (upstream
  issue #2714): its wheel and sdist ship ``localizers/__init__.py`` importing
  ``from .drn.drn import DRN`` without the folder, so ``import mmaction.models``
  raises ``ModuleNotFoundError``. A placeholder package is put into
  ``sys.modules`` *before* ``mmaction.models`` is first imported (a failed first
  import leaves half-registered modules behind). Only the DRN grounding
  localizer is lost; building it raises a clear error.
* **MMEngine 0.10.7 cannot read its own checkpoints under torch >= 2.6**: its local
  loader calls ``torch.load`` without ``weights_only``, torch >= 2.6 defaults to
  ``weights_only=True``, and MMEngine's training checkpoints hold objects that this
  refuses (``HistoryBuffer`` in the message hub, numpy arrays, dtypes and scalars), so
  ``--resume``, ``load_from`` and ``init_cfg=dict(type='Pretrained')`` fail. MMEngine's
  loader for local files (``CheckpointLoader``'s ``''`` scheme) is re-registered to call
  :func:`amd_mm.checkpoints.load_checkpoint_file`: still ``weights_only=True``,
  with exactly those globals allow-listed (a ``getattr`` restricted to
  ``HistoryBuffer``'s statistics methods included); a file needing anything else is
  refused with one sentence unless the user trusts it (config key
  ``trust_checkpoints=True``). Corrupt, truncated and empty files become one sentence
  naming the file. Remote schemes (``http://``, ``s3://`` ...) keep MMEngine's loaders.
* **MMEngine 0.10.7 cannot launch distributed runs on CPU**: its PyTorch
  launcher calls ``torch.cuda.set_device`` unconditionally and its runner passes
  ``device_ids=[LOCAL_RANK]`` to DDP, both of which fail without a GPU. This fix is
  *not* part of :func:`apply`: :func:`enable_cpu_distributed` applies it only on a
  machine without CUDA when a distributed launcher is used (``tools/train.py`` and
  ``tools/test.py`` call it for ``--launcher`` other than ``none``; CPU-only CI runs
  ``tools/dist_train.sh`` with gloo). The process group is then initialised without
  ``set_device`` and DDP gets no ``device_ids``. Machines with GPUs never get it.
* **MMEngine 0.10.7 passes ``_scope_`` to collate functions**: a config inheriting a
  shipped one by a package-scoped base (``_base_ = ['mmpretrain::mae/...']``) gets
  ``_scope_='mmpretrain'`` in every dict with a ``type``, including
  ``train_dataloader.collate_fn``, whose remaining keys the Runner binds as keyword
  arguments: ``default_collate() got an unexpected keyword argument '_scope_'``. The
  Runner's ``build_dataloader`` takes ``_scope_`` out and builds in that scope.
* **numpy 2 removed ``np.trapz``, ``np.in1d``, ``np.Inf`` and ``np.NAN``**, still
  used by a few toolbox paths (mmaction2 ANet AR@AN, mmpretrain / mmaction2
  retrieval metrics, mmaction2 ``PoseCompact``, mmaction2's AVA mAP). The old
  names are restored as aliases of their numpy 2 replacements when missing.
"""
import importlib.util
import sys
import types

import numpy as np

_APPLIED = set()


def _once(fn):
    def wrapper():
        if fn.__name__ not in _APPLIED:
            fn()
            _APPLIED.add(fn.__name__)
    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


@_once
def fix_mmaction_drn():
    """Provide ``mmaction.models.localizers.drn.drn.DRN`` when the package lacks it."""
    pkg = 'mmaction.models.localizers.drn'
    if pkg in sys.modules:
        return
    try:
        spec = importlib.util.find_spec('mmaction')
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        return  # mmaction2 not installed: nothing to fix
    import os
    root = list(spec.submodule_search_locations)[0]
    if os.path.isfile(os.path.join(root, 'models', 'localizers', 'drn', 'drn.py')):
        return  # a complete install: leave it alone

    class DRN:  # noqa: D401 - placeholder
        """Placeholder: mmaction2 1.2.0 was released without the DRN localizer."""

        def __init__(self, *args, **kwargs):
            raise ImportError(
                'DRN is not available: the installed mmaction2 1.2.0 package '
                'ships without mmaction/models/localizers/drn (upstream issue '
                '#2714). amd_mm.compat put this placeholder in its place so the '
                'rest of mmaction.models imports.')

    drn_pkg = types.ModuleType(pkg)
    drn_pkg.__path__ = []  # a package, so `from .drn.drn import DRN` resolves
    drn_mod = types.ModuleType(pkg + '.drn')
    drn_mod.DRN = DRN
    drn_pkg.drn = drn_mod
    sys.modules[pkg] = drn_pkg
    sys.modules[pkg + '.drn'] = drn_mod


@_once
def fix_mmengine_torch_load():
    """Let MMEngine read its own checkpoints under torch >= 2.6, weights-only."""
    from mmengine.runner.checkpoint import CheckpointLoader

    from .checkpoints.loading import load_checkpoint_file

    original = CheckpointLoader._schemes.get('')

    def load_from_local(filename, map_location=None):
        import os.path as osp
        return load_checkpoint_file(osp.expanduser(filename), map_location=map_location)

    load_from_local.__wrapped__ = original
    CheckpointLoader.register_scheme(prefixes='', loader=load_from_local, force=True)


@_once
def fix_numpy2_aliases():
    """Restore ``np.trapz``, ``np.in1d``, ``np.Inf`` and ``np.NAN`` removed in numpy 2."""
    if not hasattr(np, 'trapz') and hasattr(np, 'trapezoid'):
        np.trapz = np.trapezoid
    if not hasattr(np, 'in1d'):
        np.in1d = lambda ar1, ar2, assume_unique=False, invert=False: np.isin(
            np.asarray(ar1).ravel(), ar2, assume_unique=assume_unique, invert=invert)
    if not hasattr(np, 'Inf'):
        np.Inf = np.inf
    if not hasattr(np, 'NAN'):  # mmaction2's AVA evaluation (ava_evaluation/metrics.py)
        np.NAN = np.nan


@_once
def fix_mmengine_cpu_distributed():
    """Let ``--launcher pytorch`` and DDP work on CPU-only machines (gloo)."""
    import torch
    import torch.distributed as torch_dist
    import mmengine.dist.utils as dist_utils
    from mmengine.model.wrappers import distributed as wrappers

    original_init = dist_utils._init_dist_pytorch

    def _init_dist_pytorch(backend, init_backend='torch', **kwargs):
        if torch.cuda.is_available() or init_backend != 'torch':
            return original_init(backend, init_backend=init_backend, **kwargs)
        torch_dist.init_process_group(backend=backend, **kwargs)

    _init_dist_pytorch.__wrapped__ = original_init
    dist_utils._init_dist_pytorch = _init_dist_pytorch

    ddp = wrappers.MMDistributedDataParallel
    original_ddp_init = ddp.__init__

    def __init__(self, module, detect_anomalous_params=False, **kwargs):
        params = list(module.parameters())
        if kwargs.get('device_ids') and params and all(p.device.type == 'cpu' for p in params):
            kwargs['device_ids'] = None  # DDP of a CPU module takes no device ids
        original_ddp_init(self, module, detect_anomalous_params=detect_anomalous_params, **kwargs)

    __init__.__wrapped__ = original_ddp_init
    ddp.__init__ = __init__


@_once
def fix_mmengine_collate_scope():
    """Build ``collate_fn=dict(_scope_=..., type=...)`` (package-scoped bases) in its scope
    instead of passing ``_scope_`` to the function."""
    from mmengine.registry import DefaultScope
    from mmengine.runner import Runner

    original = Runner.build_dataloader

    def build_dataloader(dataloader, *args, **kwargs):
        collate = dataloader.get('collate_fn') if isinstance(dataloader, dict) else None
        if not (isinstance(collate, dict) and '_scope_' in collate):
            return original(dataloader, *args, **kwargs)
        collate = dict(collate)
        scope = collate.pop('_scope_')
        with DefaultScope.overwrite_default_scope(scope):
            return original(dict(dataloader, collate_fn=collate), *args, **kwargs)

    build_dataloader.__wrapped__ = original
    Runner.build_dataloader = staticmethod(build_dataloader)


def enable_cpu_distributed(launcher: str) -> bool:
    """Apply :func:`fix_mmengine_cpu_distributed` when it is needed: a distributed
    ``launcher`` (not ``'none'``) on a machine without CUDA. Returns whether it did."""
    import torch
    if launcher == 'none' or torch.cuda.is_available():
        return False
    fix_mmengine_cpu_distributed()
    return True


def apply():
    """Apply the dependency fixes every process needs (idempotent). Called by
    ``import amd_mm``; the CPU-distributed fix is applied by
    :func:`enable_cpu_distributed` where needed."""
    fix_mmaction_drn()
    fix_numpy2_aliases()
    fix_mmengine_torch_load()
    fix_mmengine_collate_scope()
