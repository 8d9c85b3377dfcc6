"""What MMEngine runs around the model: the train loop that resumes exactly, the hooks of
reliable runs (random states, distributed checks, pictures), the optimizer wrappers and
constructor, and the report of a lost rank.

May import :mod:`amd_mm.models` (through the model-engine contract,
:mod:`amd_mm.models.algorithms.contract`, only), :mod:`amd_mm.checkpoints`,
:mod:`amd_mm.datasets` and :mod:`amd_mm.utils`; never :mod:`amd_mm.measure`,
:mod:`amd_mm.analysis` or :mod:`amd_mm.tools_lib`. The checkpoint hooks
(``DurableCheckpointHook``, ``TeacherPinHook``, ``CheckedLoadHook``) live in
:mod:`amd_mm.checkpoints`.
"""
from .elastic import LostRankError
from .hooks import DistSanityHook, RNGStateHook
from .loops import ResumableEpochBasedTrainLoop
from .optim_constructor import ShapeDecayOptimWrapperConstructor
from .optim_wrapper import NonFiniteGuardAmpOptimWrapper, NonFiniteGuardOptimWrapper
from .visualization import MaskReconstructionVisHook

__all__ = ['DistSanityHook', 'LostRankError', 'RNGStateHook', 'ResumableEpochBasedTrainLoop',
           'NonFiniteGuardOptimWrapper', 'NonFiniteGuardAmpOptimWrapper',
           'MaskReconstructionVisHook', 'ShapeDecayOptimWrapperConstructor']
