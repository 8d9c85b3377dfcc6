"""Bad input ends in one sentence naming the file and line, or the config key: list files,
raw-frame folders, misspelled keys, --cfg-options, teacher.dtype, --amp without a GPU.
Internal errors keep their traceback."""
import glob
import os
import os.path as osp
import re
import shutil
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config

from conftest import ROOT, TINY_VIDEO_TEACHER, build_image_amd

sys.path.insert(0, osp.join(ROOT, 'tools'))
import train  # noqa: E402  (tools/train.py, in process)

from amd_mm.datasets import BadVideoError, ListFileError, check_datasets  # noqa: E402
from amd_mm.tools_lib.cli import run_main  # noqa: E402
from amd_mm.tools_lib.config_check import accepted_args, check_keys  # noqa: E402

VIDEO_CFG = 'configs/tiny/videomae_teacher_video_tiny.py'


def video_cfg(demo_root, ann, **dataset):
    return Config(dict(default_scope='mmaction', train_dataloader=dict(dataset=dict(
        dict(type='VideoDataset', ann_file=str(ann),
             data_prefix=dict(video=osp.join(demo_root, 'videos')), pipeline=[]), **dataset))))


def write(tmp_path, text, name='list.txt'):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def train_cli(argv, capsys):
    """tools/train.py as a user runs it, in process: (exit code, last stderr line)."""
    with pytest.raises(SystemExit) as exit_info:
        run_main(train.main, argv)
    return exit_info.value.code, capsys.readouterr().err.strip().splitlines()


# -- list files --------------------------------------------------------------------------
BAD_VIDEO_LISTS = {
    'empty': ('', r"is empty: no samples \(VideoDataset expects"),
    'non-integer label': ('train/0000.mp4 0\ntrain/0001.mp4 one\n',
                          r"line 2: label 'one' is not an integer: 'train/0001.mp4 one'"),
    'too many fields': ('train/0000.mp4 0 1\n', r'line 1: 3 fields where one label is expected'),
    'double space': ('train/0000.mp4  0\n', r'line 1: empty field \(two delimiters'),
    'blank line': ('train/0000.mp4 0\n\ntrain/0001.mp4 1\n', r'line 2: blank line'),
}


@pytest.mark.parametrize('case', BAD_VIDEO_LISTS)
def test_bad_video_list_names_file_and_line(demo_root, tmp_path, case):
    text, message = BAD_VIDEO_LISTS[case]
    ann = write(tmp_path, text)
    with pytest.raises(ListFileError, match=r"^train_dataloader\.dataset\.ann_file '" + str(ann)
                       + "'.*" + message):
        check_datasets(video_cfg(demo_root, ann))


def test_the_toolbox_reader_alone_fails_late_or_without_the_line(demo_root, tmp_path):
    """The faults the checks exist for, as mmaction2's VideoDataset shows them."""
    from mmaction.datasets import VideoDataset
    prefix = dict(video=osp.join(demo_root, 'videos'))
    with pytest.raises(ValueError, match='need at least one array to concatenate'):
        VideoDataset(write(tmp_path, '', 'a.txt'), pipeline=[], data_prefix=prefix)
    with pytest.raises(ValueError, match='invalid literal for int'):
        VideoDataset(write(tmp_path, 'x.mp4 one\n', 'b.txt'), pipeline=[], data_prefix=prefix)
    # a blank line becomes a sample whose file is the video folder itself
    ds = VideoDataset(write(tmp_path, 'train/0000.mp4 0\n\n', 'c.txt'), pipeline=[],
                      data_prefix=prefix)
    assert len(ds) == 2 and ds.get_data_info(1)['filename'] == prefix['video'] + '/'


