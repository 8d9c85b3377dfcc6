from .hooks import DistSanityHook, RNGStateHook
from .loops import ResumableEpochBasedTrainLoop
from .optim_constructor import ShapeDecayOptimWrapperConstructor
from .optim_wrapper import NonFiniteGuardOptimWrapper
from .visualization import MaskReconstructionVisHook

__all__ = ['DistSanityHook', 'RNGStateHook', 'ResumableEpochBasedTrainLoop',
           'NonFiniteGuardOptimWrapper', 'MaskReconstructionVisHook',
           'ShapeDecayOptimWrapperConstructor']
