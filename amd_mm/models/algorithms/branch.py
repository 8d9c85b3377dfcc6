"""One teacher's share of the objective: projection heads, generators and losses."""
from typing import Callable, Dict, List, Optional, Sequence

import torch
import torch.nn as nn


def as_layers(value, key: str) -> List[int]:
    if value is None:
        return []
    if isinstance(value, int):
        value = [value]
    try:
        return [int(v) for v in value]
    except (TypeError, ValueError):
        raise ValueError(f'{key}={value!r} must be a list of 1-based layer indices') from None


class DistillBranch(nn.Module):
    """Direct and generative alignment of the student to one frozen teacher.

    * one projection head per aligned layer (student -> teacher width), shared by
      the direct and the generative branch, as the official AMD code;
    * direct: ``loss_dir(head_l(student_l), teacher_l)`` on student-visible tokens;
    * generative: ``loss_gen(generator_l(head_l(student_l)), teacher_l)`` on the
      tokens this teacher sees and the student does not (with ``teacher_ratio=0``:
      every hidden token, i.e. MVD / MaskDistill-style feature reconstruction);
    * global (optional, MimCo): ``loss_global(global_head(mean(student_out)),
      mean(teacher_last))``, a contrastive image-level target.

    The teacher is held outside the module tree (never in ``parameters()``, the
    optimizer, DDP or ``state_dict()``); ``_apply`` moves it with the branch.

    Args:
        teacher (nn.Module): a built ``FrozenTeacher`` (or ``FrameTeacher``).
        student: the student encoder (for its width and depth).
        build (callable): builds a config dict from the registry.
        key (str): the config key of this branch, for error messages.
        teacher_ratio (float, optional): this teacher's mask ratio (default: the
            mask generator's ``teacher_ratio``).
    """

    def __init__(self, teacher: nn.Module, student, build: Callable, key: str,
                 student_layers: Sequence[int], teacher_layers: Sequence[int],
                 projection: bool = True, generator: Optional[dict] = None,
                 loss_dir: Optional[dict] = None, loss_gen: Optional[dict] = None,
                 loss_global: Optional[dict] = None, teacher_ratio: Optional[float] = None):
        super().__init__()
        self.__dict__['teacher'] = teacher
        self.key = key
        self.teacher_ratio = teacher_ratio
        self.student_layers = as_layers(student_layers, f'{key}student_layers')
        self.teacher_layers = as_layers(teacher_layers, f'{key}teacher_layers')
        self._check_layers(student.enc_depth, teacher.enc_depth)
        if loss_dir is None and loss_global is None and (generator is None or loss_gen is None):
            raise ValueError(f'{key}teacher is set but {key}loss_dir is None and the generative '
                             f'branch is off ({key}generator / {key}loss_gen None): the teacher '
                             'would be unused.')
        s_dim, t_dim = student.enc_width, teacher.enc_width
        self.heads = None
        if projection:
            self.heads = nn.ModuleList(nn.Linear(s_dim, t_dim, bias=False) for _ in self.student_layers)
            for head in self.heads:
                nn.init.xavier_uniform_(head.weight)
        elif s_dim != t_dim:
            raise ValueError(f'{key}projection=False but the student width {s_dim} differs from '
                             f'the teacher width {t_dim}: set {key}projection=True.')
        self.loss_dir = build(loss_dir) if loss_dir is not None else None
        self.generators = self.loss_gen = None
        if generator is not None and loss_gen is not None:
            generator = dict(generator)
            generator.setdefault('embed_dims', t_dim)
            if generator['embed_dims'] != t_dim:
                raise ValueError(f"{key}generator.embed_dims={generator['embed_dims']} must equal "
                                 f'the teacher width {t_dim}.')
            self.generators = nn.ModuleList(build(generator) for _ in self.student_layers)
            self.loss_gen = build(loss_gen)
        # image-level target (MimCo): the student's mean final token, projected, against
        # the teacher's mean feature of its last aligned layer
        self.global_head = self.loss_global = None
        if loss_global is not None:
            self.global_head = nn.Sequential(nn.Linear(s_dim, t_dim), nn.GELU(), nn.Linear(t_dim, t_dim))
            self.loss_global = build(loss_global)

    def _check_layers(self, student_depth: int, teacher_depth: int):
        s, t = self.student_layers, self.teacher_layers
        if not s or len(s) != len(t):
            raise ValueError(f'{self.key}student_layers={s} and {self.key}teacher_layers={t} must '
                             'be non-empty lists of the same length (paired in order).')
        for name, layers, depth in (('student_layers', s, student_depth),
                                    ('teacher_layers', t, teacher_depth)):
            bad = [layer for layer in layers if not 1 <= layer <= depth]
            if bad:
                raise ValueError(f'{self.key}{name}={layers}: layer {bad[0]} is out of range; the '
                                 f'{name.split("_")[0]} has {depth} blocks (layers are 1-based).')

    def _apply(self, fn, *args, **kwargs):
        super()._apply(fn, *args, **kwargs)
        self.teacher._apply(fn, *args, **kwargs)
        return self

    def forward(self, inputs: torch.Tensor, taps: Dict[int, torch.Tensor], masks,
                latent: Optional[torch.Tensor] = None) -> Dict[str, torch.Tensor]:
        """Loss terms (``loss_dir``, ``loss_gen``, ``loss_global``) of this teacher."""
        ids_diff = masks.teacher_only(self.teacher_ratio)
        # the teacher always runs all the tokens it sees: its features on the student's
        # tokens (the direct targets) depend on that context, also without a generator
        need_diff = ids_diff.shape[1] > 0
        use_gen = self.generators is not None and ids_diff.shape[1] > 0
        on_student, on_diff = self.teacher(inputs, masks.ids_student, ids_diff if need_diff else None,
                                           self.teacher_layers)
        feats = [taps[layer] for layer in self.student_layers]
        projected = [head(f) for head, f in zip(self.heads, feats)] if self.heads is not None else feats
        losses = {}
        if self.loss_dir is not None:
            losses['loss_dir'] = sum(self.loss_dir(p, t) for p, t in zip(projected, on_student)) / len(projected)
        if use_gen:
            losses['loss_gen'] = sum(
                self.loss_gen(gen(p, masks.ids_student, ids_diff, masks.grid), t)
                for gen, p, t in zip(self.generators, projected, on_diff)) / len(projected)
        if self.loss_global is not None:
            seen = [on_student[-1]] + ([on_diff[-1]] if need_diff else [])
            target = torch.cat(seen, dim=1).mean(dim=1)
            losses['loss_global'] = self.loss_global(self.global_head(latent.mean(dim=1)), target)
        return losses
