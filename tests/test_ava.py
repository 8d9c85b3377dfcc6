"""AVA 2.2-style detection transfer: mmaction2's FastRCNN on the pre-trained student,
trained and evaluated with mmaction2's real AVA dataset, pipeline and metric."""
import json
import os
import os.path as osp

import pytest
import torch

from amd_mm.registry import MMACTION_MODELS, build_model

from conftest import ROOT, assert_backbone_initialised_from, run_tool_in_process

CONFIG = 'configs/tiny/finetune_ava_tiny.py'


def make_student_ckpt(path):
    """An amd_mm video pre-training checkpoint (VideoMAE objective, random weights)."""
    model = build_model(dict(
        type='VideoAMD', teacher=None, generator=None, loss_dir=None, loss_gen=None,
        backbone=dict(type='MaskedVideoViT', img_size=32, patch_size=4, num_frames=8,
                      tubelet_size=2, embed_dims=64, depth=4, num_heads=4, mlp_ratio=2),
        mask_generator=dict(type='AsymmetricMaskGenerator', student_ratio=0.9, teacher_ratio=0.0,
                            mode='tube'),
        decoder=dict(type='PixelDecoder', embed_dims=32, depth=1, num_heads=4)), MMACTION_MODELS)
    model.init_weights()
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)


@pytest.mark.slow
def test_ava_detection_trains_and_reports_map(demo_root, tmp_path, monkeypatch):
    student = str(tmp_path / 'student.pth')
    make_student_ckpt(student)
    ava = osp.join(demo_root, 'ava')
    opts = ['--cfg-options', f'model.backbone.init_cfg.checkpoint={student}',
            'train_cfg.max_epochs=2', 'train_cfg.val_interval=10']
    for loader in ('train', 'val', 'test'):
        split = 'train' if loader == 'train' else 'val'
        opts += [f'{loader}_dataloader.dataset.ann_file={ava}/annotations/ava_{split}_v2.2.csv',
                 f'{loader}_dataloader.dataset.exclude_file='
                 f'{ava}/annotations/ava_{split}_excluded_timestamps_v2.2.csv',
                 f'{loader}_dataloader.dataset.label_file={ava}/annotations/ava_action_list_v2.2.pbtxt',
                 f'{loader}_dataloader.dataset.proposal_file={ava}/annotations/ava_dense_proposals_{split}.pkl',
                 f'{loader}_dataloader.dataset.data_prefix.img={ava}/rawframes']
    for evaluator in ('val_evaluator', 'test_evaluator'):
        opts += [f'{evaluator}.ann_file={ava}/annotations/ava_val_v2.2.csv',
                 f'{evaluator}.exclude_file={ava}/annotations/ava_val_excluded_timestamps_v2.2.csv',
                 f'{evaluator}.label_file={ava}/annotations/ava_action_list_v2.2.pbtxt']
    work = str(tmp_path / 'work')
    os.makedirs(work)
    # AVAMetric writes a temporary result csv into the working directory: run in work/
    monkeypatch.chdir(work)
    config = osp.join(ROOT, CONFIG)
    run_tool_in_process('tools/train.py', config, '--work-dir', work, *opts)
    proc = run_tool_in_process('tools/test.py', config, osp.join(work, 'epoch_2.pth'),
                               '--work-dir', work, *opts)
    metrics = json.loads(proc.stdout.strip().splitlines()[-1])
    assert 0.0 <= metrics['mAP/overall'] <= 1.0
    assert 'Class move_horizontal AP' in proc.stdout + proc.stderr  # per-class AP of the real metric
    assert_backbone_initialised_from(CONFIG, student)
