"""The paper fine-tuning configs train with the official recipe (MCG-NJU/AMD at 8d2ec6f;
MAE's for ImageNet): frame sampling, RandAugment, random erasing, head init, schedule.

The official values are computed here from the official formulas, written out
independently of amd_mm's implementation.
"""
import math
import os.path as osp
import random

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from conftest import ROOT

K400_S = 'configs/finetune/k400/vit-s-p16_amd-pre_32xb16-16x4x1-150e_k400.py'
K400_B = 'configs/finetune/k400/vit-b-p16_amd-pre_32xb16-16x4x1-90e_k400.py'
SSV2_S = 'configs/finetune/sthv2/vit-s-p16_amd-pre_16xb16-u16-40e_sthv2.py'
SSV2_B = 'configs/finetune/sthv2/vit-b-p16_amd-pre_16xb16-u16-30e_sthv2.py'
UCF = 'configs/finetune/ucf101/vit-b-p16_amd-k400-pre_8xb16-16x4x1-100e_ucf101-split1.py'
HMDB = 'configs/finetune/hmdb51/vit-b-p16_amd-k400-pre_8xb16-16x4x1-50e_hmdb51-split1.py'
IN1K_B = 'configs/finetune/in1k/vit-b-p16_amd-pre_8xb128-coslr-100e_in1k.py'
VIDEO_CONFIGS = [K400_S, K400_B, SSV2_S, SSV2_B, UCF, HMDB]
MEAN, STD = np.array([123.675, 116.28, 103.53]), np.array([58.395, 57.12, 57.375])


def load(path):
    return Config.fromfile(osp.join(ROOT, path))


def build_transform(cfg_dict):
    from mmaction.registry import TRANSFORMS
    init_default_scope('mmaction')
    return TRANSFORMS.build(dict(cfg_dict))


def step(pipeline, name):
    return next(t for t in pipeline if t['type'] == name)


def demo_frames(demo_root, n=16):
    """Real frames: a generated mp4 decoded by decord (H x W x 3 uint8 RGB)."""
    import decord
    reader = decord.VideoReader(osp.join(demo_root, 'videos', 'train', '0001.mp4'))
    return list(reader.get_batch(list(range(n))).asnumpy())


# --- frame sampling (issue 12, item 9; Kinetics alike) --------------------------------

def official_ssv2_train(n, segments=16):
    """SSRawFrameClsDataset (mode train): segments of n // 16 frames, a random one each."""
    length = n // segments
    if length == 0:  # fewer frames than segments: frame 0 repeated first
        return [0] * (segments - n) + list(range(n))
    jitter = np.random.randint(length, size=segments)
    return [s * length + int(j) for s, j in zip(range(segments), jitter)]


def official_ssv2_test(n, views, segments=16):
    """SSRawFrameClsDataset (mode test): offsets 0 and tick / y (y = 2 .. views) in every
    segment, all sorted, view c = every views-th of the sorted list from c."""
    tick = n / float(segments)
    pool = [int(tick * x) for x in range(segments)]
    for y in range(2, views + 1):
        pool += [int(tick / y + tick * x) for x in range(segments)]
    pool = sorted(pool)
    return [pool[c::views] for c in range(views)]


def official_k400_train(n, clip_len=16, rate=4):
    """VideoClsDataset.loadvideo_decord (mode train, one segment)."""
    span = clip_len * rate
    if n <= span:
        kept = n // rate
        pos = list(np.linspace(0, n, num=kept)) + [n] * (clip_len - kept)
        return [min(max(int(p), 0), n - 1) for p in pos]
    end = np.random.randint(span, n)
    return [min(int(p), end - 1) for p in np.linspace(end - span, end, num=clip_len)]


def official_k400_test(n, views, clip_len=16, rate=4):
    """VideoClsDataset (mode test): every rate-th frame, views runs of clip_len frames
    from the first to the last possible start."""
    grid = list(range(0, n, rate))
    while len(grid) < clip_len:
        grid.append(grid[-1])
    step_ = max((len(grid) - clip_len) / (views - 1), 0) if views > 1 else 0
    return [grid[int(v * step_):int(v * step_) + clip_len] for v in range(views)]


FRAME_COUNTS = [3, 9, 15, 16, 17, 31, 32, 45, 64, 65, 97, 173, 300, 511]


