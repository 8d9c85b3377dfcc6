"""Video AMD on mmaction2."""
from typing import Optional

import torch
from mmaction.registry import MODELS
from mmengine.model import BaseModel

from .core import AsymmetricDistillMixin
from .options import VideoDistillOptions, shell_signature
from .preprocess import default_preprocessor


@MODELS.register_module()
class VideoAMD(AsymmetricDistillMixin, BaseModel):
    """Asymmetric Masked Distillation for videos (an mmaction2 model).

    ``model.backbone`` is the student (a ``MaskedVideoViT``: mmaction2
    ``VisionTransformer`` parameter names, so it fine-tunes with
    ``init_cfg=dict(type='Pretrained', checkpoint=..., prefix='backbone.')``),
    ``model.teacher`` the frozen VideoMAE teacher. ``teacher=None`` is plain
    VideoMAE. The other arguments are the options of
    :class:`~amd_mm.models.algorithms.options.DistillOptions`, passed through as they
    are, with the official video defaults (:class:`~amd_mm.models.algorithms.options.
    VideoDistillOptions`: tube masks 0.9 / 0.75, targets normalised per tubelet patch and
    channel, a ViT-S student's blocks 6, 12 aligned to a ViT-L teacher's 12, 24).

    Inputs from ``ActionDataPreprocessor(format_shape='NCTHW')`` are
    ``(B, V, C, T, H, W)``; the ``V`` views of a video (``RepeatAugment``) are
    treated as independent samples. Without ``data_preprocessor`` clips are normalised
    with the ImageNet mean / std; a preprocessor that does not normalise while a
    teacher is set logs a warning.
    """

    def __init__(self, *, backbone: dict, data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None, **options):
        if data_preprocessor is None:  # ImageNet mean / std, as the teachers were trained
            data_preprocessor = default_preprocessor(video=True)
        if isinstance(data_preprocessor, dict):
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.init_distill(VideoDistillOptions(**options), registry=MODELS)

    __init__.__signature__ = shell_signature(VideoDistillOptions)

    @staticmethod
    def _flatten_views(inputs: torch.Tensor) -> torch.Tensor:
        return inputs.flatten(0, 1) if inputs.dim() == 6 else inputs

    def forward(self, inputs: torch.Tensor, data_samples=None, mode: str = 'tensor'):
        inputs = self._flatten_views(inputs)
        if mode == 'loss':
            return self.distill_loss(inputs, data_samples)
        if mode == 'tensor':
            return self.backbone(inputs)
        raise RuntimeError(f'VideoAMD is a pre-training model: mode={mode!r} is not supported; '
                           'fine-tune the student with an mmaction2 Recognizer3D config.')
