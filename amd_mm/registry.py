"""Registration into the toolboxes' registries.

Shared components (masks, necks, losses, the teacher, backbones) are
registered into both mmpretrain's and mmaction2's ``MODELS`` so that a config
of either toolbox finds them by plain name once ``custom_imports`` lists
``amd_mm``; algorithm shells register only into their own toolbox.
"""
from mmaction.registry import MODELS as MMACTION_MODELS
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS

__all__ = ['MMPRETRAIN_MODELS', 'MMACTION_MODELS', 'register_shared', 'build_model', 'resolve_class']


def register_shared(cls):
    """Class decorator: register ``cls`` into mmpretrain's and mmaction2's MODELS."""
    MMPRETRAIN_MODELS.register_module(module=cls)
    MMACTION_MODELS.register_module(module=cls)
    return cls


def build_model(cfg, registry=None):
    """Build ``cfg`` (a dict or an already built module) from ``registry``.

    The registry defaults to mmpretrain's; both hold every shared component.
    """
    import torch.nn as nn
    from mmengine.registry import DefaultScope
    if cfg is None or isinstance(cfg, nn.Module):
        return cfg
    registry = registry or MMPRETRAIN_MODELS
    # build in the registry's own scope, whatever the current default scope is
    with DefaultScope.overwrite_default_scope(registry.scope):
        return registry.build(cfg)


def resolve_class(node: dict, registry: str, scope=None):
    """The class (or function) ``node['type']`` names in MMEngine's ``registry``
    (``'MODELS'``, ``'DATASETS'``, ...) under ``scope`` / the node's ``_scope_``;
    None when it cannot be found."""
    import mmengine.registry as registries
    kind = node.get('type')
    if not isinstance(kind, str):
        return kind if callable(kind) else None
    try:
        with getattr(registries, registry).switch_scope_and_registry(
                node.get('_scope_', scope)) as found:
            return found.get(kind)
    except Exception:  # an unknown scope or an import failure: not ours to judge here
        return None
