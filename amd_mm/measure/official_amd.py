"""The official MCG-NJU/AMD pre-training step at an amd_mm config's settings (cost only).

Nothing of the official code is part of amd_mm: its model and optimizer modules are
imported at run time from an export of its repository, given as ``root`` (the tools'
``--official DIR``) or the ``AMD_OFFICIAL_ROOT`` environment variable, e.g.::

    git --git-dir=<mirror of MCG-NJU/AMD> archive HEAD | tar -x -C /tmp/amd_official

Models are built as ``run_amd_pretrain.py`` builds them (``get_model`` /
``get_teacher_model``, 8d2ec6f lines 167-226): the student ``PretrainAMD`` with the
arguments of its ``pretrain_mae_{small,base,large}_patch16_224`` functions
(``models/modeling_pretrain.py`` 351-422), the teacher ``VisionTransformer`` with those of
``vit_{small,base,large,huge}_patch16_224`` (``models/modeling_finetune_amd.py``
285-322), the optimizer by its ``optim_factory.create_optimizer`` (AdamW, no weight decay
on 1-D parameters and biases). The step (:func:`official_train_step`) is written here
after what ``engine_for_pretraining_amd.train_one_epoch`` does per batch (lines 48-99).
Its ``t_consist`` masks are drawn as its ``TemporalConsistencyMaskingGenerator`` counts
them (``dataset/masking_generator.py`` 53-81): per frame ``int(ratio * H * W)`` masked
patches, the teacher's masked set inside the student's, one pattern for all frames.

Only what the official code needs at run time is adapted, in memory and never in
its files, and undone after the import: its modules register model names timm already
has, so timm's ``register_model`` is bypassed while they are imported (timm's registry
stays as it was); ``optim_factory`` imports three optimizers timm 1.0 renamed or dropped
(``Nadam``, ``RAdam``, ``NovoGrad``; only AdamW is used), which get placeholders.
"""
import argparse
import contextlib
import os
import os.path as osp
import statistics
import sys
from dataclasses import dataclass
from functools import partial
from types import SimpleNamespace
from typing import List, Optional, Sequence

import torch
import torch.nn as nn

ENV_VAR = 'AMD_OFFICIAL_ROOT'
_FILES = ('models/modeling_pretrain.py', 'models/modeling_finetune_amd.py', 'optim_factory.py')

#: the official model functions' architectures (modeling_pretrain.py 351-422,
#: modeling_finetune_amd.py 285-322): width -> (depth, heads[, decoder width, heads])
STUDENTS = {384: (12, 6, 192, 3), 768: (12, 12, 384, 6), 1024: (24, 16, 512, 8)}
TEACHERS = {384: (12, 6), 768: (12, 12), 1024: (24, 16), 1280: (32, 16)}


def official_root(root: Optional[str] = None) -> Optional[str]:
    """``root`` or ``$AMD_OFFICIAL_ROOT`` if it holds an export of the official code,
    else None. A ``root`` given explicitly that is not such an export is an error."""
    path = root or os.environ.get(ENV_VAR)
    if not path:
        return None
    missing = [f for f in _FILES if not osp.isfile(osp.join(path, f))]
    if missing:
        if root:
            raise FileNotFoundError(
                f'--official {root!r} is not an export of the MCG-NJU/AMD repository '
                f'(missing {missing[0]}); make one with: git --git-dir=<mirror> archive HEAD '
                f'| tar -x -C {root}')
        return None
    return path


#: names the official optim_factory imports that timm 1.0 no longer has (never used for AdamW)
_TIMM_GONE = (('timm.optim.nadam', 'Nadam'), ('timm.optim.radam', 'RAdam'),
              ('timm.optim.novograd', 'NovoGrad'))


class _Unavailable:
    def __init__(self, *args, **kwargs):
        raise RuntimeError('this optimizer of the official code is not available in timm 1.0')


