"""Frozen modules, and holding them outside a parent's module tree: the one mechanism for
teachers.

* :class:`FrozenModule` is what being frozen means, in one place: ``requires_grad=False``
  and eval mode, kept whatever ``train()`` is called with. ``FrozenTeacher`` is one.
* :class:`FrozenHolder` keeps frozen modules *out of* a parent's module tree, so a teacher
  never reaches an optimizer, DDP's gradient buckets or a training checkpoint (it is not
  in ``parameters()``, ``named_children()`` or ``state_dict()``), while it still follows
  the parent through ``.to()``, ``.cuda()``, ``.half()`` and the like.
* :func:`save_with_state_dict` writes chosen out-of-tree modules into the owner's
  ``state_dict()`` under a prefix, and reads them back from ``load_state_dict()``, with
  torch's public state-dict hooks, only while a switch says so (``save_teacher``).
"""
from typing import Callable, Dict

import torch.nn as nn


class FrozenModule:
    """Mixin for an ``nn.Module`` that never trains: call :meth:`freeze` once built."""

    def freeze(self):
        """No gradients, eval mode (kept by :meth:`train`). Returns the module."""
        self.requires_grad_(False)
        return self.train(False)

    def train(self, mode: bool = True):
        return super().train(False)


class FrozenHolder:
    """Mixin for an ``nn.Module`` that holds frozen modules outside its module tree."""

    def hold(self, name: str, module: nn.Module, key: str = '') -> nn.Module:
        """Keep the frozen ``module`` under ``name``, out of the tree; returns it. ``key``
        (its config key) names it in the error for a module that is not frozen."""
        if not isinstance(module, FrozenModule):
            raise TypeError(f'{key or name}: {type(module).__name__} is not a frozen module; '
                            'use FrozenTeacher or FrameTeacher.')
        held = self.held_modules()
        held[name] = module
        self._frozen_held = held  # a plain dict attribute: nn.Module registers none of it
        return module

    def held(self, name: str) -> nn.Module:
        """The module held under ``name``."""
        return self._frozen_held[name]

    def held_modules(self) -> Dict[str, nn.Module]:
        return dict(getattr(self, '_frozen_held', {}))

    def _apply(self, fn, *args, **kwargs):
        # torch has no public hook for device / dtype moves: nn.Module routes every one of
        # them (.to, .cuda, .half, ...) through _apply, so the held modules follow here
        super()._apply(fn, *args, **kwargs)
        for module in self.held_modules().values():
            module._apply(fn, *args, **kwargs)
        return self


def save_with_state_dict(owner: nn.Module, modules: Callable[[], Dict[str, nn.Module]],
                         enabled: Callable[[], bool]) -> None:
    """Write out-of-tree ``modules()`` (``{prefix: module}``) into ``owner.state_dict()``
    while ``enabled()`` is true, and load keys under those prefixes back into them.

    Loading is strict per module: a checkpoint that holds some of a module's keys must
    hold all of them. Checkpoints without the prefixes load as before (the held modules
    keep their weights, e.g. a teacher loaded from its own checkpoint at build time).
    """
    def add(module, state_dict, prefix, local_metadata):
        if enabled():
            for key, held in modules().items():
                for name, value in held.state_dict().items():
                    state_dict[prefix + key + name] = value

    def take(module, state_dict, prefix, *args):
        for key, held in modules().items():
            start = prefix + key
            found = [k for k in state_dict if k.startswith(start)]
            if found:
                held.load_state_dict({k[len(start):]: state_dict.pop(k) for k in found}, strict=True)

    owner.register_state_dict_post_hook(add)
    owner.register_load_state_dict_pre_hook(take)
