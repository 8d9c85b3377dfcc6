from .checkpoint import DurableCheckpointHook, DurableLocalBackend
from .hooks import DistSanityHook, RNGStateHook
from .loops import ResumableEpochBasedTrainLoop
from .optim_constructor import ShapeDecayOptimWrapperConstructor
from .optim_wrapper import NonFiniteGuardAmpOptimWrapper, NonFiniteGuardOptimWrapper
from .teacher_pin import TeacherPinHook
from .visualization import MaskReconstructionVisHook

__all__ = ['DistSanityHook', 'DurableCheckpointHook', 'DurableLocalBackend', 'RNGStateHook',
           'ResumableEpochBasedTrainLoop', 'NonFiniteGuardOptimWrapper',
           'NonFiniteGuardAmpOptimWrapper', 'TeacherPinHook', 'MaskReconstructionVisHook',
           'ShapeDecayOptimWrapperConstructor']
