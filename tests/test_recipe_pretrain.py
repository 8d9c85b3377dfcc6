"""Pieces of the official pre-training recipe (issue 12): weight-decay groups by shape,
the official encoder init, decoder / generator options, the video loader's padding,
sampling and resizing."""
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.optim import build_optim_wrapper

from amd_mm.registry import MMACTION_MODELS, MMPRETRAIN_MODELS, build_model

from test_video_amd import STUDENT, build_video_amd

K400_PRETRAIN = 'configs/pretrain/video/amd_vit-s-p16_videomae-vit-l_32xb16-16x4x1-200e_k400.py'


# -- ShapeDecayOptimWrapperConstructor ---------------------------------------------------
class Toy(nn.Module):
    """Parameters of every kind the rule must see: matrices, biases, q/v biases, norms,
    tokens (3-D), a conv."""

    def __init__(self):
        super().__init__()
        self.backbone = nn.Module()
        self.backbone.conv = nn.Conv2d(3, 8, 2)
        self.backbone.q_bias = nn.Parameter(torch.zeros(8))
        self.backbone.cls_token = nn.Parameter(torch.zeros(1, 1, 8))
        self.backbone.norm = nn.LayerNorm(8)
        self.head = nn.Linear(8, 4)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, 8))
        self.frozen = nn.Parameter(torch.zeros(4, 4), requires_grad=False)


def groups_of(model, **wrapper):
    cfg = dict(type='OptimWrapper', constructor='ShapeDecayOptimWrapperConstructor',
               optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05), **wrapper)
    optimizer = build_optim_wrapper(model, cfg).optimizer
    names = {id(p): n for n, p in model.named_parameters()}
    return {names[id(p)]: (g['weight_decay'], g['lr']) for g in optimizer.param_groups for p in g['params']}, \
        optimizer


def test_exempt_by_shape_and_name_whatever_the_names():
    table, optimizer = groups_of(Toy())
    assert table == {
        'backbone.conv.weight': (0.05, 1e-3), 'backbone.conv.bias': (0.0, 1e-3),
        'backbone.q_bias': (0.0, 1e-3), 'backbone.cls_token': (0.0, 1e-3),
        'backbone.norm.weight': (0.0, 1e-3), 'backbone.norm.bias': (0.0, 1e-3),
        'head.weight': (0.05, 1e-3), 'head.bias': (0.0, 1e-3), 'mask_token': (0.0, 1e-3)}
    assert len(optimizer.param_groups) == 2  # merged: decay / no decay


def test_exemption_wins_over_paramwise_cfg_and_keeps_its_lr_rules():
    # custom_keys that would give the 1-D parameters decay again (decay_mult 2) and lr_mult
    table, optimizer = groups_of(Toy(), paramwise_cfg=dict(
        bias_decay_mult=1.0, norm_decay_mult=1.0,
        custom_keys={'backbone': dict(lr_mult=0.5, decay_mult=2.0)}))
    assert table['backbone.conv.weight'] == (0.1, 5e-4)  # MMEngine's rule applies to matrices
    for name in ('backbone.conv.bias', 'backbone.q_bias', 'backbone.norm.weight', 'backbone.cls_token'):
        assert table[name] == (0.0, 5e-4), name
    assert table['head.weight'] == (0.05, 1e-3) and table['head.bias'] == (0.0, 1e-3)
    assert len(optimizer.param_groups) == 4


def test_names_and_shape_rule_are_configurable():
    table, _ = groups_of(Toy(), paramwise_cfg=dict(no_decay_names=['cls_token'], no_decay_ndim=-1))
    assert table['backbone.q_bias'][0] == 0.05 and table['head.bias'][0] == 0.05
    assert table['mask_token'][0] == 0.05 and table['backbone.cls_token'][0] == 0.0
    with pytest.raises(ValueError, match='no_decay_names must be a list'):
        groups_of(Toy(), paramwise_cfg=dict(no_decay_names='mask_token'))


def test_merged_groups_update_like_one_group_per_parameter():
    torch.manual_seed(0)
    a, b = Toy(), Toy()
    b.load_state_dict(a.state_dict())
    _, merged = groups_of(a)
    names = dict(a.named_parameters())
    per_param = torch.optim.AdamW(
        [dict(params=[p], weight_decay=0.0 if (p.ndim <= 1 or n.endswith('token')) else 0.05)
         for n, p in b.named_parameters() if p.requires_grad], lr=1e-3)
    for model, opt in ((a, merged), (b, per_param)):
        for p in model.parameters():
            p.grad = torch.ones_like(p) if p.requires_grad else None
        opt.step()
    for n, p in b.named_parameters():
        assert torch.equal(names[n], p), n


