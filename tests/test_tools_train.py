"""The tiny configs train end to end through tools/train.py, as a user runs them."""
import glob
import json
import math
import os.path as osp

import torch

from conftest import run_tool


def scalars(work_dir):
    (path,) = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    with open(path) as f:
        return [json.loads(line) for line in f if 'loss' in line]


def image_opts(demo_root, epochs):
    return ['--cfg-options', f'train_dataloader.dataset.data_root={demo_root}/images/',
            f'train_cfg.max_epochs={epochs}', 'default_hooks.logger.interval=1']


def test_image_teacher_then_amd_student_end_to_end(demo_root, tmp_path):
    teacher_dir, student_dir = str(tmp_path / 'teacher'), str(tmp_path / 'student')
    run_tool('tools/train.py', 'configs/tiny/mae_teacher_image_tiny.py', '--work-dir', teacher_dir,
             *image_opts(demo_root, 1))
    assert osp.isfile(osp.join(teacher_dir, 'epoch_1.pth'))
    run_tool('tools/train.py', 'configs/tiny/amd_image_tiny.py', '--work-dir', student_dir,
             *image_opts(demo_root, 2), f'model.teacher.checkpoint={teacher_dir}')
    rows = scalars(student_dir)
    assert len(rows) == 2 * 3  # 96 images / batch 32 = 3 iterations per epoch, logged each
    for key in ('loss_rec', 'loss_dir', 'loss_gen'):
        values = [r[key] for r in rows]
        assert all(math.isfinite(v) and v > 0 for v in values), key
    assert rows[-1]['loss'] < rows[0]['loss']
    ckpt = torch.load(osp.join(student_dir, 'epoch_2.pth'), map_location='cpu', weights_only=False)
    assert any(k.startswith('backbone.layers.') for k in ckpt['state_dict'])
    assert not any(k.startswith('teacher.') for k in ckpt['state_dict'])
    # the teacher in the student run is the trained teacher, unchanged
    teacher = torch.load(osp.join(teacher_dir, 'epoch_1.pth'), map_location='cpu', weights_only=False)
    assert ckpt['meta']['epoch'] == 2 and teacher['meta']['epoch'] == 1


def test_resume_continues_iteration_and_optimizer_state(demo_root, tmp_path):
    full, resumed = str(tmp_path / 'full'), str(tmp_path / 'resumed')
    run_tool('tools/train.py', 'configs/tiny/mae_teacher_image_tiny.py', '--work-dir', full,
             *image_opts(demo_root, 2))
    # a second run that starts from the first run's epoch-1 checkpoint
    run_tool('tools/train.py', 'configs/tiny/mae_teacher_image_tiny.py', '--work-dir', resumed,
             '--resume', osp.join(full, 'epoch_1.pth'), *image_opts(demo_root, 2))
    rows = scalars(resumed)
    assert [r['iter'] for r in rows] == [4, 5, 6]  # continues after epoch 1's 3 iterations
    a = torch.load(osp.join(full, 'epoch_2.pth'), map_location='cpu', weights_only=False)
    b = torch.load(osp.join(resumed, 'epoch_2.pth'), map_location='cpu', weights_only=False)
    assert a['meta']['iter'] == b['meta']['iter'] == 6
    steps = lambda c: sorted(int(s['step']) for s in c['optimizer']['state'].values())  # noqa: E731
    assert steps(a) == steps(b) and steps(b)[0] == 6
    pos = lambda c: [(s['last_step'], s['_global_step']) for s in c['param_schedulers']]  # noqa: E731
    assert pos(a) == pos(b)
    lr = lambda c: c['param_schedulers'][-1]['_last_value'][0]  # noqa: E731
    assert lr(a) == lr(b)
    # the mask stream position is part of the state, so masks continue too
    assert int(b['state_dict']['mask_generator.step']) == 6


def video_opts(demo_root, epochs):
    return ['--cfg-options', f'train_dataloader.dataset.ann_file={demo_root}/videos/train_list.txt',
            f'train_dataloader.dataset.data_prefix.video={demo_root}/videos',
            f'train_cfg.max_epochs={epochs}', 'default_hooks.logger.interval=1']


def test_video_teacher_then_amd_student_end_to_end_from_mp4(demo_root, tmp_path):
    teacher_dir, student_dir = str(tmp_path / 'vteacher'), str(tmp_path / 'vstudent')
    run_tool('tools/train.py', 'configs/tiny/videomae_teacher_video_tiny.py', '--work-dir', teacher_dir,
             *video_opts(demo_root, 1))
    run_tool('tools/train.py', 'configs/tiny/amd_video_tiny.py', '--work-dir', student_dir,
             *video_opts(demo_root, 2), f'model.teacher.checkpoint={teacher_dir}')
    rows = scalars(student_dir)
    assert len(rows) == 2  # 8 videos / batch 8 = 1 iteration per epoch
    for key in ('loss_rec', 'loss_dir', 'loss_gen'):
        assert all(math.isfinite(r[key]) and r[key] > 0 for r in rows), key
    ckpt = torch.load(osp.join(student_dir, 'epoch_2.pth'), map_location='cpu', weights_only=False)
    assert 'backbone.blocks.3.attn.q_bias' in ckpt['state_dict']
    assert not any(k.startswith('teacher.') for k in ckpt['state_dict'])