def assert_official_indices(train, test, official_train, official_test):
    """Training indices equal the official ones for the same numpy seed, test indices
    the official views, over short, exact and long videos."""
    for n in FRAME_COUNTS:
        for seed in range(3):
            np.random.seed(seed)
            expected = official_train(n)
            np.random.seed(seed)
            out = train(dict(total_frames=n, start_index=0))
            assert out['frame_inds'].tolist() == expected, n
            assert out['clip_len'] == 16 and out['num_clips'] == 1
        out = test(dict(total_frames=n, start_index=0))
        assert out['frame_inds'].tolist() == sum(official_test(n), []), n
        assert out['clip_len'] == 16 and out['num_clips'] == test.num_clips


@pytest.mark.parametrize('path', [SSV2_S, SSV2_B])
def test_ssv2_samples_official_segments(path):
    cfg = load(path)
    train = build_transform(step(cfg.train_dataloader.dataset.pipeline, 'SegmentSample'))
    test_cfg = step(cfg.test_dataloader.dataset.pipeline, 'SegmentSample')
    assert test_cfg.num_clips == 2 and test_cfg.test_mode  # official --test_num_segment 2
    assert step(cfg.test_dataloader.dataset.pipeline, 'ThreeCrop')  # --test_num_crop 3
    test = build_transform(test_cfg)
    assert_official_indices(train, test, official_ssv2_train, lambda n: official_ssv2_test(n, 2))
    # three views follow the same formula; a 1-based frame index is honoured
    three = build_transform(dict(type='SegmentSample', num_clips=3, test_mode=True))
    assert_official_indices(train, three, official_ssv2_train, lambda n: official_ssv2_test(n, 3))
    assert test(dict(total_frames=50, start_index=1))['frame_inds'].min() == 1


