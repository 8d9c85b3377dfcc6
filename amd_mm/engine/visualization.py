"""Pictures of masks and reconstructions during training.

:class:`MaskReconstructionVisHook` renders the current training batch every
``interval`` iterations with :func:`~amd_mm.models.algorithms.pictures.render_reconstruction`
and writes it through the runner's visualizer (``vis_data/vis_image/*.png`` with
``LocalVisBackend``, TensorBoard images with ``TensorboardVisBackend``). Drawing the masks
does not advance the mask generator (its ``step`` buffer is restored), touches no global
random state and leaves every module in the train / eval mode it was in, so a run with
the hook trains exactly as one without.
"""
from typing import Optional

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.registry import HOOKS

from ..models.algorithms.contract import as_distill_model, batch_inputs
from ..models.algorithms.pictures import render_reconstruction


@HOOKS.register_module()
class MaskReconstructionVisHook(Hook):
    """Every ``interval`` training iterations (and after the last one when
    ``draw_last``), render the masks and reconstructions of up to ``max_samples``
    samples of the current batch and write them with ``runner.visualizer.add_image``
    (``<name>_<iter>.png`` under ``vis_data/vis_image`` with ``LocalVisBackend``).

    Rank 0 only. Works for the image (``AMD``) and the video (``VideoAMD``)
    algorithms, with or without a teacher; see
    :func:`~amd_mm.models.algorithms.pictures.render_reconstruction`.

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
        model = as_distill_model(runner.model)
        if model is None:
            if not self._warned:
                print_log(f'{type(self).__name__}: {type(runner.model).__name__} is not an amd_mm '
                          'algorithm (no mask generator / masked backbone); nothing to draw.',
                          logger='current', level=30)
                self._warned = True
            return
        devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
        with torch.random.fork_rng(devices=devices):
            inputs = batch_inputs(model, data_batch)
            image = render_reconstruction(model, inputs, self.max_samples, self.num_frames,
                                          self.scale, title=f'iter {runner.iter + 1}')
        runner.visualizer.add_image(self.name, image, step=runner.iter + 1)


__all__ = ['MaskReconstructionVisHook']
