"""Pictures of what the model sees and what it reconstructs.

:func:`render_reconstruction` draws, for a few samples of a batch, one row of panels:

* **input** - the (un-normalised) image, or a few frames of a clip side by side;
* **teacher** - the patches the teacher sees, the others grey (only with a teacher);
* **student** - the patches the student sees, the others grey;
* **reconstruction** - the student's prediction of its hidden patches, pasted among the
  visible ones (only with a pixel decoder): the algorithm's own ``reconstruct``.

:class:`MaskReconstructionVisHook` renders the current training batch every
``interval`` iterations and writes it through the runner's visualizer
(``vis_data/vis_image/*.png`` with ``LocalVisBackend``, TensorBoard images with
``TensorboardVisBackend``). Drawing the masks does not advance the mask generator
(its ``step`` buffer is restored), touches no global random state and leaves every
module in the train / eval mode it was in, so a run with the hook trains exactly as
one without.
"""
import math
from typing import Dict, List, Optional

import numpy as np
import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from ..models.utils.tokens import as_clip, normalisation_of, patchify, unnormalise, unpatchify

GREY = 0.5  # hidden patches, in [0, 1]


def _unwrap(model):
    return model.module if is_model_wrapper(model) else model


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


@torch.no_grad()
def views_of(model, inputs: torch.Tensor, masks=None) -> Dict[str, torch.Tensor]:
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
    if getattr(model, 'decoder', None) is not None:
        recon, masks = model.reconstruct(inputs, masks)
    elif masks is None:
        masks = model.mask_generator.peek(inputs.shape[0], grid, inputs.device)
    mean, std = normalisation_of(getattr(model, 'data_preprocessor', None))

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
    if getattr(model, 'teacher', None) is not None:
        out['teacher'] = only(masks.ids_teacher(model.branches[0].teacher_ratio))
    if recon is not None:
        out['reconstruction'] = to_unit(recon)
    return out


PANELS = (('input', 'input'), ('teacher', 'teacher sees'), ('student', 'student sees'),
          ('reconstruction', 'reconstruction'))


def _label(canvas: np.ndarray, text: str, x: int, y: int):
    import cv2
    cv2.putText(canvas, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (20, 20, 20), 1, cv2.LINE_AA)


def render_reconstruction(model, inputs: torch.Tensor, max_samples: int = 4, num_frames: int = 4,
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


def _take(masks, n: int):
    """The masks of the first ``n`` samples."""
    from dataclasses import replace
    return replace(masks, order=masks.order[:n])


@HOOKS.register_module()
class MaskReconstructionVisHook(Hook):
    """Every ``interval`` training iterations (and after the last one when
    ``draw_last``), render the masks and reconstructions of up to ``max_samples``
    samples of the current batch and write them with ``runner.visualizer.add_image``
    (``<name>_<iter>.png`` under ``vis_data/vis_image`` with ``LocalVisBackend``).

    Rank 0 only. Works for the image (``AMD``) and the video (``VideoAMD``)
    algorithms, with or without a teacher; see :func:`render_reconstruction`.

    Args:
        interval (int): iterations between pictures (<= 0: only ``draw_last``).
        max_samples (int): rows of the picture.
        num_frames (int): frames shown per clip.
        scale (int, optional): pixel enlargement.
        draw_last (bool): also draw after the last training iteration.
        name (str): image name for the visualizer.
    """

    priority = 'LOW'

    def __init__(self, interval: int = 500, max_samples: int = 4, num_frames: int = 4,
                 scale: Optional[int] = None, draw_last: bool = True,
                 name: str = 'mask_reconstruction'):
        self.interval = int(interval)
        self.max_samples = int(max_samples)
        self.num_frames = int(num_frames)
        self.scale = scale
        self.draw_last = draw_last
        self.name = name
        self._warned = False

    def _due(self, runner) -> bool:
        if self.interval > 0 and self.every_n_train_iters(runner, self.interval):
            return True
        return self.draw_last and runner.iter + 1 >= runner.max_iters

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if data_batch is None or get_rank() != 0 or not self._due(runner):
            return
        model = _unwrap(runner.model)
        if not all(hasattr(model, k) for k in ('mask_generator', 'backbone')) or \
                not hasattr(model.backbone, 'forward_masked'):
            if not self._warned:
                print_log(f'{type(self).__name__}: {type(model).__name__} has no mask generator / '
                          'masked backbone; nothing to draw.', logger='current', level=30)
                self._warned = True
            return
        devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
        with torch.random.fork_rng(devices=devices):
            inputs = batch_inputs(model, data_batch)
            image = render_reconstruction(model, inputs, self.max_samples, self.num_frames,
                                          self.scale, title=f'iter {runner.iter + 1}')
        runner.visualizer.add_image(self.name, image, step=runner.iter + 1)


__all__: List[str] = ['MaskReconstructionVisHook', 'render_reconstruction', 'views_of',
                      'batch_inputs']
