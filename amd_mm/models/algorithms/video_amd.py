"""Video AMD on mmaction2."""
from typing import Optional, Sequence

import torch
from mmaction.registry import MODELS
from mmengine.model import BaseModel

from .core import AsymmetricDistillMixin
from .preprocess import default_preprocessor


@MODELS.register_module()
class VideoAMD(AsymmetricDistillMixin, BaseModel):
    """Asymmetric Masked Distillation for videos (an mmaction2 model).

    ``model.backbone`` is the student (a ``MaskedVideoViT``: mmaction2
    ``VisionTransformer`` parameter names, so it fine-tunes with
    ``init_cfg=dict(type='Pretrained', checkpoint=..., prefix='backbone.')``),
    ``model.teacher`` the frozen VideoMAE teacher. ``teacher=None`` is plain
    VideoMAE. Defaults follow the official scripts: tube masks 0.9 / 0.75,
    targets normalised per tubelet patch and channel, a ViT-S student's blocks 6, 12
    aligned to a ViT-L teacher's 12, 24. Arguments as
    :meth:`AsymmetricDistillMixin.init_distill`.

    Inputs from ``ActionDataPreprocessor(format_shape='NCTHW')`` are
    ``(B, V, C, T, H, W)``; the ``V`` views of a video (``RepeatAugment``) are
    treated as independent samples. Without ``data_preprocessor`` clips are normalised
    with the ImageNet mean / std; a preprocessor that does not normalise while a
    teacher is set logs a warning.
    """

    def __init__(self, *,
                 backbone: dict,
                 mask_generator: dict = dict(type='AsymmetricMaskGenerator', student_ratio=0.9,
                                             teacher_ratio=0.75, mode='tube'),
                 teacher: Optional[dict] = None,
                 decoder: Optional[dict] = dict(type='PixelDecoder', embed_dims=192, depth=4,
                                                num_heads=3),
                 generator: Optional[dict] = dict(type='FeatureGenerator', depth=2),
                 student_layers: Sequence[int] = (6, 12),
                 teacher_layers: Sequence[int] = (12, 24),
                 projection: bool = True,
                 loss_rec: Optional[dict] = dict(type='AlignLoss', mode='l2'),
                 loss_dir: Optional[dict] = dict(type='AlignLoss', mode='l2'),
                 loss_gen: Optional[dict] = dict(type='AlignLoss', mode='l2'),
                 loss_global: Optional[dict] = None,
                 target_norm: str = 'patch_channel',
                 extra_teachers: Sequence[dict] = (),
                 save_teacher: bool = False,
                 compile_blocks=False,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        if data_preprocessor is None:  # ImageNet mean / std, as the teachers were trained
            data_preprocessor = default_preprocessor(video=True)
        if isinstance(data_preprocessor, dict):
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.init_distill(
            mask_generator=mask_generator, teacher=teacher, decoder=decoder, generator=generator,
            student_layers=student_layers, teacher_layers=teacher_layers, projection=projection,
            loss_rec=loss_rec, loss_dir=loss_dir, loss_gen=loss_gen, loss_global=loss_global,
            target_norm=target_norm, extra_teachers=extra_teachers, save_teacher=save_teacher,
            compile_blocks=compile_blocks, registry=MODELS)

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
