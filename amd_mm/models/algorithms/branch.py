"""One teacher's share of the objective: its spec, projection heads, generators, losses."""
from dataclasses import dataclass, fields
from typing import Callable, Dict, List, Optional, Sequence

import torch
import torch.nn as nn

from ...masking import AsymMask
from ..utils.frozen import FrozenHolder


def as_layers(value, key: str) -> List[int]:
    if value is None:
        return []
    if isinstance(value, int):
        value = [value]
    try:
        return [int(v) for v in value]
    except (TypeError, ValueError):
        raise ValueError(f'{key}={value!r} must be a list of 1-based layer indices') from None


@dataclass
class TeacherSpec:
    """What the config says about one teacher, in one layout.

    The first teacher comes from the algorithm's top-level keys (``model.teacher``,
    ``model.student_layers``, ...), further ones from ``model.extra_teachers[i]``;
    :func:`teacher_specs` turns both into a list of these.

    Attributes:
        name (str): suffix of its loss terms (``''`` for the first teacher).
        key (str): config key prefix, for error messages (``'model.'``,
            ``'model.extra_teachers[0].'``).
        teacher (dict): ``FrozenTeacher`` / ``FrameTeacher`` config.
        teacher_ratio (float, optional): its mask ratio; None takes
            ``mask_generator.teacher_ratio``.
        Others: as :class:`DistillBranch`.
    """
    name: str
    key: str
    teacher: dict
    student_layers: Sequence[int]
    teacher_layers: Sequence[int]
    projection: bool = True
    generator: Optional[dict] = None
    loss_dir: Optional[dict] = None
    loss_gen: Optional[dict] = None
    loss_global: Optional[dict] = None
    teacher_ratio: Optional[float] = None


_EXTRA_KEYS = {f.name for f in fields(TeacherSpec)} - {'key'}


def teacher_specs(*, teacher: Optional[dict], extra_teachers: Sequence[dict] = (),
                  **first) -> List[TeacherSpec]:
    """Normalise the two config layouts into one list of :class:`TeacherSpec`.

    Args:
        teacher: the first teacher's config (None: no teacher, i.e. MAE / VideoMAE).
        extra_teachers: dicts with ``name``, ``teacher`` and the per-teacher keys of
            :class:`TeacherSpec`.
        **first: the first teacher's per-teacher keys (``student_layers``,
            ``teacher_layers``, ``projection``, ``generator``, ``loss_dir``,
            ``loss_gen``, ``loss_global``).
    """
    specs = []
    if teacher is not None:
        specs.append(TeacherSpec(name='', key='model.', teacher=teacher, **first))
    elif extra_teachers:
        raise ValueError('model.extra_teachers needs model.teacher (the first teacher).')
    for i, extra in enumerate(extra_teachers):
        key = f'model.extra_teachers[{i}].'
        extra = dict(extra)
        name = extra.get('name')
        if not name or not isinstance(name, str) or name in [s.name for s in specs]:
            raise ValueError(f'{key}name must be a unique non-empty string')
        unknown = set(extra) - _EXTRA_KEYS
        if unknown:
            raise ValueError(f'{key[:-1]} has unknown keys {sorted(unknown)}; allowed: '
                             f'{sorted(_EXTRA_KEYS)}')
        missing = {'teacher', 'student_layers', 'teacher_layers'} - set(extra)
        if missing:
            raise ValueError(f'{key[:-1]} lacks {sorted(missing)}')
        specs.append(TeacherSpec(key=key, **extra))
    return specs