def test_ssv2_segments_cover_the_whole_video():
    sample = build_transform(dict(type='SegmentSample', num_segments=16))
    np.random.seed(0)
    seen = np.zeros(160, bool)
    for _ in range(400):
        inds = sample(dict(total_frames=160, start_index=0))['frame_inds']
        assert np.all((inds // 10) == np.arange(16))  # frame i in segment i (10 frames each)
        seen[inds] = True
    assert seen.all()  # every frame of the video can be drawn (not a dense window)


@pytest.mark.parametrize('path', [K400_S, K400_B])
def test_k400_samples_official_clips(path):
    cfg = load(path)
    train = build_transform(step(cfg.train_dataloader.dataset.pipeline, 'SpanSample'))
    test_cfg = step(cfg.test_dataloader.dataset.pipeline, 'SpanSample')
    assert test_cfg.num_clips == 5  # official --test_num_segment 5
    assert_official_indices(train, build_transform(test_cfg), official_k400_train,
                            lambda n: official_k400_test(n, 5))


def test_ssv2_pipeline_on_a_real_video(demo_root):
    """The paper SSv2 test pipeline on a real mp4: the official frames of its decord frame
    count, 2 views x 3 crops of 16 frames."""
    from mmaction.registry import DATASETS
    cfg = load(SSV2_B)
    init_default_scope('mmaction')
    ds = cfg.test_dataloader.dataset
    ds.update(ann_file=osp.join(demo_root, 'videos', 'val_list.txt'),
              data_prefix=dict(video=osp.join(demo_root, 'videos')))
    dataset = DATASETS.build(ds)
    head = dataset.pipeline.transforms[:2]  # CheckedDecordInit, SegmentSample
    info = dataset.get_data_info(0)
    for t in head:
        info = t(info)
    assert info['total_frames'] == 32
    assert info['frame_inds'].tolist() == sum(official_ssv2_test(32, 2), [])
    sample = dataset[0]
    assert sample['inputs'].shape == (6, 3, 16, 224, 224)


# --- RandAugment (item 8) ---------------------------------------------------------------

def timm_reference(config_str='rand-m7-n4-mstd0.5-inc1'):
    """timm's transform as the official code builds it (video_transforms.py
    create_random_augment: translate_const 0.45 x 224, bicubic, timm's grey fill)."""
    from PIL import Image
    from timm.data.auto_augment import rand_augment_transform
    return rand_augment_transform(config_str, dict(translate_const=int(224 * 0.45),
                                                   interpolation=Image.Resampling.BICUBIC))


@pytest.mark.parametrize('path', VIDEO_CONFIGS)
def test_randaugment_is_the_official_one_before_the_crop(path):
    cfg = load(path)
    aug = step(cfg.train_dataloader.dataset.pipeline, 'RepeatAugment').transforms
    names = [t['type'] for t in aug]
    assert names.index('ClipRandAugment') < names.index('RandomResizedCrop')
    assert 'TorchVisionWrapper' not in names
    ra = step(aug, 'ClipRandAugment')
    assert (ra.config_str, ra.interpolation) == ('rand-m7-n4-mstd0.5-inc1', 'bicubic')
    assert step(cfg.train_dataloader.dataset.pipeline, 'RepeatAugment').num_repeats == 2


def test_randaugment_same_draws_on_every_frame_and_equal_to_timm(demo_root):
    from PIL import Image
    frames = demo_frames(demo_root, 6)
    assert len({f.tobytes() for f in frames}) == 6  # a moving digit: distinct frames
    ours = build_transform(dict(type='ClipRandAugment', hparams=dict(translate_const=100)))
    reference = timm_reference()
    changed = 0
    for seed in range(40):
        random.seed(seed)
        np.random.seed(seed)
        out = ours(dict(imgs=list(frames)))['imgs']
        after = (random.getstate(), np.random.get_state()[1].copy())
        for frame, got in zip(frames, out):
            random.seed(seed)
            np.random.seed(seed)
            expected = np.asarray(reference(Image.fromarray(frame)))
            assert np.array_equal(got, expected), seed
        # the generators stand where one application leaves them: the next clip draws anew
        assert after[0] == random.getstate() and np.array_equal(after[1], np.random.get_state()[1])
        changed += not all(np.array_equal(a, b) for a, b in zip(frames, out))
    assert changed >= 30  # 4 ops at p=0.5: nothing applied in only 1/16 of the clips
    # inputs untouched (the decoded frames are shared by the repeated views)
    assert all(np.array_equal(a, b) for a, b in zip(frames, demo_frames(demo_root, 6)))


def test_randaugment_identical_frames_stay_identical_and_views_differ():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    ours = build_transform(dict(type='ClipRandAugment'))
    random.seed(3)
    np.random.seed(3)
    views = [ours(dict(imgs=[frame] * 4))['imgs'] for _ in range(8)]
    for view in views:
        assert all(np.array_equal(view[0], f) for f in view[1:])
    assert len({v[0].tobytes() for v in views}) > 4  # each call (view) its own draw


def test_randaugment_rotation_magnitude_is_the_official_one(monkeypatch):
    """Rotate at m7 (of 10) with magnitude noise std 0.5: |angle| ~ N(21, 1.5) degrees,
    either sign, the same angle for every frame of a clip (torchvision's RandAugment at
    magnitude 7 of 31 bins, the former config, rotated by 7 degrees)."""
    from PIL import Image
    calls = []
    original = Image.Image.rotate

    def record(self, angle, *args, **kwargs):
        calls.append(angle)
        return original(self, angle, *args, **kwargs)

    monkeypatch.setattr(Image.Image, 'rotate', record)
    ours = build_transform(dict(type='ClipRandAugment'))
    frame = np.full((16, 16, 3), 90, np.uint8)
    random.seed(0)
    np.random.seed(0)
    angles = []
    for _ in range(3000):
        calls.clear()
        ours(dict(imgs=[frame, frame, frame]))
        # every rotation of the clip on all 3 frames (frame by frame or op by op)
        per_clip = sorted(set(calls), key=calls.index)
        assert sorted(calls) == sorted(per_clip * 3)
        angles += per_clip
    angles = np.array(angles)
    assert len(angles) > 250  # 4 of 15 ops at p=0.5: about 0.13 rotations per clip
    assert abs(np.abs(angles).mean() - 21.0) < 0.4
    assert abs(np.abs(angles).std() - 1.5) < 0.3
    assert 0.4 < (angles > 0).mean() < 0.6


# --- random erasing (item 12) -----------------------------------------------------------

@pytest.mark.parametrize('path', VIDEO_CONFIGS)
def test_erasing_is_configured_like_the_official(path):
    cfg = load(path)
    aug = step(cfg.train_dataloader.dataset.pipeline, 'RepeatAugment').transforms
    names = [t['type'] for t in aug]
    assert names[-1] == 'PixelRandomErasing' and 'RandomErasing' not in names
    erase = step(aug, 'PixelRandomErasing')
    assert erase.erase_prob == 0.25 and erase.max_attempts == 100
    # the fill is N(0, 1) only if mean / std are the preprocessor's
    assert list(erase.mean) == list(cfg.model.data_preprocessor.mean)
    assert list(erase.std) == list(cfg.model.data_preprocessor.std)


def test_erased_box_is_standard_normal_after_the_preprocessor(demo_root):
    """A real clip through the K400 paper augmentation with erasing forced, then the
    config's data preprocessor: the box is the same on every frame, its values N(0, 1)
    (not clipped), other pixels as without erasing; clips with and without erasing
    batch together."""
    from mmaction.registry import MODELS
    cfg = load(K400_S)
    aug = step(cfg.train_dataloader.dataset.pipeline, 'RepeatAugment').transforms
    erase_cfg = dict(step(aug, 'PixelRandomErasing'), erase_prob=1.0)
    erase = build_transform(erase_cfg)
    resize = build_transform(dict(type='Resize', scale=(224, 224), keep_ratio=False))
    frames = resize(dict(imgs=demo_frames(demo_root, 16), modality='RGB'))['imgs']
    np.random.seed(0)
    erased = erase(dict(imgs=list(frames)))['imgs']
    assert all(f.dtype == np.float32 for f in erased)
    changed = [np.any(e != f.astype(np.float32), axis=-1) for e, f in zip(erased, frames)]
    assert all(np.array_equal(changed[0], c) for c in changed[1:])  # one box, all frames
    ys, xs = np.nonzero(changed[0])
    h, w = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
    assert changed[0].sum() == h * w and h < 224 and w < 224
    assert not np.array_equal(erased[0][changed[0]], erased[1][changed[0]])  # noise per frame

    init_default_scope('mmaction')
    pre = MODELS.build(cfg.model.data_preprocessor)
    clip = lambda fs: torch.from_numpy(np.stack(fs)).permute(3, 0, 1, 2)[None]  # 1 C T H W
    from mmaction.structures import ActionDataSample
    samples = [ActionDataSample().set_gt_label(torch.tensor(0)) for _ in range(2)]
    pre.blending = None  # look at the normalised clip itself
    out = pre(dict(inputs=[clip(erased), clip(list(frames))], data_samples=samples), training=True)
    x = out['inputs']
    assert x.dtype == torch.float32 and x.shape == (2, 1, 3, 16, 224, 224)
    x = x[:, 0]
    box = torch.from_numpy(changed[0])
    inside = x[0].permute(1, 2, 3, 0)[:, box]  # T, pixels, C
    assert abs(inside.mean().item()) < 0.02 and abs(inside.std().item() - 1) < 0.02
    assert inside.abs().max() > 3.5  # unclipped (pixel-range clipping would stop near 2.2)
    for c in range(3):  # each channel N(0, 1), not N(0, 1) in one channel only
        assert abs(inside[..., c].std().item() - 1) < 0.05
    assert torch.allclose(x[0].permute(1, 2, 3, 0)[:, ~box], x[1].permute(1, 2, 3, 0)[:, ~box])


def test_erasing_box_distribution():
    erase = build_transform(dict(type='PixelRandomErasing', mean=MEAN.tolist(), std=STD.tolist()))
    frame = np.zeros((40, 60, 3), np.uint8)
    np.random.seed(1)
    boxes = [erase.draw_box(40, 60) for _ in range(4000)]
    hits = [b for b in boxes if b is not None]
    assert abs(len(hits) / 4000 - 0.25) < 0.03
    for top, left, h, w in hits:
        assert 0 < h < 40 and 0 < w < 60 and top + h <= 40 and left + w <= 60
        assert 0.3 / 1.2 < h / w < 1.2 / 0.3  # aspect within [0.3, 1 / 0.3] up to rounding
    areas = np.array([h * w for _, _, h, w in hits]) / (40 * 60)
    assert areas.min() > 0.01 and areas.max() < 0.36
    never = build_transform(dict(type='PixelRandomErasing', mean=MEAN.tolist(),
                                 std=STD.tolist(), erase_prob=0.0))
    out = never(dict(imgs=[frame]))['imgs'][0]  # not erased: dtype and values untouched
    assert out.dtype == np.uint8 and not out.any()


def test_image_erasing_in_bgr_is_standard_normal_after_mmpretrain_preprocessor():
    """IN-1K: mmpretrain images are BGR until the preprocessor's to_rgb; the fill uses the
    BGR mean / std, so after the preprocessor every channel of the box is N(0, 1)."""
    from mmpretrain.registry import MODELS, TRANSFORMS
    cfg = load(IN1K_B)
    erase_cfg = dict(step(cfg.train_pipeline, 'PixelRandomErasing'), erase_prob=1.0)
    assert erase_cfg['max_attempts'] == 10  # timm's image erasing
    init_default_scope('mmpretrain')
    erase = TRANSFORMS.build(erase_cfg)
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)
    np.random.seed(2)
    erased = erase(dict(img=img.copy()))['img']
    box = np.any(erased != img, axis=-1)
    pre = MODELS.build(dict(type='ClsDataPreprocessor', **cfg.data_preprocessor))
    chw = lambda a: torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))
    x = pre(dict(inputs=[chw(erased), chw(img)]), training=False)['inputs']
    inside = x[0].permute(1, 2, 0)[torch.from_numpy(box)]
    for c in range(3):
        assert abs(inside[:, c].mean().item()) < 0.05 and abs(inside[:, c].std().item() - 1) < 0.05
    # unclipped: a pixel-range fill would stop at -1.8 (B), -2.0 (G), -2.1 (R)
    assert (inside < -2.2).sum() >= max(15, 0.005 * inside.numel())
    assert torch.allclose(x[0].permute(1, 2, 0)[torch.from_numpy(~box)],
                          x[1].permute(1, 2, 0)[torch.from_numpy(~box)])


