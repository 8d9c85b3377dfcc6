"""timm's RandAugment operations applied to a whole clip at once, equal to Pillow's
frame-by-frame results.

timm (``timm.data.auto_augment``) runs each operation through Pillow, one frame at a
time; a 16-frame clip costs 16 calls, and the shears and translations (bicubic affine
warps) cost several milliseconds per frame. Here each operation is one computation on
the ``(T, H, W, 3)`` uint8 RGB clip that repeats Pillow's own arithmetic (Pillow 13
``libImaging``: ``Geometry.c``, ``Blend.c``, ``Filter.c``, ``Convert.c``;
``PIL/ImageOps.py``, ``PIL/ImageEnhance.py``), so the result is **exactly** timm's:

* lookup tables (``invert``, ``posterize``, ``solarize``, ``solarize_add``,
  ``brightness``, ``contrast``) and per-frame histogram tables (``auto_contrast``,
  ``equalize``) built with Pillow's integer / double formulas;
* blends (``color``, ``sharpness``, and the tables of ``brightness`` / ``contrast``) in
  float32 with Pillow's operation order; the grey level with its fixed-point formula;
  the 3x3 smoothing rounded as Pillow rounds;
* affine warps (``shear_*``, ``translate_*``; bilinear or bicubic): the source position
  of every pixel, its taps (clamped at the edges) and the cubic (a = -1) or linear
  polynomial in double precision in the C code's operation order, truncated as Pillow
  truncates, the fill outside the source.

Rotation is left to Pillow: its 16-tap warp costs more as whole-clip array arithmetic
than Pillow's per-frame loop. ``tests/test_clip_ops.py`` checks every operation against
timm's own on decoded video frames, value for value.

Every function takes the clip first and timm's arguments after it (``fillcolor`` and
``resample`` as keywords, as timm passes them), returns a new array and leaves its input
untouched. :func:`clip_op` gives the whole-clip version of a timm operation.
"""
import random
from typing import Callable, Dict, Sequence, Tuple

import cv2
import numpy as np

_BILINEAR, _BICUBIC = 2, 3  # Pillow's Resampling values
#: resampling filters of the affine warps here (Pillow's ``Resampling`` values)
WARP_FILTERS = (_BILINEAR, _BICUBIC)
_BLOCK_VALUES = 1 << 17  # values (all frames) of one block of rows of a warp