def test_video_amd_every_vector_parameter_without_decay():
    model = build_video_amd()
    table, _ = groups_of(model)
    q_bias = [n for n in table if n.endswith('attn.q_bias')]
    assert len(q_bias) == 4 and all(table[n][0] == 0.0 for n in q_bias)
    assert table['decoder.mask_token'][0] == 0.0 and table['branches.0.generators.0.mask_token'][0] == 0.0
    assert table['branches.0.heads.0.weight'][0] == 0.05  # projection heads decay (official)
    # the name rules of the former configs missed the q / v biases
    old = build_optim_wrapper(model, dict(
        type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
        paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0,
                           custom_keys={'pos_embed': dict(decay_mult=0.), 'mask_token': dict(decay_mult=0.)})))
    q = model.backbone.blocks[0].attn.q_bias
    assert [g['weight_decay'] for g in old.optimizer.param_groups if any(p is q for p in g['params'])] == [0.05]


def mae_add_weight_decay(model, weight_decay):
    """MAE's parameter groups (main_pretrain.py:179 calls timm 0.3.2's
    ``optim_factory.add_weight_decay(model, weight_decay)`` with no skip list): every
    trainable parameter that is 1-D or named ``*.bias`` gets no decay, all others decay."""
    return {n: 0.0 if (p.ndim == 1 or n.endswith('.bias')) else weight_decay
            for n, p in model.named_parameters() if p.requires_grad}


def test_in1k_pretrain_decays_the_tokens_as_mae():
    """The IN-1K pre-training configs put every parameter in MAE's group: ``cls_token``,
    the decoder's ``mask_token`` (and the generators', which MAE lacks) decay; the video
    configs keep the official AMD video rule (mask tokens exempt by name)."""
    from mmengine.config import Config
    from conftest import ROOT, build_image_amd
    cfg = Config.fromfile(osp.join(
        ROOT, 'configs/pretrain/image/amd_vit-b-p16_mae-vit-l_8xb512-amp-coslr-800e_in1k.py'))
    wrapper = dict(cfg.optim_wrapper, type='OptimWrapper',
                   optimizer=dict(cfg.optim_wrapper.optimizer, fused=False))
    wrapper.pop('loss_scale')
    model = build_image_amd()  # the tiny image AMD: the same kinds of parameters
    optimizer = build_optim_wrapper(model, wrapper).optimizer
    names = {id(p): n for n, p in model.named_parameters()}
    table = {names[id(p)]: g['weight_decay'] for g in optimizer.param_groups for p in g['params']}
    assert table == mae_add_weight_decay(model, 0.05)
    assert table['backbone.cls_token'] == 0.05 and table['decoder.mask_token'] == 0.05
    assert table['branches.0.generators.0.mask_token'] == 0.05
    assert not model.backbone.pos_embed.requires_grad  # a fixed sin-cos table, as MAE's
    video = Config.fromfile(osp.join(ROOT, K400_PRETRAIN))
    # the video configs keep the default: the tokens exempt
    assert 'no_decay_names' not in video.optim_wrapper.get('paramwise_cfg', {})


# -- official encoder init -----------------------------------------------------------------
def _linears(module):
    return [m for m in module.modules() if isinstance(m, nn.Linear)]