def test_rawframe_and_image_lists(demo_root, tmp_path):
    frames = osp.join(demo_root, 'rawframes')

    def raw(text, **kw):
        return Config(dict(default_scope='mmaction', val_dataloader=dict(dataset=dict(
            type='RawframeDataset', ann_file=write(tmp_path, text), data_prefix=dict(img=frames),
            pipeline=[], **kw))))

    check_datasets(raw(open(osp.join(frames, 'train_list.txt')).read()))  # the demo list is fine
    for text, message in (('train/0000 32.5 0\n', r"line 1: frame count '32.5' is not an integer"),
                          ('train/0000 0 0\n', r'line 1: frame count 0: the folder has no frames'),
                          ('train/0000 32 0 1\n', r'line 1: 4 fields where one label is expected'),
                          ('train/0000\n', r'line 1: 1 field\(s\) where at least 2 are expected')):
        with pytest.raises(ListFileError, match=r"^val_dataloader\.dataset\.ann_file .*" + message):
            check_datasets(raw(text))
    # a wrong filename_tmpl: no listed folder holds a first frame of that name
    with pytest.raises(ListFileError, match=r'none of the 8 first frames checked exists \(line 1 '
                       r"gives '.*train/0000/frame_0001\.png'\); check .* filename_tmpl"):
        check_datasets(raw(open(osp.join(frames, 'train_list.txt')).read(),
                           filename_tmpl='frame_{:04d}.png'))

    images = Config(dict(default_scope='mmpretrain', train_dataloader=dict(dataset=dict(
        type='CustomDataset', data_root=osp.join(demo_root, 'images'), data_prefix='train',
        ann_file='meta/train.txt', pipeline=[]))))
    check_datasets(images)
    images.train_dataloader.dataset.ann_file = write(tmp_path, 'digit_0/00000.jpg\n', 'img.txt')
    with pytest.raises(ListFileError, match=r"line 1: no label \(with_label=True"):
        check_datasets(images)


def test_wrong_data_prefix_and_missing_list(demo_root, tmp_path):
    ann = osp.join(demo_root, 'videos', 'train_list.txt')
    with pytest.raises(ListFileError, match=r"none of the 8 files checked exists \(line 1 gives "
                       r"'/nowhere/train/0000\.mp4'\); check data_root / data_prefix"):
        check_datasets(video_cfg(demo_root, ann, data_prefix=dict(video='/nowhere')))
    with pytest.raises(ListFileError, match=r"ann_file 'missing\.txt' does not exist \(relative to "
                       'the current directory'):
        check_datasets(video_cfg(demo_root, 'missing.txt'))


def test_wrappers_are_followed_and_custom_readers_left_alone(demo_root, tmp_path):
    from mmaction.datasets import VideoDataset
    from mmaction.registry import DATASETS
    bad = write(tmp_path, 'train/0000.mp4 zero\n')
    cfg = video_cfg(demo_root, bad)
    cfg.train_dataloader.dataset = dict(type='ConcatDataset', datasets=[
        dict(type='RepeatDataset', times=2, dataset=cfg.train_dataloader.dataset)])
    with pytest.raises(ListFileError, match=r'^train_dataloader\.dataset\.datasets\.0\.dataset\.'
                       r"ann_file .* line 1: label 'zero'"):
        check_datasets(cfg)

    @DATASETS.register_module(force=True)
    class CommaVideos(VideoDataset):  # its own format: not judged by VideoDataset's rules
        def load_data_list(self):
            return []

    check_datasets(video_cfg(demo_root, bad, type='CommaVideos'))


def test_train_tool_reports_a_bad_list_in_one_line(demo_root, tmp_path, capsys):
    ann = write(tmp_path, 'train/0000.mp4 0\ntrain/0001.mp4 1 extra\n')
    code, err = train_cli([VIDEO_CFG, '--work-dir', str(tmp_path / 'w'), '--cfg-options',
                           f'train_dataloader.dataset.ann_file={ann}',
                           f'train_dataloader.dataset.data_prefix.video={demo_root}/videos'],
                          capsys)
    assert code == 2
    assert err[-2].startswith(f"ListFileError: train_dataloader.dataset.ann_file '{ann}', line 2: "
                              '3 fields where one label is expected')
    assert not osp.exists(tmp_path / 'w')  # refused before the runner made its work_dir


