"""Image AMD on mmpretrain."""
from typing import Dict, Optional

import torch
from mmpretrain.models.selfsup import BaseSelfSupervisor
from mmpretrain.registry import MODELS

from .core import AsymmetricDistillMixin
from .options import DistillOptions, shell_signature
from .preprocess import default_preprocessor


@MODELS.register_module()
class AMD(AsymmetricDistillMixin, BaseSelfSupervisor):
    """Asymmetric Masked Distillation for images (mmpretrain self-supervisor).

    ``model.backbone`` is the student encoder (a ``MaskedViT``: mmpretrain
    ``VisionTransformer`` parameter names), ``model.teacher`` the frozen teacher.
    ``teacher=None`` is plain MAE. The other arguments are the options of
    :class:`~amd_mm.models.algorithms.options.DistillOptions`, passed through as they
    are (its defaults pair a ViT-S/16 student with a ViT-B/16 MAE teacher).

    The loss dict holds ``loss_rec``, ``loss_dir`` and ``loss_gen`` (each already
    weighted), logged separately by MMEngine.

    Without ``data_preprocessor`` inputs are normalised with the ImageNet mean / std
    (:func:`~amd_mm.models.algorithms.preprocess.default_preprocessor`); a
    preprocessor that does not normalise while a teacher is set logs a warning.
    """

    def __init__(self, *, backbone: dict, data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None, **options):
        if data_preprocessor is None:  # ImageNet mean / std, as the teachers were trained
            data_preprocessor = default_preprocessor(video=False)
        super().__init__(backbone=backbone, data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.init_distill(DistillOptions(**options), registry=MODELS)

    __init__.__signature__ = shell_signature(DistillOptions)

    def extract_feat(self, inputs: torch.Tensor):
        return self.backbone(inputs)

    def loss(self, inputs, data_samples=None, **kwargs) -> Dict[str, torch.Tensor]:
        if isinstance(inputs, (list, tuple)):  # SelfSupDataPreprocessor gives a list of views
            inputs = inputs[0]
        return self.distill_loss(inputs, data_samples)
