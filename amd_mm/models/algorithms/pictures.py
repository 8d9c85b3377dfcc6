"""Pictures of what an amd_mm model sees and what it reconstructs, drawn through the
model-engine contract only (:class:`~amd_mm.models.algorithms.contract.DistillModel`).

:func:`render_reconstruction` draws, for a few samples of a batch, one row of panels:

* **input** - the (un-normalised) image, or a few frames of a clip side by side;
* **teacher** - the patches the teacher sees, the others grey (only with a teacher);
* **student** - the patches the student sees, the others grey;
* **reconstruction** - the student's prediction of its hidden patches, pasted among the
  visible ones (only with a pixel decoder): the algorithm's own ``reconstruct``.

Drawing the masks does not advance the mask generator (its ``step`` buffer is
restored), touches no global random state and leaves every module in the train / eval
mode it was in. Used by ``MaskReconstructionVisHook`` (amd_mm.engine) and the study.
"""
import math
from dataclasses import replace
from typing import Dict, Optional

import numpy as np
import torch

from ...masking import AsymMask
from ..utils.tokens import as_clip, patchify, unnormalise, unpatchify
from .contract import DistillModel

GREY = 0.5  # hidden patches, in [0, 1]


@torch.no_grad()
def views_of(model: DistillModel, inputs: torch.Tensor, masks: Optional[AsymMask] = None
             ) -> Dict[str, torch.Tensor]:
    """The panels of one picture for normalised ``inputs``, from an AMD / MAE model.

    Masks are drawn by the model (``model.reconstruct``) without advancing its mask
    generator unless ``masks`` are given. Returns a dict of ``(B, C, T, H, W)`` tensors
    in [0, 1] (``input``, ``student``, optionally ``teacher`` (the first teacher's
    visible patches) and ``reconstruction`` (with a pixel decoder)) and the ``masks``.
    """
    backbone = model.backbone
    clip = as_clip(inputs)
    grid = backbone.token_grid(inputs)
    patch, tubelet = backbone.enc_patch_size, backbone.enc_tubelet_size
    recon = None
    if model.can_reconstruct:
        recon, masks = model.reconstruct(inputs, masks)
    elif masks is None:
        masks = model.mask_generator.peek(inputs.shape[0], grid, inputs.device)
    mean, std = model.pixel_normalisation()

    def to_unit(x: torch.Tensor) -> torch.Tensor:  # model inputs -> [0, 1] pixels
        x = as_clip(x).float()
        return (unnormalise(x, mean, std) if mean is not None else x / 255.0).clamp(0, 1)

    pixels = to_unit(clip)
    patches = patchify(pixels, patch, tubelet)  # (B, N, P, C)

    def only(ids: torch.Tensor) -> torch.Tensor:
        keep = masks.to_bool(ids)[..., None, None]
        grey = torch.where(keep, patches, torch.full_like(patches, GREY))
        return unpatchify(grey, grid, patch, tubelet)

    out = dict(input=pixels, student=only(masks.ids_student), masks=masks)
    teachers = model.teacher_views()
    if teachers:
        out['teacher'] = only(masks.ids_teacher(teachers[0].ratio))
    if recon is not None:
        out['reconstruction'] = to_unit(recon)
    return out


PANELS = (('input', 'input'), ('teacher', 'teacher sees'), ('student', 'student sees'),
          ('reconstruction', 'reconstruction'))


def _label(canvas: np.ndarray, text: str, x: int, y: int):
    import cv2
    cv2.putText(canvas, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (20, 20, 20), 1, cv2.LINE_AA)


def render_reconstruction(model: DistillModel, inputs: torch.Tensor, max_samples: int = 4, num_frames: int = 4,
                          scale: Optional[int] = None, masks=None, title: Optional[str] = None
                          ) -> np.ndarray:
    """One picture (``uint8 (H, W, 3)`` RGB) of the masks and reconstructions of the first
    ``max_samples`` samples of ``inputs`` (normalised, as the model receives them).

    Each row is a sample; the columns are input, teacher-visible patches (when the
    model has a teacher), student-visible patches and the reconstruction (when it has a
    pixel decoder). A clip shows ``num_frames`` frames spread over its length side by
    side in every panel. ``scale`` enlarges pixels (default: images of >= 96 px,
    clip frames of >= 64 px).
    """
    inputs = inputs[:max_samples]
    if masks is not None:
        masks = _take(masks, inputs.shape[0])
    views = views_of(model, inputs, masks)
    _, _, t, h, w = views['input'].shape
    frames = sorted({int(round(i)) for i in np.linspace(0, t - 1, max(1, min(num_frames, t)))})
    scale = scale or max(1, math.ceil((96 if t == 1 else 64) / max(h, w)))
    columns = [(key, name) for key, name in PANELS if key in views]
    gap, header, left = 4, 16, 0
    fw, fh = w * scale, h * scale
    panel_w = len(frames) * fw + (len(frames) - 1) * 1
    top = header + (14 if title else 0)
    rows = inputs.shape[0]
    height = top + rows * fh + (rows - 1) * gap
    width = left + len(columns) * panel_w + (len(columns) - 1) * gap
    canvas = np.full((height, width, 3), 255, np.uint8)
    if title:
        _label(canvas, title, 2, 11)
    for c, (key, name) in enumerate(columns):
        x0 = left + c * (panel_w + gap)
        suffix = f' (frames {",".join(str(f) for f in frames)})' if t > 1 and c == 0 else ''
        _label(canvas, name + suffix, x0 + 2, top - 4)
        pix = (views[key].permute(0, 2, 3, 4, 1).cpu().numpy() * 255 + 0.5).astype(np.uint8)  # B T H W C
        for r in range(rows):
            y0 = top + r * (fh + gap)
            for i, f in enumerate(frames):
                frame = pix[r, f].repeat(scale, axis=0).repeat(scale, axis=1)
                xf = x0 + i * (fw + 1)
                canvas[y0:y0 + fh, xf:xf + fw] = frame
    return canvas


def _take(masks: AsymMask, n: int) -> AsymMask:
    """The masks of the first ``n`` samples."""
    return replace(masks, order=masks.order[:n])