def test_all_bad_videos_with_skip_stop_with_the_last_file(demo_root, tmp_path):
    from mmaction.registry import DATASETS
    from mmengine.registry import init_default_scope
    init_default_scope('mmaction')
    lines = ''.join(f'gone/{i}.mp4 0\n' for i in range(5))
    ds = DATASETS.build(dict(type='VideoDataset', ann_file=write(tmp_path, lines),
                             data_prefix=dict(video=str(tmp_path)),
                             pipeline=[dict(type='CheckedDecordInit', on_bad='skip')]))
    # MMEngine alone would redraw 1000 times, then say "Cannot find valid image"
    with pytest.raises(BadVideoError, match=r"^100 videos in a row were bad \(on_bad='skip'\), "
                       r'the last one .*/gone/\d\.mp4: cannot be decoded by decord.*'
                       r'check the list file'):
        ds[0]
    assert ds.pipeline.transforms[0].num_skipped == 100


def test_a_good_sample_resets_the_bad_run(demo_root, tmp_path):
    from mmaction.registry import TRANSFORMS
    init = TRANSFORMS.build(dict(type='CheckedDecordInit', on_bad='skip'))
    good = dict(filename=osp.join(demo_root, 'videos', 'train', '0000.mp4'))
    for _ in range(3):
        for _ in range(60):  # 180 bad in all, never 100 in a row
            assert init(dict(filename=str(tmp_path / 'gone.mp4'))) is None
        assert init(dict(good))['total_frames'] == 32
    assert init.num_skipped == 180 and init.bad_in_a_row == 0


# -- raw frames --------------------------------------------------------------------------
def frame_results(folder, total, inds, clip_len=8, interval=1):
    return dict(frame_dir=folder, total_frames=total, filename_tmpl='img_{:05d}.jpg',
                modality='RGB', start_index=1, frame_inds=np.asarray(inds), clip_len=clip_len,
                frame_interval=interval, num_clips=1, offset=0)


@pytest.fixture
def short_folder(demo_root, tmp_path):
    """A 6-frame copy of a demo frame folder (the clip needs 8 x 2 = 16)."""
    folder = tmp_path / 'short'
    folder.mkdir()
    for i in range(1, 7):
        shutil.copy(osp.join(demo_root, 'rawframes', 'train', '0000', f'img_{i:05d}.jpg'), folder)
    return str(folder)


def sample(folder, total, **sample_frames):
    from mmaction.registry import TRANSFORMS
    sampler = TRANSFORMS.build(dict(type='SampleFrames', clip_len=8, frame_interval=2, num_clips=1,
                                    **sample_frames))
    return sampler(dict(frame_dir=folder, total_frames=total, filename_tmpl='img_{:05d}.jpg',
                        modality='RGB', start_index=1, offset=0))


def test_short_frame_folder_is_refused_or_padded_never_looped(short_folder):
    from mmaction.registry import TRANSFORMS
    # the fault: SampleFrames' default silently loops back to the first frame
    looped = sample(short_folder, 6)
    assert (np.diff(looped['frame_inds']) < 0).any()
    plain = TRANSFORMS.build(dict(type='RawFrameDecode'))(dict(looped))
    assert len(plain['imgs']) == 8

    checked = TRANSFORMS.build(dict(type='CheckedRawFrameDecode'))
    with pytest.raises(BadVideoError, match=r'short: 6 frames, fewer than the clip needs '
                       r'\(8 x 2\), and SampleFrames looped back .*out_of_bound_opt=.repeat_last.'):
        checked(dict(looped))
    strict = TRANSFORMS.build(dict(type='CheckedRawFrameDecode', min_frames=16))
    with pytest.raises(BadVideoError, match=r'short: 6 frames, fewer than the 16 the clip needs'):
        strict(sample(short_folder, 6, out_of_bound_opt='repeat_last'))
    # padding as the official loader: the last sampled frame repeated, in order
    padded = checked(sample(short_folder, 6, out_of_bound_opt='repeat_last'))
    inds = padded['frame_inds']
    assert (np.diff(inds) >= 0).all() and inds.max() <= 6 and len(padded['imgs']) == 8
    assert (inds[-4:] == inds[-5]).all()
    assert np.array_equal(padded['imgs'][-1], padded['imgs'][-2])
    skip = TRANSFORMS.build(dict(type='CheckedRawFrameDecode', on_bad='skip'))
    assert skip(dict(looped)) is None and skip.num_skipped == 1


