"""The tiny configs train end to end through tools/train.py, as a user runs them."""
import json
import math
import os.path as osp

import pytest
import torch

from conftest import assert_backbone_initialised_from, run_tool, run_tool_in_process, scalars


def image_opts(demo_root, epochs):
    return ['--cfg-options', f'train_dataloader.dataset.data_root={demo_root}/images/',
            f'train_cfg.max_epochs={epochs}', 'default_hooks.logger.interval=1']


@pytest.mark.e2e
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

    # transfer: fine-tune the student with mmpretrain's own classifier, only paths passed
    student_ckpt = osp.join(student_dir, 'epoch_2.pth')
    ft_dir = str(tmp_path / 'finetune')
    data = [f'train_dataloader.dataset.data_root={demo_root}/images/',
            f'val_dataloader.dataset.data_root={demo_root}/images/',
            f'test_dataloader.dataset.data_root={demo_root}/images/']
    run_tool('tools/train.py', 'configs/tiny/finetune_image_tiny.py', '--work-dir', ft_dir,
             '--cfg-options', f'model.backbone.init_cfg.checkpoint={student_ckpt}',
             'train_cfg.max_epochs=1', *data)
    proc = run_tool('tools/test.py', 'configs/tiny/finetune_image_tiny.py',
                    osp.join(ft_dir, 'epoch_1.pth'), '--work-dir', ft_dir, '--cfg-options', *data)
    metrics = json.loads(proc.stdout.strip().splitlines()[-1])
    assert 0 <= metrics['accuracy/top1'] <= metrics['accuracy/top5'] <= 100
    assert_backbone_initialised_from('configs/tiny/finetune_image_tiny.py', student_ckpt)


@pytest.mark.slow
def test_resume_continues_iteration_and_optimizer_state(demo_root, tmp_path):
    full, resumed = str(tmp_path / 'full'), str(tmp_path / 'resumed')
    config = 'configs/tiny/mae_teacher_image_tiny.py'
    run_tool_in_process('tools/train.py', config, '--work-dir', full, *image_opts(demo_root, 2))
    # a second run that starts from the first run's epoch-1 checkpoint
    run_tool_in_process('tools/train.py', config, '--work-dir', resumed,
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


@pytest.mark.slow
def test_video_teacher_then_amd_student_end_to_end_from_mp4(demo_root, tmp_path):
    teacher_dir, student_dir = str(tmp_path / 'vteacher'), str(tmp_path / 'vstudent')
    run_tool_in_process('tools/train.py', 'configs/tiny/videomae_teacher_video_tiny.py',
                        '--work-dir', teacher_dir, *video_opts(demo_root, 1))
    run_tool_in_process('tools/train.py', 'configs/tiny/amd_video_tiny.py', '--work-dir', student_dir,
                        *video_opts(demo_root, 2), f'model.teacher.checkpoint={teacher_dir}')
    rows = scalars(student_dir)
    assert len(rows) == 2  # 8 videos / batch 8 = 1 iteration per epoch
    for key in ('loss_rec', 'loss_dir', 'loss_gen'):
        assert all(math.isfinite(r[key]) and r[key] > 0 for r in rows), key
    ckpt = torch.load(osp.join(student_dir, 'epoch_2.pth'), map_location='cpu', weights_only=False)
    assert 'backbone.blocks.3.attn.q_bias' in ckpt['state_dict']
    assert not any(k.startswith('teacher.') for k in ckpt['state_dict'])

    # transfer: mmaction2's own Recognizer3D, UCF-style split files, multi-view test
    student_ckpt = osp.join(student_dir, 'epoch_2.pth')
    ft_dir = str(tmp_path / 'vfinetune')
    data = []
    for loader, split in (('train', 'train'), ('val', 'val'), ('test', 'val')):
        data += [f'{loader}_dataloader.dataset.ann_file={demo_root}/videos/ucf101_{split}_split_1_videos.txt',
                 f'{loader}_dataloader.dataset.data_prefix.video={demo_root}/videos']
    run_tool_in_process('tools/train.py', 'configs/tiny/finetune_video_tiny.py', '--work-dir', ft_dir,
                        '--cfg-options', f'model.backbone.init_cfg.checkpoint={student_ckpt}',
                        'train_cfg.max_epochs=1', *data)
    proc = run_tool_in_process('tools/test.py', 'configs/tiny/finetune_video_tiny.py',
                               osp.join(ft_dir, 'epoch_1.pth'), '--work-dir', ft_dir,
                               '--cfg-options', *data)
    metrics = json.loads(proc.stdout.strip().splitlines()[-1])
    assert 0 <= metrics['acc/top1'] <= metrics['acc/top5'] <= 1
    assert_backbone_initialised_from('configs/tiny/finetune_video_tiny.py', student_ckpt)
