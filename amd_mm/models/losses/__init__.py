"""The alignment losses (feature / pixel regression, InfoNCE). May import
:mod:`amd_mm.registry` only."""
from .align_loss import AlignLoss, InfoNCELoss

__all__ = ['AlignLoss', 'InfoNCELoss']