def test_list_longer_than_the_folder_names_the_missing_frame(short_folder):
    from mmaction.registry import TRANSFORMS
    checked = TRANSFORMS.build(dict(type='CheckedRawFrameDecode'))
    with pytest.raises(BadVideoError, match=r'short/img_00007\.jpg: no such frame; the list gives '
                       r'.*short 32 frames and the folder holds 6 files'):
        checked(frame_results(short_folder, 32, np.arange(1, 9)))
    with pytest.raises(BadVideoError, match=r'nowhere: no such frame folder'):
        checked(frame_results(short_folder + '/nowhere', 32, np.arange(1, 9)))


def test_truncated_frame_names_its_file(short_folder):
    from mmaction.registry import TRANSFORMS
    bad = osp.join(short_folder, 'img_00003.jpg')
    data = open(bad, 'rb').read()
    with open(bad, 'wb') as f:
        f.write(data[:len(data) // 2])
    results = frame_results(short_folder, 6, np.arange(1, 7), clip_len=6)
    # the fault: OpenCV 5 refuses it inside a colour conversion that names no file (older
    # OpenCV builds decode it into a grey-filled picture without a word)
    with pytest.raises(Exception) as plain:
        TRANSFORMS.build(dict(type='RawFrameDecode'))(dict(results))
    assert 'img_00003' not in str(plain.value)
    checked = TRANSFORMS.build(dict(type='CheckedRawFrameDecode'))
    with pytest.raises(BadVideoError, match=r'short/img_00003\.jpg: cannot be decoded \(OSError: '
                       r'image file is truncated'):
        checked(dict(results))


def test_checked_decode_of_good_frames_equals_pillow_decode(demo_root):
    from mmaction.registry import TRANSFORMS
    folder = osp.join(demo_root, 'rawframes', 'train', '0001')
    results = frame_results(folder, 32, np.array([1, 3, 5, 5, 9, 11, 13, 15]))
    ours = TRANSFORMS.build(dict(type='CheckedRawFrameDecode'))(dict(results))
    ref = TRANSFORMS.build(dict(type='RawFrameDecode', decoding_backend='pillow'))(dict(results))
    assert len(ours['imgs']) == 8 and ours['img_shape'] == ref['img_shape'] == (64, 64)
    for a, b in zip(ours['imgs'], ref['imgs']):
        assert np.array_equal(a, b)
    assert ours['imgs'][0].std() > 10  # real pixels


def test_rawframes_tiny_config_pipeline(demo_root):
    from mmaction.registry import DATASETS
    from mmengine.registry import init_default_scope
    cfg = Config.fromfile(osp.join(ROOT, 'configs/tiny/videomae_teacher_rawframes_tiny.py'))
    ds_cfg = cfg.train_dataloader.dataset
    ds_cfg.ann_file = osp.join(demo_root, 'rawframes', 'train_list.txt')
    ds_cfg.data_prefix.img = osp.join(demo_root, 'rawframes')
    check_datasets(cfg)
    init_default_scope('mmaction')
    ds = DATASETS.build(ds_cfg)
    assert ds.pipeline.transforms[1].min_frames == 16
    assert ds[0]['inputs'].shape == (2, 3, 8, 32, 32)


# -- config keys -------------------------------------------------------------------------
def tool_cfg(*options, config='configs/tiny/amd_video_tiny.py'):
    return train.build_config(train.parse_args([config, '--cfg-options', *options]))


@pytest.mark.parametrize('option, message', [
    ('model.student_layer=[2,4]',
     'model.student_layer is not an argument of VideoAMD; did you mean model.student_layers?'),
    ('model.decoder.dpeth=2',
     'model.decoder.dpeth is not an argument of PixelDecoder; did you mean model.decoder.depth?'),
    ('model.teacher.backbone.embed_dim=96',  # mmaction2's ViT would ignore it without a word
     'model.teacher.backbone.embed_dim is not an argument of MaskedVideoViT; '
     'did you mean model.teacher.backbone.embed_dims?'),
    ('train_cfg.max_epoch=2', 'train_cfg.max_epoch is not an argument of '
     'ResumableEpochBasedTrainLoop; did you mean train_cfg.max_epochs?'),
])
def test_misspelled_key_names_the_nearest_valid_one(option, message):
    import re
    with pytest.raises(ValueError, match='^' + re.escape(message) + '$'):
        check_keys(tool_cfg(option))


def test_every_config_passes_the_key_check():
    import glob
    for path in sorted(glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)):
        if f'{os.sep}_base_{os.sep}' not in path:
            check_keys(Config.fromfile(path))


def test_kwargs_chains_are_followed_only_through_super():
    class Base:
        def __init__(self, a=1):
            pass

    class Forwards(Base):
        def __init__(self, b=2, **kwargs):
            super().__init__(**kwargs)

    class Elsewhere(Base):
        def __init__(self, b=2, **kwargs):
            super().__init__()
            self.part = dict(**kwargs)

    class Swallows(Base):
        def __init__(self, c=3, **kwargs):
            super().__init__(a=0)

    assert accepted_args(Forwards) == {'a', 'b'}
    assert accepted_args(Elsewhere) is None  # cannot be known: nothing is refused
    assert accepted_args(Swallows) == {'c'}  # other keys would be ignored without a word


@pytest.mark.parametrize('option, message', [
    ('train_cfg.max_epochs=abc', '--cfg-options train_cfg.max_epochs=abc: not a number, and the '
                                 'config holds an integer there (4)'),
    ('train_dataloader.persistent_workers=no', '--cfg-options train_dataloader.persistent_workers='
                                               'no: the config holds true/false there (False)'),
    ('train_cfg.max_epochs', "--cfg-options 'train_cfg.max_epochs': expected KEY=VALUE"),
    ('model.student_layers=[2,4', '--cfg-options model.student_layers=[2,4: unbalanced brackets'),
    ('model.student_layers=(2,4]', '--cfg-options model.student_layers=(2,4]: unbalanced brackets'),
])
def test_bad_cfg_options_name_the_key(option, message, capsys):
    code, err = train_cli([VIDEO_CFG, '--cfg-options', option], capsys)
    assert code == 2 and err[-2].startswith('ValueError: ' + message), err


def test_new_top_level_key_points_at_the_key_it_resembles(capsys):
    cfg = tool_cfg('max_epochs=2', config=VIDEO_CFG)
    assert cfg.max_epochs == 2 and cfg.train_cfg.max_epochs == 4  # added, as MMEngine does
    assert ('warning: --cfg-options max_epochs: the config has no such key (a new one is added); '
            'did you mean train_cfg.max_epochs?') in capsys.readouterr().err


def test_invalid_teacher_dtype_is_one_sentence():
    from amd_mm.registry import MMACTION_MODELS
    from amd_mm.utils.errors import is_user_error
    with pytest.raises(ValueError) as info:
        MMACTION_MODELS.build(dict(type='FrozenTeacher', backbone=TINY_VIDEO_TEACHER, dtype='bf16'))
    assert str(info.value).endswith("teacher.dtype='bf16' is not one of 'bfloat16', 'float16' or "
                                    'None (fp32).')
    assert is_user_error(info.value)  # re-raised by MMEngine's builder, still ours


# -- which errors are shortened ----------------------------------------------------------
def test_internal_errors_keep_their_traceback(capsys):
    def internal(argv):
        return int('not a number')  # a failing operation, not a raise of the project

    with pytest.raises(ValueError, match='invalid literal'):
        run_main(internal)

    def toolbox(argv):
        from mmaction.datasets import VideoDataset
        VideoDataset(__file__, pipeline=[])  # this file is no list: the reader fails inside

    with pytest.raises(ValueError):
        run_main(toolbox)


# -- mixed precision ---------------------------------------------------------------------
def test_amp_on_cpu_says_it_needs_a_gpu(monkeypatch, capsys, tmp_path):
    import amd_mm.engine.optim_wrapper as ow
    monkeypatch.setattr(ow, 'amp_device_available', lambda: False)
    code, err = train_cli([VIDEO_CFG, '--amp', '--work-dir', str(tmp_path)], capsys)
    assert code == 2
    assert err[-2] == ("ValueError: --amp: MMEngine's mixed precision (AmpOptimWrapper) needs a "
                       'GPU (CUDA, NPU, MLU or MUSA) and this machine has none; train without '
                       '--amp (fp32) on CPU.')


def test_amp_config_on_cpu_names_the_key(monkeypatch):
    import amd_mm.engine.optim_wrapper as ow
    from amd_mm.tools_lib.config_check import check_amp_device
    cfg = Config(dict(default_scope='mmpretrain', optim_wrapper=dict(  # as the paper-scale configs
        type='AmpOptimWrapper', loss_scale='dynamic', optimizer=dict(type='AdamW', lr=1e-3))))
    monkeypatch.setattr(ow, 'amp_device_available', lambda: False)
    with pytest.raises(ValueError, match=r"^optim_wrapper.type=AmpOptimWrapper: MMEngine's mixed "
                       r'precision .* needs a GPU'):
        check_amp_device(cfg)
    monkeypatch.setattr(ow, 'amp_device_available', lambda: True)
    check_amp_device(cfg)


def test_amp_keeps_the_guard(monkeypatch):
    import amd_mm.engine.optim_wrapper as ow
    monkeypatch.setattr(ow, 'amp_device_available', lambda: True)
    cfg = train.build_config(train.parse_args([VIDEO_CFG, '--amp', '--cfg-options',
                                               'optim_wrapper.on_nonfinite=skip']))
    assert cfg.optim_wrapper.type == 'NonFiniteGuardAmpOptimWrapper'
    assert cfg.optim_wrapper.on_nonfinite == 'skip' and cfg.optim_wrapper.loss_scale == 'dynamic'
    cfg = tool_cfg('optim_wrapper.type=OptimWrapper', 'optim_wrapper.on_nonfinite=None',
                   config=VIDEO_CFG)
    assert ow.enable_amp(cfg) is None and cfg.optim_wrapper.type == 'AmpOptimWrapper'
    cfg.optim_wrapper.type = 'ZeroRedundancyOptimizer'
    with pytest.raises(ValueError, match="--amp: optim_wrapper.type='ZeroRedundancyOptimizer' has "
                       'no known mixed-precision counterpart'):
        ow.enable_amp(cfg)


def amp_wrapper(model, on_nonfinite):
    from mmengine.optim import build_optim_wrapper
    return build_optim_wrapper(model, dict(type='NonFiniteGuardAmpOptimWrapper',
                                           on_nonfinite=on_nonfinite,
                                           optimizer=dict(type='AdamW', lr=1e-2)))


def nan_batch(device='cpu'):
    return dict(inputs=torch.randint(0, 255, (4, 3, 32, 32), dtype=torch.uint8, device=device),
                data_samples=None)


def test_guard_under_amp_wrapper_on_cpu(monkeypatch):
    """As far as MMEngine allows on CPU: its device assertion patched, the grad scaler
    disabled by torch for want of CUDA, the forward pass under CPU (bf16) autocast."""
    import mmengine.optim.optimizer.amp_optimizer_wrapper as amp
    import amd_mm.engine.optim_wrapper as ow
    from amd_mm.engine import NonFiniteGuardAmpOptimWrapper, NonFiniteGuardOptimWrapper
    assert NonFiniteGuardAmpOptimWrapper.update_params is NonFiniteGuardOptimWrapper.update_params
    with pytest.raises(ValueError, match=r'^optim_wrapper.type=NonFiniteGuardAmpOptimWrapper: '
                       ".*needs a GPU.*; use NonFiniteGuardOptimWrapper \\(fp32\\) on CPU\\.$"):
        amp_wrapper(build_image_amd(), 'stop')
    monkeypatch.setattr(amp, 'is_cuda_available', lambda: True)
    monkeypatch.setattr(ow, 'amp_device_available', lambda: True)

    model = build_image_amd(loss_dir=dict(type='AlignLoss', loss_weight=float('nan')))
    wrapper = amp_wrapper(model, 'skip')
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train_step(nan_batch(), wrapper)  # a NaN loss_dir: no backward, so no bf16 backward
    assert wrapper.num_skipped == 1 and not wrapper.optimizer.state
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items()
               if k != 'mask_generator.step')
    with pytest.raises(FloatingPointError, match=r'non-finite loss at iter .*loss_dir=nan'):
        amp_wrapper(model, 'stop').update_params(torch.tensor(float('nan')))
    # a finite loss goes through AmpOptimWrapper's scaled backward and step
    linear = torch.nn.Linear(4, 1)
    wrapper = amp_wrapper(linear, 'stop')
    weight = linear.weight.detach().clone()
    wrapper.update_params(linear(torch.ones(2, 4)).sum())
    assert wrapper.num_skipped == 0 and not torch.equal(linear.weight, weight)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(),
                    reason='needs a CUDA GPU: real fp16 AMP with a grad scaler')
