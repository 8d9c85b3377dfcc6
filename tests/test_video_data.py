"""The video pipeline on real mp4 files decoded by decord."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmaction.registry import DATASETS, MODELS
from mmengine.registry import init_default_scope

from amd_mm.datasets import BadVideoError

PIPE = [
    dict(type='SampleFrames', clip_len=8, frame_interval=2, num_clips=1),
    dict(type='DecordDecode'),
    dict(type='RepeatAugment', num_repeats=3, transforms=[
        dict(type='MultiScaleCrop', input_size=32, scales=(1, 0.875, 0.75, 0.66),
             random_crop=False, max_wh_scale_gap=1),
        dict(type='Resize', scale=(32, 32), keep_ratio=False)]),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]


def dataset(demo_root, ann=None, on_bad='error', min_frames=16):
    init_default_scope('mmaction')
    return DATASETS.build(dict(
        type='VideoDataset', ann_file=ann or osp.join(demo_root, 'videos', 'train_list.txt'),
        data_prefix=dict(video=osp.join(demo_root, 'videos')),
        pipeline=[dict(type='CheckedDecordInit', min_frames=min_frames, on_bad=on_bad)] + PIPE))


def test_repeat_augment_gives_views_of_one_decoded_clip(demo_root):
    sample = dataset(demo_root)[0]
    x = sample['inputs']
    assert x.shape == (3, 3, 8, 32, 32) and x.dtype == torch.uint8
    assert x.float().std() > 10  # real pixels, not a blank clip
    # views share frames but each draws its own crop: at least two views differ
    assert any(not torch.equal(x[0], x[i]) for i in (1, 2))


def test_repeat_augment_decodes_once(demo_root, monkeypatch):
    from mmaction.datasets.transforms import DecordDecode
    calls = []
    original = DecordDecode.transform
    monkeypatch.setattr(DecordDecode, 'transform', lambda self, r: calls.append(1) or original(self, r))
    dataset(demo_root)[1]
    assert calls == [1]


@pytest.fixture
def bad_list(demo_root, tmp_path):
    videos = osp.join(demo_root, 'videos')
    with open(osp.join(videos, 'bad_corrupt.mp4'), 'wb') as f:
        f.write(b'\x00\x00\x00\x18ftypmp42' + bytes(range(256)) * 4)
    from amd_mm.tools_lib.demo_data import write_video
    write_video(osp.join(videos, 'bad_short.mp4'), np.full((6, 64, 64, 3), 120, np.uint8))
    ann = tmp_path / 'list.txt'
    ann.write_text('bad_corrupt.mp4 0\nbad_short.mp4 1\ntrain/0000.mp4 0\n')
    return str(ann)


def test_corrupt_video_error_names_the_file(demo_root, bad_list):
    ds = dataset(demo_root, ann=bad_list)
    with pytest.raises(BadVideoError, match=r'bad_corrupt.mp4: cannot be decoded by decord'):
        ds.prepare_data(0)


def test_short_video_error_names_the_file_and_the_need(demo_root, bad_list):
    ds = dataset(demo_root, ann=bad_list)
    with pytest.raises(BadVideoError, match=r'bad_short.mp4: 6 frames, fewer than the 16 the clip needs'):
        ds.prepare_data(1)


def test_skip_mode_logs_and_draws_another_real_sample(demo_root, bad_list, caplog):
    ds = dataset(demo_root, ann=bad_list, on_bad='skip')
    assert ds.prepare_data(0) is None and ds.prepare_data(1) is None
    init = ds.pipeline.transforms[0]
    assert init.num_skipped == 2
    # MMEngine's dataset re-fetches another index in training: only the good video remains
    torch.manual_seed(0)
    for _ in range(3):
        sample = ds[0]
        assert sample['inputs'].shape == (3, 3, 8, 32, 32)
        assert sample['inputs'].float().std() > 10  # the real moving digit, not a blank clip
    assert init.num_skipped >= 2


def test_rawframes_alternative(demo_root):
    init_default_scope('mmaction')
    ds = DATASETS.build(dict(
        type='RawframeDataset', ann_file=osp.join(demo_root, 'rawframes', 'train_list.txt'),
        data_prefix=dict(img=osp.join(demo_root, 'rawframes')), filename_tmpl='img_{:05d}.jpg',
        pipeline=[dict(type='SampleFrames', clip_len=8, frame_interval=2, num_clips=1),
                  dict(type='RawFrameDecode')] + PIPE[2:]))
    assert ds[0]['inputs'].shape == (3, 3, 8, 32, 32)


# -- the study's motion task (amd_mm.tools_lib.study_data.make_photo_motion) ---------------
@pytest.fixture(scope='module')
def motion_root(tmp_path_factory):
    from amd_mm.tools_lib.study_data import make_photo_motion
    root = str(tmp_path_factory.mktemp('motion'))
    assert make_photo_motion(root, num_train=16, num_val=8) == dict(train=16, val=8)
    return osp.join(root, 'photomotion')


def motion_dataset(motion_root):
    init_default_scope('mmaction')
    return DATASETS.build(dict(
        type='RawframeDataset', ann_file=osp.join(motion_root, 'train_list.txt'),
        data_prefix=dict(img=motion_root), filename_tmpl='img_{:05}.png', test_mode=True,
        pipeline=[dict(type='SampleFrames', clip_len=8, frame_interval=2, num_clips=1, test_mode=True),
                  dict(type='CheckedRawFrameDecode', min_frames=16),
                  dict(type='FormatShape', input_format='NCTHW'),
                  dict(type='PackActionInputs')]))


def test_motion_clips_are_lossless_frames_with_balanced_classes(motion_root):
    from PIL import Image
    from amd_mm.tools_lib.study_data import MOTIONS
    labels = [int(line.split()[2]) for line in open(osp.join(motion_root, 'train_list.txt'))]
    assert sorted(labels) == sorted(list(range(len(MOTIONS))) * 2)
    first = np.asarray(Image.open(osp.join(motion_root, 'train', '0000', 'img_00001.png')))
    assert first.shape == (32, 32, 3) and first.std() > 10  # a photo crop, not a flat colour
    clip = motion_dataset(motion_root)[0]['inputs'].float()  # (1, 3, 8, 32, 32), as the study reads it
    assert clip.shape == (1, 3, 8, 32, 32)
    assert torch.equal(clip[0, :, 0].permute(1, 2, 0).to(torch.uint8), torch.from_numpy(first))  # PNG: lossless
    assert (clip[0, :, 0] - clip[0, :, -1]).abs().mean() > 1  # the object moved


def test_motion_classes_are_time_reversals_and_do_what_they_say():
    """Each odd class replays a clip of the even class before it backwards, so the frames
    without their order cannot tell the two apart; the even classes move as named."""
    from amd_mm.tools_lib.study_data import MOTIONS, motion_states
    for even in range(0, len(MOTIONS), 2):
        forward = motion_states(even, 16, 64, np.random.default_rng(5))
        backward = motion_states(even + 1, 16, 64, np.random.default_rng(5))
        for f, b in zip(forward, backward):
            assert np.array_equal(b, f[::-1]), MOTIONS[even]
    rng = np.random.default_rng(0)
    for _ in range(10):
        centre, angle, scale = motion_states(MOTIONS.index('move_right'), 16, 64, rng)
        x, y = centre.T
        assert x[-1] > x[0] + 10 and np.ptp(y) == 0 and np.ptp(angle) == 0 and np.ptp(scale) == 0
        centre, angle, scale = motion_states(MOTIONS.index('rotate_cw'), 16, 64, rng)
        assert angle[-1] < angle[0] - 80 and np.ptp(centre, axis=0).max() == 0 and np.ptp(scale) == 0
        centre, angle, scale = motion_states(MOTIONS.index('zoom_in'), 16, 64, rng)
        assert scale[-1] > 1.7 * scale[0] and np.ptp(angle) == 0


def test_one_frame_looks_alike_in_every_class():
    """A frame's position, angle and size have the same distribution whatever the class
    (two-sample Kolmogorov-Smirnov distance of the per-frame states, 2000 clips a class)."""
    from amd_mm.tools_lib.study_data import MOTIONS, motion_states
    rng = np.random.default_rng(1)

    def frames(motion):
        states = [motion_states(motion, 16, 64, rng) for _ in range(2000)]
        pick = rng.integers(16, size=len(states))
        return np.array([[c[t, 0], c[t, 1], a[t] % 360, s[t]] for (c, a, s), t in zip(states, pick)])

    def ks(a, b):
        grid = np.sort(np.concatenate([a, b]))
        return np.abs(np.searchsorted(np.sort(a), grid, 'right') / len(a)
                      - np.searchsorted(np.sort(b), grid, 'right') / len(b)).max()

    ref = frames(0)
    for motion in range(2, len(MOTIONS), 2):
        other = frames(motion)
        assert max(ks(ref[:, k], other[:, k]) for k in range(4)) < 0.07, MOTIONS[motion]


@pytest.mark.parametrize('mode', ['shuffle', 'single'])
def test_temporal_control_keeps_the_frames_and_removes_their_order(motion_root, mode):
    """The controls' preprocessor: each clip keeps its frames but loses their order
    ('shuffle'), or becomes one of its frames repeated ('single'), in training and test."""
    from mmengine.dataset import pseudo_collate
    ds = motion_dataset(motion_root)
    plain = MODELS.build(dict(type='ViewsAsSamplesPreprocessor', format_shape='NCTHW'))
    control = MODELS.build(dict(type='ViewsAsSamplesPreprocessor', format_shape='NCTHW',
                                temporal_control=mode))
    batch = pseudo_collate([ds[i] for i in range(4)])
    torch.manual_seed(0)
    for training in (True, False):
        ref = plain(batch, training)['inputs']
        out = control(batch, training)['inputs']  # (B, 1, C, T, H, W)
        assert out.shape == ref.shape == (4, 1, 3, 8, 32, 32)
        for clip, original in zip(out[:, 0], ref[:, 0]):
            frames = [original[:, t] for t in range(8)]
            seen = [next(i for i, f in enumerate(frames) if torch.equal(f, clip[:, t])) for t in range(8)]
            if mode == 'shuffle':  # the same frames, another order
                assert sorted(seen) == list(range(8)) and seen != list(range(8))
            else:  # one of the clip's frames, repeated
                assert len(set(seen)) == 1


def test_temporal_control_names_a_bad_mode():
    with pytest.raises(ValueError, match="data_preprocessor.temporal_control='reverse'"):
        MODELS.build(dict(type='ViewsAsSamplesPreprocessor', temporal_control='reverse'))
