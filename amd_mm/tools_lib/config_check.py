"""Configuration checks that end in one sentence naming the key, before anything is built.

* :class:`CfgOptionsAction`: ``--cfg-options`` parsing (MMEngine's ``DictAction``) that
  refuses an item without ``=`` and unbalanced brackets, naming the item.
* :func:`~amd_mm.utils.config.merge_cfg_options` (``amd_mm.utils.config``, beside
  ``load_config``) merges the options into a config after checking each value against
  the one it replaces and pointing at the nearest existing key for a new key that looks
  misspelled.
* :func:`check_keys`: every key of the ``model`` tree and of ``train_cfg`` / ``val_cfg`` /
  ``test_cfg`` must be an argument of the class its node builds (``model.student_layer``:
  "did you mean model.student_layers?").
* :func:`preflight`: the checks ``tools/train.py`` runs on the final config (keys, dataset
  list files, mixed precision on a machine without GPU).

A class whose ``__init__`` takes ``**kwargs`` is followed up its ``super().__init__``
chain; ``**kwargs`` a class never uses (some toolbox backbones swallow them: a
misspelled key is silently ignored there) count as no ``**kwargs``; where the chain
cannot be followed (``**kwargs`` passed elsewhere, no source) its keys are not checked,
so a valid config is never refused.
"""
import ast
import inspect
import textwrap
from typing import Optional, Set

from mmengine.config import DictAction

from ..registry import resolve_class
from ..utils.config import KEY_CHECKED, nearest

_P = inspect.Parameter
# keys holding configs of other registries or of builders that pop keys (norm_cfg,
# act_cfg, init_cfg, train_cfg of detectors, ...): not checked
_OTHER_BUILDERS = ('_cfg', '_cfgs')
_LOOPS = {'train_cfg': ('EpochBasedTrainLoop', 'IterBasedTrainLoop'),
          'val_cfg': ('ValLoop', 'ValLoop'), 'test_cfg': ('TestLoop', 'TestLoop')}
assert KEY_CHECKED == ('model', *_LOOPS)  # merge_cfg_options leaves these trees to check_keys
_LOOP_RUNTIME_ARGS = {'runner', 'dataloader', 'evaluator'}