def test_guard_under_real_amp_on_gpu():
    model = build_image_amd(loss_dir=dict(type='AlignLoss', loss_weight=float('nan'))).cuda()
    wrapper = amp_wrapper(model, 'skip')
    scale = wrapper.loss_scaler.get_scale()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train_step(nan_batch('cuda'), wrapper)
    assert wrapper.num_skipped == 1 and not wrapper.optimizer.state
    assert wrapper.loss_scaler.get_scale() == scale  # the scaler was not touched
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items()
               if k != 'mask_generator.step')
    with pytest.raises(FloatingPointError, match='loss_dir=nan'):
        model.train_step(nan_batch('cuda'), amp_wrapper(model, 'stop'))
    good = build_image_amd().cuda()
    wrapper = amp_wrapper(good, 'stop')
    good.train_step(nan_batch('cuda'), wrapper)
    assert wrapper.optimizer.state and wrapper.num_skipped == 0


# -- fine-tuning sets: labels and images ------------------------------------------------------
IMAGE_LIST = 'digit_0/00012.jpg 0\ndigit_1/00009.jpg 12\n'  # files of the generated set


class _Classifier(torch.nn.Module):
    def __init__(self, key, num_classes):
        super().__init__()
        setattr(self, key, torch.nn.Module())
        getattr(self, key).num_classes = num_classes


