"""Frozen modules held outside a parent's module tree: the one mechanism for teachers.

A frozen teacher must never reach an optimizer, DDP's gradient buckets or a training
checkpoint, so it is not registered as a submodule: it does not appear in
``parameters()``, ``named_children()`` or ``state_dict()``. It must still follow its
parent through ``.to()``, ``.cuda()``, ``.half()`` and the like, and a run may choose to
save it with the student. :class:`FrozenHolder` gives a module those two behaviours:

* :meth:`FrozenHolder.hold` stores a module out of the tree (frozen: eval mode,
  ``requires_grad=False``); :meth:`FrozenHolder.held` returns it;
* device / dtype moves of the holder are applied to the held modules too (``_apply`` is
  the single place where ``nn.Module`` routes every such move);
* :func:`save_with_state_dict` writes chosen out-of-tree modules into the owner's
  ``state_dict()`` under a prefix, and reads them back from ``load_state_dict()``, with
  torch's public state-dict hooks, only while a switch says so (``save_teacher``).
"""
from typing import Callable, Dict

import torch.nn as nn


class FrozenHolder:
    """Mixin for an ``nn.Module`` that holds frozen modules outside its module tree."""

    def hold(self, name: str, module: nn.Module) -> nn.Module:
        """Keep ``module`` under ``name``, frozen and out of the tree; returns it."""
        held = self.__dict__.setdefault('_held_modules', {})
        module.requires_grad_(False)
        module.eval()
        held[name] = module
        return module

    def held(self, name: str) -> nn.Module:
        """The module held under ``name``."""
        return self.__dict__['_held_modules'][name]

    def held_modules(self) -> Dict[str, nn.Module]:
        return dict(self.__dict__.get('_held_modules', {}))

    def _apply(self, fn, *args, **kwargs):
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