@pytest.mark.parametrize('kind', ['video', 'image'])
def test_xavier_init_option(kind):
    if kind == 'video':
        cfg, registry = dict(STUDENT, embed_dims=128), MMACTION_MODELS
    else:
        cfg = dict(type='MaskedViT', arch=dict(embed_dims=128, num_layers=2, num_heads=4,
                                               feedforward_channels=256), img_size=32, patch_size=4)
        registry = MMPRETRAIN_MODELS
    torch.manual_seed(0)
    toolbox = build_model(cfg, registry)
    toolbox.init_weights()
    official = build_model(dict(cfg, xavier_init=True), registry)
    official.init_weights()
    for m in _linears(official):
        bound = (6 / (m.in_features + m.out_features)) ** 0.5
        assert m.weight.abs().max() <= bound and m.weight.abs().max() > 0.9 * bound
        assert m.weight.std().item() == pytest.approx(bound / 3 ** 0.5, rel=0.1)  # uniform(-b, b)
        assert m.bias is None or torch.equal(m.bias, torch.zeros_like(m.bias))
    for m in official.modules():
        if isinstance(m, nn.LayerNorm):
            assert torch.equal(m.weight, torch.ones_like(m.weight)) and torch.equal(m.bias, torch.zeros_like(m.bias))
    # the toolbox init stays available (mmaction2: TruncNormal(0.02); mmpretrain: its own)
    if kind == 'video':
        assert all(abs(m.weight.std().item() - 0.02) < 0.002 for m in _linears(toolbox))
    assert not all(torch.equal(a.weight, b.weight) for a, b in zip(_linears(toolbox), _linears(official)))
    if kind == 'image':
        w = official.patch_embed.projection.weight
        bound = (6 / (w.shape[0] + w[0].numel())) ** 0.5
        assert w.abs().max() <= bound and w.abs().max() > 0.9 * bound
        assert official.cls_token.std().item() == pytest.approx(0.02, rel=0.3)
    # a second init_weights() (e.g. by a wrapper) does not draw new weights
    before = [m.weight.clone() for m in _linears(official)]
    official.init_weights()
    assert all(torch.equal(a, m.weight) for a, m in zip(before, _linears(official)))


def test_paper_video_config_initialises_the_student_as_the_official_code():
    from mmengine.config import Config
    from conftest import ROOT
    cfg = Config.fromfile(osp.join(ROOT, K400_PRETRAIN))
    assert cfg.model.backbone.xavier_init is True
    student = build_model(dict(cfg.model.backbone, depth=2), MMACTION_MODELS)  # paper widths, 2 blocks
    student.init_weights()
    qkv = student.blocks[0].attn.qkv.weight  # 1152 x 384: xavier bound 0.0625 (TruncNormal: 0.04)
    assert qkv.abs().max().item() == pytest.approx((6 / (384 + 1152)) ** 0.5, rel=0.01)


# -- decoder / generator options -------------------------------------------------------------
def test_decoder_input_projection_without_bias_and_torch_init():
    torch.manual_seed(0)
    official = build_model(dict(type='PixelDecoder', in_dims=384, out_dims=96, embed_dims=192, depth=1,
                                num_heads=3, embed_bias=False, embed_init='torch'), MMACTION_MODELS)
    mae = build_model(dict(type='PixelDecoder', in_dims=384, out_dims=96, embed_dims=192, depth=1,
                           num_heads=3), MMACTION_MODELS)
    assert official.embed.bias is None and mae.embed.bias is not None
    # PyTorch's nn.Linear default: U(-1/sqrt(in), 1/sqrt(in)); MAE's xavier: sqrt(6 / (in + out))
    assert official.embed.weight.abs().max().item() == pytest.approx(384 ** -0.5, rel=0.02)
    assert mae.embed.weight.abs().max().item() == pytest.approx((6 / (384 + 192)) ** 0.5, rel=0.02)
    with pytest.raises(ValueError, match='embed_init'):
        build_model(dict(type='PixelDecoder', in_dims=8, out_dims=8, embed_init='normal'), MMACTION_MODELS)


@pytest.mark.parametrize('neck', ['PixelDecoder', 'FeatureGenerator'])
def test_drop_path_of_decoder_and_generator_blocks(neck):
    kw = dict(in_dims=32, out_dims=48, embed_dims=32, depth=3, num_heads=2) if neck == 'PixelDecoder' \
        else dict(embed_dims=32, depth=3, num_heads=2)
    torch.manual_seed(0)
    plain = build_model(dict(type=neck, **kw), MMACTION_MODELS)
    dropped = build_model(dict(type=neck, drop_path_rate=0.5, **kw), MMACTION_MODELS)
    dropped.load_state_dict(plain.state_dict())
    rates = [b.drop_path.drop_prob if hasattr(b.drop_path, 'drop_prob') else 0.0 for b in dropped.blocks]
    assert rates == pytest.approx([0.0, 0.25, 0.5])  # linear in depth, as the official blocks
    feats = torch.randn(4, 6, 32)
    ids_vis = torch.arange(6).expand(4, -1)
    ids_out = torch.arange(6, 16).expand(4, -1)
    args = (feats, ids_vis, ids_out, (1, 4, 4))
    plain.eval(), dropped.eval()
    torch.testing.assert_close(dropped(*args), plain(*args))  # inert in eval
    dropped.train(), plain.train()
    torch.manual_seed(1)
    assert not torch.allclose(dropped(*args), plain(*args))  # active in training


