"""The whole-clip RandAugment (amd_mm.datasets.clip_ops, ClipRandAugment's default
backend) against timm's own operations run frame by frame through Pillow.

Tolerance: none. Every operation, and the whole RandAugment on fixed draws, must give
the same bytes as timm on real decoded video frames (a generated mp4 decoded by
decord); the draws themselves (which ops, magnitudes, signs, order) must be the ones
timm's RandAugment makes, and leave the generators in the same state.
"""
import random

import numpy as np
import pytest
from PIL import Image
from timm.data import auto_augment as aa

from amd_mm.datasets import clip_ops

BICUBIC, BILINEAR = Image.Resampling.BICUBIC, Image.Resampling.BILINEAR
NEAREST = Image.Resampling.NEAREST


@pytest.fixture(scope='module')
def clip(tmp_path_factory):
    """8 decoded frames (128 x 96) of a generated Kinetics-like mp4."""
    import decord

    from amd_mm.tools_lib.demo_data import benchmark_frames, write_video
    path = str(tmp_path_factory.mktemp('clip') / 'clip.mp4')
    write_video(path, benchmark_frames(24, 96, 128, seed=3))
    frames = decord.VideoReader(path, num_threads=1).get_batch(list(range(0, 24, 3))).asnumpy()
    assert frames.shape == (8, 96, 128, 3) and len({f.tobytes() for f in frames}) == 8
    return np.ascontiguousarray(frames)


def timm_frames(fn, clip, *args, **kwargs):
    return np.stack([np.asarray(fn(Image.fromarray(f), *args, **dict(kwargs))) for f in clip])


WARP = dict(fillcolor=(128, 128, 128), resample=BICUBIC)
LINEAR = dict(fillcolor=(10, 200, 30), resample=BILINEAR)
CASES = [
    (aa.auto_contrast, ()), (aa.equalize, ()), (aa.invert, ()),
    (aa.posterize, (1,)), (aa.posterize, (3,)), (aa.posterize, (8,)),
    (aa.solarize, (0,)), (aa.solarize, (77,)), (aa.solarize, (256,)),
    (aa.solarize_add, (60,)), (aa.solarize_add, (110, 200)),
    # blends: interpolation (factor < 1), extrapolation (> 1, clipped), the shortcuts 0 / 1
    (aa.brightness, (0.37,)), (aa.brightness, (1.63,)), (aa.brightness, (0.0,)),
    (aa.contrast, (0.31,)), (aa.contrast, (1.72,)), (aa.contrast, (1.0,)),
    (aa.color, (0.2,)), (aa.color, (1.8,)), (aa.sharpness, (0.25,)), (aa.sharpness, (1.9,)),
    # warps: both signs, whole and fractional pixel shifts, bilinear too, another fill
    (aa.shear_x, (0.23,)), (aa.shear_x, (-0.3,)), (aa.shear_y, (-0.19,)), (aa.shear_y, (0.27,)),
    (aa.translate_x_rel, (0.31,)), (aa.translate_x_rel, (-0.25,)),
    (aa.translate_y_rel, (-0.287,)), (aa.translate_x_abs, (37.3,)), (aa.translate_y_abs, (-12.0,)),
]
CASES = [(fn, args, WARP) for fn, args in CASES] + [
    (aa.shear_x, (0.23,), LINEAR), (aa.shear_y, (-0.19,), LINEAR),
    (aa.translate_x_rel, (0.31,), LINEAR), (aa.translate_y_abs, (-12.5,), LINEAR)]


def case_id(value):
    if isinstance(value, dict):
        return 'bilinear' if value['resample'] == BILINEAR else 'bicubic'
    return getattr(value, '__name__', str(value))


@pytest.mark.parametrize('fn,args,kwargs', CASES, ids=case_id)
def test_each_op_equals_timm_on_decoded_frames(clip, fn, args, kwargs):
    op = clip_ops.clip_op(fn, kwargs)
    assert op is not None
    before = clip.copy()
    ours = op(clip, *args, **kwargs)
    assert np.array_equal(clip, before)  # input untouched
    expected = timm_frames(fn, clip, *args, **kwargs)
    assert ours.dtype == np.uint8 and ours.shape == clip.shape
    assert np.array_equal(ours, expected), int(np.abs(ours.astype(int) - expected).max())


def test_affine_two_dimensional_warp_equals_pillow(clip):
    """The generic path (taps along both axes) on a rotation matrix, as Image.rotate
    builds it, against Pillow's own transform; both filters."""
    import math
    h, w = clip.shape[1:3]
    angle = -math.radians(17.3)
    cos, sin = round(math.cos(angle), 15), round(math.sin(angle), 15)
    matrix = [cos, sin, 0.0, -sin, cos, 0.0]
    matrix[2] = cos * -(w / 2) + sin * -(h / 2) + w / 2
    matrix[5] = -sin * -(w / 2) + cos * -(h / 2) + h / 2
    for resample in (BICUBIC, BILINEAR):
        expected = np.stack([np.asarray(Image.fromarray(f).transform(
            (w, h), Image.Transform.AFFINE, matrix, resample, fillcolor=(1, 2, 3))) for f in clip])
        ours = clip_ops.affine(clip, matrix, fillcolor=(1, 2, 3), resample=resample)
        assert np.array_equal(ours, expected)