@contextlib.contextmanager
def _timm_placeholders():
    import importlib
    import types
    added_modules, added_names = [], []
    for module_name, name in _TIMM_GONE:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            module = sys.modules[module_name] = types.ModuleType(module_name)
            added_modules.append(module_name)
        if not hasattr(module, name):
            setattr(module, name, _Unavailable)
            added_names.append((module, name))
    try:
        yield
    finally:
        for module, name in added_names:
            delattr(module, name)
        for module_name in added_modules:
            sys.modules.pop(module_name, None)


def import_official(root: str) -> SimpleNamespace:
    """The official ``models.modeling_pretrain``, ``models.modeling_finetune_amd`` and
    ``optim_factory`` modules, imported from ``root``. ``sys.path``, ``sys.modules`` and
    timm's model registry are left as they were."""
    import timm.models.registry as timm_registry
    saved_path = list(sys.path)
    names = ('models', 'models.modeling_pretrain', 'models.modeling_finetune_amd', 'optim_factory')
    saved_modules = {name: sys.modules.pop(name) for name in names if name in sys.modules}
    register = timm_registry.register_model
    timm_registry.register_model = lambda fn: fn  # their names (vit_large_patch16_224 ...) are timm's too
    sys.path.insert(0, osp.abspath(root))
    try:
        import importlib
        with _timm_placeholders():
            optim_factory = importlib.import_module('optim_factory')
        modules = SimpleNamespace(
            pretrain=importlib.import_module('models.modeling_pretrain'),
            finetune=importlib.import_module('models.modeling_finetune_amd'),
            optim_factory=optim_factory)
    finally:
        timm_registry.register_model = register
        sys.path[:] = saved_path
        for name in names:
            sys.modules.pop(name, None)
        sys.modules.update(saved_modules)
    return modules


