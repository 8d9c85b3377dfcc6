from .hooks import DistSanityHook, RNGStateHook
from .loops import ResumableEpochBasedTrainLoop
from .optim_constructor import ShapeDecayOptimWrapperConstructor
from .optim_wrapper import NonFiniteGuardAmpOptimWrapper, NonFiniteGuardOptimWrapper
from .visualization import MaskReconstructionVisHook

__all__ = ['DistSanityHook', 'RNGStateHook', 'ResumableEpochBasedTrainLoop',
           'NonFiniteGuardOptimWrapper', 'NonFiniteGuardAmpOptimWrapper',
           'MaskReconstructionVisHook', 'ShapeDecayOptimWrapperConstructor']
