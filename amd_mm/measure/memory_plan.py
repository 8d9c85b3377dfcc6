"""Peak memory of a training step at sizes that do not run here, from fake tensors.

The config's model is built once with real weights on the CPU (its constructors read
values, e.g. drop-path rates with ``.item()``), then every floating-point parameter and
buffer is replaced by a fake tensor of the same shape and dtype (``FakeTensorMode``:
metadata only, no storage, no arithmetic). A training step then runs on a fake batch of
any size under torch's ``MemTracker`` (``torch.distributed._tools.mem_tracker``), which
follows every storage the step allocates and frees and reports the breakdown at the
peak: parameters, buffers, gradients, optimizer state, activations (forward outputs
still alive) and temporaries (allocated during backward). The tracker does the
accounting; this module only builds the step and names the parts.

The fake tensors live on the CPU device. Two things make that stand for a GPU:

* mixed precision uses CUDA autocast's rules: CPU autocast keeps ``softmax``,
  ``log_softmax``, ``layer_norm`` and ``cosine_similarity`` in the input dtype where CUDA
  autocast computes them in float32 (``torch.amp`` op reference), so for the estimate
  those ops get CUDA's float32 rule on the CPU (:func:`cuda_autocast_rules`), through
  ``torch.library.register_autocast``, removed again afterwards;
* ``F.scaled_dot_product_attention`` runs the CPU flash kernel, which keeps the same
  tensors for backward as the CUDA flash / memory-efficient kernels (output and
  log-sum-exp, no attention matrix).

Not counted: the CUDA context and library workspaces (cuBLAS, cuDNN), the caching
allocator's rounding and fragmentation (keep a margin, ``headroom``), the grad scaler's
few scalars, the data loader's pinned host memory. DDP's gradient buckets (one more
copy of the trainable parameters' gradients, as ``gradient_as_bucket_view=False``, the
default of MMEngine's and torch's DDP) are added when ``gpus > 1``.
"""
import contextlib
import math
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Optional, Tuple

import torch
import torch.nn as nn

GiB = 2 ** 30
MiB = 2 ** 20

#: ops CUDA autocast computes in float32 that CPU autocast leaves in the input dtype
CUDA_FLOAT32_OPS = ('aten::softmax.int', 'aten::log_softmax.int', 'aten::layer_norm',
                    'aten::cosine_similarity')

#: what the parts of a step's peak are called in the reports
PARTS = ('parameters', 'frozen_teacher', 'gradients', 'optimizer_state', 'activations',
         'temporaries', 'inputs', 'ddp_buckets')


@contextlib.contextmanager
def cuda_autocast_rules(enabled: bool = True):
    """While active, CPU autocast computes :data:`CUDA_FLOAT32_OPS` in float32 as CUDA
    autocast does (the registrations are removed on exit)."""
    if not enabled:
        yield
        return
    lib = torch.library.Library('aten', 'IMPL')  # removed again below
    ops = []
    try:
        for name in CUDA_FLOAT32_OPS:
            torch.library.register_autocast(name, 'cpu', torch.float32, lib=lib)
            ops.append(torch._library.utils.lookup_op(name))
        yield
    finally:
        lib._destroy()
        for op in ops:  # register_autocast also installs a Python kernel: drop it
            op.py_kernels.pop(torch._C.DispatchKey.AutocastCPU, None)
            op._dispatch_cache.clear()


@contextlib.contextmanager
def small_constants(limit: int = 2 ** 22):
    """Let ``FakeTensorMode`` compute tensors of up to ``limit`` elements for real when
    all their inputs are known constants (e.g. boolean masks and the indices they
    select), so indexing with a known mask has a known size. Tensors made with
    ``from_real_tensor(..., make_constant=True)`` are such constants."""
    from torch._subclasses import fake_tensor
    old = fake_tensor.CONSTANT_NUMEL_LIMIT
    fake_tensor.CONSTANT_NUMEL_LIMIT = limit
    try:
        yield
    finally:
        fake_tensor.CONSTANT_NUMEL_LIMIT = old


def fake_mode():
    from torch._subclasses.fake_tensor import FakeTensorMode
    return FakeTensorMode(allow_non_fake_inputs=True)


def clear_tensor_caches():
    """Empty amd_mm's caches of computed tensors (the sin-cos position tables): a table
    computed under ``FakeTensorMode`` is fake and must not reach a later real step."""
    from ..models.utils import tokens
    tokens._sincos_table.cache_clear()