class DistillBranch(FrozenHolder, nn.Module):
    """Direct and generative alignment of the student to one frozen teacher.

    * one projection head per aligned layer (student -> teacher width), shared by
      the direct and the generative branch, as the official AMD code;
    * direct: ``loss_dir(head_l(student_l), teacher_l)`` on student-visible tokens;
    * generative: ``loss_gen(generator_l(head_l(student_l)), teacher_l)`` on the
      tokens this teacher sees and the student does not (with ``teacher_ratio=0``:
      every hidden token, i.e. MVD / MaskDistill-style feature reconstruction);
    * global (optional, MimCo): ``loss_global(global_head(mean(student_out)),
      mean(teacher_last))``, a contrastive image-level target.

    The teacher is held out of the module tree (:class:`FrozenHolder`): never in
    ``parameters()``, the optimizer, DDP or ``state_dict()``; it moves with the branch.
    It runs every token it sees, ``masks.ids_teacher(ratio)``; its features split into
    the direct targets (``ids_student``) and the generative ones (``ids_teacher_only``)
    with ``masks.split_teacher``.

    Args:
        spec (TeacherSpec): this teacher's config.
        teacher (nn.Module): the built teacher (``FrozenTeacher`` / ``FrameTeacher``).
        student: the student encoder (for its width and depth).
        teacher_ratio (float): this teacher's mask ratio, resolved at build time.
        build (callable): builds a config dict from the registry.
    """

    def __init__(self, spec: TeacherSpec, teacher: nn.Module, student, teacher_ratio: float,
                 build: Callable):
        super().__init__()
        key = self.key = spec.key
        self.hold('teacher', teacher, f'{key}teacher')
        self.teacher_ratio = float(teacher_ratio)
        self.student_layers = as_layers(spec.student_layers, f'{key}student_layers')
        self.teacher_layers = as_layers(spec.teacher_layers, f'{key}teacher_layers')
        self._check_layers(student.enc_depth, teacher.enc_depth)
        if spec.loss_dir is None and spec.loss_global is None and (
                spec.generator is None or spec.loss_gen is None):
            raise ValueError(f'{key}teacher is set but {key}loss_dir is None and the generative '
                             f'branch is off ({key}generator / {key}loss_gen None): the teacher '
                             'would be unused.')
        s_dim, t_dim = student.enc_width, teacher.enc_width
        self.heads = None
        if spec.projection:
            self.heads = nn.ModuleList(nn.Linear(s_dim, t_dim, bias=False) for _ in self.student_layers)
            for head in self.heads:
                nn.init.xavier_uniform_(head.weight)
        elif s_dim != t_dim:
            raise ValueError(f'{key}projection=False but the student width {s_dim} differs from '
                             f'the teacher width {t_dim}: set {key}projection=True.')
        self.loss_dir = build(spec.loss_dir) if spec.loss_dir is not None else None
        self.generators = self.loss_gen = None
        if spec.generator is not None and spec.loss_gen is not None:
            generator = dict(spec.generator)
            generator.setdefault('embed_dims', t_dim)
            if generator['embed_dims'] != t_dim:
                raise ValueError(f"{key}generator.embed_dims={generator['embed_dims']} must equal "
                                 f'the teacher width {t_dim}.')
            self.generators = nn.ModuleList(build(generator) for _ in self.student_layers)
            self.loss_gen = build(spec.loss_gen)
        # image-level target (MimCo): the student's mean final token, projected, against
        # the teacher's mean feature of its last aligned layer
        self.global_head = self.loss_global = None
        if spec.loss_global is not None:
            self.global_head = nn.Sequential(nn.Linear(s_dim, t_dim), nn.GELU(), nn.Linear(t_dim, t_dim))
            self.loss_global = build(spec.loss_global)

    @property
    def teacher(self) -> nn.Module:
        return self.held('teacher')

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

    def forward(self, inputs: torch.Tensor, taps: Dict[int, torch.Tensor], masks: AsymMask,
                latent: Optional[torch.Tensor] = None) -> Dict[str, torch.Tensor]:
        """Loss terms (``loss_dir``, ``loss_gen``, ``loss_global``) of this teacher."""
        # the teacher always runs every token it sees: its features on the student's
        # tokens (the direct targets) depend on that context, also without a generator
        # (as the official teacher, models/modeling_finetune_amd.py:257-279 at 8d2ec6f)
        ids_teacher_only = masks.ids_teacher_only(self.teacher_ratio)
        has_teacher_only = ids_teacher_only.shape[1] > 0
        seen = self.teacher(inputs, masks.ids_teacher(self.teacher_ratio), self.teacher_layers)
        on_student, on_teacher_only = zip(*(masks.split_teacher(f) for f in seen))
        feats = [taps[layer] for layer in self.student_layers]
        projected = [head(f) for head, f in zip(self.heads, feats)] if self.heads is not None else feats
        losses = {}
        if self.loss_dir is not None:
            losses['loss_dir'] = sum(self.loss_dir(p, t) for p, t in zip(projected, on_student)) / len(projected)
        if self.generators is not None and has_teacher_only:
            losses['loss_gen'] = sum(
                self.loss_gen(gen(p, masks.ids_student, ids_teacher_only, masks.grid), t)
                for gen, p, t in zip(self.generators, projected, on_teacher_only)) / len(projected)
        if self.loss_global is not None:
            target = seen[-1].mean(dim=1)  # every token this teacher sees
            losses['loss_global'] = self.loss_global(self.global_head(latent.mean(dim=1)), target)
        return losses
