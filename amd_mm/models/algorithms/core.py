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
from dataclasses import replace
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.logging import print_log

from ...registry import build_model
from ..utils.frozen import save_with_state_dict
from ..utils.tokens import (gather_tokens, normalisation_of, normalise, patchify, pixel_targets,
                            targets_to_patches, unnormalise, unpatchify)
from ..utils.transformer import compile_blocks
from .branch import DistillBranch, teacher_specs
from .preprocess import warn_if_unnormalised
from .step import StepRecord, publish_step, sample_files


class AsymmetricDistillMixin:
    """The AMD objective on top of an encoder ``self.backbone``.

    Call :meth:`init_distill` from ``__init__`` after ``self.backbone`` exists. Each
    teacher is a :class:`~amd_mm.models.algorithms.branch.DistillBranch` in
    ``self.branches``; ``self.teacher`` is the first teacher.
    """

    def init_distill(self, *,
                     mask_generator: dict,
                     teacher: Optional[dict],
                     decoder: Optional[dict],
                     generator: Optional[dict],
                     student_layers: Sequence[int],
                     teacher_layers: Sequence[int],
                     projection: bool,
                     loss_rec: Optional[dict],
                     loss_dir: Optional[dict],
                     loss_gen: Optional[dict],
                     loss_global: Optional[dict],
                     target_norm: str,
                     extra_teachers: Sequence[dict],
                     save_teacher: bool,
                     compile_blocks,
                     registry) -> None:
        """Build masks, decoder and one branch per teacher (keyword-only).

        Args:
            mask_generator (dict): :class:`AsymmetricMaskGenerator` config.
            teacher (dict, optional): :class:`FrozenTeacher` config; None gives MAE.
            decoder (dict, optional): :class:`PixelDecoder` config (None: no pixel loss).
            generator (dict, optional): :class:`FeatureGenerator` config, one copy per
                aligned layer (None: no generative branch).
            student_layers / teacher_layers (list[int]): 1-based aligned layers, paired
                in order (official video: student ``[6, 12]`` with ViT-L ``[12, 24]``).
            projection (bool): linear heads from student to teacher width, one per
                aligned layer, shared by the direct and generative branches (official).
                False requires equal widths.
            loss_rec / loss_dir / loss_gen (dict, optional): :class:`AlignLoss` configs
                whose ``loss_weight`` is the term's weight; None switches a term off.
            loss_global (dict, optional): image-level contrastive target of the first
                teacher (:class:`InfoNCELoss`; MimCo).
            target_norm (str): pixel target normalisation (see ``pixel_targets``).
            extra_teachers (list[dict]): more teachers (MVD co-teaching), each with
                ``name`` (suffix of its loss terms), ``teacher``, ``student_layers``,
                ``teacher_layers`` and optionally ``projection``, ``generator``,
                ``loss_dir``, ``loss_gen``, ``loss_global`` and ``teacher_ratio`` (its
                own mask ratio; default ``mask_generator.teacher_ratio``).
            save_teacher (bool): write the teachers' weights into checkpoints (under
                ``teacher.`` and ``teacher_<name>.``) and load them back from there;
                otherwise they come from their ``checkpoint`` at build time, also when
                resuming.
            compile_blocks (bool | dict): ``torch.compile`` every transformer block
                (student, decoder, generators; teachers with inductor ``freezing``) in
                place, with these inductor options if a dict. Same losses up to float
                rounding, same checkpoints; the first step pays the compilation.
                (MMEngine's top-level ``compile=True`` compiles the whole
                ``train_step`` instead, through the masking code.)
            registry: the toolbox ``MODELS`` registry to build components from.
        """
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

        specs = teacher_specs(
            teacher=teacher, extra_teachers=extra_teachers, generator=generator,
            student_layers=student_layers, teacher_layers=teacher_layers, projection=projection,
            loss_dir=loss_dir, loss_gen=loss_gen, loss_global=loss_global)
        self.branches = nn.ModuleList()
        for spec in specs:
            ratio = self.mask_generator.resolve_teacher_ratio(spec.teacher_ratio,
                                                              f'{spec.key}teacher_ratio')
            if ratio == self.mask_generator.student_ratio and spec.generator is not None:
                print_log(f'{spec.key}teacher: mask ratio {ratio} equals mask_generator.'
                          "student_ratio: the teacher sees exactly the student's tokens "
                          '(symmetric), so the generative branch has nothing to predict and is '
                          'off (no generators, no loss_gen).', logger='current', level=logging.WARNING)
                spec = replace(spec, generator=None)
            self.branches.append(DistillBranch(spec, build(spec.teacher), student, ratio, build))
        self.branch_names = [spec.name for spec in specs]
        if not self.branches and self.decoder is None:
            raise ValueError('model: with teacher=None a decoder and loss_rec are needed '
                             '(nothing would be learned).')
        self.student_layers = sorted({l for b in self.branches for l in b.student_layers})
        if self.branches:
            warn_if_unnormalised(self.data_preprocessor)

        self.save_teacher = bool(save_teacher)
        prefixes = ['teacher.' if not name else f'teacher_{name}.' for name in self.branch_names]
        save_with_state_dict(self, lambda: dict(zip(prefixes, self.teachers)),
                             lambda: self.save_teacher)
        if compile_blocks:
            self._compile_blocks(dict(compile_blocks) if isinstance(compile_blocks, dict) else None)

    def _compile_blocks(self, options: Optional[dict]) -> None:
        compile_blocks(self.backbone.encoder_blocks(), options)
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
    def distill_loss(self, inputs: torch.Tensor, data_samples=None) -> Dict[str, torch.Tensor]:
        """All loss terms for a batch of normalised images ``(B, 3, H, W)`` or clips
        ``(B, 3, T, H, W)``: ``loss_rec``, and ``loss_dir`` / ``loss_gen`` per teacher
        (suffixed ``_<name>`` for the extra teachers).

        Publishes the step's :class:`~amd_mm.models.algorithms.step.StepRecord` (masks,
        the batch's files, the detached terms) for the engine's hooks and guards.
        """
        student = self.backbone
        grid = student.token_grid(inputs)
        masks = self.mask_generator(inputs.shape[0], grid, inputs.device)
        record = StepRecord(masks=masks, files=sample_files(data_samples))
        publish_step(record)
        latent, taps = student.forward_masked(inputs, masks.ids_student, out_layers=self.student_layers)
        losses = {}
        if self.decoder is not None:
            mean, std = self._pixel_normalisation()  # official: targets from [0, 1] pixels
            target = pixel_targets(inputs, student.enc_patch_size, student.enc_tubelet_size,
                                   self.target_norm, mean=mean, std=std)
            pred = self.decoder(latent, masks.ids_student, masks.ids_masked, grid)
            losses['loss_rec'] = self.loss_rec(pred, gather_tokens(target, masks.ids_masked))
        by_layer = dict(zip(self.student_layers, taps))
        for name, branch in zip(self.branch_names, self.branches):
            for term, value in branch(inputs, by_layer, masks, latent).items():
                losses[f'{term}_{name}' if name else term] = value
        record.losses = {k: v.detach() for k, v in losses.items()}
        return losses

    @torch.no_grad()
    def reconstruct(self, inputs: torch.Tensor, masks=None) -> Tuple[torch.Tensor, object]:
        """The student's reconstruction of normalised ``inputs`` (images or clips).

        Visible patches are kept as they are; hidden ones are the pixel decoder's
        predictions, mapped from target space back to input space with the true
        statistics of each hidden patch (as MAE's visualisations do: what the decoder
        knows about the shape inside a patch, not its mean colour). Masks are drawn
        with the mask generator unless ``masks`` are given, without advancing it
        (training then draws the masks it would have drawn). Runs in eval mode; every
        module's mode is restored afterwards.

        Returns:
            ``(reconstruction, masks)``: the reconstruction has the shape of ``inputs``.
        """
        if self.decoder is None:
            raise ValueError('reconstruct needs a pixel decoder (model.decoder and model.loss_rec).')
        student = self.backbone
        grid = student.token_grid(inputs)
        patch, tubelet = student.enc_patch_size, student.enc_tubelet_size
        if masks is None:
            masks = self.mask_generator.peek(inputs.shape[0], grid, inputs.device)
        modes = [(m, m.training) for root in (student, self.decoder) for m in root.modules()]
        student.eval()
        self.decoder.eval()
        try:
            latent, _ = student.forward_masked(inputs, masks.ids_student)
            pred = self.decoder(latent, masks.ids_student, masks.ids_masked, grid)
        finally:
            for m, mode in modes:
                m.training = mode
        # in the targets' units ([0, 1] pixels when the preprocessor normalises), then back
        mean, std = self._pixel_normalisation()
        pixels = unnormalise(inputs, mean, std) if mean is not None else inputs.float()
        patches = patchify(pixels, patch, tubelet)  # (B, N, P, C)
        hidden = gather_tokens(patches.flatten(2), masks.ids_masked).reshape(
            *pred.shape[:2], *patches.shape[2:])
        filled = targets_to_patches(pred, hidden, self.target_norm)
        index = masks.ids_masked[..., None, None].expand(-1, -1, *patches.shape[2:])
        recon = unpatchify(patches.scatter(1, index, filled), grid, patch, tubelet)
        if mean is not None:
            recon = normalise(recon, mean, std)
        return (recon if inputs.dim() == 5 else recon.squeeze(2)), masks

    def _pixel_normalisation(self):
        """``(mean, std)`` of the data preprocessor (pixel units), or ``(None, None)``."""
        return normalisation_of(getattr(self, 'data_preprocessor', None))
