"""The options of the AMD objective, declared once for both shells.

:class:`DistillOptions` is the one declaration: every key of
``model=dict(type='AMD' | 'VideoAMD', ...)`` beside ``backbone``, ``data_preprocessor``
and ``init_cfg``, with its default and its meaning. The image shell (``AMD``) takes these
defaults; the video shell (``VideoAMD``) takes :class:`VideoDistillOptions`, which changes
only defaults (the official video settings). Both shells pass the options through
untouched to :meth:`~amd_mm.models.algorithms.core.AsymmetricDistillMixin.init_distill`,
and :func:`shell_signature` gives their ``__init__`` the full keyword signature (config
key checks, ``help()``, the recipe tables read it). Adding an option is one field here,
its documentation below and its test.
"""
import inspect
from dataclasses import MISSING, dataclass, field, fields
from typing import Optional, Sequence, Type, Union


def _cfg(**kwargs):
    """A config-dict default (a fresh dict per instance)."""
    return field(default_factory=lambda: dict(kwargs))


@dataclass(frozen=True)
class DistillOptions:
    """The options of the AMD objective (keyword-only in the shells).

    Attributes:
        mask_generator (dict): :class:`~amd_mm.masking.AsymmetricMaskGenerator` config.
        teacher (dict, optional): :class:`~amd_mm.models.backbones.FrozenTeacher` config;
            None gives MAE / VideoMAE.
        decoder (dict, optional): :class:`~amd_mm.models.necks.PixelDecoder` config (None:
            no pixel loss).
        generator (dict, optional): :class:`~amd_mm.models.necks.FeatureGenerator` config,
            one copy per aligned layer (None: no generative branch).
        student_layers / teacher_layers (list[int]): 1-based aligned layers, paired in
            order (official video: student ``[6, 12]`` with ViT-L ``[12, 24]``).
        projection (bool): linear heads from student to teacher width, one per aligned
            layer, shared by the direct and generative branches (official). False
            requires equal widths.
        loss_rec / loss_dir / loss_gen (dict, optional): :class:`AlignLoss` configs whose
            ``loss_weight`` is the term's weight; None switches a term off.
        loss_global (dict, optional): image-level contrastive target of the first teacher
            (:class:`InfoNCELoss`; MimCo).
        target_norm (str): pixel target normalisation (see ``pixel_targets``).
        extra_teachers (list[dict]): more teachers (MVD co-teaching), each with ``name``
            (suffix of its loss terms), ``teacher``, ``student_layers``,
            ``teacher_layers`` and optionally ``projection``, ``generator``, ``loss_dir``,
            ``loss_gen``, ``loss_global`` and ``teacher_ratio`` (its own mask ratio;
            default ``mask_generator.teacher_ratio``).
        save_teacher (bool): write the teachers' weights into checkpoints (under
            ``teacher.`` and ``teacher_<name>.``) and load them back from there; otherwise
            they come from their ``checkpoint`` at build time, also when resuming.
        compile_blocks (bool | dict): ``torch.compile`` every transformer block (student,
            decoder, generators; teachers with inductor ``freezing``) in place, with these
            inductor options if a dict. Same losses up to float rounding, same
            checkpoints; the first step pays the compilation. (MMEngine's top-level
            ``compile=True`` compiles the whole ``train_step`` instead, through the
            masking code.)

    The image defaults pair a ViT-S/16 student with a ViT-B/16 MAE teacher (blocks 6 and
    12 of each, the same depth fractions); set the layers for other depths.
    """
    mask_generator: dict
    teacher: Optional[dict] = None
    decoder: Optional[dict] = _cfg(type='PixelDecoder')
    generator: Optional[dict] = _cfg(type='FeatureGenerator', depth=2)
    student_layers: Sequence[int] = (6, 12)
    teacher_layers: Sequence[int] = (6, 12)
    projection: bool = True
    loss_rec: Optional[dict] = _cfg(type='AlignLoss', mode='l2')
    loss_dir: Optional[dict] = _cfg(type='AlignLoss', mode='l2')
    loss_gen: Optional[dict] = _cfg(type='AlignLoss', mode='l2')
    loss_global: Optional[dict] = None
    target_norm: str = 'patch'
    extra_teachers: Sequence[dict] = ()
    save_teacher: bool = False
    compile_blocks: Union[bool, dict] = False


@dataclass(frozen=True)
class VideoDistillOptions(DistillOptions):
    """:class:`DistillOptions` with the official video defaults (``VideoAMD``): tube masks
    0.9 / 0.75, a 192-wide 4-block decoder, a ViT-S student's blocks 6, 12 aligned to a
    ViT-L teacher's 12, 24, targets normalised per tubelet patch and channel."""
    mask_generator: dict = _cfg(type='AsymmetricMaskGenerator', student_ratio=0.9,
                                teacher_ratio=0.75, mode='tube')
    decoder: Optional[dict] = _cfg(type='PixelDecoder', embed_dims=192, depth=4, num_heads=3)
    teacher_layers: Sequence[int] = (12, 24)
    target_norm: str = 'patch_channel'


def shell_signature(options: Type[DistillOptions]) -> inspect.Signature:
    """``(self, *, backbone, <the options with their defaults>, data_preprocessor=None,
    init_cfg=None)``: the signature of a shell's ``__init__(self, *, backbone,
    data_preprocessor=None, init_cfg=None, **options)``."""
    kw = inspect.Parameter.KEYWORD_ONLY
    params = [inspect.Parameter('self', inspect.Parameter.POSITIONAL_OR_KEYWORD),
              inspect.Parameter('backbone', kw, annotation=dict)]
    for f in fields(options):
        default = (f.default if f.default is not MISSING else
                   f.default_factory() if f.default_factory is not MISSING else
                   inspect.Parameter.empty)
        params.append(inspect.Parameter(f.name, kw, default=default, annotation=f.type))
    params += [inspect.Parameter('data_preprocessor', kw, default=None, annotation=Optional[dict]),
               inspect.Parameter('init_cfg', kw, default=None, annotation=Optional[dict])]
    return inspect.Signature(params)
