"""Image AMD on mmpretrain."""
from typing import Dict, Optional, Sequence

import torch
from mmpretrain.models.selfsup import BaseSelfSupervisor
from mmpretrain.registry import MODELS

from .core import AsymmetricDistillMixin
from .preprocess import default_preprocessor


@MODELS.register_module()
class AMD(AsymmetricDistillMixin, BaseSelfSupervisor):
    """Asymmetric Masked Distillation for images (mmpretrain self-supervisor).

    ``model.backbone`` is the student encoder (a ``MaskedViT``: mmpretrain
    ``VisionTransformer`` parameter names), ``model.teacher`` the frozen teacher.
    ``teacher=None`` is plain MAE. See
    :meth:`AsymmetricDistillMixin.init_distill` for the arguments. The default layers
    pair a ViT-S/16 student with a ViT-B/16 MAE teacher (blocks 6 and 12 of each, the
    same depth fractions); set them for other depths.

    The loss dict holds ``loss_rec``, ``loss_dir`` and ``loss_gen`` (each already
    weighted), logged separately by MMEngine.

    Without ``data_preprocessor`` inputs are normalised with the ImageNet mean / std
    (:func:`~amd_mm.models.algorithms.preprocess.default_preprocessor`); a
    preprocessor that does not normalise while a teacher is set logs a warning.
    """

    def __init__(self, *,
                 backbone: dict,
                 mask_generator: dict,
                 teacher: Optional[dict] = None,
                 decoder: Optional[dict] = dict(type='PixelDecoder'),
                 generator: Optional[dict] = dict(type='FeatureGenerator', depth=2),
                 student_layers: Sequence[int] = (6, 12),
                 teacher_layers: Sequence[int] = (6, 12),
                 projection: bool = True,
                 loss_rec: Optional[dict] = dict(type='AlignLoss', mode='l2'),
                 loss_dir: Optional[dict] = dict(type='AlignLoss', mode='l2'),
                 loss_gen: Optional[dict] = dict(type='AlignLoss', mode='l2'),
                 loss_global: Optional[dict] = None,
                 target_norm: str = 'patch',
                 extra_teachers: Sequence[dict] = (),
                 save_teacher: bool = False,
                 compile_blocks=False,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        if data_preprocessor is None:  # ImageNet mean / std, as the teachers were trained
            data_preprocessor = default_preprocessor(video=False)
        super().__init__(backbone=backbone, data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.init_distill(
            mask_generator=mask_generator, teacher=teacher, decoder=decoder, generator=generator,
            student_layers=student_layers, teacher_layers=teacher_layers, projection=projection,
            loss_rec=loss_rec, loss_dir=loss_dir, loss_gen=loss_gen, loss_global=loss_global,
            target_norm=target_norm, extra_teachers=extra_teachers, save_teacher=save_teacher,
            compile_blocks=compile_blocks, registry=MODELS)

    def extract_feat(self, inputs: torch.Tensor):
        return self.backbone(inputs)

    def loss(self, inputs, data_samples=None, **kwargs) -> Dict[str, torch.Tensor]:
        if isinstance(inputs, (list, tuple)):  # SelfSupDataPreprocessor gives a list of views
            inputs = inputs[0]
        return self.distill_loss(inputs, data_samples)
