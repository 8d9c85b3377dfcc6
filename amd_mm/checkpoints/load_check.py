"""Loading weights strictly where it matters: ``load_from``, ``--resume`` and
``init_cfg=dict(type='Pretrained')``.

MMEngine loads all three non-strictly: a tensor of another shape, or a checkpoint of
another model altogether, becomes a list of warnings and training goes on from random
weights with exit code 0. :class:`CheckedLoadHook` watches each of these loads as it
happens (torch's public ``register_load_state_dict_pre_hook`` / ``_post_hook`` on the
module being loaded, so the comparison is the one torch makes, after the modules' own
load hooks, e.g. mmpretrain's position-embedding resize) and, when the load ends:

* a tensor whose shape differs from the model's is an error naming the key and both
  shapes (on a fresh load, a classification head of another size is allowed: it keeps
  its initial weights, as a new head);
* a load in which under half of the target's tensors find a tensor of the same name
  and shape is an error (another model, or a ``prefix`` that does not fit);
* encoder tensors the checkpoint lacks are an error, except the mean-pooling norm
  (``fc_norm``, mmpretrain's ``ln2``), which a fine-tuning backbone adds;
* the expected partial loads are logged with what they leave out: a new
  classification head, parts outside the encoder the checkpoint lacks (a decoder left
  out, projection heads, generators), checkpoint tensors the model has no place for.

The config key ``allow_partial_load=True`` turns the errors of ``load_from`` and
``Pretrained`` into warnings, for deliberate partial loads; ``--resume`` stays strict
(a checkpoint of another model cannot continue a run).

The hook is added by :class:`~amd_mm.engine.ResumableEpochBasedTrainLoop` and by
``tools/train.py``; with another loop and another train script, list it in
``custom_hooks``.
"""
import logging
from typing import Dict, List, Optional, Tuple

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.registry import HOOKS

from ..utils.runtime import unwrap
from .loading import last_loaded

OPT_OUT = 'allow_partial_load'
POOLING_NORMS = ('fc_norm', 'ln2')  # mean-pooling norms a fine-tuning backbone adds
HEADS = ('head', 'cls_head', 'roi_head')  # classification heads (another num_classes)
_LISTED = 6


def _shape(t) -> tuple:
    return tuple(getattr(t, 'shape', ()))


def _group(keys: List[str]) -> str:
    """``['decoder.a.w', 'decoder.b.w', 'head.fc.w']`` -> ``'decoder.* (2), head.fc.w'``."""
    groups: Dict[str, List[str]] = {}
    for key in keys:
        groups.setdefault(key.split('.', 1)[0], []).append(key)
    parts = [items[0] if len(items) == 1 else f'{name}.* ({len(items)})'
             for name, items in groups.items()]
    return ', '.join(parts[:_LISTED]) + (f' ... (+{len(parts) - _LISTED})' if len(parts) > _LISTED else '')


