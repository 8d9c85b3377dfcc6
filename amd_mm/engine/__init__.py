from .checkpoint import DurableCheckpointHook, DurableLocalBackend
from .hooks import DistSanityHook, RNGStateHook
from .loops import ResumableEpochBasedTrainLoop
from .optim_wrapper import NonFiniteGuardOptimWrapper
from .teacher_pin import TeacherPinHook
from .visualization import MaskReconstructionVisHook

__all__ = ['DistSanityHook', 'DurableCheckpointHook', 'DurableLocalBackend', 'RNGStateHook',
           'ResumableEpochBasedTrainLoop', 'NonFiniteGuardOptimWrapper', 'TeacherPinHook',
           'MaskReconstructionVisHook']
