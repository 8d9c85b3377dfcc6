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
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn

from ...registry import build_model
from ..utils.tokens import gather_tokens, pixel_targets


def _as_layers(value, key: str) -> List[int]:
    if value is None:
        return []
    if isinstance(value, int):
        value = [value]
    try:
        return [int(v) for v in value]
    except (TypeError, ValueError):
        raise ValueError(f'{key}={value!r} must be a list of 1-based layer indices') from None


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

        # The frozen teacher is held outside the module tree: it is not in
        # parameters() (so never in the optimizer, nor synchronised by DDP), not in
        # state_dict() unless save_teacher, and not re-initialised by the runner;
        # _apply() still moves / casts it with the model.
        self.__dict__['teacher'] = build(teacher) if teacher is not None else None
        self.student_layers = _as_layers(student_layers, 'model.student_layers')
        self.teacher_layers = _as_layers(teacher_layers, 'model.teacher_layers')
        self.loss_dir = self.loss_gen = None
        self.heads = self.generators = None
        if self.teacher is None:
            if self.decoder is None:
                raise ValueError('model: with teacher=None a decoder and loss_rec are needed '
                                 '(nothing would be learned).')
            return
        self._check_layers(student, self.teacher)
        if loss_dir is None and (generator is None or loss_gen is None):
            raise ValueError('model: a teacher is set but loss_dir is None and the generative '
                             'branch is off (generator / loss_gen None): the teacher would be unused.')
        s_dim, t_dim = student.enc_width, self.teacher.enc_width
        if projection:
            self.heads = nn.ModuleList(
                nn.Linear(s_dim, t_dim, bias=False) for _ in self.student_layers)
            for head in self.heads:
                nn.init.xavier_uniform_(head.weight)
        elif s_dim != t_dim:
            raise ValueError(
                f'model.projection=False but the student width {s_dim} differs from the '
                f'teacher width {t_dim}: set model.projection=True.')
        self.loss_dir = build(loss_dir) if loss_dir is not None else None
        if generator is not None and loss_gen is not None:
            generator = dict(generator)
            generator.setdefault('embed_dims', t_dim)
            if generator['embed_dims'] != t_dim:
                raise ValueError(f"model.generator.embed_dims={generator['embed_dims']} must equal "
                                 f'the teacher width {t_dim}.')
            self.generators = nn.ModuleList(build(generator) for _ in self.student_layers)
            self.loss_gen = build(loss_gen)

    def _check_layers(self, student, teacher):
        s, t = self.student_layers, self.teacher_layers
        if not s or len(s) != len(t):
            raise ValueError(f'model.student_layers={s} and model.teacher_layers={t} must be '
                             'non-empty lists of the same length (paired in order).')
        for key, layers, depth in (('student_layers', s, student.enc_depth),
                                   ('teacher_layers', t, teacher.enc_depth)):
            bad = [layer for layer in layers if not 1 <= layer <= depth]
            if bad:
                raise ValueError(f'model.{key}={layers}: layer {bad[0]} is out of range; the '
                                 f'{key.split("_")[0]} has {depth} blocks (layers are 1-based).')

    # -- the step ------------------------------------------------------------
    def distill_loss(self, inputs: torch.Tensor) -> Dict[str, torch.Tensor]:
        """All loss terms for a batch of normalised images ``(B, 3, H, W)`` or clips
        ``(B, 3, T, H, W)``."""
        student = self.backbone
        grid = student.token_grid(inputs)
        masks = self.mask_generator(inputs.shape[0], grid, inputs.device)
        self.last_masks = masks  # for hooks (DistSanityHook, visualisation)
        latent, taps = student.forward_masked(
            inputs, masks.ids_student, out_layers=self.student_layers if self.teacher else (),
            final_norm=self.decoder is not None)
        losses = {}
        if self.decoder is not None:
            target = pixel_targets(inputs, student.enc_patch_size, student.enc_tubelet_size, self.target_norm)
            pred = self.decoder(latent, masks.ids_student, masks.ids_masked, grid)
            losses['loss_rec'] = self.loss_rec(pred, gather_tokens(target, masks.ids_masked))
        if self.teacher is None:
            return losses
        use_gen = self.generators is not None and masks.ids_diff.shape[1] > 0
        t_student, t_diff = self.teacher(
            inputs, masks.ids_student, masks.ids_diff if use_gen else None, self.teacher_layers)
        projected = [head(tap) for head, tap in zip(self.heads, taps)] if self.heads else taps
        if self.loss_dir is not None:
            losses['loss_dir'] = sum(
                self.loss_dir(p, t) for p, t in zip(projected, t_student)) / len(projected)
        if use_gen:
            losses['loss_gen'] = sum(
                self.loss_gen(gen(p, masks.ids_student, masks.ids_diff, grid), t)
                for gen, p, t in zip(self.generators, projected, t_diff)) / len(projected)
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
        self.last_loss_terms = {k: float(v) for k, v in log_vars.items()}
        return loss, log_vars

    # -- the frozen teacher outside the module tree ---------------------------
    def _apply(self, fn, *args, **kwargs):
        super()._apply(fn, *args, **kwargs)
        if self.__dict__.get('teacher') is not None:
            self.teacher._apply(fn, *args, **kwargs)
        return self

    def init_teacher_checkpointing(self, save_teacher: bool):
        """Keep the frozen teacher out of saved checkpoints unless ``save_teacher``.

        With ``save_teacher=True`` its weights are written under ``teacher.`` and
        loaded back from there; otherwise the teacher comes from
        ``teacher.checkpoint`` at build time, also when resuming.
        """
        self.save_teacher = save_teacher
        if self.teacher is None:
            return

        def add_teacher(module, state_dict, prefix, local_metadata):
            if module.save_teacher:
                for key, value in module.teacher.state_dict().items():
                    state_dict[prefix + 'teacher.' + key] = value
            return state_dict

        def load_teacher(state_dict, prefix, *args, **kwargs):
            keys = [k for k in state_dict if k.startswith(prefix + 'teacher.')]
            if keys:
                own = {k[len(prefix + 'teacher.'):]: state_dict.pop(k) for k in keys}
                self.teacher.load_state_dict(own, strict=True)

        self._register_state_dict_hook(add_teacher)
        self._register_load_state_dict_pre_hook(load_teacher)

    def extra_repr(self) -> str:
        teacher = self.__dict__.get('teacher')
        return f'(teacher, frozen, not a submodule): {teacher!r}' if teacher is not None else ''
