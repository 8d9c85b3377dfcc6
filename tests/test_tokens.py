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