def test_unsupported_warp_filters_are_left_to_pillow():
    assert clip_ops.clip_op(aa.shear_x, dict(resample=NEAREST)) is None
    assert clip_ops.clip_op(aa.shear_x, dict(resample=(BILINEAR, BICUBIC))) is clip_ops.shear_x
    assert clip_ops.clip_op(aa.rotate, WARP) is None  # Pillow's loop is faster for rotations
    assert clip_ops.clip_op(aa.gaussian_blur, {}) is None
    with pytest.raises(ValueError, match='bilinear and bicubic'):
        clip_ops.affine(np.zeros((1, 8, 8, 3), np.uint8), (1, 0, 0.5, 0, 1, 0), resample=NEAREST)


def build_ra(**kwargs):
    from mmaction.registry import TRANSFORMS
    from mmengine.registry import init_default_scope
    init_default_scope('mmaction')
    return TRANSFORMS.build(dict(type='ClipRandAugment', hparams=dict(translate_const=100),
                                 **kwargs))


def run(ra, frames, seed):
    random.seed(seed)
    np.random.seed(seed)
    out = ra(dict(imgs=list(frames)))['imgs']
    return np.stack(out), (random.getstate(), np.random.get_state()[1].copy())


@pytest.mark.parametrize('interpolation', ['bicubic', 'nearest'])
def test_clip_randaugment_equals_the_frame_by_frame_reference(clip, interpolation):
    """The official rand-m7-n4-mstd0.5-inc1 on fixed draws (seeds): the whole-clip backend
    gives timm's bytes frame by frame and leaves the generators where timm leaves them;
    with nearest warps (no whole-clip version) those ops run frame by frame."""
    fast = build_ra(interpolation=interpolation)
    reference = build_ra(interpolation=interpolation, backend='pillow')
    assert fast.backend == 'clip'
    applied = set()
    for seed in range(40):
        ours, state = run(fast, clip, seed)
        expected, expected_state = run(reference, clip, seed)
        assert np.array_equal(ours, expected), seed
        assert state[0] == expected_state[0] and np.array_equal(state[1], expected_state[1])
        random.seed(seed)
        np.random.seed(seed)
        frames = fast(dict(imgs=list(clip)))['imgs']
        assert all(f.flags.writeable and not np.shares_memory(f, clip) for f in frames)
        random.seed(seed)
        np.random.seed(seed)
        applied.update(fn.__name__ for fn, _, _ in fast.draw())
    assert len(applied) >= 12  # most of the 15 ops were exercised


def test_draws_are_timm_randaugment_draws():
    """draw() runs timm's own RandAugment / AugmentOp code: for every seed the same ops,
    level arguments and order as timm's RandAugment applying itself to an image, and the
    generators end in the same state; the choice frequencies are RandAugment's (4 draws
    with replacement of 15 ops, each applied with probability 0.5)."""
    import copy
    ra = build_ra()
    timm_ra = copy.deepcopy(ra.augment)
    calls = []
    for op in timm_ra.ops:  # record what timm applies, then apply it
        op.aug_fn = (lambda fn: lambda img, *a, **k: calls.append((fn, a)) or img)(op.aug_fn)
    image = Image.new('RGB', (8, 8))
    counts = {}
    for seed in range(1500):
        random.seed(seed)
        np.random.seed(seed)
        plan = ra.draw()
        state = (random.getstate(), np.random.get_state()[1].copy())
        random.seed(seed)
        np.random.seed(seed)
        calls.clear()
        timm_ra(image)
        assert [(fn, args) for fn, args, _ in plan] == calls, seed
        assert state[0] == random.getstate() and np.array_equal(state[1], np.random.get_state()[1])
        for fn, args, kwargs in plan:
            counts[fn.__name__] = counts.get(fn.__name__, 0) + 1
            assert kwargs == dict(fillcolor=(128, 128, 128), resample=BICUBIC)
    per_clip = np.array(list(counts.values())) / 1500
    assert len(counts) == 15
    # each op: 4 x 1/15 x 0.5 = 0.133 applications per clip (binomial spread about 0.01)
    assert np.all(np.abs(per_clip - 4 * 0.5 / 15) < 0.035), counts


def test_clip_randaugment_keeps_odd_inputs_working():
    """Frames of different sizes or grey frames go through the frame-by-frame path."""
    ra = build_ra()
    rng = np.random.default_rng(0)
    odd = [rng.integers(0, 256, (32, 48, 3), np.uint8), rng.integers(0, 256, (40, 48, 3), np.uint8)]
    random.seed(1)
    np.random.seed(1)
    out = ra(dict(imgs=odd))['imgs']
    assert [f.shape for f in out] == [(32, 48, 3), (40, 48, 3)]
    assert all(f.flags.writeable for f in out)  # later steps may flip in place
    with pytest.raises(ValueError, match="'clip' or 'pillow'"):
        build_ra(backend='torch')
