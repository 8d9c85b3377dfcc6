import torch

from amd_mm.models.utils import gather_tokens, patchify, pixel_targets, sincos_pos_embed


def test_gather_tokens_matches_per_sample_indexing():
    x = torch.randn(3, 10, 5)
    ids = torch.stack([torch.randperm(10)[:4] for _ in range(3)])
    out = gather_tokens(x, ids)
    for b in range(3):
        assert torch.equal(out[b], x[b, ids[b]])


def test_patchify_image_and_clip_order():
    img = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8)
    p = patchify(img, patch_size=4)
    assert p.shape == (2, 4, 16, 3)
    # token 1 is the top-right patch; its first pixel is (row 0, col 4)
    assert torch.equal(p[0, 1, 0], img[0, :, 0, 4])
    clip = torch.randn(1, 3, 4, 8, 8)
    q = patchify(clip, patch_size=4, tubelet_size=2)
    assert q.shape == (1, 2 * 2 * 2, 2 * 4 * 4, 3)
    # token (t=1, h=0, w=1) -> index 1*4 + 0*2 + 1 = 5; its pixel (pt=1, ph=2, pw=3)
    assert torch.equal(q[0, 5, 1 * 16 + 2 * 4 + 3], clip[0, :, 3, 2, 7])


def test_pixel_targets_are_normalised_per_patch():
    x = torch.rand(2, 3, 16, 16) * 5 + 3
    t = pixel_targets(x, 8, norm='patch')
    assert t.shape == (2, 4, 8 * 8 * 3)
    assert torch.allclose(t.mean(-1), torch.zeros(2, 4), atol=1e-5)
    assert torch.allclose(t.std(-1, unbiased=True), torch.ones(2, 4), atol=1e-3)  # official: unbiased
    v = pixel_targets(torch.rand(1, 3, 4, 16, 16), 8, tubelet_size=2, norm='patch_channel')
    per_channel = v.view(1, 8, 2 * 8 * 8, 3)
    assert torch.allclose(per_channel.mean(2), torch.zeros(1, 8, 3), atol=1e-5)
    assert torch.allclose(per_channel.std(2), torch.ones(1, 8, 3), atol=1e-3)


def test_sincos_tables():
    img = sincos_pos_embed((1, 4, 4), 32)
    assert img.shape == (1, 16, 32)
    assert torch.unique(img[0], dim=0).shape[0] == 16  # every position distinct
    vid = sincos_pos_embed((2, 4, 4), 32)
    assert vid.shape == (1, 32, 32)
    assert torch.allclose(vid[0, 0, 0::2], torch.zeros(16)) and torch.allclose(vid[0, 0, 1::2], torch.ones(16))


# -- reconstruction targets the official way (issue 12, item 3) ----------------------------
MEAN, STD = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]


def _clip_with_flat_patches():
    """uint8 (1, 3, 4, 32, 32): textured tubelets, a flat one, one flat per channel with
    different values per channel, one flat but for a single pixel one level brighter."""
    clip = torch.randint(0, 256, (1, 3, 4, 32, 32), generator=torch.Generator().manual_seed(0),
                         dtype=torch.uint8)
    clip[..., :2, :16, :16] = 77
    clip[0, 0, 2:, 16:, :16], clip[0, 1, 2:, 16:, :16], clip[0, 2, 2:, 16:, :16] = 5, 200, 0
    clip[..., :2, 16:, 16:] = 130
    clip[0, 1, 1, 20, 20] = 131
    return clip