# -- the official video loader: padding, SSv2 sampling, resizing -----------------------------
def _paper_steps(config, n):
    from mmengine.config import Config
    from conftest import ROOT
    cfg = Config.fromfile(osp.join(ROOT, config))
    return cfg.train_dataloader.dataset.pipeline[:n]


def official_k400_pretrain_indices(num_frames, clip_len=16, step=4):
    """The official Kinetics pre-training loader, restated (dataset/datasets.py at 8d2ec6f:
    ``_sample_train_indices`` :915-935 and ``_video_TSN_decord_batch_loader`` :937-949,
    with ``num_segments=1``, ``new_length=clip_len``, ``new_step=step`` and
    ``temporal_jitter=False`` as dataset/build.py:66-85 builds it).

    1-based segment offset: 1 + randint(n - skip + 1) when that bound is positive, else
    1 (the middle branch needs n > skip, which already makes the bound positive). Then,
    once per sampled frame: take frame ``offset - 1`` (the skip offset is 0, so
    ``offset <= duration`` holds), and advance ``offset`` by ``step`` only while
    ``offset + step < duration``."""
    skip = clip_len * step
    average_duration = num_frames - skip + 1
    if average_duration > 0:
        offset = 1 + int(np.random.randint(average_duration, size=1)[0])
    else:
        offset = 1
    frames = []
    for _ in range(0, skip, step):
        frames.append(offset - 1)
        if offset + step < num_frames:
            offset += step
    return frames


def _k400_sampler():
    from mmaction.registry import TRANSFORMS
    from mmengine.registry import init_default_scope
    init_default_scope('mmaction')
    step = _paper_steps(K400_PRETRAIN, 2)[1]
    return TRANSFORMS.build(step)


def test_k400_pretrain_sampling_equals_the_official_loop_for_every_length():
    from mmaction.registry import TRANSFORMS
    sampler = _k400_sampler()
    repeat_last = TRANSFORMS.build(dict(type='SampleFrames', clip_len=16, frame_interval=4,
                                        num_clips=1, out_of_bound_opt='repeat_last'))
    other = []
    for n in range(1, 65):  # every length up to one span: start 0, the end rule decides
        np.random.seed(n)
        mine = sampler(dict(total_frames=n, start_index=0))['frame_inds'].tolist()
        np.random.seed(n)
        assert mine == official_k400_pretrain_indices(n), n
        if repeat_last(dict(total_frames=n, start_index=0))['frame_inds'].tolist() != mine:
            other.append(n)
    # mmaction2's repeat_last keeps frame n - 1 when it is a multiple of 4 (n % 4 == 1)
    assert other == list(range(5, 64, 4)) and len(other) == 15
    assert official_k400_pretrain_indices(9) == [0, 4] + [4] * 14
    for n in (65, 66, 100, 127, 300, 1000):  # longer videos: the same random start, every 4th
        for seed in range(5):
            np.random.seed(seed)
            mine = sampler(dict(total_frames=n, start_index=0))['frame_inds'].tolist()
            np.random.seed(seed)
            assert mine == official_k400_pretrain_indices(n), (n, seed)
            assert np.diff(mine).tolist() == [4] * 15 and 0 <= mine[0] <= n - 64
    out = sampler(dict(total_frames=30, start_index=1))  # 1-based frame folders
    assert out['frame_inds'].tolist() == [i + 1 for i in official_k400_pretrain_indices(30)]
    assert out['clip_len'] == 16 and out['frame_interval'] == 4 and out['num_clips'] == 1


@pytest.fixture
def short_video(tmp_path):
    from amd_mm.tools_lib.demo_data import write_video
    frames = np.stack([np.full((64, 64, 3), 10 * i + 5, np.uint8) for i in range(22)])
    frames[:, :8, :8] = 255  # some texture
    path = tmp_path / 'short.mp4'
    write_video(str(path), frames)
    return str(path)