def _kwargs_use(init, name: str) -> str:
    """How ``init`` uses its ``**name``: ``'super'`` (passed on to ``super().__init__``),
    ``'unused'`` (swallowed: extra keys are silently ignored) or ``'other'``."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(init)))
    except (OSError, TypeError, SyntaxError):
        return 'other'
    func = tree.body[0]
    if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return 'other'
    uses = [node for stmt in func.body for node in ast.walk(stmt)
            if isinstance(node, ast.Name) and node.id == name]
    if not uses:
        return 'unused'
    for node in (n for stmt in func.body for n in ast.walk(stmt)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == '__init__' and isinstance(node.func.value, ast.Call)
                and isinstance(node.func.value.func, ast.Name)
                and node.func.value.func.id == 'super'
                and any(k.arg is None and isinstance(k.value, ast.Name) and k.value.id == name
                        for k in node.keywords)):
            return 'super'
    return 'other'


def accepted_args(obj) -> Optional[Set[str]]:
    """The keyword arguments a class (through its ``super().__init__`` chain) or a
    function accepts; None when that cannot be known."""
    import torch.nn as nn
    if not inspect.isclass(obj):
        try:
            params = inspect.signature(obj).parameters.values()
        except (TypeError, ValueError):
            return None
        if any(p.kind is _P.VAR_KEYWORD for p in params):
            return None
        return {p.name for p in params if p.kind in (_P.POSITIONAL_OR_KEYWORD, _P.KEYWORD_ONLY)}
    names: Set[str] = set()
    for klass in obj.__mro__:
        if klass in (object, nn.Module):  # neither takes keyword arguments
            return names
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        try:
            params = list(inspect.signature(init).parameters.values())[1:]  # without self
        except (TypeError, ValueError):
            return None
        names |= {p.name for p in params if p.kind in (_P.POSITIONAL_OR_KEYWORD, _P.KEYWORD_ONLY)}
        var_kw = [p.name for p in params if p.kind is _P.VAR_KEYWORD]
        use = _kwargs_use(init, var_kw[0]) if var_kw else 'unused'
        if use == 'unused':  # no **kwargs, or swallowed: other keys are errors or ignored
            return names
        if use == 'other':
            return None
    return None


def _check_args(node: dict, path: str, obj, ignore=frozenset()) -> None:
    accepted = accepted_args(obj)
    if accepted is None:
        return
    for key in node:
        if key in ('type', '_scope_') or key in ignore or key in accepted:
            continue
        name = getattr(obj, '__name__', str(obj))
        close = nearest(key, accepted - _LOOP_RUNTIME_ARGS)
        hint = f'did you mean {path}.{close}?' if close else \
            f'its arguments are {", ".join(sorted(accepted - _LOOP_RUNTIME_ARGS))}.'
        raise ValueError(f'{path}.{key} is not an argument of {name}; {hint}')


def _check_tree(node, path: str, scope: Optional[str]) -> None:
    if isinstance(node, (list, tuple)):
        for i, item in enumerate(node):
            _check_tree(item, f'{path}.{i}', scope)
        return
    if not isinstance(node, dict):
        return
    if 'type' in node:
        obj = resolve_class(node, 'MODELS', scope)
        if obj is not None:
            _check_args(node, path, obj)
    for key, value in node.items():
        if not key.endswith(_OTHER_BUILDERS):
            _check_tree(value, f'{path}.{key}', node.get('_scope_', scope))


def check_keys(cfg) -> None:
    """Every key of ``cfg.model`` (recursively) and of the loop configs must be an
    argument of what its node builds. Raises ``ValueError`` naming the key and the
    nearest valid one."""
    scope = cfg.get('default_scope')
    if isinstance(cfg.get('model'), dict):
        _check_tree(cfg.model, 'model', scope)
    for name, (by_epoch, by_iter) in _LOOPS.items():
        loop = cfg.get(name)
        if not isinstance(loop, dict):
            continue
        node = dict(loop)
        if 'type' not in node:
            node['type'] = by_epoch if node.get('by_epoch', True) else by_iter
        obj = resolve_class(node, 'LOOPS', scope)
        if obj is not None:
            _check_args(loop, name, obj, ignore={'by_epoch'} if 'type' not in loop else set())


# -- --cfg-options -----------------------------------------------------------------------
def _balanced(text: str) -> bool:
    stack = []
    for char in text:
        if char in '([':
            stack.append(')' if char == '(' else ']')
        elif char in ')]':
            if not stack or stack.pop() != char:
                return False
    return not stack


class CfgOptionsAction(DictAction):
    """``--cfg-options KEY=VALUE ...`` as MMEngine's ``DictAction`` parses it, with one
    sentence naming the item for a missing ``=`` or unbalanced brackets."""

    def __call__(self, parser, namespace, values, option_string=None):
        for item in values or []:
            key, sep, value = item.partition('=')
            if not sep or not key.strip():
                raise ValueError(f'--cfg-options {item!r}: expected KEY=VALUE with no spaces '
                                 "around '=' (e.g. train_cfg.max_epochs=10)")
            if not _balanced(value):
                raise ValueError(f'--cfg-options {key}={value}: unbalanced brackets; lists are '
                                 'written [a,b] and tuples (a,b) (quote the option for the shell)')
        super().__call__(parser, namespace, values, option_string)


def check_amp_device(cfg) -> None:
    """A config whose optimizer wrapper is MMEngine's AMP one, on a machine without a
    device it supports, fails here with one sentence instead of an assertion."""
    from mmengine.optim import AmpOptimWrapper

    from ..engine.optim_wrapper import AMP_NEEDS_GPU, amp_device_available
    optim = cfg.get('optim_wrapper')
    if not isinstance(optim, dict) or amp_device_available():
        return
    obj = resolve_class(optim, 'OPTIM_WRAPPERS', cfg.get('default_scope'))
    if inspect.isclass(obj) and issubclass(obj, AmpOptimWrapper):
        raise ValueError(f'optim_wrapper.type={optim["type"]}: {AMP_NEEDS_GPU} (the paper-scale '
                         'configs are for GPUs; configs/tiny train on CPU)')


def check_batch_sizes(cfg, loaders=('train', 'val', 'test')) -> None:
    """``<loader>_dataloader.batch_size`` must be a whole number >= 1 (torch's sampler
    otherwise fails with a traceback naming no config key)."""
    for loader in loaders:
        dataloader = cfg.get(f'{loader}_dataloader')
        if not isinstance(dataloader, dict) or 'batch_size' not in dataloader:
            continue
        size = dataloader['batch_size']
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f'{loader}_dataloader.batch_size={size!r} must be a whole number '
                             '>= 1 (the samples each process takes per step).')


def preflight(cfg, loaders=('train', 'val'), train: bool = True) -> None:
    """The checks a tool runs on its final config before building the runner: config
    keys, batch sizes, the datasets' list files (of ``loaders``) and, for training, mixed
    precision without a GPU."""
    from ..datasets.list_files import check_datasets
    check_keys(cfg)
    check_batch_sizes(cfg, loaders)
    if train:
        check_amp_device(cfg)
    check_datasets(cfg, loaders)
