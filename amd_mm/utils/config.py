"""Reading a config as the tools do: ``--cfg-options`` merged with checks, the work_dir
settled (:func:`load_config`), for ``tools/*.py``, the measurements and the study alike.

Imports MMEngine only.
"""
import difflib
import os.path as osp
import sys
from typing import Iterable, List, Optional

#: config trees whose keys ``tools_lib.config_check.check_keys`` judges itself (no hint here)
KEY_CHECKED = ('model', 'train_cfg', 'val_cfg', 'test_cfg')


def load_config(path: str, cfg_options=None, work_dir=None, launcher='none'):
    """Read a config, apply ``--cfg-options`` and settle the work_dir, as OpenMMLab tools do.

    Nothing process-wide is set from the config: a tool that runs it applies
    ``trust_checkpoints`` for the run (:func:`amd_mm.checkpoints.trusted_by`) and, for a
    distributed ``launcher``, :func:`amd_mm.compat.enable_cpu_distributed`."""
    from mmengine.config import Config

    if not osp.isfile(path):
        raise SystemExit(f'config file {path!r} does not exist')
    cfg = Config.fromfile(path)
    cfg.launcher = launcher
    if cfg_options is not None:
        merge_cfg_options(cfg, cfg_options)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(path))[0])
    if osp.exists(cfg.work_dir) and not osp.isdir(cfg.work_dir):
        raise ValueError(f"{'--work-dir' if work_dir is not None else 'work_dir'} "
                         f'{cfg.work_dir!r} is a file, not a folder; give a folder for the logs '
                         'and checkpoints (it is created if missing).')
    return cfg


def nearest(key: str, candidates: Iterable[str]) -> Optional[str]:
    """The candidate closest to ``key`` (difflib), or None when none is close."""
    found = difflib.get_close_matches(key, list(candidates), n=1, cutoff=0.6)
    return found[0] if found else None


def _lookup(cfg, key: str):
    """(True, value) for an existing dotted key (list items by index), else (False,
    (path of the deepest existing node, that node))."""
    node, done = getattr(cfg, '_cfg_dict', cfg), []
    for part in key.split('.'):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False, ('.'.join(done), node)
        done.append(part)
    return True, node


def _leaf_paths(node, prefix: str = '', depth: int = 6) -> List[str]:
    out = []
    if depth and isinstance(node, dict):
        for key, value in node.items():
            out.append(prefix + key)
            out += _leaf_paths(value, f'{prefix}{key}.', depth - 1)
    return out


def _new_key_hint(key: str, parent_path: str, parent) -> Optional[str]:
    """The existing key a new ``key`` was probably meant to be, or None."""
    missing = key[len(parent_path) + 1 if parent_path else 0:].split('.')[0]
    if not isinstance(parent, dict):
        return None
    if parent_path:
        close = nearest(missing, parent.keys())
        return f'{parent_path}.{close}' if close else None
    # a new top-level key: nothing reads it unless the runner does; the same name deeper?
    same = [p for p in _leaf_paths(parent) if p.split('.')[-1] == missing]
    return same[0] if same else nearest(missing, parent.keys())


def _check_value(key: str, old, new) -> None:
    if isinstance(old, bool):
        if not isinstance(new, bool):
            raise ValueError(f'--cfg-options {key}={new}: the config holds true/false there '
                             f'({old}); give true or false')
    elif isinstance(old, (int, float)) and isinstance(new, str):
        kind = 'an integer' if isinstance(old, int) else 'a number'
        raise ValueError(f'--cfg-options {key}={new}: not a number, and the config holds {kind} '
                         f'there ({old!r})')


def merge_cfg_options(cfg, options: dict) -> None:
    """Merge ``--cfg-options`` into ``cfg`` (as ``Config.merge_from_dict``) after checking
    them: a value that cannot replace the config's (text where it holds a number or a
    bool) is a ``ValueError`` naming the key; a new key close to an existing one is
    reported on stderr (new keys are allowed: the toolboxes take many optional ones)."""
    for key, value in options.items():
        found, old = _lookup(cfg, key)
        if found:
            _check_value(key, old, value)
        elif key.split('.')[0] not in KEY_CHECKED:  # check_keys decides there
            hint = _new_key_hint(key, *old)
            if hint:
                print(f'warning: --cfg-options {key}: the config has no such key (a new one is '
                      f'added); did you mean {hint}?', file=sys.stderr)
    cfg.merge_from_dict(options)