@dataclass
class OfficialSettings:
    """The official step's arguments, read from an amd_mm video config."""
    student_width: int
    teacher_width: int
    student_layers: List[int]
    teacher_layers: List[int]
    decoder_depth: int
    generator_depth: int
    student_ratio: float
    teacher_ratio: float
    img_size: int
    num_frames: int
    tubelet: int
    patch: int
    videos: int
    views: int
    lr: float = 1.2e-3
    weight_decay: float = 0.05
    betas: Sequence[float] = (0.9, 0.95)
    clip_grad: Optional[float] = 0.02

    @classmethod
    def from_config(cls, cfg, model=None) -> 'OfficialSettings':
        """Settings of a built amd_mm video model ``model`` (built from ``cfg`` if None),
        read through the model-engine contract."""
        from ..models.algorithms.contract import as_distill_model
        from .step import build_model, input_geometry
        geometry = input_geometry(cfg)
        if not geometry.is_video:
            raise ValueError('the official AMD code is video only: give a video config')
        model = as_distill_model(model or build_model(cfg, torch.device('cpu'), init_weights=False))
        if model is None or not model.teacher_views():
            raise ValueError('the official AMD step needs an amd_mm model with a teacher '
                             '(model.teacher)')
        masks = model.mask_generator
        if masks.mode != 'tube':
            raise ValueError(f"the official AMD code masks with t_consist (model.mask_generator."
                             f"mode='tube'), the config has mode={masks.mode!r}")
        first = model.teacher_views()[0]
        student, teacher = model.backbone, first.module
        if student.enc_width not in STUDENTS or teacher.enc_width not in TEACHERS:
            raise ValueError(f'no official model of student width {student.enc_width} / '
                             f'teacher width {teacher.enc_width}')
        if (geometry.frames, student.enc_tubelet_size, student.enc_patch_size) != (16, 2, 16):
            raise ValueError('the official models are built for 16 frames, tubelet 2, patch 16 '
                             f'(the config: {geometry.frames}, {student.enc_tubelet_size}, '
                             f'{student.enc_patch_size})')
        optim = cfg.optim_wrapper
        opt = optim.optimizer
        clip = (optim.get('clip_grad') or {}).get('max_norm')
        return cls(student_width=student.enc_width, teacher_width=teacher.enc_width,
                   student_layers=list(first.student_layers),
                   teacher_layers=list(first.teacher_layers),
                   decoder_depth=model.decoder_depth, generator_depth=first.generator_depth,
                   student_ratio=masks.student_ratio, teacher_ratio=first.ratio,
                   img_size=geometry.height, num_frames=geometry.frames,
                   tubelet=student.enc_tubelet_size, patch=student.enc_patch_size,
                   videos=int(cfg.train_dataloader.batch_size), views=geometry.views,
                   lr=opt.get('lr', 1.2e-3), weight_decay=opt.get('weight_decay', 0.05),
                   betas=tuple(opt.get('betas', (0.9, 0.95))), clip_grad=clip)

    @property
    def grid(self):
        return (self.num_frames // self.tubelet, self.img_size // self.patch,
                self.img_size // self.patch)


def build_official(modules: SimpleNamespace, s: OfficialSettings, with_cp: bool = False):
    """``(student, teacher)`` built on the CPU as ``run_amd_pretrain.py`` builds them."""
    depth, heads, dec_width, dec_heads = STUDENTS[s.student_width]
    norm = partial(nn.LayerNorm, eps=1e-6)
    student = modules.pretrain.PretrainAMD(
        img_size=s.img_size, patch_size=s.patch, encoder_embed_dim=s.student_width,
        encoder_depth=depth, encoder_num_heads=heads, encoder_num_classes=0,
        decoder_num_classes=3 * s.tubelet * s.patch ** 2, decoder_embed_dim=dec_width,
        decoder_num_heads=dec_heads, mlp_ratio=4, qkv_bias=True, norm_layer=norm,
        drop_path_rate=0.0, decoder_depth=s.decoder_depth, generator_depth=s.generator_depth,
        use_checkpoint=with_cp, tubelet_size=s.tubelet, teacher_dim=s.teacher_width,
        layer_to_get=dict(dir=list(s.student_layers), gen=list(s.student_layers)))
    t_depth, t_heads = TEACHERS[s.teacher_width]
    teacher = modules.finetune.VisionTransformer(
        img_size=s.img_size, patch_size=s.patch, embed_dim=s.teacher_width, depth=t_depth,
        num_heads=t_heads, mlp_ratio=4, qkv_bias=True, norm_layer=norm,
        num_frames=s.num_frames, tubelet_size=s.tubelet, use_mean_pooling=True,
        init_scale=0.001, layer_to_get=dict(dir=list(s.teacher_layers), gen=list(s.teacher_layers)))
    teacher.eval()
    student.train()
    return student, teacher


def build_optimizer(modules: SimpleNamespace, student: nn.Module, s: OfficialSettings,
                    foreach: Optional[bool] = None):
    args = argparse.Namespace(opt='adamw', weight_decay=s.weight_decay, lr=s.lr, opt_eps=1e-8,
                              opt_betas=list(s.betas), momentum=0.9)
    with contextlib.redirect_stdout(sys.stderr):  # it prints its settings
        optimizer = modules.optim_factory.create_optimizer(args, student)
    if foreach is not None:  # torch's AdamW picks foreach on CUDA, a per-tensor loop on CPU
        for group in optimizer.param_groups:
            group['foreach'] = foreach
    return optimizer


def tube_masks(s: OfficialSettings, clips: int, seed: int = 0, device='cpu'):
    """``(student_masked, teacher_masked, diff)`` boolean ``(clips, tokens)`` masks: per
    frame ``int(ratio * H * W)`` masked patches, the teacher's inside the student's,
    ``diff`` = seen by the teacher only; one spatial pattern repeated over time."""
    t, h, w = s.grid
    per_frame = h * w
    n_student, n_teacher = int(s.student_ratio * per_frame), int(s.teacher_ratio * per_frame)
    gen = torch.Generator().manual_seed(seed)
    order = torch.rand(clips, per_frame, generator=gen).argsort(dim=1)
    rank = order.argsort(dim=1)  # rank of each patch in the random order
    student = rank >= per_frame - n_student          # the last n_student are masked
    teacher = rank >= per_frame - n_teacher          # the last n_teacher, inside those
    diff = student & ~teacher
    tile = lambda m: m.repeat(1, t).to(device)  # noqa: E731  (same pattern every frame)
    return tile(student), tile(teacher), tile(diff)


def official_train_step(student, teacher, optimizer, videos, masks, s: OfficialSettings,
                        autocast_dtype: Optional[torch.dtype] = torch.float16):
    """One step as ``train_one_epoch`` runs it: targets without gradients; under autocast
    the teacher (no gradients) and the student; MSE losses; gradients zeroed only now
    (the previous step's lived through the forward); backward, clipping, AdamW. The grad
    scaler (a few scalars) is left out."""
    from ..models.utils.tokens import pixel_targets
    mask_student, mask_teacher, diff = masks
    with torch.no_grad():
        target = pixel_targets(videos, s.patch, s.tubelet, 'patch_channel')
        labels = target[mask_student].reshape(target.shape[0], -1, target.shape[-1])
    mse = nn.functional.mse_loss
    amp = (torch.autocast(videos.device.type, dtype=autocast_dtype)
           if autocast_dtype is not None else contextlib.nullcontext())
    with amp:
        with torch.no_grad():
            t_dir, t_gen = teacher(videos, (mask_student, diff))
        out, s_dir, s_gen = student(videos, (mask_student, diff, mask_teacher))
        loss = (mse(out, labels) + sum(mse(a, b) for a, b in zip(s_dir, t_dir)) / len(s_dir)
                + sum(mse(a, b) for a, b in zip(s_gen, t_gen)) / len(s_gen))
    optimizer.zero_grad()
    loss.backward()
    if s.clip_grad:
        torch.nn.utils.clip_grad_norm_(student.parameters(), s.clip_grad)
    optimizer.step()
    return loss


class OfficialPlanner:
    """Estimates of the official step's per-GPU peak memory (same method as
    :class:`~amd_mm.measure.memory_plan.StepPlanner`: fake tensors + ``MemTracker``)."""

    def __init__(self, root: str, settings: OfficialSettings,
                 autocast_dtype: Optional[torch.dtype] = torch.float16, gpus: int = 1,
                 with_cp: bool = False, foreach: bool = True):
        from .memory_plan import fake_mode, fake_step_context, module_bytes, to_fake
        self.settings = settings
        self.autocast_dtype = autocast_dtype
        modules = import_official(root)
        self.student, self.teacher = build_official(modules, settings, with_cp)
        self.mode = fake_mode()
        to_fake(self.student, self.mode)
        to_fake(self.teacher, self.mode)
        # the generators' mask tokens are plain attributes (a list), not parameters
        self.student.generator_mask_tokens = [
            nn.Parameter(self.mode.from_tensor(p.detach())) for p in self.student.generator_mask_tokens]
        with fake_step_context(self.mode, None):
            self.optimizer = build_optimizer(modules, self.student, settings, foreach)
        self.teacher_bytes = module_bytes(self.teacher)
        self.ddp_bytes = module_bytes(self.student, trainable_only=True) if gpus > 1 else 0
        self._warm = False

    def estimate(self, batch_size: int):
        from .memory_plan import fake_step_context, small_constants, track_peak
        s = self.settings
        clips = batch_size * s.views
        converter = self.mode.fake_tensor_converter
        real_masks = tube_masks(s, clips)  # real: their counts decide the shapes
        with small_constants(), fake_step_context(self.mode, self.autocast_dtype):
            videos = torch.randn(clips, 3, s.num_frames, s.img_size, s.img_size)
            masks = [converter.from_real_tensor(self.mode, m, make_constant=True)
                     for m in real_masks]

            def step():
                official_train_step(self.student, self.teacher, self.optimizer, videos, masks, s,
                                    self.autocast_dtype)

            if not self._warm:  # optimizer state and gradients exist from the second step on
                step()
                self._warm = True
            return track_peak(step, [self.student, self.optimizer, self.teacher, videos, *masks],
                              self.teacher_bytes, self.ddp_bytes, batch_size, clips)

    def largest_batch(self, memory: int):
        from .memory_plan import largest_batch
        return largest_batch(self.estimate, memory, self.settings.videos)


def build_real(root: str, settings: OfficialSettings, device: torch.device,
               foreach: Optional[bool] = None):
    """``(student, teacher, optimizer, videos, masks)`` of the official step on ``device``
    at ``settings`` (random weights and a random batch)."""
    torch.manual_seed(0)
    modules = import_official(root)
    student, teacher = build_official(modules, settings)
    student.to(device)
    teacher.to(device)
    # the generators' mask tokens are a plain list: .to() does not move them
    student.generator_mask_tokens = [nn.Parameter(p.detach().to(device))
                                     for p in student.generator_mask_tokens]
    optimizer = build_optimizer(modules, student, settings, foreach)
    clips = settings.videos * settings.views
    videos = torch.randn(clips, 3, settings.num_frames, settings.img_size, settings.img_size,
                         device=device)
    return student, teacher, optimizer, videos, tube_masks(settings, clips, device=device)


def time_official_steps(root: str, settings: OfficialSettings, device: torch.device,
                        iters: int, warmup: int,
                        autocast_dtype: Optional[torch.dtype] = torch.float16) -> dict:
    """Run the official step for real on ``device``: step times, samples/s and (on CUDA)
    ``max_memory_allocated`` over the timed steps. Random weights."""
    from .counters import sync, time_calls, time_summary
    student, teacher, optimizer, videos, masks = build_real(root, settings, device)
    losses = []

    def step():
        losses.append(official_train_step(student, teacher, optimizer, videos, masks, settings,
                                          autocast_dtype))

    for _ in range(warmup):
        step()
    sync(device)
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
    times = time_calls(step, device, iters)
    result = dict(step_time_s=time_summary(times),
                  samples_per_s=round(len(videos) / statistics.median(times), 4),
                  samples_per_step=len(videos),
                  autocast=str(autocast_dtype).replace('torch.', '') if autocast_dtype else 'fp32',
                  loss=float(losses[-1]))
    if device.type == 'cuda':
        result['peak_memory_mb'] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    return result


def measure_official_memory(root: str, settings: OfficialSettings, device: torch.device,
                            autocast_dtype: Optional[torch.dtype] = torch.float16,
                            foreach: Optional[bool] = True, cuda_rules: bool = True) -> dict:
    """The measured peak of the official step (as :func:`~amd_mm.measure.memory_plan.
    measure_step_memory` measures amd_mm's): bytes held before a step (weights,
    optimizer state, the previous step's gradients, the batch) plus the allocator's peak
    during it. Random weights. ``foreach=True``: AdamW as torch runs it on CUDA (also on
    the CPU, where it would otherwise loop over tensors)."""
    from .counters import allocator_peak_bytes, optimizer_state_tensors, storage_bytes
    from .memory_plan import cuda_autocast_rules
    student, teacher, optimizer, videos, masks = build_real(root, settings, device, foreach)
    rules = cuda_rules and autocast_dtype is not None and device.type == 'cpu'
    with cuda_autocast_rules(rules):
        def step():
            official_train_step(student, teacher, optimizer, videos, masks, settings,
                                autocast_dtype)

        step()  # optimizer state
        optimizer.zero_grad()  # the first measured call then frees nothing it did not make
        state = [*student.parameters(), *student.buffers(), *teacher.parameters(),
                 *teacher.buffers(), videos, *masks, *optimizer_state_tensors(optimizer)]
        before = (torch.cuda.memory_allocated(device) if device.type == 'cuda'
                  else storage_bytes(state))
        growth = allocator_peak_bytes(step, device, calls=2)
    return dict(batch_size=settings.videos, samples=len(videos), state_bytes=before,
                step_growth_bytes=growth, peak_bytes=before + growth)