# --- head init (item 10) ----------------------------------------------------------------

def test_head_init_is_trunc_normal_002_times_0001():
    from mmaction.registry import MODELS
    cfg = load(K400_S)
    init_default_scope('mmaction')
    cfg.model.backbone.pop('init_cfg')
    cfg.model.backbone.depth = 2  # the head does not depend on the depth; keeps it fast
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    weight, bias = model.cls_head.fc_cls.weight.detach(), model.cls_head.fc_cls.bias.detach()
    # official: trunc_normal_(std=0.02) (bounds +-2: never reached), then x init_scale 0.001
    official = torch.nn.init.trunc_normal_(torch.empty(400, 384), std=0.02) * 0.001
    assert weight.shape == official.shape
    assert abs(weight.std().item() / official.std().item() - 1) < 0.02
    assert abs(weight.std().item() - 2e-5) < 2e-5 * 0.02
    assert torch.count_nonzero(bias) == 0
    for path in VIDEO_CONFIGS:
        assert load(path).model.cls_head.init_std == pytest.approx(2e-5)


# --- schedule (item 11) -----------------------------------------------------------------

def official_schedule(lr, min_lr, epochs, warmup, iters):
    """utils.cosine_scheduler as run_class_finetuning.py calls it (warm-up from 0)."""
    total, warm = epochs * iters, warmup * iters
    values = list(np.linspace(0, lr, warm))
    cos_len = total - warm
    values += [min_lr + 0.5 * (lr - min_lr) * (1 + math.cos(math.pi * i / cos_len))
               for i in range(cos_len)]
    return np.array(values)


