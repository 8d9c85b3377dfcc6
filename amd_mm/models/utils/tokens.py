"""Token bookkeeping shared by the image and video algorithms.

Images are treated as single-frame clips: ``(B, C, H, W)`` is handled as
``(B, C, 1, H, W)`` with a tubelet of 1, so every function here is written once.
"""
from functools import lru_cache
from typing import Tuple

import torch


def gather_tokens(x: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Select tokens per sample: ``x (B, N, C)``, ``ids (B, K)`` -> ``(B, K, C)``."""
    return torch.gather(x, 1, ids.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


def as_clip(inputs: torch.Tensor) -> torch.Tensor:
    """``(B, C, H, W)`` -> ``(B, C, 1, H, W)``; clips pass through."""
    if inputs.dim() == 4:
        return inputs.unsqueeze(2)
    if inputs.dim() != 5:
        raise ValueError(f'expected (B, C, H, W) or (B, C, T, H, W) inputs, got {tuple(inputs.shape)}')
    return inputs


def token_grid(inputs: torch.Tensor, patch_size: int, tubelet_size: int = 1) -> Tuple[int, int, int]:
    """``(T, H, W)`` token grid of images or clips."""
    _, _, t, h, w = as_clip(inputs).shape
    if t % tubelet_size or h % patch_size or w % patch_size:
        raise ValueError(f'input of {t}x{h}x{w} (frames x height x width) is not divisible by the '
                         f'patch {tubelet_size}x{patch_size}x{patch_size}')
    return t // tubelet_size, h // patch_size, w // patch_size


def patchify(inputs: torch.Tensor, patch_size: int, tubelet_size: int = 1,
             channels_first: bool = False) -> torch.Tensor:
    """Cut images or clips into patches.

    Returns ``(B, N, P, C)`` with ``N = T' H' W'`` tokens in patch-embedding order
    and ``P = tubelet * patch * patch`` pixels per patch (in ``t, h, w`` order).
    ``channels_first=True`` returns ``(B, N, C, P)`` instead: flattened, the order of
    a patch-embedding convolution's ``weight.flatten(1)``.
    """
    x = as_clip(inputs)
    b, c, t, h, w = x.shape
    gt, gh, gw = t // tubelet_size, h // patch_size, w // patch_size
    x = x.reshape(b, c, gt, tubelet_size, gh, patch_size, gw, patch_size)
    num, pixels = gt * gh * gw, tubelet_size * patch_size * patch_size
    if channels_first:
        return x.permute(0, 2, 4, 6, 1, 3, 5, 7).reshape(b, num, c, pixels)  # b gt gh gw c pt ph pw
    x = x.permute(0, 2, 4, 6, 3, 5, 7, 1)  # b gt gh gw pt ph pw c
    return x.reshape(b, num, pixels, c)


#: pixel values of the decoded uint8 images and frames the data preprocessors normalise
PIXEL_MAX = 255.0


def unnormalise(inputs: torch.Tensor, mean, std, pixel_max: float = PIXEL_MAX) -> torch.Tensor:
    """Normalised ``(B, C, [T,] H, W)`` inputs back to pixels in ``[0, 1]``:
    ``(x * std + mean) / pixel_max`` with the preprocessor's per-channel ``mean`` /
    ``std`` (raw pixel units); float32 at least."""
    shape = (1, -1) + (1,) * (inputs.dim() - 2)
    dtype = torch.promote_types(inputs.dtype, torch.float32)
    mean = torch.as_tensor(mean, dtype=dtype, device=inputs.device).reshape(shape)
    std = torch.as_tensor(std, dtype=dtype, device=inputs.device).reshape(shape)
    return (inputs.to(dtype) * std + mean) / pixel_max


def normalise(pixels: torch.Tensor, mean, std, pixel_max: float = PIXEL_MAX) -> torch.Tensor:
    """Inverse of :func:`unnormalise`: ``[0, 1]`` pixels to the preprocessor's units."""
    shape = (1, -1) + (1,) * (pixels.dim() - 2)
    mean = torch.as_tensor(mean, dtype=pixels.dtype, device=pixels.device).reshape(shape)
    std = torch.as_tensor(std, dtype=pixels.dtype, device=pixels.device).reshape(shape)
    return (pixels * pixel_max - mean) / std


def patch_norm_stats(patches: torch.Tensor, norm: str = 'patch', eps: float = 1e-6):
    """``(centre, scale)`` of the per-patch target normalisation of ``patches``
    ``(B, N, P, C)``: targets are ``(patches - centre) / scale``, predictions map back
    with ``pred * scale + centre``. Both broadcast against ``patches``.

    ``'patch'``: mean and unbiased std over all ``P x C`` values of a patch,
    ``'patch_channel'``: per channel over the ``P`` pixels of a patch; scale =
    std + ``eps`` (the official AMD / VideoMAE form, ``engine_for_pretraining_amd.py:63-64``).
    ``'none'``: ``(0, 1)``.

    The statistics are taken of the differences to the patch's first value, which are
    exact for close values: a flat patch gets exactly its value as centre and ``eps``
    as scale (target 0), not a rounding residue divided by ``eps``.
    """
    if norm in ('patch', 'patch_channel'):
        dims = (2, 3) if norm == 'patch' else (2,)
        shift = patches[:, :, :1, :1] if norm == 'patch' else patches[:, :, :1]
        diff = patches - shift
        centre = shift + diff.mean(dim=dims, keepdim=True)
        scale = diff.var(dim=dims, keepdim=True, unbiased=True).sqrt() + eps
        return centre, scale
    if norm == 'none':
        return torch.zeros((), dtype=patches.dtype, device=patches.device), \
            torch.ones((), dtype=patches.dtype, device=patches.device)
    raise ValueError(f"target norm {norm!r} must be one of 'patch', 'patch_channel', 'none'")


@torch.no_grad()
def pixel_targets(inputs: torch.Tensor, patch_size: int, tubelet_size: int = 1,
                  norm: str = 'patch', eps: float = 1e-6, mean=None, std=None) -> torch.Tensor:
    """Reconstruction targets ``(B, N, P * C)``, computed once per batch.

    The official way (``engine_for_pretraining_amd.py:57-68``): the normalised inputs
    are first mapped back to pixels in ``[0, 1]`` with the data preprocessor's ``mean``
    / ``std`` (see :func:`unnormalise`; both None: the inputs are used as they are),
    then each patch is normalised in those units (see :func:`patch_norm_stats`), so
    ``eps`` is ``1e-6`` of the pixel range whatever the preprocessor's normalisation.

    Args:
        norm: ``'patch'`` normalises each patch over all its pixels and channels,
            ``'patch_channel'`` each channel of each patch separately (VideoMAE / AMD
            video), ``'none'`` keeps the ``[0, 1]`` pixels.
    """
    x = as_clip(inputs).float()
    if mean is not None and std is not None:
        x = unnormalise(x, mean, std)
    p = patchify(x, patch_size, tubelet_size)
    centre, scale = patch_norm_stats(p, norm, eps)
    b, n = p.shape[:2]
    return ((p - centre) / scale).reshape(b, n, -1)


def unpatchify(patches: torch.Tensor, grid: Tuple[int, int, int], patch_size: int,
               tubelet_size: int = 1) -> torch.Tensor:
    """Inverse of :func:`patchify`: ``(B, N, P, C)`` -> ``(B, C, T, H, W)``."""
    b, _, _, c = patches.shape
    gt, gh, gw = (int(g) for g in grid)
    x = patches.reshape(b, gt, gh, gw, tubelet_size, patch_size, patch_size, c)
    x = x.permute(0, 7, 1, 4, 2, 5, 3, 6)  # b c gt pt gh ph gw pw
    return x.reshape(b, c, gt * tubelet_size, gh * patch_size, gw * patch_size)


def targets_to_patches(pred: torch.Tensor, patches: torch.Tensor, norm: str = 'patch',
                       eps: float = 1e-6) -> torch.Tensor:
    """Inverse of :func:`pixel_targets` for predictions of given patches.

    Args:
        pred: ``(B, K, P * C)`` values in the target space of ``norm``.
        patches: ``(B, K, P, C)`` the true patches at the same tokens, in the units the
            targets were made in (``[0, 1]`` pixels, see :func:`pixel_targets`); their
            statistics undo the per-patch normalisation, as MAE's visualisations do.
        norm: the ``norm`` the targets were made with.

    Returns:
        ``(B, K, P, C)`` patches in the units of ``patches``.
    """
    centre, scale = patch_norm_stats(patches.float(), norm, eps)
    return pred.float().reshape(patches.shape) * scale + centre


@lru_cache(maxsize=32)
def _sincos_table(grid: Tuple[int, int, int], dim: int) -> torch.Tensor:
    t, h, w = grid
    if t == 1:
        # 2D sin-cos (MAE): half the channels encode rows, half columns
        if dim % 4:
            raise ValueError(f'2D sin-cos position embedding needs a width divisible by 4, got {dim}')
        quarter = dim // 4
        omega = 1.0 / 10000 ** (torch.arange(quarter, dtype=torch.float64) / quarter)
        ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64),
                                torch.arange(w, dtype=torch.float64), indexing='ij')
        out_w = xs.reshape(-1, 1) * omega
        out_h = ys.reshape(-1, 1) * omega
        table = torch.cat([out_w.sin(), out_w.cos(), out_h.sin(), out_h.cos()], dim=1)
    else:
        # 1D sin-cos over the flattened (t, h, w) index (VideoMAE)
        pos = torch.arange(t * h * w, dtype=torch.float64).unsqueeze(1)
        i = torch.arange(dim, dtype=torch.float64)
        angle = pos / torch.pow(10000.0, 2 * torch.div(i, 2, rounding_mode='floor') / dim)
        table = torch.empty_like(angle)
        table[:, 0::2] = angle[:, 0::2].sin()
        table[:, 1::2] = angle[:, 1::2].cos()
    return table.float().unsqueeze(0)


def sincos_pos_embed(grid: Tuple[int, int, int], dim: int, device=None, dtype=None) -> torch.Tensor:
    """Fixed ``(1, N, dim)`` position table for a token grid (cached per shape)."""
    return _sincos_table(tuple(int(g) for g in grid), int(dim)).to(device=device, dtype=dtype)