def test_label_outside_the_classes_names_file_line_and_label(demo_root, tmp_path):
    """The fault: torch's 'Class values must be smaller than num_classes' mid-epoch, naming no
    file, line or label (mixup's one-hot of a fine-tuning batch)."""
    from mmengine.registry import DATASETS, DefaultScope
    from amd_mm.datasets.list_files import check_labels
    videos = write(tmp_path, 'train/0000.mp4 0\ntrain/0001.mp4 3\ntrain/0002.mp4 4\n')
    with DefaultScope.overwrite_default_scope('mmaction'):
        dataset = DATASETS.build(dict(type='VideoDataset', ann_file=videos, pipeline=[],
                                      data_prefix=dict(video=osp.join(demo_root, 'videos'))))
    with pytest.raises(ListFileError, match=rf"^train_dataloader.dataset.ann_file '{videos}', line 3: "
                                            r"label 4 of '.*train/0002.mp4' is outside \[0, "
                                            r'model.cls_head.num_classes=4\); fix the label'):
        check_labels(dataset, _Classifier('cls_head', 4))
    check_labels(dataset, _Classifier('cls_head', 5))
    images = write(tmp_path, IMAGE_LIST, 'images.txt')
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        dataset = DATASETS.build(dict(type='CustomDataset', ann_file=images, pipeline=[],
                                      data_root=osp.join(demo_root, 'images'), data_prefix='train'))
    with pytest.raises(ListFileError, match=r"ann_file '.*images.txt', line 2: label 12 of "
                                            r"'.*digit_1/00009.jpg' is outside \[0, "
                                            r'model.head.num_classes=10\)'):
        check_labels(dataset, _Classifier('head', 10))