def official_layer_scale(name, decay, depth=12):
    """optim_factory.py get_num_layer_for_vit + LayerDecayValueAssigner."""
    name = name.replace('backbone.', '', 1).replace('layers.', 'blocks.', 1)
    if name in ('cls_token', 'pos_embed', 'mask_token') or name.startswith('patch_embed'):
        layer = 0
    elif name.startswith('blocks.'):
        layer = int(name.split('.')[1]) + 1
    else:
        layer = depth + 1
    return decay ** (depth + 1 - layer)


@pytest.mark.parametrize('path,gpus,official_lr,official_min_lr,decay', [
    (K400_S, 32, 1e-3 * 512 / 256, 1e-6 * 512 / 256, 0.75),  # dist vits_k400_ft.sh: 4 x 8 GPUs
    (SSV2_B, 16, 5e-4 * 256 / 256, 1e-6 * 256 / 256, 0.75),  # vitb_ssv2_ft.sh: 2 x 8 GPUs
    (IN1K_B, 8, 5e-4 * 1024 / 256, 1e-6, 0.65),              # MAE: min_lr not batch-scaled
    (UCF, 8, 5e-4 * 128 / 256, 1e-5 * 128 / 256, 0.7),       # VideoMAE's ucf101 finetune.sh: 8 GPUs
])
def test_lr_per_group_follows_the_official_schedule(path, gpus, official_lr, official_min_lr,
                                                    decay):
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import MODELS, PARAM_SCHEDULERS
    cfg = load(path)
    init_default_scope(cfg.default_scope)
    cfg.model.backbone.pop('init_cfg')
    model = MODELS.build(cfg.model)
    assert cfg.optim_wrapper.pop('type') == 'AmpOptimWrapper'  # AMP needs a GPU: plain here
    cfg.optim_wrapper.pop('loss_scale', None)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    assert cfg.optim_wrapper.optimizer.lr == pytest.approx(official_lr, rel=1e-12)
    assert gpus * cfg.train_dataloader.batch_size == cfg.auto_scale_lr.base_batch_size
    iters = 20  # iterations per epoch: enough to see the per-iteration shape
    schedulers = []
    for sched in cfg.param_scheduler:
        sched = dict(sched)
        cls = PARAM_SCHEDULERS.get(sched.pop('type'))
        assert sched.pop('convert_to_iter_based')  # per iteration, as the official code
        schedulers.append(cls.build_iter_from_epoch(wrapper.optimizer, epoch_length=iters, **sched))
    epochs, warmup = cfg.train_cfg.max_epochs, cfg.param_scheduler[0].end
    expected = official_schedule(official_lr, official_min_lr, epochs, warmup, iters)
    assert expected[0] == 0.0  # the official warm-up starts at 0
    names = {id(p): n for n, p in model.named_parameters()}
    groups = wrapper.optimizer.param_groups
    scales = [official_layer_scale(names[id(g['params'][0])], decay) for g in groups]
    assert len(set(round(s, 12) for s in scales)) == 14  # 12 blocks + embeddings + head
    # the floor: min_lr x the group's layer-decay factor
    cosine = schedulers[1]
    for base, scale in zip(cosine.base_values, scales):
        assert base * cosine.eta_min_ratio == pytest.approx(official_min_lr * scale, rel=1e-9)
    assert all(g['lr'] <= 1e-7 * official_lr for g in groups)  # the first step: ~0, as official
    worst = 0.0
    for it in range(epochs * iters):  # the lr each iteration trains with
        for g, scale in zip(groups, scales):
            worst = max(worst, abs(g['lr'] - expected[it] * scale) / (official_lr * scale))
        for sched in schedulers:
            sched.step()
    # equal up to the 1e-8 x lr start (MMEngine's LinearLR, like np.linspace, reaches the
    # peak at the last warm-up iteration)
    assert worst <= 2e-8
    for g, scale in zip(groups, scales):  # the last iteration: just above min_lr x scale
        assert g['lr'] == pytest.approx(expected[-1] * scale, rel=1e-6)
        assert g['lr'] == pytest.approx(official_min_lr * scale, rel=0.01)


