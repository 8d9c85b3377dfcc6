"""One training step of any amd_mm config on a synthetic batch.

What ``tools/benchmark.py`` times and ``tools/plan.py`` plans: the config's model and
optimizer as the runner builds them, fed a batch shaped as the config's pipeline gives
it (batch size from ``train_dataloader.batch_size``, crop from the backbone's
``img_size`` / ``num_frames``, views from ``RepeatAugment.num_repeats``).
"""
import contextlib
from functools import partial
from typing import List, NamedTuple, Optional

import torch

#: autocast dtypes by the names the tools accept
DTYPES = {'fp32': None, 'float32': None, 'bf16': torch.bfloat16, 'bfloat16': torch.bfloat16,
          'fp16': torch.float16, 'float16': torch.float16}


class InputGeometry(NamedTuple):
    """One sample after the pipeline: ``views`` clips (videos) of ``frames x height x width``."""
    is_video: bool
    views: int
    frames: int
    height: int
    width: int


def load_step_config(path: str, cfg_options: Optional[dict] = None,
                     teacher_checkpoint: Optional[str] = None):
    """The config with every teacher checkpoint None (random teachers) unless
    ``cfg_options`` or ``teacher_checkpoint`` name one."""
    from ..utils.config import load_config
    cfg = load_config(path)
    model = cfg.model
    if model.get('teacher'):
        model.teacher.checkpoint = None
    for extra in model.get('extra_teachers', []) or []:
        if extra.get('teacher'):
            extra.teacher.checkpoint = None
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if teacher_checkpoint:
        if not cfg.model.get('teacher'):
            raise ValueError('--teacher-checkpoint: the config has no model.teacher')
        cfg.model.teacher.checkpoint = teacher_checkpoint
    return cfg


def find_transform(pipeline, name: str):
    """The first transform of type ``name`` in ``pipeline``, also inside wrappers."""
    for step in pipeline or []:
        if step.get('type') == name:
            return step
        found = find_transform(step.get('transforms'), name)
        if found is not None:
            return found
    return None


def input_geometry(cfg) -> InputGeometry:
    """The shape of one sample after the config's training pipeline."""
    backbone = cfg.model.get('backbone', {})
    size = backbone.get('img_size', 224)
    h, w = (size, size) if isinstance(size, int) else tuple(size)
    dataset = cfg.train_dataloader.dataset
    while 'pipeline' not in dataset and 'dataset' in dataset:
        dataset = dataset.dataset
    pipeline = dataset.get('pipeline', [])
    fmt = find_transform(pipeline, 'FormatShape')
    is_video = cfg.get('default_scope') == 'mmaction' or (
        fmt is not None and fmt.get('input_format') == 'NCTHW')
    if not is_video:
        return InputGeometry(False, 1, 1, h, w)
    repeat = find_transform(pipeline, 'RepeatAugment')
    views = int(repeat.get('num_repeats', 4)) if repeat is not None else 1
    sample = find_transform(pipeline, 'SampleFrames')
    views *= int(sample.get('num_clips', 1)) if sample is not None else 1
    return InputGeometry(True, views, int(backbone.get('num_frames', 16)), h, w)


def make_batch(cfg, geometry: InputGeometry, batch_size: int, seed: int):
    """One collated uint8 batch as the config's dataloader would give it."""
    from mmengine.registry import FUNCTIONS
    is_video, views, t, h, w = geometry
    gen = torch.Generator().manual_seed(seed)
    items = []
    for _ in range(batch_size):
        if is_video:
            from mmaction.structures import ActionDataSample
            inputs = torch.randint(0, 256, (views, 3, t, h, w), generator=gen, dtype=torch.uint8)
            sample = ActionDataSample().set_gt_label(0)
            sample.set_metainfo(dict(img_shape=(h, w), filename='synthetic.mp4'))
        else:
            from mmpretrain.structures import DataSample
            inputs = torch.randint(0, 256, (3, h, w), generator=gen, dtype=torch.uint8)
            sample = DataSample().set_gt_label(0)
            sample.set_metainfo(dict(img_shape=(h, w), img_path='synthetic.png'))
        items.append(dict(inputs=inputs, data_samples=sample))
    collate_cfg = dict(cfg.train_dataloader.get('collate_fn', dict(type='pseudo_collate')))
    collate = FUNCTIONS.get(collate_cfg.pop('type'))
    return partial(collate, **collate_cfg)(items)


