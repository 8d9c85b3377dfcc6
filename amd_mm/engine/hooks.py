"""Hooks for reliable pre-training runs (registered in MMEngine's root HOOKS, so every
toolbox scope finds them)."""
import random

import numpy as np
import torch
import torch.distributed as torch_dist
from mmengine.dist import get_world_size, is_distributed
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from ..models.algorithms.contract import as_distill_model, last_step
from ..utils.runtime import unwrap


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Save the python / numpy / torch random states in every checkpoint and keep the
    loaded ones until the train loop takes them (:meth:`take_loaded`), so a resumed run
    draws the same augmentations as an uninterrupted one.
    :class:`~amd_mm.engine.ResumableEpochBasedTrainLoop` adds it and restores the states
    where the interrupted run stood.

    In a distributed run every rank's states are saved (``rng_state_ranks``) and each rank
    of a resumed run with the same number of processes restores its own. MMEngine calls
    ``before_save_checkpoint`` on rank 0 only, so the states are gathered (a collective)
    before, when every rank reaches the checkpoint hook
    (:data:`~amd_mm.checkpoints.durable.GATHER_EVENT`, called by
    ``DurableCheckpointHook``), and kept on this hook until rank 0 writes them."""

    priority = 'VERY_LOW'

    def __init__(self):
        self._loaded = None
        self._ranks = None

    @staticmethod
    def capture() -> dict:
        return dict(python=random.getstate(), numpy=np.random.get_state(),
                    torch=torch.get_rng_state())

    @staticmethod
    def restore(state: dict):
        random.setstate(state['python'])
        np.random.set_state(state['numpy'])
        torch.set_rng_state(state['torch'])

    def take_loaded(self):
        """The states of the checkpoint this run resumed from (once; None otherwise)."""
        loaded, self._loaded = self._loaded, None
        return loaded

    def before_save_checkpoint_on_every_rank(self, runner) -> None:
        """Gather every rank's states for the checkpoint about to be written (a
        collective: the checkpoint hook calls it on every rank, see the class docstring)."""
        if is_distributed():
            from mmengine.dist import all_gather_object
            self._ranks = all_gather_object(self.capture())

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['rng_state'] = self.capture()
        ranks, self._ranks = self._ranks, None
        if ranks:
            checkpoint['rng_state_ranks'] = ranks

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        from mmengine.dist import get_rank
        states = checkpoint.get('rng_state_ranks')
        own = len(states) == get_world_size() if states else False
        self._loaded = states[get_rank()] if own else checkpoint.get('rng_state')


@HOOKS.register_module()
class DistSanityHook(Hook):
    """Checks, every ``interval`` iterations of a distributed run, that

    * every rank holds bit-identical student (trainable) weights,
    * every teacher is in eval mode with ``requires_grad=False`` on every rank,
    * the ranks drew different masks in the last step.

    A violation raises ``RuntimeError`` naming the first offending parameter; the
    result of each check is logged. Cheap: one all-gather of a checksum per tensor.
    """

    priority = 'LOW'

    def __init__(self, interval: int = 1000):
        self.interval = interval

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if not is_distributed() or not self.every_n_train_iters(runner, self.interval):
            return
        model = unwrap(runner.model)
        names, sums = [], []
        for name, param in model.named_parameters():
            if param.requires_grad:
                names.append(name)
                sums.append(param.detach().double().sum())
        local = torch.stack(sums)
        gathered = [torch.zeros_like(local) for _ in range(get_world_size())]
        torch_dist.all_gather(gathered, local)
        for rank, other in enumerate(gathered[1:], start=1):
            diff = (other != gathered[0]).nonzero()
            if len(diff):
                raise RuntimeError(f'DistSanityHook: rank {rank} holds different weights than rank 0 '
                                   f'at iter {runner.iter + 1}, first {names[int(diff[0])]!r}')
        distill = as_distill_model(model)
        teachers = [view.module for view in distill.teacher_views()] if distill else []
        if any(t.training or any(p.requires_grad for p in t.parameters()) for t in teachers):
            raise RuntimeError('DistSanityHook: the teacher is not frozen (train mode or requires_grad)')
        record = last_step()
        differ = None
        if record is not None:
            masks = record.masks
            mine = masks.ids_student.double().mul(torch.arange(1, masks.ids_student.numel() + 1,
                                                               device=masks.ids_student.device)
                                                  .view_as(masks.ids_student)).sum().view(1)
            all_masks = [torch.zeros_like(mine) for _ in range(get_world_size())]
            torch_dist.all_gather(all_masks, mine)
            differ = len(set(float(m) for m in all_masks)) == len(all_masks)
        runner.logger.info(
            f'DistSanityHook: iter {runner.iter + 1}: student weights identical on '
            f'{get_world_size()} ranks; teacher frozen: {bool(teachers)}; '
            f'masks differ across ranks: {differ}')