@contextlib.contextmanager
def fake_step_context(mode, autocast_dtype: Optional[torch.dtype]):
    """``mode`` active, CUDA's autocast rules if ``autocast_dtype``, caches emptied on exit."""
    try:
        with cuda_autocast_rules(autocast_dtype is not None), mode:
            yield
    finally:
        clear_tensor_caches()


def to_fake(module: nn.Module, mode) -> nn.Module:
    """Replace the floating-point parameters and buffers of ``module`` (recursively) by
    fake tensors of the same shape, dtype and ``requires_grad``; integer buffers (e.g. a
    step counter read on the host) stay real. Returns ``module``."""
    for sub in module.modules():
        for name, param in list(sub._parameters.items()):
            if param is not None and param.is_floating_point():
                sub._parameters[name] = nn.Parameter(mode.from_tensor(param.detach()),
                                                     requires_grad=param.requires_grad)
        for name, buf in list(sub._buffers.items()):
            if buf is not None and buf.is_floating_point():
                sub._buffers[name] = mode.from_tensor(buf)
    return module


def sample_masks_for_real(mask_generator: nn.Module):
    """Let ``mask_generator`` draw its masks on real tensors inside a fake step: it samples
    index sets (block masks read their values while they grow), and only their sizes,
    which are fixed, matter to the step. Set on this instance only."""
    from torch._subclasses.fake_tensor import unset_fake_temporarily
    forward = mask_generator.forward

    def real_forward(*args, **kwargs):
        with unset_fake_temporarily():
            return forward(*args, **kwargs)

    mask_generator.forward = real_forward


def tensor_bytes(tensors: Iterable[torch.Tensor]) -> int:
    """Bytes of ``tensors`` (each counted in full; for tensors that share no storage)."""
    return sum(t.numel() * t.element_size() for t in tensors)


def module_bytes(module: nn.Module, trainable_only: bool = False) -> int:
    params = [p for p in module.parameters() if p.requires_grad or not trainable_only]
    return tensor_bytes(params) + (0 if trainable_only else tensor_bytes(module.buffers()))


class _NoHook:
    def remove(self):
        pass


def _memtracker_class():
    from torch.distributed._tools.mem_tracker import MemTracker

    class StepMemTracker(MemTracker):
        """``MemTracker`` for a whole step of models with frozen parameters: torch 2.14's
        tracker installs a gradient hook on every parameter of every module it sees run,
        and ``register_hook`` raises for a tensor that does not require grad (a frozen
        teacher, a fixed position table); such parameters are marked as hooked already
        (they are still counted). Per-module peaks are not kept (see below)."""

        def _track_module_params_and_buffers(self, module, install_grad_hooks=True):
            for param in module.parameters():
                if not param.requires_grad:
                    self._param_to_grad_hook_handles.setdefault(param, (_NoHook(), _NoHook()))
            return super()._track_module_params_and_buffers(module, install_grad_hooks)

        def _update_peak_stats(self, peak_state):
            # Only the whole step's peak is read here. The base class also keeps a peak
            # snapshot per running module, walking every module after every operation:
            # three quarters of the time of a step (torch 2.14), skipped.
            for device, snapshot in self._curr_mem_snap.items():
                if self._peak_mem.get(device, 0) < snapshot['Total']:
                    self._peak_mem[device] = snapshot['Total']
                    self._peak_mem_snap[device] = dict(snapshot)

    return StepMemTracker


@dataclass
class StepMemory:
    """The peak of one training step and what is alive at that moment (bytes)."""
    batch_size: int
    samples: int
    peak: int
    parts: Dict[str, int] = field(default_factory=dict)

    def as_dict(self, unit: int = MiB, digits: int = 2) -> dict:
        return dict(batch_size=self.batch_size, samples=self.samples,
                    peak=round(self.peak / unit, digits),
                    parts={k: round(v / unit, digits) for k, v in self.parts.items()})


def track_peak(step: Callable[[], object], externals: List, teacher_bytes: int,
               ddp_bytes: int, batch_size: int, samples: int) -> StepMemory:
    """Run ``step()`` (on fake tensors) under ``MemTracker``; ``externals`` are the
    modules, optimizers and tensors alive before it (tracked as such)."""
    tracker = _memtracker_class()()
    tracker.track_external(*externals)
    with tracker:
        step()
    snapshot = tracker.get_tracker_snapshot('peak')
    totals: Dict[str, int] = {}
    for device_snapshot in snapshot.values():
        for key, value in device_snapshot.items():
            name = getattr(key, 'value', key)
            totals[name] = totals.get(name, 0) + value
    held = totals.get('Parameter', 0) + totals.get('Buffer', 0)
    teacher = min(teacher_bytes, held)
    parts = dict(parameters=held - teacher, frozen_teacher=teacher,
                 gradients=totals.get('Gradient', 0), optimizer_state=totals.get('Optstate', 0),
                 activations=totals.get('Activation', 0), temporaries=totals.get('Temp', 0),
                 inputs=totals.get('Other', 0), ddp_buckets=ddp_bytes)
    return StepMemory(batch_size, samples, totals.get('Total', 0) + ddp_bytes, parts)


