"""The teacher a student is distilled from is part of the run: recorded, checked on resume.

A model's teachers are read through :class:`TeacherFiles`, the one thing pinning asks of a
model (amd_mm's algorithms provide it as part of their contract,
:class:`~amd_mm.models.algorithms.contract.DistillModel`); this package never imports
the models.
"""
from typing import Dict, Optional, Protocol, runtime_checkable

from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from ..utils.runtime import unwrap


@runtime_checkable
class TeacherFiles(Protocol):
    """A model that loaded teachers from files at build time."""

    def teacher_files(self) -> Dict[str, Optional[dict]]:
        """``{config key of a teacher's checkpoint: dict(file=..., sha256=...) or None}``
        (None: random weights)."""


def teacher_sources(model) -> dict:
    """The :meth:`TeacherFiles.teacher_files` of a runner's ``model`` (wrapped or not);
    ``{}`` for a model without teachers."""
    model = unwrap(model)
    return model.teacher_files() if isinstance(model, TeacherFiles) else {}


@HOOKS.register_module()
class TeacherPinHook(Hook):
    """Pin the teachers of a distillation run to their files.

    * training start: a teacher without a checkpoint (random weights) is an error unless
      the config sets ``allow_random_teacher=True``; the resolved file and sha256 of each
      teacher are logged;
    * every checkpoint: ``meta['teachers']`` records them;
    * resume: a teacher whose sha256 differs from the one recorded in the checkpoint is an
      error naming both files, unless the config sets ``allow_teacher_change=True``
      (then a warning). A teacher that moved but has the same bytes is the same teacher.

    :class:`~amd_mm.engine.ResumableEpochBasedTrainLoop` adds it; other loops can list it
    in ``custom_hooks``. Models without teachers are left alone.
    """

    priority = 'VERY_LOW'

    def __init__(self):
        self._loaded = None

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._loaded = (checkpoint.get('meta') or {}).get('teachers')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        sources = teacher_sources(runner.model)
        if sources:
            checkpoint.setdefault('meta', {})['teachers'] = sources

    def before_train(self, runner) -> None:
        sources = teacher_sources(runner.model)
        if not sources:
            return
        for key, source in sources.items():
            if source is None:
                if not runner.cfg.get('allow_random_teacher', False):
                    raise ValueError(
                        f'{key} is None: the teacher has random weights, so the student would '
                        'distil noise; give the teacher checkpoint, or set '
                        'allow_random_teacher=True to train with a random teacher on purpose.')
                runner.logger.warning(f'{key} is None: training with a random teacher '
                                      '(allow_random_teacher=True).')
            else:
                runner.logger.info(f"{key}: {source['file']} (sha256 {source['sha256']})")
        if runner.iter > 0:  # resumed
            self._check_resumed(runner, sources)

    def _check_resumed(self, runner, sources: dict):
        if self._loaded is None:
            runner.logger.warning('resume: the checkpoint records no teacher (written before '
                                  'amd_mm pinned teachers), so the teacher cannot be checked.')
            return
        for key, now in sources.items():
            before = self._loaded.get(key)
            if (before or {}).get('sha256') == (now or {}).get('sha256'):
                continue
            was, is_ = (f"{d['file']} (sha256 {d['sha256'][:12]})" if d else 'random weights'
                        for d in (before, now))
            if not runner.cfg.get('allow_teacher_change', False):
                raise ValueError(
                    f'resume: the checkpoint was distilled from {key} = {was}, but {key} now '
                    f'loads {is_}; resume with the original teacher, or set '
                    'allow_teacher_change=True to continue with the new one.')
            runner.logger.warning(f'resume: {key} changed from {was} to {is_} '
                                  '(allow_teacher_change=True).')