# -- model and optimizer ----------------------------------------------------------
def amp_dtype(cfg) -> Optional[torch.dtype]:
    """The autocast dtype the config's optimizer wrapper trains in (None: fp32).
    ``AmpOptimWrapper`` without ``dtype`` is float16 on CUDA (MMEngine's default)."""
    optim = cfg.optim_wrapper
    if optim.get('type') != 'AmpOptimWrapper':
        return None
    dtype = optim.get('dtype')
    return DTYPES[str(dtype).replace('torch.', '')] if dtype else torch.float16


def optim_wrapper_cfg(cfg, device: torch.device, notes: List[str]):
    """``cfg.optim_wrapper`` as built for one measured step on ``device``: every step
    updates the weights (``accumulative_counts`` 1) and, off CUDA, ``AmpOptimWrapper``
    (which needs CUDA) becomes ``OptimWrapper``."""
    optim_cfg = cfg.optim_wrapper.copy()
    if optim_cfg.get('type') == 'AmpOptimWrapper' and device.type != 'cuda':
        optim_cfg.type = 'OptimWrapper'
        for key in ('loss_scale', 'dtype', 'use_fsdp'):
            optim_cfg.pop(key, None)
        notes.append('AmpOptimWrapper needs CUDA: fell back to OptimWrapper (fp32)')
    if optim_cfg.get('accumulative_counts', 1) != 1:
        notes.append(f"accumulative_counts={optim_cfg.accumulative_counts} set to 1: every "
                     'timed step updates the weights')
        optim_cfg.accumulative_counts = 1
    return optim_cfg


def build_model(cfg, device: torch.device, init_weights: bool = True):
    """The config's model in training mode on ``device``."""
    from mmengine.registry import MODELS, init_default_scope
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    model = MODELS.build(cfg.model)
    if init_weights:
        model.init_weights()
    model.to(device)
    model.train()
    return model


def build_model_and_optim_wrapper(cfg, device: torch.device, notes: List[str]):
    """The model and optimizer wrapper as the runner builds them (see :func:`optim_wrapper_cfg`)."""
    from mmengine.optim import build_optim_wrapper
    model = build_model(cfg, device)
    return model, build_optim_wrapper(model, optim_wrapper_cfg(cfg, device, notes))


def teachers_of(model) -> list:
    """The frozen teachers of an amd_mm algorithm (held outside its module tree); none
    for other models."""
    from ..models.algorithms.contract import as_distill_model
    distill = as_distill_model(model)
    return [view.module for view in distill.teacher_views()] if distill else []


# -- the step without the runner's logging (runs on fake tensors too) -----------------
def sample_inputs(model, cfg, geometry: InputGeometry, seed: int = 0):
    """``(shape, dtype, data_sample)`` of one sample after the model's data
    preprocessor (e.g. ``(V, 3, T, H, W)`` float32 for videos), found by preprocessing
    one synthetic sample."""
    data = model.data_preprocessor(make_batch(cfg, geometry, 1, seed), True)
    inputs = data['inputs']
    inputs = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
    return tuple(inputs.shape[1:]), inputs.dtype, data['data_samples'][0]


def synthetic_inputs(shape, dtype, sample, batch_size: int, device='cpu'):
    """A preprocessed batch (normal noise) of ``batch_size`` samples of ``shape``."""
    inputs = torch.randn((batch_size,) + tuple(shape), dtype=dtype, device=device)
    return inputs, [sample] * batch_size


def clip_grad_of(cfg) -> Optional[dict]:
    clip = cfg.optim_wrapper.get('clip_grad')
    return dict(clip) if clip else None


def train_step(model, optimizer, inputs, data_samples, clip_grad: Optional[dict] = None,
               autocast_dtype: Optional[torch.dtype] = None, free_grads: bool = True):
    """Forward (losses), backward, gradient clipping, update, gradients freed: what
    ``OptimWrapper.update_params`` does after the data preprocessor, without the
    logging that reads values (so it also runs on fake tensors). ``autocast_dtype``
    runs the forward under autocast as ``AmpOptimWrapper`` does (its grad scaler, a
    few scalars, is left out). ``free_grads=False`` keeps the gradients, as between
    the steps of a gradient accumulation window (``accumulative_counts`` > 1): the
    next step's forward runs with them alive and its backward adds to them."""
    amp = (torch.autocast(inputs.device.type, dtype=autocast_dtype)
           if autocast_dtype is not None else contextlib.nullcontext())
    with amp:
        losses = model(inputs, data_samples, mode='loss')
    loss = sum(value for key, value in losses.items() if 'loss' in key)
    loss.backward()
    if clip_grad:
        params = [p for group in optimizer.param_groups for p in group['params']]
        torch.nn.utils.clip_grad_norm_(params, **clip_grad)
    optimizer.step()
    if free_grads:
        optimizer.zero_grad(set_to_none=True)
    return losses
