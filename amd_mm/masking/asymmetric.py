"""Asymmetric (nested) mask generation: pure tensor code on the model's device.

Tokens are numbered in the order the patch embedding flattens them:
``t * (H * W) + h * W + w`` for a grid ``(T, H, W)`` (``T == 1`` for images).

For every sample the generator draws one random order of the tokens; the
first ``n_s`` are visible to the student, the first ``n_t >= n_s`` to the
teacher. The student-visible set is therefore a subset of the teacher-visible
set by construction, and the counts are exact for every sample, so token sets
can be batched with a single gather (no padding, no per-sample loops).
"""
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn

from ..registry import register_shared


@dataclass
class AsymMask:
    """Index sets of one batch, each sorted ascending per sample.

    Attributes:
        ids_student (LongTensor): ``(B, n_s)`` tokens the student sees.
        ids_diff (LongTensor): ``(B, n_t - n_s)`` tokens only the teacher sees.
        ids_masked (LongTensor): ``(B, N - n_s)`` tokens hidden from the student
            (the pixel decoder's targets); ``ids_diff`` is a subset of it.
        grid (tuple): ``(T, H, W)`` token grid.
    """
    ids_student: torch.Tensor
    ids_diff: torch.Tensor
    ids_masked: torch.Tensor
    grid: Tuple[int, int, int]

    @property
    def num_tokens(self) -> int:
        t, h, w = self.grid
        return t * h * w

    @property
    def ids_teacher(self) -> torch.Tensor:
        """``(B, n_t)`` tokens the teacher sees, in the order the teacher runs them
        (student-visible first, then teacher-only)."""
        return torch.cat([self.ids_student, self.ids_diff], dim=1)

    def to_bool(self, ids: torch.Tensor) -> torch.Tensor:
        """``(B, N)`` boolean map that is True at ``ids``."""
        out = torch.zeros(ids.shape[0], self.num_tokens, dtype=torch.bool, device=ids.device)
        return out.scatter_(1, ids, True)


def num_visible(num_tokens: int, mask_ratio: float) -> int:
    """Visible tokens for a ratio, rounding the masked count down as the official code."""
    return num_tokens - int(mask_ratio * num_tokens + 1e-6)


@register_shared
class AsymmetricMaskGenerator(nn.Module):
    """Draws nested teacher / student visible sets with exact ratios.

    Args:
        student_ratio (float): fraction of tokens hidden from the student
            (0.75 images, 0.9 videos in the official settings).
        teacher_ratio (float): fraction hidden from the teacher, strictly lower
            than ``student_ratio``; 0 gives the teacher the full view.
        mode (str): ``'random'`` (independent per token; images and videos) or
            ``'tube'`` (one spatial mask per clip repeated over all temporal
            slots: the official ``t_consist``).
        seed (int, optional): base seed. Masks are drawn from a private
            generator seeded from ``(seed, rank, step)``, so every rank draws
            different masks, a run is reproducible, and ``step`` (a buffer saved
            in checkpoints) makes a resumed run draw the masks it would have
            drawn. ``None`` takes the global torch seed at construction (which
            MMEngine sets from ``randomness.seed`` before building the model).
    """

    MODES = ('random', 'tube')

    def __init__(self,
                 student_ratio: float = 0.75,
                 teacher_ratio: float = 0.5,
                 mode: str = 'random',
                 seed: Optional[int] = None):
        super().__init__()
        for key, value in (('student_ratio', student_ratio), ('teacher_ratio', teacher_ratio)):
            if not 0.0 <= float(value) < 1.0:
                raise ValueError(f'mask_generator.{key}={value} must lie in [0, 1).')
        if teacher_ratio >= student_ratio:
            raise ValueError(
                f'mask_generator.teacher_ratio={teacher_ratio} must be lower than '
                f'mask_generator.student_ratio={student_ratio}: the teacher must see '
                'strictly more tokens than the student.')
        if mode not in self.MODES:
            raise ValueError(f'mask_generator.mode={mode!r} must be one of {self.MODES}.')
        self.student_ratio = float(student_ratio)
        self.teacher_ratio = float(teacher_ratio)
        self.mode = mode
        self.seed = int(torch.initial_seed() if seed is None else seed) % (2**31)
        self.register_buffer('step', torch.zeros((), dtype=torch.long))
        self._generators = {}

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

    def counts(self, grid: Sequence[int]) -> Tuple[int, int]:
        """``(n_student, n_teacher)`` visible tokens for a ``(T, H, W)`` grid."""
        t, h, w = grid
        if self.mode == 'tube':
            return t * num_visible(h * w, self.student_ratio), t * num_visible(h * w, self.teacher_ratio)
        n = t * h * w
        return num_visible(n, self.student_ratio), num_visible(n, self.teacher_ratio)

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
        if self.mode == 'tube':
            # one spatial order per sample, shared by every temporal slot
            order = torch.rand(batch_size, h * w, generator=gen, device=device).argsort(dim=1)
            n_s, n_t = num_visible(h * w, self.student_ratio), num_visible(h * w, self.teacher_ratio)
            offsets = torch.arange(t, device=device).view(1, t, 1) * (h * w)

            def expand(spatial):  # (B, k) spatial ids -> (B, t * k) sorted token ids
                return (spatial.sort(dim=1).values.unsqueeze(1) + offsets).flatten(1)
        else:
            order = torch.rand(batch_size, t * h * w, generator=gen, device=device).argsort(dim=1)
            n_s, n_t = num_visible(t * h * w, self.student_ratio), num_visible(t * h * w, self.teacher_ratio)

            def expand(ids):
                return ids.sort(dim=1).values
        if n_s < 1:
            raise ValueError(
                f'mask_generator.student_ratio={self.student_ratio} leaves the student no '
                f'visible token on a {t}x{h}x{w} grid.')
        self.step += 1
        return AsymMask(
            ids_student=expand(order[:, :n_s]),
            ids_diff=expand(order[:, n_s:n_t]),
            ids_masked=expand(order[:, n_s:]),
            grid=(t, h, w))