def test_warmup_starts_at_zero_in_effect():
    """... and the configs' starts 1e-8 x lr above it: nothing in fp32 terms."""
    for path in VIDEO_CONFIGS + [IN1K_B]:
        sched = load(path).param_scheduler
        assert sched[0].type == 'LinearLR' and sched[0].start_factor <= 1e-8
        assert sched[1].type == 'CosineAnnealingLR' and 'eta_min' not in sched[1]


def test_weight_decay_spares_every_1d_parameter_and_bias():
    from mmengine.optim import build_optim_wrapper
    from mmaction.registry import MODELS
    cfg = load(K400_S)
    init_default_scope('mmaction')
    cfg.model.backbone.pop('init_cfg')
    cfg.model.backbone.depth = 2
    cfg.optim_wrapper.paramwise_cfg.num_layers = 2
    cfg.optim_wrapper.type = 'OptimWrapper'  # AMP needs a GPU
    cfg.optim_wrapper.pop('loss_scale')
    model = MODELS.build(cfg.model)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    names = {id(p): n for n, p in model.named_parameters()}
    for g in wrapper.optimizer.param_groups:
        for p in g['params']:
            flat = p.ndim == 1 or names[id(p)].endswith('.bias')
            assert g['weight_decay'] == (0.0 if flat else 0.05), names[id(p)]
    assert wrapper.optimizer.defaults['betas'] == (0.9, 0.999)