def test_paper_pipeline_pads_short_videos_as_the_official_loader(short_video):
    import decord
    from mmaction.registry import TRANSFORMS
    from mmcv.transforms import Compose
    from mmengine.registry import init_default_scope
    init_default_scope('mmaction')
    steps = _paper_steps(K400_PRETRAIN, 3)
    assert [s['type'] for s in steps] == ['CheckedDecordInit', 'StrideSample', 'DecordDecode']
    pipeline = Compose([TRANSFORMS.build(s) for s in steps])
    out = pipeline(dict(filename=short_video, start_index=0, modality='RGB'))
    expected = official_k400_pretrain_indices(22)
    assert expected == [0, 4, 8, 12, 16, 20] + [20] * 10
    assert out['frame_inds'].tolist() == expected
    reader = decord.VideoReader(short_video)
    truth = reader.get_batch(expected).asnumpy()
    assert len(out['imgs']) == 16 and all(np.array_equal(a, b) for a, b in zip(out['imgs'], truth))


def test_paper_pipeline_still_names_an_unreadable_file(tmp_path):
    from mmaction.registry import TRANSFORMS
    from mmengine.registry import init_default_scope
    from amd_mm.datasets import BadVideoError
    init_default_scope('mmaction')
    bad = tmp_path / 'broken.mp4'
    bad.write_bytes(b'\x00\x00\x00\x18ftypmp42' + bytes(range(256)) * 4)
    step = _paper_steps('configs/pretrain/video/amd_vit-s-p16_videomae-vit-l_32xb16-16x2x1-200e_sthv2.py', 1)[0]
    with pytest.raises(BadVideoError, match='broken.mp4: cannot be decoded'):
        TRANSFORMS.build(step)(dict(filename=str(bad), start_index=0, modality='RGB'))
    skip = TRANSFORMS.build(dict(step, on_bad='skip'))
    assert skip(dict(filename=str(bad), start_index=0, modality='RGB')) is None


def test_ssv2_span_sampling_gives_the_official_indices():
    from amd_mm.datasets import SpanSample  # the K400 fine-tuning sampler, 16 x 2
    sampler = SpanSample(clip_len=16, frame_interval=2)
    # short videos: N // 2 points spread over the whole video (floor of linspace(0, N, N // 2)),
    # then the last frame; worked by hand from dataset/datasets.py:1030-1037
    assert sampler.indices(20).tolist() == [0, 2, 4, 6, 8, 11, 13, 15, 17, 19] + [19] * 6
    assert sampler.indices(5).tolist() == [0] + [4] * 15
    assert sampler.indices(32).tolist() == [0, 2, 4, 6, 8, 10, 12, 14, 17, 19, 21, 23, 25, 27, 29, 31]
    # long videos: floor(linspace(s, s + 32, 16)), last clipped to s + 31, s uniform in [0, N - 33]
    pattern = np.array([0, 2, 4, 6, 8, 10, 12, 14, 17, 19, 21, 23, 25, 27, 29, 31])
    np.random.seed(0)
    starts = set()
    for _ in range(400):
        inds = sampler.indices(40)
        assert (inds - inds[0]).tolist() == pattern.tolist()
        starts.add(int(inds[0]))
    assert starts == set(range(0, 8))  # end in [32, 39]
    out = sampler(dict(total_frames=40, start_index=1))
    assert out['frame_inds'].min() >= 1 and out['clip_len'] == 16 and out['num_clips'] == 1


def test_pillow_resize_equals_pil_bilinear():
    from PIL import Image
    from mmaction.registry import TRANSFORMS
    from mmengine.registry import init_default_scope
    init_default_scope('mmaction')
    frame = np.random.default_rng(0).integers(0, 256, (256, 320, 3), dtype=np.uint8)
    results = dict(imgs=[frame], img_shape=(256, 320), modality='RGB')
    out = TRANSFORMS.build(dict(type='PillowResize', scale=(224, 224), keep_ratio=False))(dict(results))
    expected = np.asarray(Image.fromarray(frame).resize((224, 224), Image.BILINEAR))
    assert np.array_equal(out['imgs'][0], expected) and out['img_shape'] == (224, 224)
    cv2_out = TRANSFORMS.build(dict(type='Resize', scale=(224, 224), keep_ratio=False))(dict(results))
    assert not np.array_equal(cv2_out['imgs'][0], expected)  # OpenCV's bilinear differs when shrinking
