"""Image AMD on mmpretrain."""
from typing import Dict, List, Optional, Sequence

import torch
from mmpretrain.models.selfsup import BaseSelfSupervisor
from mmpretrain.registry import MODELS

from .core import AsymmetricDistillMixin


@MODELS.register_module()
class AMD(AsymmetricDistillMixin, BaseSelfSupervisor):
    """Asymmetric Masked Distillation for images (mmpretrain self-supervisor).

    ``model.backbone`` is the student encoder (a ``MaskedViT``: mmpretrain
    ``VisionTransformer`` parameter names), ``model.teacher`` the frozen teacher.
    ``teacher=None`` is plain MAE. See :class:`AsymmetricDistillMixin` for the
    arguments; ``save_teacher`` keeps the teacher's weights in checkpoints.

    The loss dict holds ``loss_rec``, ``loss_dir`` and ``loss_gen`` (each already
    weighted), logged separately by MMEngine.
    """

    def __init__(self,
                 backbone: dict,
                 mask_generator: dict,
                 teacher: Optional[dict] = None,
                 decoder: Optional[dict] = dict(type='PixelDecoder'),
                 generator: Optional[dict] = dict(type='FeatureGenerator', depth=2),
                 student_layers: Sequence[int] = (6, 12),
                 teacher_layers: Sequence[int] = (12, 24),
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
        super().__init__(backbone=backbone, data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.init_distill(teacher, mask_generator, decoder, generator, student_layers,
                          teacher_layers, projection, loss_rec, loss_dir, loss_gen, target_norm,
                          extra_teachers, loss_global, registry=MODELS)
        self.setup_block_compile(compile_blocks)
        self.init_teacher_checkpointing(save_teacher)

    def extract_feat(self, inputs: torch.Tensor):
        return self.backbone(inputs)

    def loss(self, inputs, data_samples=None, **kwargs) -> Dict[str, torch.Tensor]:
        if isinstance(inputs, (list, tuple)):  # SelfSupDataPreprocessor gives a list of views
            inputs = inputs[0]
        self.remember_batch(data_samples)
        return self.distill_loss(inputs)