class LoadAudit:
    """Watches one load of a state dict into ``root`` and judges it at its end.

    Args:
        root: the module being loaded (the model, or the module of a ``Pretrained``
            init_cfg).
        what: how the messages name the load (``"load_from 'x.pth'"``).
        resume: a resume (no classification head of another size, no opt-out).
        allow_partial: errors become warnings (``allow_partial_load=True``).
    """

    def __init__(self, root, what: str, resume: bool = False, allow_partial: bool = False):
        self.root, self.what = root, what
        self.resume, self.allow_partial = resume, allow_partial
        self.expected = {k: _shape(v) for k, v in root.state_dict().items()
                         if not k.endswith('num_batches_tracked')}
        self.encoder = 'backbone.' if any(k.startswith('backbone.') for k in self.expected) else ''
        self.mismatched: Dict[str, Tuple[tuple, tuple]] = {}
        self.report: Optional[str] = None
        self._handles = []

    def arm(self) -> 'LoadAudit':
        for module in self.root.modules():  # after each module's own hooks (resizes)
            self._handles.append(module.register_load_state_dict_pre_hook(self._compare))
        self._handles.append(self.root.register_load_state_dict_post_hook(self._judge))
        return self

    def disarm(self):
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def _compare(self, module, state_dict, prefix, *args):
        own = list(module.named_parameters(recurse=False)) + list(module.named_buffers(recurse=False))
        for name, _ in own:
            key = prefix + name
            if key in self.expected and key in state_dict:
                source = _shape(state_dict[key])
                if source != self.expected[key] and not (  # torch loads a (1,) into a ()
                        self.expected[key] == () and source == (1,)):
                    self.mismatched[key] = (source, self.expected[key])

    def _judge(self, module, incompatible_keys):
        self.disarm()  # one load
        missing = [k for k in incompatible_keys.missing_keys if k in self.expected]
        unexpected = list(incompatible_keys.unexpected_keys)
        total = len(self.expected)
        matched = total - len(missing) - len(self.mismatched)
        problems = []
        heads = {k: v for k, v in self.mismatched.items()
                 if not self.resume and k.split('.', 1)[0] in HEADS}
        wrong = {k: v for k, v in self.mismatched.items() if k not in heads}
        if wrong:
            key, (source, target) = next(iter(wrong.items()))
            more = f' (and {len(wrong) - 1} more tensors of another shape)' if len(wrong) > 1 else ''
            problems.append(f'{key!r} has shape {source} in the checkpoint but {target} in the '
                            f'model{more}')
        if matched * 2 < total:
            sample = (missing or list(self.expected))[:1]
            problems.append(f'only {matched} of the model\'s {total} tensors are in the '
                            f'checkpoint with the same name and shape (the model has e.g. '
                            f'{sample[0]!r}; the checkpoint keys it had no place for: '
                            f'{_group(unexpected) or "none"})')
        inside = [k for k in missing if k.startswith(self.encoder)
                  and k[len(self.encoder):].split('.', 1)[0] not in POOLING_NORMS]
        if inside:
            problems.append(f'the checkpoint lacks {len(inside)} tensors of the encoder '
                            f'({_group(inside)})')
        new = [k for k in missing if k not in inside]
        self.report = (f'{self.what}: loaded {matched} of the model\'s {total} tensors'
                       + (f'; new, kept as initialised: {_group(new)}' if new else '')
                       + (f'; a new classification head of another size, kept as initialised: '
                          f'{_group(list(heads))}' if heads else '')
                       + (f'; in the checkpoint but not in the model: {_group(unexpected)}'
                          if unexpected else ''))
        if problems and (self.resume or not self.allow_partial):
            hint = ('resume from a checkpoint of this config\'s model, or start a new run from '
                    'other weights with load_from (no --resume)' if self.resume else
                    'give a checkpoint of this model (width, depth, patch and tubelet size), or '
                    f'set {OPT_OUT}=True in the config to load only what fits on purpose')
            raise ValueError(f'{self.what} does not fit the model: {problems[0]}; {hint}.')
        if problems:
            self.report += f' ({OPT_OUT}=True: {"; ".join(problems)})'
        print_log(self.report, logger='current', level=logging.WARNING if problems else logging.INFO)


def _pretrained(init_cfg) -> Optional[dict]:
    for cfg in init_cfg if isinstance(init_cfg, (list, tuple)) else [init_cfg]:
        if isinstance(cfg, dict) and cfg.get('type') in ('Pretrained', 'PretrainedInit'):
            return cfg
    return None


@HOOKS.register_module()
class CheckedLoadHook(Hook):
    """Judge every weight load of a training run (module docstring): the ``Pretrained``
    init_cfgs of the model's modules (armed before the runner initialises the weights),
    ``load_from`` and ``--resume`` (armed when MMEngine has read the checkpoint, before it
    loads it into the model)."""

    priority = 'VERY_HIGH'

    def __init__(self):
        self._audits: List[LoadAudit] = []

    def _disarm(self):
        for audit in self._audits:
            audit.disarm()
        self._audits = []

    def before_run(self, runner) -> None:
        allow = bool(runner.cfg.get(OPT_OUT, False))
        for name, module in unwrap(runner.model).named_modules():
            cfg = _pretrained(getattr(module, 'init_cfg', None))
            if cfg is None or getattr(module, 'is_init', False):
                continue
            prefix = f", prefix {cfg['prefix']!r}" if cfg.get('prefix') else ''
            what = (f"model{'.' + name if name else ''}.init_cfg (Pretrained "
                    f"{cfg.get('checkpoint')!r}{prefix})")
            self._audits.append(LoadAudit(module, what, allow_partial=allow).arm())

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._disarm()  # Pretrained inits are over (the runner initialised the weights)
        resume = bool(runner.cfg.get('resume', False))
        path = runner.cfg.get('load_from') or last_loaded()
        what = f"{'--resume' if resume else 'load_from'} {path!r}"
        self._audits.append(LoadAudit(unwrap(runner.model), what, resume=resume,
                                      allow_partial=bool(runner.cfg.get(OPT_OUT, False))).arm())

    def before_train(self, runner) -> None:
        self._disarm()
