from .hooks import DistSanityHook, RNGStateHook
from .loops import ResumableEpochBasedTrainLoop
from .optim_wrapper import NonFiniteGuardOptimWrapper

__all__ = ['DistSanityHook', 'RNGStateHook', 'ResumableEpochBasedTrainLoop',
           'NonFiniteGuardOptimWrapper']
