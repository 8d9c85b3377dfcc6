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
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.logging import print_log

from ...masking import AsymMask
from ...registry import build_model
from ..utils.frozen import save_with_state_dict
from ..utils.tokens import (gather_tokens, normalise, patchify, pixel_targets, targets_to_patches,
                            unnormalise, unpatchify)
from ..utils.transformer import compile_blocks
from .branch import DistillBranch, teacher_specs
from .contract import DistillModel, StepRecord, TeacherView, publish_step, sample_files
from .options import DistillOptions
from .preprocess import normalisation_of, warn_if_unnormalised


class AsymmetricDistillMixin(DistillModel):
    """The AMD objective on top of an encoder ``self.backbone``; implements the
    model-engine contract (:class:`~amd_mm.models.algorithms.contract.DistillModel`).

    Call :meth:`init_distill` from ``__init__`` after ``self.backbone`` exists. Each
    teacher is a :class:`~amd_mm.models.algorithms.branch.DistillBranch` in
    ``self.branches``; ``self.teacher`` is the first teacher.
    """

    def init_distill(self, options: DistillOptions, *, registry) -> None:
        """Build masks, decoder and one branch per teacher from ``options`` (see
        :class:`~amd_mm.models.algorithms.options.DistillOptions`), components from the
        toolbox ``registry`` (its ``MODELS``)."""
        build = lambda cfg: build_model(cfg, registry)  # noqa: E731
        student = self.backbone
        self.target_norm = options.target_norm
        self.mask_generator = build(options.mask_generator)

        self.decoder = None
        if options.decoder is not None and options.loss_rec is not None:
            decoder = dict(options.decoder)
            decoder.setdefault('in_dims', student.enc_width)
            decoder.setdefault('out_dims', student.enc_tubelet_size * student.enc_patch_size ** 2 * 3)
            self.decoder = build(decoder)
        self.loss_rec = build(options.loss_rec) if self.decoder is not None else None

        specs = teacher_specs(
            teacher=options.teacher, extra_teachers=options.extra_teachers,
            generator=options.generator, student_layers=options.student_layers,
            teacher_layers=options.teacher_layers, projection=options.projection,
            loss_dir=options.loss_dir, loss_gen=options.loss_gen,
            loss_global=options.loss_global)
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

        self.save_teacher = bool(options.save_teacher)
        prefixes = ['teacher.' if not name else f'teacher_{name}.' for name in self.branch_names]
        save_with_state_dict(self, lambda: dict(zip(prefixes, self.teachers)),
                             lambda: self.save_teacher)
        if options.compile_blocks:
            self._compile_blocks(dict(options.compile_blocks)
                                 if isinstance(options.compile_blocks, dict) else None)

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

    # -- the contract (DistillModel) ----------------------------------------------------
    def teacher_views(self) -> List[TeacherView]:
        return [TeacherView(name=name, key=b.key, module=b.teacher, ratio=b.teacher_ratio,
                            student_layers=tuple(b.student_layers),
                            teacher_layers=tuple(b.teacher_layers),
                            generator_depth=len(b.generators[0].blocks) if b.generators else 0)
                for name, b in zip(self.branch_names, self.branches)]

    @property
    def decoder_depth(self) -> int:
        return len(self.decoder.blocks) if self.decoder is not None else 0

    @property
    def can_reconstruct(self) -> bool:
        return self.decoder is not None

    def pixel_normalisation(self):
        return normalisation_of(getattr(self, 'data_preprocessor', None))

    # -- the step ------------------------------------------------------------
    def distill_loss(self, inputs: torch.Tensor, data_samples=None) -> Dict[str, torch.Tensor]:
        """All loss terms for a batch of normalised images ``(B, 3, H, W)`` or clips
        ``(B, 3, T, H, W)``: ``loss_rec``, and ``loss_dir`` / ``loss_gen`` per teacher
        (suffixed ``_<name>`` for the extra teachers).

        Publishes the step's :class:`~amd_mm.models.algorithms.contract.StepRecord`
        (masks, the batch's files, the detached terms) once the terms exist, for the
        engine's hooks and guards.
        """
        student = self.backbone
        grid = student.token_grid(inputs)
        masks = self.mask_generator(inputs.shape[0], grid, inputs.device)
        latent, taps = student.forward_masked(inputs, masks.ids_student, out_layers=self.student_layers)
        losses = {}
        if self.decoder is not None:
            mean, std = self.pixel_normalisation()  # official: targets from [0, 1] pixels
            target = pixel_targets(inputs, student.enc_patch_size, student.enc_tubelet_size,
                                   self.target_norm, mean=mean, std=std)
            pred = self.decoder(latent, masks.ids_student, masks.ids_masked, grid)
            losses['loss_rec'] = self.loss_rec(pred, gather_tokens(target, masks.ids_masked))
        by_layer = dict(zip(self.student_layers, taps))
        for name, branch in zip(self.branch_names, self.branches):
            for term, value in branch(inputs, by_layer, masks, latent).items():
                losses[f'{term}_{name}' if name else term] = value
        publish_step(StepRecord(masks=masks, files=sample_files(data_samples),
                                losses={k: v.detach() for k, v in losses.items()}))
        return losses

    @torch.no_grad()
    def reconstruct(self, inputs: torch.Tensor, masks: Optional[AsymMask] = None
                    ) -> Tuple[torch.Tensor, AsymMask]:
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
        mean, std = self.pixel_normalisation()
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
