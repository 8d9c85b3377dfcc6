"""The video pipeline on real mp4 files decoded by decord."""
import os.path as osp
import shutil

import numpy as np
import pytest
import torch
from mmaction.registry import DATASETS, TRANSFORMS
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
    from amd_mm.utils.demo_data import write_video
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