def largest_batch(estimate: Callable[[int], StepMemory], memory: int, start: int,
                  max_tries: int = 8) -> Tuple[int, Optional[StepMemory]]:
    """The largest batch whose estimated peak fits ``memory`` bytes.

    Every tensor of a step is a fixed size or proportional to the batch, so the memory
    held at any moment of the step is an affine function of the batch and the peak is
    their maximum: convex and piecewise linear. The line through the estimates at
    ``start`` and ``2 * start`` bounds it from above between those batches and from
    below outside them. Its crossing with ``memory`` gives a guess; the guess is checked
    by an estimate (and moved down while it does not fit), and the batch above it is
    checked only where the line cannot rule it out. Returns ``(0, None)`` if batch 1
    does not fit."""
    start = max(1, int(start))
    known = {}

    def at(batch):
        if batch not in known:
            known[batch] = estimate(batch)
        return known[batch]

    low, high = at(start), at(2 * start)
    per_item = (high.peak - low.peak) / start
    if per_item <= 0:
        raise RuntimeError('the estimated peak does not grow with the batch')
    line = lambda batch: low.peak + (batch - start) * per_item  # noqa: E731
    guess = max(1, start + math.floor((memory - low.peak) / per_item))
    for _ in range(max_tries):
        over = at(guess).peak - memory
        if over > 0:
            if guess == 1:
                return 0, None
            guess = max(1, guess - max(1, math.ceil(over / per_item)))
            continue
        above = guess + 1  # ruled out by the line (a lower bound there), or estimated
        if (above >= 2 * start and line(above) > memory) or at(above).peak > memory:
            return guess, known[guess]
        guess = above
    raise RuntimeError(f'no batch settled after {max_tries} estimates: {sorted(known)}')


class StepPlanner:
    """Estimates of one amd_mm config's training step at any per-GPU batch.

    Args:
        cfg: the config (teachers may keep random weights: only shapes matter).
        autocast_dtype: mixed precision of the step (None: fp32), with CUDA's rules.
        gpus (int): data-parallel processes; > 1 adds DDP's gradient buckets.

    With ``optim_wrapper.accumulative_counts`` > 1 the step is planned with the
    gradients of the window's earlier steps alive (the worst step of the window).
    """

    def __init__(self, cfg, autocast_dtype: Optional[torch.dtype] = None, gpus: int = 1):
        from mmengine.optim import build_optim_wrapper

        from ..models.algorithms.contract import as_distill_model
        from .step import (build_model, clip_grad_of, input_geometry, optim_wrapper_cfg,
                           sample_inputs, teachers_of)
        self.cfg = cfg
        self.autocast_dtype = autocast_dtype
        self.notes: List[str] = []
        cpu = torch.device('cpu')
        self.model = build_model(cfg, cpu, init_weights=False)
        self.geometry = input_geometry(cfg)
        self.shape, self.dtype, self.sample = sample_inputs(self.model, cfg, self.geometry)
        self.mode = fake_mode()
        self.teachers = teachers_of(self.model)
        for module in [self.model] + self.teachers:
            to_fake(module, self.mode)
        distill = as_distill_model(self.model)
        if distill is not None:
            sample_masks_for_real(distill.mask_generator)
        with fake_step_context(self.mode, None):  # (the precision is the planner's own)
            self.optimizer = build_optim_wrapper(
                self.model, optim_wrapper_cfg(cfg, cpu, [])).optimizer
        # in an accumulation window the gradients live from one step to the next
        self.accumulation = int(cfg.optim_wrapper.get('accumulative_counts', 1))
        if self.accumulation > 1:
            self.notes.append(f'accumulative_counts={self.accumulation}: the gradients of the '
                              "window's earlier steps are alive during each step")
        self.clip = clip_grad_of(cfg)
        self.teacher_bytes = sum(module_bytes(t) for t in self.teachers)
        self.trainable_bytes = module_bytes(self.model, trainable_only=True)
        self.ddp_bytes = self.trainable_bytes if gpus > 1 else 0
        self._warm = False
        self._known: Dict[Tuple[int, bool], StepMemory] = {}

    @property
    def views(self) -> int:
        return self.geometry.views

    @property
    def supports_cp(self) -> bool:
        """amd_mm's masked encoders read ``with_cp`` at every forward, so it can be
        switched here; other backbones take it at build time (set it in the config)."""
        return hasattr(self.model.backbone, 'forward_masked')

    def set_with_cp(self, enabled: bool):
        """Activation checkpointing of the student's blocks (``backbone.with_cp``)."""
        if not self.supports_cp:
            if enabled:
                raise ValueError(f'{type(self.model.backbone).__name__} takes with_cp when it is '
                                 'built: plan with --cfg-options model.backbone.with_cp=True')
            return
        self.model.backbone.with_cp = bool(enabled)

    def estimate(self, batch_size: int, with_cp: bool = False) -> StepMemory:
        """The step's peak at ``batch_size`` (videos or images), with activation
        checkpointing of the student's blocks if ``with_cp``."""
        key = (int(batch_size), bool(with_cp))
        if key not in self._known:
            self._known[key] = self._estimate(*key)
        return self._known[key]

    def _estimate(self, batch_size: int, with_cp: bool) -> StepMemory:
        from .step import synthetic_inputs, train_step
        self.set_with_cp(with_cp)
        with fake_step_context(self.mode, self.autocast_dtype):
            inputs, samples = synthetic_inputs(self.shape, self.dtype, self.sample, batch_size)

            def step():
                train_step(self.model, self.optimizer, inputs, samples, self.clip,
                           self.autocast_dtype, free_grads=self.accumulation == 1)

            if not self._warm:  # the optimizer state exists from the second step on
                step()
                self._warm = True
            return track_peak(step, [self.model, self.optimizer, *self.teachers, inputs],
                              self.teacher_bytes, self.ddp_bytes, batch_size,
                              batch_size * self.views)

    def largest_batch(self, memory: int, with_cp: bool = False):
        start = int(self.cfg.train_dataloader.batch_size)
        return largest_batch(lambda b: self.estimate(b, with_cp), memory, start)


