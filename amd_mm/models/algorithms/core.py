"""Asymmetric masked distillation, written once for images and videos.

:class:`AsymmetricDistillMixin` holds the whole algorithm; the image shell
(:class:`~amd_mm.models.algorithms.AMD`, mmpretrain) and the video shell
(:class:`~amd_mm.models.algorithms.VideoAMD`, mmaction2) only adapt data
samples and registries.

One step::

    masks   = mask_generator(B, grid)                  # nested V_s in V_t
    latent, taps = student(inputs, V_s, layers)        # trainable
    t_s, t_d     = teacher(inputs, V_s + V_t\\V_s)      # frozen, no grad
    loss_rec = rec(decoder(latent) , pixels[masked])            # MAE
    loss_dir = mean_l  dir(head_l(tap_l), t_s_l)                 # direct
    loss_gen = mean_l  gen(generator_l(head_l(tap_l)), t_d_l)    # generative

Without a teacher it is exactly MAE / VideoMAE (only ``loss_rec``).
"""
import logging
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn
from mmengine.logging import print_log

from ...registry import build_model
from ..utils.tokens import gather_tokens, pixel_targets
from ..utils.transformer import compile_blocks
from .branch import DistillBranch


class AsymmetricDistillMixin:
    """The AMD objective on top of an encoder ``self.backbone``.

    Call :meth:`init_distill` from ``__init__`` after ``self.backbone`` exists.

    Args (of :meth:`init_distill`):
        teacher (dict, optional): :class:`FrozenTeacher` config; None gives MAE.
        mask_generator (dict): :class:`AsymmetricMaskGenerator` config.
        decoder (dict, optional): :class:`PixelDecoder` config (None: no pixel loss).
        generator (dict, optional): :class:`FeatureGenerator` config, one copy per
            aligned layer (None: no generative branch).
        student_layers / teacher_layers (list[int]): 1-based aligned layers, paired
            in order (official: student ``[6, 12]`` with ViT-L teacher ``[12, 24]``).
        projection (bool): linear heads from student to teacher width, one per
            aligned layer, shared by the direct and generative branches (official).
            False requires equal widths.
        loss_rec / loss_dir / loss_gen (dict, optional): :class:`AlignLoss` configs
            whose ``loss_weight`` is the term's weight; None switches a term off.
        target_norm (str): pixel target normalisation (see ``pixel_targets``).
        extra_teachers (list[dict]): more teachers (MVD co-teaching), each a dict
            with ``name`` (suffix of its loss terms), ``teacher``, ``student_layers``,
            ``teacher_layers`` and optionally ``projection``, ``generator``,
            ``loss_dir``, ``loss_gen``, ``loss_global``, ``teacher_ratio`` (its own
            mask ratio).
        loss_global (dict, optional): image-level contrastive target of the first
            teacher (:class:`InfoNCELoss`; MimCo).
        compile_blocks (bool | dict): ``torch.compile`` every transformer block
            (student, decoder, generators; teachers with inductor ``freezing``) in
            place, with these inductor options if a dict. Same losses up to float
            rounding, same checkpoints; the first step pays the compilation. Off by
            default. (MMEngine's top-level ``compile=True`` compiles the whole
            ``train_step`` instead, through the masking code.)

    Each teacher is a :class:`~amd_mm.models.algorithms.branch.DistillBranch` in
    ``self.branches``; ``self.teacher`` is the first teacher.
    """

    def init_distill(self,
                     teacher: Optional[dict],
                     mask_generator: dict,
                     decoder: Optional[dict],
                     generator: Optional[dict],
                     student_layers: Sequence[int],
                     teacher_layers: Sequence[int],
                     projection: bool,
                     loss_rec: Optional[dict],
                     loss_dir: Optional[dict],
                     loss_gen: Optional[dict],
                     target_norm: str,
                     extra_teachers: Sequence[dict] = (),
                     loss_global: Optional[dict] = None,
                     registry=None):
        build = lambda cfg: build_model(cfg, registry)  # noqa: E731
        student = self.backbone
        self.target_norm = target_norm
        self.mask_generator = build(mask_generator)

        self.decoder = None
        if decoder is not None and loss_rec is not None:
            decoder = dict(decoder)
            decoder.setdefault('in_dims', student.enc_width)
            decoder.setdefault('out_dims', student.enc_tubelet_size * student.enc_patch_size ** 2 * 3)
            self.decoder = build(decoder)
        self.loss_rec = build(loss_rec) if self.decoder is not None else None

        # one DistillBranch per teacher: the top-level keys describe the first,
        # extra_teachers[i] (same keys plus name and teacher_ratio) the others
        specs = []
        if teacher is not None:
            specs.append(('', 'model.', dict(
                teacher=teacher, generator=generator, student_layers=student_layers,
                teacher_layers=teacher_layers, projection=projection, loss_dir=loss_dir,
                loss_gen=loss_gen, loss_global=loss_global)))
        elif extra_teachers:
            raise ValueError('model.extra_teachers needs model.teacher (the first teacher).')
        for i, extra in enumerate(extra_teachers):
            extra = dict(extra)
            name = extra.pop('name', None)
            if not name or name in [s[0] for s in specs]:
                raise ValueError(f'model.extra_teachers[{i}].name must be a unique non-empty string')
            specs.append((name, f'model.extra_teachers[{i}].', extra))
        self.branch_names = [name for name, _, _ in specs]
        self.branches = nn.ModuleList()
        for name, key, spec in specs:
            ratio = spec.pop('teacher_ratio', None)
            if ratio is not None:
                self.mask_generator.check_teacher_ratio(ratio, f'{key}teacher_ratio')
            effective = self.mask_generator.teacher_ratio if ratio is None else ratio
            if effective == self.mask_generator.student_ratio and spec.get('generator') is not None:
                print_log(f'{key}teacher: mask ratio {effective} equals mask_generator.'
                          "student_ratio: the teacher sees exactly the student's tokens "
                          '(symmetric), so the generative branch has nothing to predict and is '
                          'off (no generators, no loss_gen).', logger='current', level=logging.WARNING)
                spec['generator'] = None
            unknown = set(spec) - {'teacher', 'generator', 'student_layers', 'teacher_layers',
                                   'projection', 'loss_dir', 'loss_gen', 'loss_global'}
            if unknown:
                raise ValueError(f'{key[:-1]} has unknown keys {sorted(unknown)}')
            self.branches.append(DistillBranch(
                build(spec.pop('teacher')), student, build, key, teacher_ratio=ratio, **spec))
        if not self.branches and self.decoder is None:
            raise ValueError('model: with teacher=None a decoder and loss_rec are needed '
                             '(nothing would be learned).')
        self.student_layers = sorted({l for b in self.branches for l in b.student_layers})

    def setup_block_compile(self, enabled=False):
        """See ``compile_blocks`` above; called by the algorithms after :meth:`init_distill`."""
        if not enabled:
            return
        options = dict(enabled) if isinstance(enabled, dict) else None
        compile_blocks(self.backbone._encoder_blocks(), options)
        if self.decoder is not None:
            compile_blocks(self.decoder.blocks, options)
        for branch in self.branches:
            for generator in branch.generators or []:
                compile_blocks(generator.blocks, options)
            branch.teacher.compile_blocks(options)

    @property
    def teacher(self):
        """The (first) frozen teacher, or None (OpenMMLab convention: ``model.teacher``)."""
        return self.branches[0].teacher if len(self.branches) else None

    @property
    def teachers(self) -> list:
        return [b.teacher for b in self.branches]

    # -- the step ------------------------------------------------------------
    def distill_loss(self, inputs: torch.Tensor) -> Dict[str, torch.Tensor]:
        """All loss terms for a batch of normalised images ``(B, 3, H, W)`` or clips
        ``(B, 3, T, H, W)``: ``loss_rec``, and ``loss_dir`` / ``loss_gen`` per teacher
        (suffixed ``_<name>`` for the extra teachers)."""
        student = self.backbone
        grid = student.token_grid(inputs)
        masks = self.mask_generator(inputs.shape[0], grid, inputs.device)
        self.last_masks = masks  # for hooks (DistSanityHook, visualisation)
        latent, taps = student.forward_masked(inputs, masks.ids_student, out_layers=self.student_layers)
        losses = {}
        if self.decoder is not None:
            target = pixel_targets(inputs, student.enc_patch_size, student.enc_tubelet_size, self.target_norm)
            pred = self.decoder(latent, masks.ids_student, masks.ids_masked, grid)
            losses['loss_rec'] = self.loss_rec(pred, gather_tokens(target, masks.ids_masked))
        by_layer = dict(zip(self.student_layers, taps))
        for name, branch in zip(self.branch_names, self.branches):
            for term, value in branch(inputs, by_layer, masks, latent).items():
                losses[f'{term}_{name}' if name else term] = value
        return losses

    # -- what the reliability tools report ----------------------------------
    def remember_batch(self, data_samples) -> None:
        """Keep the file names of the current batch (for non-finite loss reports)."""
        files = []
        for sample in data_samples or []:
            meta = getattr(sample, 'metainfo', {}) or {}
            name = meta.get('img_path') or meta.get('filename') or meta.get('frame_dir')
            if name:
                files.append(str(name))
        self.last_batch_files = files

    def parse_losses(self, losses):
        loss, log_vars = super().parse_losses(losses)
        self.last_loss_terms = {k: float(v.detach()) if torch.is_tensor(v) else float(v)
                                for k, v in log_vars.items()}
        return loss, log_vars

    # -- checkpoints -----------------------------------------------------------
    def init_teacher_checkpointing(self, save_teacher: bool):
        """Keep the frozen teachers out of saved checkpoints unless ``save_teacher``.

        With ``save_teacher=True`` their weights are written under ``teacher.`` (the
        first) and ``teacher_<name>.`` (extra teachers) and loaded back from there;
        otherwise the teachers come from their ``checkpoint`` at build time, also
        when resuming.
        """
        self.save_teacher = save_teacher
        prefixes = ['teacher.' if not name else f'teacher_{name}.' for name in self.branch_names]

        def add_teachers(module, state_dict, prefix, local_metadata):
            if module.save_teacher:
                for key, branch in zip(prefixes, module.branches):
                    for name, value in branch.teacher.state_dict().items():
                        state_dict[prefix + key + name] = value
            return state_dict

        def load_teachers(state_dict, prefix, *args, **kwargs):
            for key, branch in zip(prefixes, self.branches):
                keys = [k for k in state_dict if k.startswith(prefix + key)]
                if keys:
                    own = {k[len(prefix + key):]: state_dict.pop(k) for k in keys}
                    branch.teacher.load_state_dict(own, strict=True)

        self._register_state_dict_hook(add_teachers)
        self._register_load_state_dict_pre_hook(load_teachers)
