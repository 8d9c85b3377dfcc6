"""Weight-decay exemption by shape, the rule of the official MAE / VideoMAE / AMD code.

The official pre-training code (MCG-NJU/AMD ``optim_factory.py:60-68``, inherited from
BEiT / MAE) puts a parameter in the no-decay group when it is 1-D (every bias,
``q_bias`` / ``v_bias``, every norm weight) or when its name is in the model's
``no_weight_decay()`` list (``pos_embed``, ``mask_token``). MMEngine's
``paramwise_cfg`` matches *names* (``bias_decay_mult`` only hits parameters called
exactly ``bias``, ``custom_keys`` are substrings), so a parameter such as
``attn.q_bias`` silently keeps the full weight decay. This constructor applies the
rule by shape, whatever the parameter is called, on top of any ``paramwise_cfg``.
"""
from typing import Dict, List, Sequence

import torch.nn as nn
from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS

#: parameter names (the last component of the dotted name) exempt from weight decay
#: whatever their shape: the tokens and tables of MAE-style models.
DEFAULT_NO_DECAY_NAMES = ('pos_embed', 'mask_token', 'cls_token', 'dist_token',
                          'absolute_pos_embed', 'relative_position_bias_table')


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class ShapeDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """``DefaultOptimWrapperConstructor`` plus the official no-decay rule.

    A trainable parameter gets ``weight_decay=0`` when

    * ``param.ndim <= no_decay_ndim`` (default 1: biases of every kind, including
      ``q_bias`` / ``v_bias`` of VideoMAE attention, norm weights and biases, any
      other vector), or
    * the last component of its dotted name is in ``no_decay_names`` (default
      :data:`DEFAULT_NO_DECAY_NAMES`: ``pos_embed``, ``mask_token``, ``cls_token`` ...;
      so ``decoder.mask_token`` and ``branches.0.generators.1.mask_token`` match).

    Everything else of ``paramwise_cfg`` (``custom_keys`` with ``lr_mult`` /
    ``decay_mult``, ``bias_lr_mult``, ``norm_decay_mult`` ...) applies as in MMEngine
    first; the exemption is applied last and wins, so no combination of name rules can
    give a 1-D parameter weight decay again. Learning-rate settings are untouched.
    Parameter groups with identical settings are merged (in order of first
    appearance), so the optimizer holds a handful of groups instead of one per
    parameter; the update of every parameter is the same either way.

    Config::

        optim_wrapper = dict(
            type='AmpOptimWrapper',
            constructor='ShapeDecayOptimWrapperConstructor',
            optimizer=dict(type='AdamW', lr=2.4e-3, betas=(0.9, 0.95), weight_decay=0.05),
            # optional; the two keys below are this constructor's, the rest MMEngine's
            paramwise_cfg=dict(no_decay_names=('pos_embed', 'mask_token'), no_decay_ndim=1,
                               custom_keys={'backbone': dict(lr_mult=0.5)}))

    Args:
        optim_wrapper_cfg (dict): as ``DefaultOptimWrapperConstructor``.
        paramwise_cfg (dict, optional): MMEngine's keys plus ``no_decay_names``
            (sequence of str) and ``no_decay_ndim`` (int, ``-1`` disables the shape
            rule).
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: dict = None):
        paramwise_cfg = dict(paramwise_cfg or {})
        names = paramwise_cfg.pop('no_decay_names', DEFAULT_NO_DECAY_NAMES)
        ndim = paramwise_cfg.pop('no_decay_ndim', 1)
        if isinstance(names, str) or not all(isinstance(n, str) for n in names):
            raise ValueError('optim_wrapper.paramwise_cfg.no_decay_names must be a list of '
                             f'parameter names, got {names!r}')
        if not isinstance(ndim, int):
            raise ValueError(f'optim_wrapper.paramwise_cfg.no_decay_ndim must be an int, got {ndim!r}')
        super().__init__(optim_wrapper_cfg, paramwise_cfg)
        self.no_decay_names = tuple(names)
        self.no_decay_ndim = ndim

    def is_exempt(self, name: str, param: nn.Parameter) -> bool:
        """The no-decay rule for one parameter (dotted name as ``named_parameters``)."""
        return param.ndim <= self.no_decay_ndim or name.rsplit('.', 1)[-1] in self.no_decay_names

    def add_params(self, params: List[dict], module: nn.Module, prefix: str = '', **kwargs) -> None:
        if prefix:  # MMEngine recurses through this method; the rule is applied once, at the top
            return super().add_params(params, module, prefix, **kwargs)
        groups: List[dict] = []
        super().add_params(groups, module, prefix, **kwargs)
        names = {id(p): n for n, p in module.named_parameters()}
        for group in groups:
            (param,) = group['params']
            if self.is_exempt(names[id(param)], param):
                group['weight_decay'] = 0.0
        params.extend(merge_param_groups(groups))

    def __call__(self, model: nn.Module):
        if not self.paramwise_cfg:
            # MMEngine skips add_params (and with it any rule) for an empty paramwise_cfg
            self.paramwise_cfg = {'custom_keys': {}}
        return super().__call__(model)


def merge_param_groups(groups: Sequence[Dict]) -> List[Dict]:
    """Merge parameter groups whose settings (every key but ``params``) are equal."""
    merged: Dict[tuple, Dict] = {}
    for group in groups:
        options = {k: v for k, v in group.items() if k != 'params'}
        key = tuple(sorted((k, repr(v)) for k, v in options.items()))
        if key not in merged:
            merged[key] = dict(options, params=[])
        merged[key]['params'].extend(group['params'])
    return list(merged.values())
