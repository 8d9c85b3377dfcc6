from .align_loss import AlignLoss

__all__ = ['AlignLoss']
