"""Asymmetric (nested) mask generation: pure tensor code on the model's device.

Tokens are numbered in the order the patch embedding flattens them:
``t * (H * W) + h * W + w`` for a grid ``(T, H, W)`` (``T == 1`` for images).

For every sample the generator draws one order of the tokens (of the spatial
positions for tube masks); the first ``n_s`` are visible to the student, the first
``n_t >= n_s`` to a teacher. Every teacher-visible set therefore contains the
student-visible set, teachers with different ratios get nested sets, and the counts
are exact for every sample, so token sets batch with a single gather (no padding, no
per-sample loops in the model).
"""
import math
from dataclasses import dataclass, field
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from ..registry import register_shared


def num_visible(num_tokens: int, mask_ratio: float) -> int:
    """Visible tokens for a ratio, rounding the masked count down as the official code."""
    return num_tokens - int(mask_ratio * num_tokens + 1e-6)


@dataclass
class AsymMask:
    """The masks of one batch. Index sets are ``(B, k)`` and sorted per sample.

    One vocabulary for the token sets: ``ids_student`` (seen by the student),
    ``ids_masked`` (hidden from the student: the pixel decoder's targets) and
    ``ids_teacher_only(ratio)`` (seen by a teacher of mask ratio ``ratio`` but not by the
    student: the generators' targets). A teacher runs ``ids_teacher(ratio)``, the
    student's tokens first; :meth:`split_teacher` cuts its outputs back into the two.

    Each set is sorted once, when first asked for, and kept (a step asks for the same
    sets once per consumer and aligned layer): treat the object as read-only.

    Attributes:
        order (LongTensor): ``(B, L)`` visibility order (``L = N`` tokens, or the
            ``H * W`` spatial positions of a tube mask, repeated over time).
        num_student (int): visible positions of the student among ``L``.
        grid (tuple): ``(T, H, W)`` token grid.
        tube (bool): ``order`` is spatial and shared by all temporal slots.
    """
    order: torch.Tensor
    num_student: int
    grid: Tuple[int, int, int]
    tube: bool = False
    _sets: Dict[object, torch.Tensor] = field(default_factory=dict, init=False, repr=False,
                                              compare=False)

    @property
    def num_tokens(self) -> int:
        t, h, w = self.grid
        return t * h * w

    def _set(self, key, start: int, stop: Optional[int]) -> torch.Tensor:
        """Token ids of the positions ``order[:, start:stop]``, sorted (computed once)."""
        ids = self._sets.get(key)
        if ids is None:
            positions = self.order[:, start:stop].sort(dim=1).values
            if self.tube:
                t, h, w = self.grid
                offsets = torch.arange(t, device=positions.device).view(1, t, 1) * (h * w)
                positions = (positions.unsqueeze(1) + offsets).flatten(1)
            ids = self._sets[key] = positions
        return ids

    @property
    def ids_student(self) -> torch.Tensor:
        """Tokens the student sees."""
        return self._set('student', 0, self.num_student)

    @property
    def ids_masked(self) -> torch.Tensor:
        """Tokens hidden from the student (the pixel decoder's targets)."""
        return self._set('masked', self.num_student, None)

    def ids_teacher_only(self, ratio: float) -> torch.Tensor:
        """Tokens a teacher with mask ratio ``ratio`` sees and the student does not
        (``ratio=0``, a full view: ``ids_masked``; the student's own ratio: none)."""
        num_teacher = num_visible(self.order.shape[1], ratio)
        return self._set(('teacher_only', num_teacher), self.num_student, num_teacher)

    def ids_teacher(self, ratio: float) -> torch.Tensor:
        """Tokens a teacher with mask ratio ``ratio`` sees, in the order it runs them
        (the student's first)."""
        key = ('teacher', num_visible(self.order.shape[1], ratio))
        if key not in self._sets:
            self._sets[key] = torch.cat([self.ids_student, self.ids_teacher_only(ratio)], dim=1)
        return self._sets[key]

    def split_teacher(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """``x (B, K, ...)`` on a teacher's tokens in :meth:`ids_teacher` order ->
        ``(x on ids_student, x on ids_teacher_only)``."""
        n_s = self.ids_student.shape[1]
        return x[:, :n_s], x[:, n_s:]

    def to_bool(self, ids: torch.Tensor) -> torch.Tensor:
        """``(B, N)`` boolean map that is True at ``ids``."""
        out = torch.zeros(ids.shape[0], self.num_tokens, dtype=torch.bool, device=ids.device)
        return out.scatter_(1, ids, True)


def _check_teacher_ratio(ratio: float, student_ratio: float, key: str) -> None:
    if not 0.0 <= float(ratio) < 1.0:
        raise ValueError(f'{key}={ratio} must lie in [0, 1).')
    if ratio > student_ratio:
        raise ValueError(
            f'{key}={ratio} must not exceed mask_generator.student_ratio={student_ratio}: the '
            "teacher must see the student's tokens (lower: more; equal: the symmetric ablation).")


@register_shared
class AsymmetricMaskGenerator(nn.Module):
    """Draws nested teacher / student visible sets with exact ratios.

    Args:
        student_ratio (float): fraction of tokens hidden from the student
            (0.75 images, 0.9 videos in the official settings).
        teacher_ratio (float): fraction hidden from the (default) teacher, lower than
            ``student_ratio``; 0 gives the teacher the full view; equal to
            ``student_ratio`` is the paper's symmetric ablation (the teacher sees exactly
            the student's tokens, so the generative branch has nothing to predict and is
            switched off). Further teachers may ask for other ratios
            (``extra_teachers[i].teacher_ratio``).
        mode (str): ``'random'`` (independent per token; images and videos),
            ``'tube'`` (one spatial mask per clip repeated over all temporal slots:
            the official ``t_consist``) or ``'block'`` (BEiT block-wise masking of
            the student's hidden set, per temporal slot group; MaskDistill).
        seed (int, optional): base seed. Masks are drawn from a private generator
            seeded from ``(seed, rank, step)``, so every rank draws different masks, a
            run is reproducible, and ``step`` (a buffer saved in checkpoints) makes a
            resumed run draw the masks it would have drawn. ``None`` takes the global
            torch seed at construction (MMEngine sets it from ``randomness.seed``
            before building the model).
        min_block (int): smallest block (in tokens) of ``'block'`` mode.
    """

    MODES = ('random', 'tube', 'block')

    def __init__(self,
                 student_ratio: float = 0.75,
                 teacher_ratio: float = 0.5,
                 mode: str = 'random',
                 seed: Optional[int] = None,
                 min_block: int = 4):
        super().__init__()
        for key, value in (('student_ratio', student_ratio), ('teacher_ratio', teacher_ratio)):
            if not 0.0 <= float(value) < 1.0:
                raise ValueError(f'mask_generator.{key}={value} must lie in [0, 1).')
        if float(student_ratio) == 0.0:
            raise ValueError(
                f'mask_generator.student_ratio={student_ratio} hides no token from the student '
                f'(teacher_ratio={teacher_ratio}), so there is nothing to reconstruct or predict '
                '(every loss is over hidden tokens); use a ratio in (0, 1), e.g. 0.75 for images '
                'or 0.9 for videos.')
        _check_teacher_ratio(teacher_ratio, student_ratio, 'mask_generator.teacher_ratio')
        if mode not in self.MODES:
            raise ValueError(f'mask_generator.mode={mode!r} must be one of {self.MODES}.')
        self.student_ratio = float(student_ratio)
        self.teacher_ratio = float(teacher_ratio)
        self.mode = mode
        self.min_block = int(min_block)
        self.seed = int(torch.initial_seed() if seed is None else seed) % (2**31)
        self.register_buffer('step', torch.zeros((), dtype=torch.long))
        self._generators = {}

    def resolve_teacher_ratio(self, ratio: Optional[float], key: str) -> float:
        """A teacher's mask ratio: ``ratio`` checked against the student's, or this
        generator's ``teacher_ratio`` when ``ratio`` is None (the one default)."""
        if ratio is None:
            return self.teacher_ratio
        _check_teacher_ratio(ratio, self.student_ratio, key)
        return float(ratio)

    def extra_repr(self) -> str:
        return (f'student_ratio={self.student_ratio}, teacher_ratio={self.teacher_ratio}, '
                f'mode={self.mode!r}, seed={self.seed}')

    def _generator(self, device: torch.device) -> torch.Generator:
        from mmengine.dist import get_rank
        gen = self._generators.get(device)
        if gen is None:
            gen = self._generators[device] = torch.Generator(device=device)
        # One independent stream per (seed, rank, step): reproducible, different
        # across ranks, and exactly resumable from the saved step.
        gen.manual_seed((self.seed * 1_000_003 + get_rank() * 7_919 + int(self.step)) % (2**63))
        return gen

    def _block_order(self, batch_size, t, h, w, n_hidden, gen, device) -> torch.Tensor:
        """Orders whose hidden part is made of BEiT-style rectangular blocks.

        Blocks of ``min_block``..remaining tokens with aspect ratio in [0.3, 1/0.3]
        are added (the same blocks in every temporal slot) until they cover
        ``n_hidden`` positions; visible positions come first in random order, block
        positions last, so counts stay exact whatever the blocks cover.
        """
        def uniform(low, high):
            return low + (high - low) * float(torch.rand((), generator=gen, device=device))

        orders = []
        for _ in range(batch_size):  # a handful of scalar draws per sample
            hidden = torch.zeros(h, w, dtype=torch.bool, device=device)
            for _ in range(100):
                covered = int(hidden.sum()) * t
                if covered >= n_hidden:
                    break
                area = uniform(self.min_block, max(self.min_block, (n_hidden - covered) / t))
                aspect = math.exp(uniform(math.log(0.3), math.log(1 / 0.3)))
                bh = max(1, min(h, int(round(math.sqrt(area * aspect)))))
                bw = max(1, min(w, int(round(math.sqrt(area / aspect)))))
                top, left = int(uniform(0, h - bh + 1)), int(uniform(0, w - bw + 1))
                hidden[top:top + bh, left:left + bw] = True
            block = hidden.flatten().repeat(t).float()
            noise = torch.rand(t * h * w, generator=gen, device=device)
            orders.append((block + 0.5 * noise).argsort())
        return torch.stack(orders)

    @torch.no_grad()
    def forward(self, batch_size: int, grid: Sequence[int], device=None) -> AsymMask:
        """Draw the masks of one batch.

        Args:
            batch_size (int): B.
            grid (tuple): ``(T, H, W)`` token grid (``T = 1`` for images).
            device: where the indices live (the model's device).
        """
        t, h, w = (int(g) for g in grid)
        device = torch.device(device) if device is not None else self.step.device
        gen = self._generator(device)
        tube = self.mode == 'tube'
        length = h * w if tube else t * h * w
        n_s = num_visible(length, self.student_ratio)
        if n_s < 1:
            raise ValueError(
                f'mask_generator.student_ratio={self.student_ratio} leaves the student no '
                f'visible token on a {t}x{h}x{w} grid.')
        if n_s == length:
            raise ValueError(
                f'mask_generator.student_ratio={self.student_ratio} hides no token of the '
                f'{length} of a {t}x{h}x{w} grid{" (per tube)" if tube else ""}, so there is '
                'nothing to reconstruct or predict; raise the ratio.')
        if self.mode == 'block':
            order = self._block_order(batch_size, t, h, w, length - n_s, gen, device)
        else:
            order = torch.rand(batch_size, length, generator=gen, device=device).argsort(dim=1)
        self.step += 1
        return AsymMask(order=order, num_student=n_s, grid=(t, h, w), tube=tube)

    def peek(self, batch_size: int, grid: Sequence[int], device=None) -> AsymMask:
        """The masks the next call would draw, without advancing ``step`` (for
        pictures and checks: training then draws exactly what it would have drawn)."""
        step = self.step.clone()
        try:
            return self(batch_size, grid, device)
        finally:
            self.step.copy_(step)
