"""An optimizer wrapper that never lets a NaN / inf loss reach the weights."""
from typing import Dict, Optional

import torch
import torch.distributed as torch_dist
from mmengine.dist import is_distributed
from mmengine.logging import MessageHub, print_log
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS

from ..models.algorithms.step import last_step


@OPTIM_WRAPPERS.register_module()
class NonFiniteGuardOptimWrapper(OptimWrapper):
    """``OptimWrapper`` that checks the loss before the backward pass.

    Args:
        on_nonfinite (str): ``'stop'`` (default) raises ``FloatingPointError``;
            ``'skip'`` drops the step (no backward, no update, gradients of the
            current accumulation window cleared) and training goes on.
        max_skips (int): with ``'skip'``, stop anyway after this many skipped steps.
        **kwargs: ``OptimWrapper`` arguments.

    Either way one log line gives the iteration, every loss term and the files of
    the batch (from the step's :class:`~amd_mm.models.algorithms.step.StepRecord`). In
    distributed runs the ranks agree (all-reduce) so they skip together. Under
    ``AmpOptimWrapper`` the grad scaler already skips non-finite steps.
    """

    def __init__(self, *args, on_nonfinite: str = 'stop', max_skips: int = 100, **kwargs):
        super().__init__(*args, **kwargs)
        if on_nonfinite not in ('stop', 'skip'):
            raise ValueError(f"optim_wrapper.on_nonfinite={on_nonfinite!r} must be 'stop' or 'skip'")
        self.on_nonfinite = on_nonfinite
        self.max_skips = max_skips
        self.num_skipped = 0

    @staticmethod
    def _describe(loss: torch.Tensor) -> str:
        record = last_step()
        terms = {'loss': float(loss.detach()), **(record.loss_terms() if record else {})}
        files = record.files if record else []
        it = MessageHub.get_current_instance().get_info('iter')
        shown = ', '.join(files[:8]) + (f' ... (+{len(files) - 8})' if len(files) > 8 else '')
        return (f'non-finite loss at iter {None if it is None else it + 1}: '
                + ', '.join(f'{k}={v:.6g}' for k, v in terms.items())
                + (f'; batch files: {shown}' if files else ''))

    def update_params(self, loss: torch.Tensor, step_kwargs: Optional[Dict] = None,
                      zero_kwargs: Optional[Dict] = None) -> None:
        finite = torch.isfinite(loss.detach()).all().float()
        if is_distributed():
            torch_dist.all_reduce(finite, op=torch_dist.ReduceOp.MIN)
        if finite.item() == 1.0:
            return super().update_params(loss, step_kwargs, zero_kwargs)
        message = self._describe(loss)
        if self.on_nonfinite == 'stop' or self.num_skipped >= self.max_skips:
            raise FloatingPointError(
                message + ('' if self.on_nonfinite == 'stop' else
                           f' ({self.max_skips} steps skipped already: stopping)'))
        self.num_skipped += 1
        print_log(f'{message}: step skipped ({self.num_skipped} so far)', logger='current', level=40)
        self._inner_count += 1  # keep accumulation windows aligned
        self.zero_grad(**(zero_kwargs or {}))