def _lut(clip: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """Apply a 256-entry table to every value (``Image.point``; values clipped to 0-255)."""
    t, h, w, c = clip.shape
    table = np.clip(lut, 0, 255).astype(np.uint8)
    return cv2.LUT(clip.reshape(t * h, w * c), table).reshape(clip.shape)


def _frame_luts(clip: np.ndarray, luts: np.ndarray) -> np.ndarray:
    """Per-frame tables: ``luts`` ``(T, 256)`` (one per frame) or ``(T, 3, 256)`` (one per
    frame and channel)."""
    tables = np.clip(luts, 0, 255).astype(np.uint8)
    out = np.empty_like(clip)
    for t, frame in enumerate(clip):
        table = tables[t]
        if table.ndim == 2:  # (3, 256) -> (256, 1, 3): cv2 maps channel k with column k
            table = np.ascontiguousarray(table.T).reshape(256, 1, 3)
        out[t] = cv2.LUT(frame, table)
    return out


def _histograms(clip: np.ndarray) -> np.ndarray:
    """``(T, 3, 256)`` int64 counts per frame and channel (``Image.histogram``)."""
    hist = np.empty((clip.shape[0], clip.shape[3], 256), np.int64)
    for t, frame in enumerate(clip):
        for c in range(clip.shape[3]):
            hist[t, c] = cv2.calcHist([frame], [c], None, [256], [0, 256]).reshape(-1)
    return hist


def _luma(frame: np.ndarray) -> np.ndarray:
    """``(H, W)`` uint8 ``convert('L')`` of an RGB frame: ``(R*19595 + G*38470 + B*7471 +
    0x8000) >> 16``. The products and their sum stay below 2**24: float32 holds them
    exactly."""
    total = cv2.transform(frame.astype(np.float32), _LUMA)
    total *= 1 / 65536
    return np.floor(total, out=total).astype(np.uint8)


_LUMA = np.array([[19595, 38470, 7471, 32768]], np.float32)


def _blend(degenerate: np.ndarray, image: np.ndarray, factor: float) -> np.ndarray:
    """``Image.blend(degenerate, image, factor)``: ``deg + factor * (img - deg)`` in
    float32 (the product rounded, then the sum), truncated; clipped to 0-255 first when
    extrapolating. Arrays of one shape, or a scalar ``degenerate``."""
    alpha = np.float32(factor)
    if alpha == 0:
        return np.broadcast_to(degenerate, image.shape).astype(np.uint8)
    if alpha == 1:
        return image.copy()
    out = np.subtract(image, degenerate, dtype=np.float32)
    out *= alpha
    out += degenerate
    if not 0 <= alpha <= 1:
        np.clip(out, 0, 255, out=out)
    return out.astype(np.uint8)


def _blend_frames(clip: np.ndarray, degenerate: Callable, factor: float) -> np.ndarray:
    """:func:`_blend` frame by frame (arrays that stay in the cache) with
    ``degenerate(frame)``."""
    out = np.empty_like(clip)
    for t, frame in enumerate(clip):
        out[t] = _blend(degenerate(frame), frame, factor)
    return out


_RANGE = np.arange(256, dtype=np.uint8)


# ----------------------------------------------------------------------------------------
# Colour operations
# ----------------------------------------------------------------------------------------
def auto_contrast(clip, **_):
    """``ImageOps.autocontrast`` (no cutoff): per frame and channel, the range between
    the darkest and brightest value stretched to 0-255."""
    hist = _histograms(clip)
    seen = hist > 0
    lo = seen.argmax(-1)
    hi = 255 - seen[..., ::-1].argmax(-1)
    stretch = hi > lo
    scale = 255.0 / np.where(stretch, hi - lo, 1)
    offset = -lo * scale
    luts = np.trunc(np.arange(256) * scale[..., None] + offset[..., None])
    luts = np.where(stretch[..., None], luts, np.arange(256))
    return _frame_luts(clip, luts)


def equalize(clip, **_):
    """``ImageOps.equalize``: per frame and channel, Pillow's integer histogram
    equalisation table."""
    hist = _histograms(clip)
    seen = hist > 0
    last = 255 - seen[..., ::-1].argmax(-1)
    step = (hist.sum(-1) - np.take_along_axis(hist, last[..., None], -1)[..., 0]) // 255
    equal = (seen.sum(-1) > 1) & (step > 0)
    below = np.cumsum(hist, -1) - hist  # pixels under each value
    safe = np.where(equal, step, 1)[..., None]
    luts = (safe // 2 + below) // safe
    luts = np.where(equal[..., None], luts, np.arange(256))
    return _frame_luts(clip, luts)


def invert(clip, **_):
    """``ImageOps.invert``."""
    return _lut(clip, 255 - np.arange(256))


def posterize(clip, bits_to_keep, **_):
    """timm's ``posterize``: ``ImageOps.posterize`` keeping ``bits_to_keep`` bits (8 or
    more: unchanged; below 1 Pillow refuses, as here)."""
    if bits_to_keep >= 8:
        return clip.copy()
    if bits_to_keep < 1:
        raise ValueError('bits must be between or equal to 1 and 8')  # Pillow's words
    return _lut(clip, np.arange(256) & ~(2 ** (8 - bits_to_keep) - 1))


def solarize(clip, thresh, **_):
    """``ImageOps.solarize``: values at or above ``thresh`` inverted."""
    lut = np.arange(256)
    return _lut(clip, np.where(lut < thresh, lut, 255 - lut))


def solarize_add(clip, add, thresh=128, **_):
    """timm's ``solarize_add``: ``add`` added to values below ``thresh`` (capped at 255)."""
    lut = np.arange(256)
    return _lut(clip, np.where(lut < thresh, np.minimum(255, lut + add), lut))


def brightness(clip, factor, **_):
    """``ImageEnhance.Brightness``: blend with black."""
    return _lut(clip, _blend(np.uint8(0), _RANGE, factor))


def contrast(clip, factor, **_):
    """``ImageEnhance.Contrast``: per frame, blend with the frame's mean grey level
    ``int(mean(L) + 0.5)``."""
    luts = []
    for frame in clip:
        luma = _luma(frame)
        mean = int(int(luma.sum(dtype=np.int64)) / luma.size + 0.5)
        luts.append(_blend(np.uint8(mean), _RANGE, factor))
    return _frame_luts(clip, np.stack(luts))


def color(clip, factor, **_):
    """``ImageEnhance.Color``: blend with the grey (``convert('L')``) frame."""
    return _blend_frames(clip, lambda f: cv2.cvtColor(_luma(f), cv2.COLOR_GRAY2RGB), factor)


_SMOOTH = np.array([[1, 1, 1], [1, 5, 1], [1, 1, 1]], np.float32)


def _smooth(frame: np.ndarray) -> np.ndarray:
    """``ImageFilter.SMOOTH`` of a frame: the 3x3 kernel / 13, rounded, border pixels kept.

    The kernel sum of integers is exact in float32, and ``sum / 13 + 0.5`` is never
    within 1/26 of an integer, so rounding it here equals Pillow's float32 rounding."""
    out = frame.copy()
    total = cv2.filter2D(frame, cv2.CV_32F, _SMOOTH, borderType=cv2.BORDER_REPLICATE)
    total += 6.5
    total *= 1 / 13
    out[1:-1, 1:-1] = np.floor(total[1:-1, 1:-1])
    return out


def sharpness(clip, factor, **_):
    """``ImageEnhance.Sharpness``: blend with the smoothed frame."""
    return _blend_frames(clip, _smooth, factor)


# ----------------------------------------------------------------------------------------
# Affine warps
# ----------------------------------------------------------------------------------------
def _source_positions(matrix: Sequence[float], height: int, width: int):
    """Source ``(x, y)`` of every output pixel centre, as Pillow's ``affine_transform``
    computes them (double precision, same operation order)."""
    a0, a1, a2, a3, a4, a5 = (float(v) for v in matrix[:6])
    xin = np.arange(width, dtype=np.float64)[None, :] + 0.5
    yin = np.arange(height, dtype=np.float64)[:, None] + 0.5
    xs = np.broadcast_to(a0 * xin + a1 * yin + a2, (height, width))
    ys = np.broadcast_to(a3 * xin + a4 * yin + a5, (height, width))
    return xs, ys


def _split(pos: np.ndarray):
    """Pillow's ``pos -= 0.5; x = FLOOR(pos); d = pos - x``: the integer part (int64) and
    the fraction."""
    pos = pos - 0.5
    base = np.floor(pos)
    return base.astype(np.int64), pos - base


def _taps(pos: np.ndarray, size: int, resample: int):
    """Clamped source indices of the filter's taps along one axis and the fraction
    ``d`` (cubic taps ``x - 1 .. x + 2``, linear ``x, x + 1``). Where ``d`` is 0
    everywhere Pillow's polynomial gives the centre tap exactly: that tap alone, no
    fraction."""
    base, frac = _split(pos)
    offsets = (0, 1) if resample == _BILINEAR else (-1, 0, 1, 2)
    if not frac.any():
        return [np.clip(base, 0, size - 1)], None
    return [np.clip(base + k, 0, size - 1) for k in offsets], frac


def _cubic(v1, v2, v3, v4, d):
    """Pillow's ``BICUBIC`` macro (a = -1) in double precision, its operation order:
    ``v2 + d * (p2 + d * (p3 + d * p4))`` with ``p2 = v3 - v1``, ``p3 = 2 (v1 - v2) + v3 -
    v4``, ``p4 = v2 - v1 + v4 - v3``. For uint8 taps the ``p`` are exact integers (any
    order gives them); for the double values of a second pass they follow the C order."""
    if v1.dtype == np.uint8:
        a = np.subtract(v2, v1, dtype=np.int16)
        p4 = np.subtract(v4, v3, dtype=np.int16)
        p4 += a
        a += p4  # -p3
        p2 = np.subtract(v3, v1, dtype=np.int16)
        out = np.multiply(d, p4, dtype=np.float64)
        out -= a  # + p3, exactly
    else:
        p2 = -v1 + v3
        p3 = 2 * (v1 - v2) + v3 - v4
        p4 = -v1 + v2 - v3 + v4
        out = d * p4
        out += p3
    out *= d
    out += p2
    out *= d
    out += v2
    return out


def _linear(v1, v2, d):
    """Pillow's ``BILINEAR`` macro in double precision: ``v1 + (v2 - v1) * d``."""
    diff = np.subtract(v2, v1, dtype=np.int16) if v1.dtype == np.uint8 else v2 - v1
    out = np.multiply(diff, d, dtype=np.float64)
    out += v1
    return out


def _interpolate(sample: Callable, indices, frac, resample):
    """The taps ``sample(index)`` combined by Pillow's filter with fraction ``frac``."""
    taps = [sample(index) for index in indices]
    if frac is None:
        return taps[0]
    return _cubic(*taps, frac) if resample == _BICUBIC else _linear(*taps, frac)


def _translate(clip, offset: float, axis: int, resample: int, fill: np.ndarray):
    """:func:`affine` for a shift along one axis (1: rows, 2: columns), ``offset`` the
    matrix's translation: every row (column) samples the same source positions, so the
    taps are slices of the clip (edge-padded by 2) instead of gathers. None where the
    taps of the inside pixels are not one slice each (then :func:`affine` gathers)."""
    size = clip.shape[axis]
    pos = (np.arange(size, dtype=np.float64) + 0.5) + offset  # Pillow: 1 * x + 0 * y + a2
    inside = np.nonzero((pos >= 0) & (pos < size))[0]
    out = np.empty_like(clip)
    if not len(inside):
        out[...] = fill
        return out
    lo, hi = int(inside[0]), int(inside[-1]) + 1
    index = [slice(None)] * 4
    for part in (slice(0, lo), slice(hi, size)):  # the fill outside the shifted frame
        index[axis] = part
        out[tuple(index)] = fill
    base, frac = _split(pos[lo:hi][None])
    base = base[0]
    if not np.array_equal(base, base[0] + np.arange(hi - lo)):
        return None
    if not frac.any():
        frac, taps, first = None, 1, int(base[0])
    else:
        taps = 2 if resample == _BILINEAR else 4
        first = int(base[0]) - (resample == _BICUBIC)  # the first tap
    t, h, w, c = clip.shape
    if axis == 2:
        padded = cv2.copyMakeBorder(clip.reshape(t * h, w, c), 0, 0, 2, 2, cv2.BORDER_REPLICATE)
        padded = padded.reshape(t, h, w + 4, c)
        frac = None if frac is None else np.repeat(frac[0], c)[None, None]
        step = max(1, _BLOCK_VALUES // (t * (hi - lo) * c))
        for top in range(0, h, step):
            rows_ = slice(top, min(h, top + step))
            views = [padded[:, rows_, first + 2 + k:first + 2 + k + hi - lo]
                     .reshape(t, -1, (hi - lo) * c) for k in range(taps)]
            value = views[0] if frac is None else _filter(views, frac, resample)
            out[:, rows_, lo:hi] = value.reshape(t, -1, hi - lo, c)
    else:
        padded = np.empty((t, h + 4, w, c), np.uint8)
        for k in range(t):
            cv2.copyMakeBorder(clip[k], 2, 2, 0, 0, cv2.BORDER_REPLICATE, dst=padded[k])
        step = max(1, _BLOCK_VALUES // (t * w * c))
        for top in range(lo, hi, step):
            bottom = min(hi, top + step)
            start = first + 2 + top - lo
            views = [padded[:, start + k:start + k + bottom - top].reshape(t, -1, w * c)
                     for k in range(taps)]
            part = None if frac is None else frac[0, top - lo:bottom - lo][None, :, None]
            value = views[0] if frac is None else _filter(views, part, resample)
            out[:, top:bottom] = value.reshape(t, -1, w, c)
    return out


def _filter(taps, frac, resample) -> np.ndarray:
    """Taps combined by Pillow's filter, truncated to uint8 as Pillow truncates."""
    value = _cubic(*taps, frac) if resample == _BICUBIC else _linear(*taps, frac)
    if resample == _BICUBIC:
        np.clip(value, 0, 255, out=value)
    return value.astype(np.uint8)


def affine(clip, matrix, fillcolor=(128, 128, 128), resample=_BICUBIC, **_):
    """``Image.transform(size, Image.AFFINE, matrix, resample, fillcolor=fillcolor)`` on
    every frame: output pixel ``(x, y)`` samples the source at ``matrix`` applied to
    ``(x + 0.5, y + 0.5)`` with Pillow's bilinear or bicubic (a = -1) filter, clamped at
    the edges, in double precision and the C code's operation order, then truncated
    (bicubic: clipped to 0-255 first); positions outside the frame get ``fillcolor``.
    Pillow's ``ImagingGenericTransform``, exactly."""
    if isinstance(resample, (list, tuple)):  # timm's random interpolation: one draw per clip
        resample = random.choice(resample)
    resample = int(resample)
    if resample not in WARP_FILTERS:
        raise ValueError(f'whole-clip affine warps support bilinear and bicubic resampling, '
                         f'not Pillow filter {resample} (Pillow warps nearest with another '
                         'code path)')
    t, h, w, c = clip.shape
    fill = np.asarray(fillcolor, np.uint8).reshape(-1)
    a0, a1, a2, a3, a4, a5 = (float(v) for v in matrix[:6])
    if (a0, a1, a3, a4) == (1, 0, 0, 1) and (a2 == 0 or a5 == 0):  # a shift along one axis
        out = _translate(clip, a5, 1, resample, fill) if a2 == 0 else \
            _translate(clip, a2, 2, resample, fill)
        if out is not None:
            return out
    xs, ys = _source_positions(matrix, h, w)
    cols, dx = _taps(xs, w, resample)
    rows, dy = _taps(ys, h, resample)
    # whole pixels are gathered as uint32 (RGB -> RGBX); each frame gets one extra row,
    # the fill colour, where every tap of a pixel outside the source points (the filter
    # then gives the fill exactly)
    pixels = np.empty((t, h + 1, w, 4), np.uint8)
    for k in range(t):
        cv2.cvtColor(clip[k], cv2.COLOR_RGB2RGBA, dst=pixels[k, :h])
    pixels[:, h, :, :c] = fill
    pixels = pixels.view(np.uint32).reshape(t, (h + 1) * w)
    outside = ~((xs >= 0) & (xs < w) & (ys >= 0) & (ys < h))
    flat = []
    for r in rows:
        flat.append([])
        for q in cols:
            index = r * w + q
            index[outside] = h * w
            flat[-1].append(index)
    per_channel = lambda d: None if d is None else np.repeat(d, c, axis=1)  # noqa: E731
    dx, dy = per_channel(dx), per_channel(dy)
    out = np.empty_like(clip)
    # blocks of rows across all frames, about _BLOCK_VALUES values each: few calls,
    # arrays that stay in the cache
    step = max(1, _BLOCK_VALUES // (t * w * c))
    for top in range(0, h, step):
        rows_ = slice(top, min(h, top + step))

        def sample(index):  # RGB at these source positions, (T, rows, W * 3) uint8
            rgbx = np.take(pixels, index[rows_].reshape(-1), axis=1).view(np.uint8)
            rgb = cv2.cvtColor(rgbx.reshape(-1, w, 4), cv2.COLOR_RGBA2RGB)
            return rgb.reshape(t, -1, w * c)

        def sample_row(row):  # one source row of the kernel, interpolated along x
            return _interpolate(sample, row, None if dx is None else dx[rows_], resample)

        value = _interpolate(sample_row, flat, None if dy is None else dy[rows_], resample)
        if value.dtype != np.uint8:
            if resample == _BICUBIC:
                np.clip(value, 0, 255, out=value)
            value = value.astype(np.uint8)
        out[:, rows_] = value.reshape(t, -1, w, c)
    return out


def shear_x(clip, factor, **kwargs):
    return affine(clip, (1, factor, 0, 0, 1, 0), **kwargs)


def shear_y(clip, factor, **kwargs):
    return affine(clip, (1, 0, 0, factor, 1, 0), **kwargs)


def translate_x_rel(clip, pct, **kwargs):
    return affine(clip, (1, 0, pct * clip.shape[2], 0, 1, 0), **kwargs)


def translate_y_rel(clip, pct, **kwargs):
    return affine(clip, (1, 0, 0, 0, 1, pct * clip.shape[1]), **kwargs)


def translate_x_abs(clip, pixels, **kwargs):
    return affine(clip, (1, 0, pixels, 0, 1, 0), **kwargs)


def translate_y_abs(clip, pixels, **kwargs):
    return affine(clip, (1, 0, 0, 0, 1, pixels), **kwargs)


def _timm_ops() -> Tuple[Dict[Callable, Callable], set]:
    from timm.data import auto_augment as aa
    warps = {aa.shear_x, aa.shear_y, aa.translate_x_rel, aa.translate_y_rel,
             aa.translate_x_abs, aa.translate_y_abs}
    return {aa.auto_contrast: auto_contrast, aa.equalize: equalize, aa.invert: invert,
            aa.posterize: posterize, aa.solarize: solarize, aa.solarize_add: solarize_add,
            aa.brightness: brightness, aa.contrast: contrast, aa.color: color,
            aa.sharpness: sharpness, aa.shear_x: shear_x,
            aa.shear_y: shear_y, aa.translate_x_rel: translate_x_rel,
            aa.translate_y_rel: translate_y_rel, aa.translate_x_abs: translate_x_abs,
            aa.translate_y_abs: translate_y_abs}, warps


#: timm's operation function -> its whole-clip equal here; the ones that warp
CLIP_OPS, _WARPS = _timm_ops()


def clip_op(timm_fn: Callable, kwargs: dict):
    """The whole-clip version of timm's operation ``timm_fn`` called with ``kwargs``, or
    None where there is none (other ops; warps with filters other than bilinear and
    bicubic)."""
    op = CLIP_OPS.get(timm_fn)
    if op is None or timm_fn not in _WARPS:
        return op
    resample = kwargs.get('resample', _BICUBIC)
    choices = resample if isinstance(resample, (list, tuple)) else (resample, )
    return op if all(int(r) in WARP_FILTERS for r in choices) else None
