"""Feature / pixel regression losses shared by every method."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from ...registry import register_shared


@register_shared
class AlignLoss(nn.Module):
    """Mean regression loss between predictions and (detached) targets.

    Args:
        mode (str): ``'l2'`` (MSE, the official AMD default), ``'l1'``,
            ``'smooth_l1'`` (MVD) or ``'cosine'`` (``1 - cos`` per token).
        norm_target (bool): layer-normalise targets over channels without
            affine parameters (MaskDistill) before the loss.
        loss_weight (float): multiplier of the returned loss.
        beta (float): smooth-L1 threshold.
    """

    MODES = ('l2', 'l1', 'smooth_l1', 'cosine')

    def __init__(self, mode: str = 'l2', norm_target: bool = False, loss_weight: float = 1.0,
                 beta: float = 1.0):
        super().__init__()
        if mode not in self.MODES:
            raise ValueError(f'loss mode {mode!r} must be one of {self.MODES}')
        self.mode = mode
        self.norm_target = norm_target
        self.loss_weight = float(loss_weight)
        self.beta = beta

    def extra_repr(self):
        return f'mode={self.mode!r}, norm_target={self.norm_target}, loss_weight={self.loss_weight}'

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        pred, target = pred.float(), target.detach().float()  # losses in fp32 under AMP
        if self.norm_target:
            target = F.layer_norm(target, target.shape[-1:])
        if self.mode == 'l2':
            loss = F.mse_loss(pred, target)
        elif self.mode == 'l1':
            loss = F.l1_loss(pred, target)
        elif self.mode == 'smooth_l1':
            loss = F.smooth_l1_loss(pred, target, beta=self.beta)
        else:
            loss = (1 - F.cosine_similarity(pred, target, dim=-1)).mean()
        return self.loss_weight * loss


@register_shared
class InfoNCELoss(nn.Module):
    """Contrastive loss between two batches of global features (MimCo's image-level
    target): sample ``i`` of ``pred`` must match sample ``i`` of ``target`` among all
    targets of the batch. Features are L2-normalised; ``temperature`` scales logits."""

    def __init__(self, temperature: float = 0.2, loss_weight: float = 1.0):
        super().__init__()
        self.temperature = temperature
        self.loss_weight = float(loss_weight)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        pred = F.normalize(pred.float(), dim=-1)
        target = F.normalize(target.detach().float(), dim=-1)
        logits = pred @ target.t() / self.temperature
        labels = torch.arange(pred.shape[0], device=pred.device)
        return self.loss_weight * F.cross_entropy(logits, labels)
