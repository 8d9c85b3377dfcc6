"""The model-engine contract: everything code outside ``models/`` may ask of an amd_mm model.

engine/, checkpoints/, measure/ and analysis/ import what they use from here and read
nothing else of an amd_mm model; a rename inside the algorithm breaks this module's
implementation (:class:`~amd_mm.models.algorithms.core.AsymmetricDistillMixin`), never a
reader elsewhere.

* :class:`StepRecord`: one per loss computation, published complete (masks, the batch's
  files, the detached loss terms) in MMEngine's ``MessageHub`` runtime info (key
  :data:`STEP_KEY`, not saved in checkpoints) by :func:`publish_step`, read with
  :func:`last_step` (the non-finite guard names the terms and files of a bad step,
  ``DistSanityHook`` compares the masks of the ranks). Detached tensors only: nothing is
  synchronised with the device until a reader asks (:meth:`StepRecord.loss_terms`).
* :class:`DistillModel`: what an amd_mm algorithm offers (``AMD``, ``VideoAMD``): its
  student encoder and mask generator (typed), its teachers (:class:`TeacherView`), the
  normalisation of its inputs, and its reconstruction of hidden patches.
* :func:`as_distill_model` finds the :class:`DistillModel` inside a runner's model (or
  None for other models); :func:`batch_inputs` runs a dataloader batch through a model's
  data preprocessor as the model receives it.
"""
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.logging import MessageHub

from ...masking import AsymmetricMaskGenerator, AsymMask
from ...utils.runtime import unwrap
from ..backbones.masked_encoder import MaskedEncoderMixin

STEP_KEY = 'amd_mm.step'


# -- the step record -----------------------------------------------------------------------
@dataclass(frozen=True)
class StepRecord:
    """One step of an amd_mm algorithm, published once it is complete.

    Attributes:
        masks (AsymMask): the masks drawn for the batch.
        files (list[str]): the batch's sample files (``img_path`` / ``filename`` /
            ``frame_dir`` of the data samples), in batch order; empty if unknown.
        losses (dict[str, Tensor]): the loss terms, detached.
    """
    masks: AsymMask
    files: List[str] = field(default_factory=list)
    losses: Dict[str, torch.Tensor] = field(default_factory=dict)

    def loss_terms(self) -> Dict[str, float]:
        """The loss terms as Python floats (synchronises with the device)."""
        return {k: float(v) for k, v in self.losses.items()}


def sample_files(data_samples: Optional[Sequence]) -> List[str]:
    """The file each data sample was read from, where its metainfo names one."""
    files = []
    for sample in data_samples or []:
        meta = getattr(sample, 'metainfo', {}) or {}
        name = meta.get('img_path') or meta.get('filename') or meta.get('frame_dir')
        if name:
            files.append(str(name))
    return files


def publish_step(record: StepRecord) -> None:
    """Make ``record`` the current step's record (this process's message hub)."""
    MessageHub.get_current_instance().update_info(STEP_KEY, record, resumed=False)


def last_step() -> Optional[StepRecord]:
    """The record of the latest step of this process, or None before the first."""
    return MessageHub.get_current_instance().get_info(STEP_KEY)


# -- the model -----------------------------------------------------------------------------
@dataclass(frozen=True)
class TeacherView:
    """One frozen teacher of a :class:`DistillModel`, as code outside the model sees it.

    Attributes:
        name (str): suffix of its loss terms (``''`` for the first teacher).
        key (str): prefix of its config keys (``'model.'``, ``'model.extra_teachers[0].'``).
        module (nn.Module): the frozen teacher (held outside the model's module tree; a
            ``FrozenTeacher``: ``enc_width``, ``enc_depth``, ``source``).
        ratio (float): its mask ratio.
        student_layers / teacher_layers (tuple[int]): the aligned layers, 1-based, paired.
        generator_depth (int): blocks of each of its generators (0: no generative branch).
    """
    name: str
    key: str
    module: nn.Module
    ratio: float
    student_layers: Tuple[int, ...]
    teacher_layers: Tuple[int, ...]
    generator_depth: int

    @property
    def checkpoint_key(self) -> str:
        """The config key of its weights file (``model.teacher.checkpoint`` ...)."""
        return f'{self.key}teacher.checkpoint'


class DistillModel(ABC):
    """The interface of an amd_mm algorithm, implemented by
    :class:`~amd_mm.models.algorithms.core.AsymmetricDistillMixin`.

    Attributes:
        backbone (MaskedEncoderMixin): the student encoder (OpenMMLab's name):
            ``forward_masked``, ``token_grid``, ``enc_patch_size``, ``enc_tubelet_size``,
            ``enc_width``, ``enc_depth``, ``with_cp``.
        mask_generator (AsymmetricMaskGenerator): draws the step's :class:`AsymMask`
            (``peek`` draws the next masks without advancing it).
        data_preprocessor: the toolbox's data preprocessor (MMEngine's ``BaseModel``).
    """
    backbone: MaskedEncoderMixin
    mask_generator: AsymmetricMaskGenerator

    @abstractmethod
    def teacher_views(self) -> List[TeacherView]:
        """Every frozen teacher, the first (``model.teacher``) first; empty for MAE."""

    def teacher_files(self) -> Dict[str, Optional[dict]]:
        """``{config key of a teacher's checkpoint: dict(file=..., sha256=...) or None}``
        (None: random weights), for every teacher that records where its weights come
        from (:class:`~amd_mm.checkpoints.pinning.TeacherFiles`)."""
        return {view.checkpoint_key: view.module.source for view in self.teacher_views()
                if hasattr(view.module, 'source')}

    @abstractmethod
    def pixel_normalisation(self) -> Tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
        """``(mean, std)`` (``(C,)``, raw pixel units) the inputs are normalised with, or
        ``(None, None)`` when the data preprocessor does not normalise."""

    @property
    @abstractmethod
    def decoder_depth(self) -> int:
        """Blocks of the pixel decoder; 0 without one (no ``loss_rec``)."""

    @property
    @abstractmethod
    def can_reconstruct(self) -> bool:
        """Whether the model has a pixel decoder (:meth:`reconstruct` works)."""

    @abstractmethod
    def reconstruct(self, inputs: torch.Tensor, masks: Optional[AsymMask] = None
                    ) -> Tuple[torch.Tensor, AsymMask]:
        """``(reconstruction, masks)`` of normalised ``inputs`` without advancing the mask
        generator; needs a pixel decoder (:attr:`can_reconstruct`)."""


def as_distill_model(model) -> Optional[DistillModel]:
    """The :class:`DistillModel` a runner's ``model`` is or wraps, or None."""
    model = unwrap(model)
    return model if isinstance(model, DistillModel) else None


def batch_inputs(model, data_batch) -> torch.Tensor:
    """Normalised inputs of a dataloader batch, as the model receives them:
    ``(B, 3, H, W)`` or ``(B, 3, T, H, W)`` (first view of multi-view batches)."""
    data = model.data_preprocessor(data_batch, False)
    inputs = data['inputs'] if isinstance(data, dict) else data[0]
    if isinstance(inputs, (list, tuple)):
        # a list of views (SelfSupDataPreprocessor), or of un-collated images
        inputs = torch.stack(list(inputs)) if inputs[0].dim() == 3 else inputs[0]
    if inputs.dim() == 6:  # (B, views, C, T, H, W): one view per video
        inputs = inputs[:, 0]
    return inputs