def _official_targets_float64(pixels_uint8, patch, tubelet, per_channel):
    """The official formula (engine_for_pretraining_amd.py:57-66) in float64 on the true
    pixels: [0, 1], per patch (and channel), (x - mean) / (unbiased std + 1e-6)."""
    p = pixels_uint8.double() / 255.0
    b, c, t, h, w = p.shape
    p = p.reshape(b, c, t // tubelet, tubelet, h // patch, patch, w // patch, patch)
    p = p.permute(0, 2, 4, 6, 3, 5, 7, 1).reshape(b, -1, tubelet * patch * patch, c)
    if not per_channel:
        p = p.flatten(2)
        return (p - p.mean(-1, keepdim=True)) / (p.std(-1, keepdim=True) + 1e-6)
    out = (p - p.mean(2, keepdim=True)) / (p.std(2, keepdim=True) + 1e-6)
    return out.flatten(2)


def test_video_targets_equal_float64_official_formula_on_flat_patches():
    from amd_mm.models.algorithms.preprocess import normalisation_of
    from amd_mm.registry import MMACTION_MODELS, build_model
    pre = build_model(dict(type='ActionDataPreprocessor', mean=MEAN, std=STD, format_shape='NCTHW'),
                      MMACTION_MODELS)
    clip = _clip_with_flat_patches()
    inputs = pre(dict(inputs=[clip], data_samples=None), training=True)['inputs'].flatten(0, 1)
    mean, std = normalisation_of(pre)
    ours = pixel_targets(inputs, 16, 2, norm='patch_channel', mean=mean, std=std).double()
    ref = _official_targets_float64(clip, 16, 2, per_channel=True)
    assert ours.shape == ref.shape == (1, 8, 2 * 16 * 16 * 3)
    assert torch.equal(ours[0, 0], torch.zeros_like(ours[0, 0]))  # flat: exactly 0, not noise / 1e-6
    assert torch.equal(ours[0, 6], torch.zeros_like(ours[0, 6]))  # flat per channel
    others = [i for i in range(8) if i != 3]
    torch.testing.assert_close(ours[:, others], ref[:, others], rtol=1e-5, atol=1e-5)
    # tubelet 3 is flat but for one pixel one level up: a large target whose scale is
    # std ~ 1.7e-4 of the pixel range, where the 1e-6 counts. The float32 inputs hold a
    # pixel to ~2e-8 of the range, amplified ~1 / std: agreement to 1e-3, while per-patch
    # normalisation of the normalised inputs (eps in other units) is off by ~0.1
    assert ref[0, 3].abs().max() > 20
    assert (ours[0, 3] - ref[0, 3]).abs().max() < 1e-3
    old = pixel_targets(inputs, 16, 2, norm='patch_channel').double()
    assert (old[0, 3] - ref[0, 3]).abs().max() > 0.05


def test_image_targets_equal_float64_official_formula_per_patch():
    from amd_mm.models.algorithms.preprocess import normalisation_of
    from amd_mm.registry import MMPRETRAIN_MODELS, build_model
    pre = build_model(dict(type='SelfSupDataPreprocessor', mean=MEAN, std=STD, to_rgb=True), MMPRETRAIN_MODELS)
    image = _clip_with_flat_patches()[:, :, 1]  # (1, 3, 32, 32), BGR as loaded
    inputs = pre(dict(inputs=[image], data_samples=None), training=True)['inputs'][0]  # one view
    mean, std = normalisation_of(pre)
    ours = pixel_targets(inputs, 16, norm='patch', mean=mean, std=std).double()
    rgb = image.flip(1).unsqueeze(2)
    ref = _official_targets_float64(rgb, 16, 1, per_channel=False)
    torch.testing.assert_close(ours[:, :3], ref[:, :3], rtol=1e-5, atol=1e-5)
    assert (ours[0, 3] - ref[0, 3]).abs().max() < 1e-3  # the near-flat patch (see above)
    # a patch flat per channel but grey-levels apart is textured in normalised units only
    old = pixel_targets(inputs, 16, norm='patch').double()
    assert (old - ref).abs().max() > 0.1


def test_model_targets_use_the_preprocessor_normalisation(monkeypatch):
    import amd_mm.models.algorithms.core as core
    from test_video_amd import build_video_amd
    model = build_video_amd(data_preprocessor=dict(type='ActionDataPreprocessor', mean=MEAN, std=STD,
                                                   format_shape='NCTHW'))
    seen = []
    original = core.pixel_targets
    monkeypatch.setattr(core, 'pixel_targets', lambda *a, **k: seen.append(k) or original(*a, **k))
    model(torch.randn(2, 1, 3, 8, 32, 32), mode='loss')
    assert torch.allclose(seen[0]['mean'], torch.tensor(MEAN)) and torch.allclose(seen[0]['std'], torch.tensor(STD))


def test_targets_to_patches_inverts_the_targets():
    from amd_mm.models.utils.tokens import patchify, targets_to_patches
    pixels = torch.rand(2, 3, 4, 16, 16)
    for norm in ('patch', 'patch_channel', 'none'):
        target = pixel_targets(pixels, 8, 2, norm=norm)
        back = targets_to_patches(target, patchify(pixels, 8, 2), norm)
        torch.testing.assert_close(back, patchify(pixels, 8, 2), rtol=1e-5, atol=1e-5)
