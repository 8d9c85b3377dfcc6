from .checkpoint import CheckpointWriteError, DurableCheckpointHook, DurableLocalBackend
from .elastic import LostRankError
from .hooks import DistSanityHook, RNGStateHook
from .load_check import CheckedLoadHook
from .loops import ResumableEpochBasedTrainLoop
from .optim_constructor import ShapeDecayOptimWrapperConstructor
from .optim_wrapper import NonFiniteGuardAmpOptimWrapper, NonFiniteGuardOptimWrapper
from .teacher_pin import TeacherPinHook
from .visualization import MaskReconstructionVisHook

__all__ = ['CheckedLoadHook', 'CheckpointWriteError', 'DistSanityHook', 'DurableCheckpointHook',
           'DurableLocalBackend', 'LostRankError', 'RNGStateHook',
           'ResumableEpochBasedTrainLoop', 'NonFiniteGuardOptimWrapper',
           'NonFiniteGuardAmpOptimWrapper', 'TeacherPinHook', 'MaskReconstructionVisHook',
           'ShapeDecayOptimWrapperConstructor']
