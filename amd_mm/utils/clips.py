"""Clip tensor helpers shared by the models (a preprocessor's temporal control) and the
study's control probes."""
import torch

TEMPORAL_CONTROLS = ('shuffle', 'single')


def remove_temporal_order(clips: torch.Tensor, mode: str) -> torch.Tensor:
    """``(..., C, T, H, W)`` clips without their temporal order, each clip on its own:
    ``'shuffle'`` puts its frames in a random order, ``'single'`` repeats one of its
    frames drawn at random (appearance only). Draws from torch's global generator."""
    if mode not in TEMPORAL_CONTROLS:
        raise ValueError(f'temporal_control={mode!r} must be one of {TEMPORAL_CONTROLS} or None')
    c, t, h, w = clips.shape[-4:]
    flat = clips.reshape(-1, c, t, h, w)
    n = flat.shape[0]
    if mode == 'shuffle':
        order = torch.rand(n, t, device=clips.device).argsort(dim=1)
    else:
        order = torch.randint(t, (n, 1), device=clips.device).expand(n, t)
    index = order[:, None, :, None, None].expand(n, c, t, h, w)
    return flat.gather(2, index).reshape(clips.shape)