# --- the recipe trains ------------------------------------------------------------------

@pytest.mark.slow
def test_paper_augmentation_trains_a_tiny_recognizer(demo_root, tmp_path):
    """The K400 paper augmentation (RandAugment per clip, crop, flip, erasing forced on,
    so float32 and uint8 clips meet in batches) and schedule drive a tiny Recognizer3D
    through MMEngine's Runner on real videos: finite losses, the lr follows the warm-up."""
    from mmengine.runner import Runner
    paper = load(K400_S)
    cfg = load('configs/tiny/finetune_video_tiny.py')
    repeat = step(paper.train_dataloader.dataset.pipeline, 'RepeatAugment')
    aug = [dict(t) for t in repeat.transforms]
    step(aug, 'Resize')['scale'] = (32, 32)
    step(aug, 'PixelRandomErasing')['erase_prob'] = 0.5
    step(cfg.train_dataloader.dataset.pipeline, 'RepeatAugment').transforms = aug
    cfg.model.backbone.init_cfg = None
    cfg.model.cls_head.init_std = paper.model.cls_head.init_std
    for loader in (cfg.train_dataloader, cfg.test_dataloader):
        loader.dataset.ann_file = osp.join(demo_root, 'videos', 'train_list.txt')
        loader.dataset.data_prefix = dict(video=osp.join(demo_root, 'videos'))
    cfg.train_dataloader.batch_size = 4
    warm, cosine = (dict(p) for p in paper.param_scheduler)  # 1 warm-up epoch, then cosine
    cfg.param_scheduler = [dict(warm, end=1), dict(cosine, T_max=1, begin=1, end=2)]
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=2, val_interval=10)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.work_dir = str(tmp_path)
    cfg.log_level = 'WARNING'
    cfg.default_hooks.logger.interval = 1
    cfg.randomness = dict(seed=0)
    runner = Runner.from_cfg(cfg)
    runner.train()
    logs = runner.message_hub.log_scalars
    loss = logs['train/loss'].data[0]
    assert len(loss) == 4 and np.isfinite(loss).all()  # 8 videos / 4 = 2 iterations x 2 epochs
    lr = logs['train/lr'].data[0]
    peak = lr[1]  # 2 warm-up iterations: ~0, then the peak (the first group's, layer-scaled)
    assert lr[0] == pytest.approx(1e-8 * peak) and lr[2] == pytest.approx(peak) and lr[3] < peak


# --- randomness per rank (issue 24, item 1) ---------------------------------------------

TINY_FINETUNES = ('configs/tiny/finetune_video_tiny.py', 'configs/tiny/finetune_image_tiny.py')


def _tiny_batch(path):
    """A fixed batch of 4 samples with labels 0..3 (video: 2 views each), the same on
    every rank, so that only the ranks' own random draws can make their steps differ."""
    gen = torch.Generator().manual_seed(0)
    if 'video' in path:
        from mmaction.structures import ActionDataSample
        inputs = [torch.randint(0, 256, (2, 3, 8, 32, 32), generator=gen, dtype=torch.uint8)
                  for _ in range(4)]
        samples = [ActionDataSample().set_gt_label(torch.tensor(i)) for i in range(4)]
    else:
        from mmpretrain.structures import DataSample
        inputs = [torch.randint(0, 256, (3, 32, 32), generator=gen, dtype=torch.uint8)
                  for _ in range(4)]
        samples = [DataSample().set_gt_label(i) for i in range(4)]
    return dict(inputs=inputs, data_samples=samples)