def test_finetune_tool_refuses_a_label_outside_the_classes(demo_root, tmp_path, capsys):
    images = write(tmp_path, IMAGE_LIST, 'images.txt')
    code, err = train_cli(['configs/tiny/finetune_image_tiny.py', '--work-dir', str(tmp_path / 'w'),
                           '--cfg-options', f'train_dataloader.dataset.data_root={demo_root}/images',
                           f'train_dataloader.dataset.ann_file={images}',
                           f'val_dataloader.dataset.data_root={demo_root}/images',
                           'model.backbone.init_cfg=None'], capsys)
    assert code == 2
    assert err[-2].startswith(f"ListFileError: train_dataloader.dataset.ann_file '{images}', "
                              'line 2: label 12 of ')


def test_finetune_configs_refuse_truncated_images(demo_root, tmp_path):
    """The fault: plain LoadImageFromFile in the fine-tuning configs (an AssertionError, or a
    grey-filled image) on a truncated JPEG; now one sentence naming it."""
    from mmcv.transforms import Compose
    from mmengine.registry import DefaultScope
    from amd_mm.datasets import BadImageError
    src = sorted(glob.glob(osp.join(demo_root, 'images', 'train', '*', '*.jpg')))[0]
    data = open(src, 'rb').read()
    bad = tmp_path / 'cut.jpg'
    bad.write_bytes(data[:len(data) // 2])
    for path in ('configs/tiny/finetune_image_tiny.py',
                 'configs/finetune/in1k/vit-s-p16_amd-pre_8xb128-coslr-100e_in1k.py'):
        cfg = Config.fromfile(osp.join(ROOT, path))
        for pipeline in (cfg.train_pipeline, cfg.test_pipeline):
            with DefaultScope.overwrite_default_scope('mmpretrain'):
                load = Compose(pipeline[:1])
            with pytest.raises(BadImageError, match=rf'^{re.escape(str(bad))}: cannot be decoded'):
                load(dict(img_path=str(bad)))


def test_zero_batch_size_and_a_work_dir_that_is_a_file(tmp_path, capsys):
    code, err = train_cli(['configs/tiny/finetune_image_tiny.py', '--work-dir', str(tmp_path / 'w'),
                           '--cfg-options', 'train_dataloader.batch_size=0'], capsys)
    assert code == 2 and err[-2] == ('ValueError: train_dataloader.batch_size=0 must be a whole '
                                     'number >= 1 (the samples each process takes per step).')
    (tmp_path / 'file').write_text('')
    code, err = train_cli(['configs/tiny/finetune_image_tiny.py', '--work-dir',
                           str(tmp_path / 'file')], capsys)
    assert code == 2 and err[-2] == (f"ValueError: --work-dir '{tmp_path / 'file'}' is a file, not "
                                     'a folder; give a folder for the logs and checkpoints (it is '
                                     'created if missing).')