def measure_step_memory(cfg, batch_size: int, device: torch.device,
                        autocast_dtype: Optional[torch.dtype] = None,
                        with_cp: bool = False, cuda_rules: bool = True) -> dict:
    """The measured peak of the same step as :class:`StepPlanner` estimates, run for real
    on ``device`` (after one warm-up step): bytes alive before the step (parameters,
    buffers, teachers, optimizer state, the batch) plus the allocator's peak during it
    (:func:`~amd_mm.measure.counters.allocator_peak_bytes`). On the CPU, ``cuda_rules``
    applies the same CUDA autocast rules as the estimate."""
    from mmengine.optim import build_optim_wrapper

    from .counters import allocator_peak_bytes, optimizer_state_tensors, storage_bytes
    from .step import (build_model, clip_grad_of, input_geometry, optim_wrapper_cfg,
                       sample_inputs, synthetic_inputs, teachers_of, train_step)
    torch.manual_seed(0)
    model = build_model(cfg, device, init_weights=False)  # (no pretrained files needed)
    if hasattr(model.backbone, 'with_cp'):
        model.backbone.with_cp = with_cp
    geometry = input_geometry(cfg)
    shape, dtype, sample = sample_inputs(model, cfg, geometry)
    optimizer = build_optim_wrapper(model, optim_wrapper_cfg(cfg, device, [])).optimizer
    inputs, samples = synthetic_inputs(shape, dtype, sample, batch_size, device)
    clip = clip_grad_of(cfg)
    rules = cuda_rules and autocast_dtype is not None and device.type == 'cpu'
    free_grads = int(cfg.optim_wrapper.get('accumulative_counts', 1)) == 1
    with cuda_autocast_rules(rules):
        def step():
            train_step(model, optimizer, inputs, samples, clip, autocast_dtype, free_grads)

        step()  # the optimizer state exists from the second step on
        teachers = teachers_of(model)
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        state = [*model.parameters(), *model.buffers(), inputs, *grads,
                 *[t for teacher in teachers for t in (*teacher.parameters(), *teacher.buffers())],
                 *optimizer_state_tensors(optimizer)]
        before = storage_bytes(state)
        if device.type == 'cuda':
            before = torch.cuda.memory_allocated(device)
        growth = allocator_peak_bytes(step, device)
    return dict(batch_size=batch_size, samples=batch_size * geometry.views,
                state_bytes=before, step_growth_bytes=growth, peak_bytes=before + growth,
                method=('torch.cuda.max_memory_allocated' if device.type == 'cuda' else
                        'CPU allocator events (torch.profiler profile_memory) + bytes held '
                        'before the step'))
