"""Optimizer wrappers that never let a NaN / inf loss reach the weights, in fp32
(:class:`NonFiniteGuardOptimWrapper`) and under MMEngine's AMP
(:class:`NonFiniteGuardAmpOptimWrapper`); both share :class:`NonFiniteGuardMixin`."""
from typing import Dict, Optional

import torch
import torch.distributed as torch_dist
from mmengine.dist import is_distributed
from mmengine.logging import MessageHub, print_log
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS

from ..models.algorithms.contract import last_step

AMP_NEEDS_GPU = ("MMEngine's mixed precision (AmpOptimWrapper) needs a GPU (CUDA, NPU, MLU or "
                 'MUSA) and this machine has none')


def amp_device_available() -> bool:
    """Whether MMEngine's ``AmpOptimWrapper`` can be built here (the devices it accepts)."""
    from mmengine.device import (is_cuda_available, is_mlu_available, is_musa_available,
                                 is_npu_available)
    return is_cuda_available() or is_npu_available() or is_mlu_available() or is_musa_available()


class NonFiniteGuardMixin:
    """Checks the loss before the backward pass of an ``OptimWrapper`` subclass.

    Args:
        on_nonfinite (str): ``'stop'`` (default) raises ``FloatingPointError``;
            ``'skip'`` drops the step (no backward, no update, gradients of the
            current accumulation window cleared) and training goes on.
        max_skips (int): with ``'skip'``, stop anyway after this many skipped steps.
        max_consecutive_skips (int): with ``'skip'``, stop when this many steps in a row
            were skipped and the next one is non-finite too (a diverged run, or a stretch
            of bad data, not a stray batch); the error names the batches of those steps.
        *args, **kwargs: the wrapped class's arguments.

    Either way one log line gives the iteration, every loss term and the files of
    the batch (from the step's :class:`~amd_mm.models.algorithms.contract.StepRecord`). In
    distributed runs the ranks agree (all-reduce) so they skip together.
    """

    def __init__(self, *args, on_nonfinite: str = 'stop', max_skips: int = 100,
                 max_consecutive_skips: int = 3, **kwargs):
        if on_nonfinite not in ('stop', 'skip'):
            raise ValueError(f"optim_wrapper.on_nonfinite={on_nonfinite!r} must be 'stop' or 'skip'")
        for key, value in (('max_skips', max_skips), ('max_consecutive_skips', max_consecutive_skips)):
            if not isinstance(value, int) or value < 0:
                raise ValueError(f'optim_wrapper.{key}={value!r} must be a whole number >= 0.')
        super().__init__(*args, **kwargs)
        self.on_nonfinite = on_nonfinite
        self.max_skips = max_skips
        self.max_consecutive_skips = max_consecutive_skips
        self.num_skipped = 0
        self.skipped_in_a_row = []  # the descriptions of the current run of skipped steps

    @staticmethod
    def _describe(loss: torch.Tensor, terms_too: bool = True) -> str:
        record = last_step()
        terms = {'loss': float(loss.detach()), **(record.loss_terms() if record else {})}
        files = record.files if record else []
        it = MessageHub.get_current_instance().get_info('iter')
        shown = ', '.join(files[:8]) + (f' ... (+{len(files) - 8})' if len(files) > 8 else '')
        if not terms_too:
            return f"iter {None if it is None else it + 1} ({'files ' + shown if files else 'no file names'})"
        return (f'non-finite loss at iter {None if it is None else it + 1}: '
                + ', '.join(f'{k}={v:.6g}' for k, v in terms.items())
                + (f'; batch files: {shown}' if files else ''))

    def update_params(self, loss: torch.Tensor, step_kwargs: Optional[Dict] = None,
                      zero_kwargs: Optional[Dict] = None) -> None:
        finite = torch.isfinite(loss.detach()).all().float()
        if is_distributed():
            torch_dist.all_reduce(finite, op=torch_dist.ReduceOp.MIN)
        if finite.item() == 1.0:
            self.skipped_in_a_row = []
            return super().update_params(loss, step_kwargs, zero_kwargs)
        message = self._describe(loss)
        if self.on_nonfinite == 'stop' or self.num_skipped >= self.max_skips:
            raise FloatingPointError(
                message + ('' if self.on_nonfinite == 'stop' else
                           f' ({self.max_skips} steps skipped already: stopping)'))
        if len(self.skipped_in_a_row) >= self.max_consecutive_skips:
            steps = self.skipped_in_a_row[-self.max_consecutive_skips:] + [
                self._describe(loss, terms_too=False)]
            raise FloatingPointError(
                f'{len(steps)} steps in a row had a non-finite loss (on_nonfinite=\'skip\' '
                f'allows optim_wrapper.max_consecutive_skips={self.max_consecutive_skips}), so '
                f'training has diverged or the data is bad: {"; ".join(steps)}; the last: '
                f'{message}')
        self.num_skipped += 1
        self.skipped_in_a_row.append(self._describe(loss, terms_too=False))
        print_log(f'{message}: step skipped ({self.num_skipped} so far, '
                  f'{len(self.skipped_in_a_row)} in a row)', logger='current', level=40)
        # keep accumulation windows aligned: MMEngine has no public way to count a step
        # without a backward pass (its OptimWrapper.backward asks subclasses to do this)
        self._inner_count = self.inner_count + 1
        self.zero_grad(**(zero_kwargs or {}))


