"""Input normalisation of the algorithms: the default data preprocessor, the one
definition of "the data preprocessor normalises" (:func:`normalisation_of`) and the check
that a teacher sees normalised inputs.

The official code normalises every clip with the ImageNet mean / std
(``dataset/build.py:22-23`` at 8d2ec6f, ``[0.485, 0.456, 0.406]`` /
``[0.229, 0.224, 0.225]``), as do the MAE and VideoMAE releases the teachers come
from; here they are on the 0-255 scale the toolboxes' data preprocessors use.
"""
import logging
from typing import Optional, Tuple

import torch
from mmengine.logging import print_log

IMAGENET_MEAN = [123.675, 116.28, 103.53]
IMAGENET_STD = [58.395, 57.12, 57.375]


def default_preprocessor(video: bool) -> dict:
    """The data preprocessor of a model whose config gives none: ImageNet mean / std.

    Images are loaded as BGR by mmpretrain (``to_rgb=True``); decord gives RGB clips.
    """
    if video:
        return dict(type='ActionDataPreprocessor', mean=IMAGENET_MEAN, std=IMAGENET_STD,
                    format_shape='NCTHW')
    return dict(type='SelfSupDataPreprocessor', mean=IMAGENET_MEAN, std=IMAGENET_STD,
                to_rgb=True)


def normalisation_of(data_preprocessor) -> Tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
    """``(mean, std)`` (``(C,)`` tensors, raw pixel units) a data preprocessor normalises
    its inputs with, or ``(None, None)`` when it does not normalise.

    The one definition of "the preprocessor normalises": it holds both a ``mean`` and a
    ``std`` (MMEngine's and the toolboxes' data preprocessors register the two buffers
    exactly when they are given, and normalise exactly then)."""
    mean = getattr(data_preprocessor, 'mean', None)
    std = getattr(data_preprocessor, 'std', None)
    if mean is None or std is None:
        return None, None
    return torch.as_tensor(mean).flatten(), torch.as_tensor(std).flatten()


def warn_if_unnormalised(preprocessor) -> bool:
    """Warn (once, at build) when a model with a teacher gets raw 0-255 inputs.

    A teacher trained on normalised inputs then sees another input distribution and
    its targets are silently wrong. Returns whether it warned.
    """
    if normalisation_of(preprocessor)[0] is not None:
        return False
    print_log(
        f'model.data_preprocessor ({type(preprocessor).__name__}) does not normalise its '
        'inputs (no mean / std), but the teacher was most likely trained on normalised '
        'ones: set model.data_preprocessor.mean / std (ImageNet: mean='
        f'{IMAGENET_MEAN}, std={IMAGENET_STD}) or leave model.data_preprocessor out to '
        'get them.', logger='current', level=logging.WARNING)
    return True