def _one_fine_tune_step(path, work_dir, randomness):
    """One training step of the tiny fine-tune config through MMEngine's Runner on this
    rank (DDP over gloo), recording every random draw of the step that the ranks could
    share: the blending chosen, its output (lam, pairing and box are in the mixed labels
    and images) and the drop-path masks of every block."""
    from mmengine.runner import Runner
    cfg = Config.fromfile(osp.join(ROOT, path))
    cfg.model.backbone.init_cfg = None
    cfg.launcher, cfg.work_dir, cfg.log_level = 'pytorch', work_dir, 'WARNING'
    cfg.env_cfg.dist_cfg = dict(backend='gloo')
    cfg.experiment_name = f'{osp.basename(path)}-{randomness}'
    if randomness is not None:
        cfg.randomness = randomness
    runner = Runner.from_cfg(cfg)
    model = runner.model.module
    record = dict(blend=[], drop=[])
    pre = model.data_preprocessor
    blending = getattr(pre, 'blending', None) or pre.batch_augments
    for aug in blending.augments:
        name = 'do_blending' if hasattr(aug, 'do_blending') else 'mix'

        def recorded(*args, _orig=getattr(aug, name), _kind=type(aug).__name__, **kwargs):
            imgs, labels = _orig(*args, **kwargs)
            record['blend'].append((_kind, labels.tolist(), float(imgs.double().sum())))
            return imgs, labels
        setattr(aug, name, recorded)
    for module in model.backbone.modules():
        if getattr(module, 'drop_prob', 0) > 0:
            module.register_forward_hook(lambda m, i, out: record['drop'].append(
                (out.flatten(1) == 0).all(1).tolist()))
    optim_wrapper = runner.build_optim_wrapper(cfg.optim_wrapper)
    runner.model.train_step(_tiny_batch(path), optim_wrapper)
    record['weights'] = float(sum(p.double().sum() for p in model.parameters()))
    return record


def _rank_main(rank, port, work_dir, queue):
    import os
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port), RANK=str(rank),
                      LOCAL_RANK=str(rank), WORLD_SIZE='2')
    torch.set_num_threads(1)
    import torch.distributed as dist
    from amd_mm.compat import enable_cpu_distributed
    enable_cpu_distributed('pytorch')  # as tools/train.py without CUDA (in this child only)
    dist.init_process_group('gloo', rank=rank, world_size=2)
    try:
        out = {(path, str(randomness)): _one_fine_tune_step(path, work_dir, randomness)
               for path in TINY_FINETUNES
               for randomness in (None, dict(seed=0, diff_rank_seed=False))}
        queue.put((rank, out))
    except BaseException as err:  # the parent reports it
        queue.put((rank, repr(err)))
        raise
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_each_rank_draws_its_own_mixup_cutmix_and_drop_path(tmp_path):
    """Two processes (gloo) each run one fine-tuning step of the tiny video (mmaction2)
    and image (mmpretrain) configs on the same batch: with the runtime of the configs
    (seed + rank, as run_class_finetuning.py:390-392) the ranks draw different blendings
    and drop-path masks; the control with every rank seeded alike draws the same.
    Weights stay equal across ranks either way (DDP)."""
    import multiprocessing
    from conftest import free_port
    for path in TINY_FINETUNES + (K400_S, SSV2_B, UCF, HMDB, IN1K_B):
        assert load(path).randomness == dict(seed=0, diff_rank_seed=True), path
    ctx = multiprocessing.get_context('fork')
    queue, port = ctx.Queue(), free_port()
    procs = [ctx.Process(target=_rank_main, args=(r, port, str(tmp_path), queue)) for r in range(2)]
    for p in procs:
        p.start()
    results = dict(queue.get(timeout=300) for _ in procs)
    for p in procs:
        p.join(60)
    assert all(isinstance(r, dict) for r in results.values()), results
    for path in TINY_FINETUNES:
        per_rank = [results[r][(path, 'None')] for r in range(2)]
        alike = [results[r][(path, str(dict(seed=0, diff_rank_seed=False)))] for r in range(2)]
        for rec in per_rank + alike:
            # one step; drop path in 3 blocks or more
            assert len(rec['blend']) == 1 and len(rec['drop']) >= 3, (path, rec)
        # seed + rank: another blending (kind, weight, partners, box) and other masks
        assert per_rank[0]['blend'] != per_rank[1]['blend'], path
        assert per_rank[0]['drop'] != per_rank[1]['drop'], path
        assert alike[0]['blend'] == alike[1]['blend'] and alike[0]['drop'] == alike[1]['drop'], path
        assert per_rank[0]['weights'] == per_rank[1]['weights'], path
        assert alike[0]['weights'] == alike[1]['weights'], path