@OPTIM_WRAPPERS.register_module()
class NonFiniteGuardOptimWrapper(NonFiniteGuardMixin, OptimWrapper):
    """``OptimWrapper`` with the non-finite loss guard of :class:`NonFiniteGuardMixin`
    (``on_nonfinite``, ``max_skips``); ``--amp`` turns it into
    :class:`NonFiniteGuardAmpOptimWrapper`."""


@OPTIM_WRAPPERS.register_module()
class NonFiniteGuardAmpOptimWrapper(NonFiniteGuardMixin, AmpOptimWrapper):
    """MMEngine's ``AmpOptimWrapper`` with the same guard.

    The guard looks at the loss itself (a NaN / inf from the forward pass: stop or
    skip, naming the batch); the grad scaler still handles what it is for, overflowing
    *scaled gradients* (it skips that step and lowers the scale). A skipped step does
    not touch the scaler. Needs a GPU, as ``AmpOptimWrapper``.
    """

    def __init__(self, *args, **kwargs):
        if not amp_device_available():
            raise ValueError(f'optim_wrapper.type={type(self).__name__}: {AMP_NEEDS_GPU}; use '
                             'NonFiniteGuardOptimWrapper (fp32) on CPU.')
        super().__init__(*args, **kwargs)


# what `tools/train.py --amp` turns each fp32 wrapper into
_AMP_TYPES = {'OptimWrapper': 'AmpOptimWrapper',
              'NonFiniteGuardOptimWrapper': 'NonFiniteGuardAmpOptimWrapper'}


def enable_amp(cfg) -> Optional[str]:
    """Switch ``cfg.optim_wrapper`` to its mixed-precision counterpart (``--amp``),
    keeping every other setting (the non-finite guard included).

    Returns a note for the user, or None. Raises ``ValueError`` (one sentence) when
    no device here supports MMEngine's AMP, or the wrapper type has no known
    counterpart.
    """
    if not amp_device_available():
        raise ValueError(f'--amp: {AMP_NEEDS_GPU}; train without --amp (fp32) on CPU.')
    optim = cfg.optim_wrapper
    current = optim.get('type', 'OptimWrapper')
    if current in _AMP_TYPES.values():
        return f'--amp: the config already uses {current}'
    if current not in _AMP_TYPES:
        raise ValueError(f'--amp: optim_wrapper.type={current!r} has no known mixed-precision '
                         f'counterpart (known: {", ".join(_AMP_TYPES)}); set optim_wrapper.type '
                         'in the config instead')
    optim.type = _AMP_TYPES[current]
    optim.setdefault('loss_scale', 'dynamic')
    return None
