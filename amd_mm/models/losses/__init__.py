from .align_loss import AlignLoss, InfoNCELoss

__all__ = ['AlignLoss', 'InfoNCELoss']
