"""The masked-distillation family as configurations of the same components."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from conftest import ROOT, run_tool_in_process, scalars

def build(config, teacher_ckpts, **overrides):
    from mmengine.registry import MODELS, DefaultScope
    cfg = Config.fromfile(osp.join(ROOT, config))
    model_cfg = cfg.model
    model_cfg.update(overrides)
    kind = lambda t: 'image' if t.backbone.type == 'MaskedViT' else 'video'  # noqa: E731
    if model_cfg.get('teacher'):
        model_cfg.teacher.checkpoint = teacher_ckpts[kind(model_cfg.teacher)]
    for extra in model_cfg.get('extra_teachers', []):
        extra.teacher.checkpoint = teacher_ckpts[kind(extra.teacher)]
    with DefaultScope.overwrite_default_scope(cfg.default_scope):  # no scope leaks into other tests
        model = MODELS.build(model_cfg)
    model.init_weights()
    return model


FAMILY = {
    'configs/tiny/mvd_video_tiny.py': {'loss_gen', 'loss_gen_vid'},
    'configs/tiny/amd_mvd_video_tiny.py': {'loss_rec', 'loss_dir', 'loss_gen', 'loss_dir_img', 'loss_gen_img'},
    'configs/tiny/maskdistill_image_tiny.py': {'loss_gen'},
    'configs/tiny/mimco_image_tiny.py': {'loss_gen', 'loss_global'},
    'configs/tiny/amd_fullview_image_tiny.py': {'loss_rec', 'loss_dir', 'loss_gen'},
    'configs/tiny/amd_normfeat_image_tiny.py': {'loss_rec', 'loss_dir', 'loss_gen'},
}


@pytest.mark.parametrize('config', sorted(FAMILY))
@pytest.mark.slow
def test_family_tiny_config_trains_end_to_end(config, demo_root, teacher_ckpts, tmp_path):
    video = 'video' in config
    opts = ['train_cfg.max_epochs=1', 'default_hooks.logger.interval=1']
    if video:
        opts += [f'train_dataloader.dataset.ann_file={demo_root}/videos/train_list.txt',
                 f'train_dataloader.dataset.data_prefix.video={demo_root}/videos',
                 'train_dataloader.batch_size=4']
    else:
        opts += [f'train_dataloader.dataset.data_root={demo_root}/images/']
    cfg = Config.fromfile(osp.join(ROOT, config))
    kind = lambda t: 'image' if t.backbone.type == 'MaskedViT' else 'video'  # noqa: E731
    opts.append(f'model.teacher.checkpoint={teacher_ckpts[kind(cfg.model.teacher)]}')
    for i, extra in enumerate(cfg.model.get('extra_teachers', [])):
        opts.append(f'model.extra_teachers.{i}.teacher.checkpoint={teacher_ckpts[kind(extra.teacher)]}')
    run_tool_in_process('tools/train.py', config, '--work-dir', str(tmp_path), '--cfg-options', *opts)
    rows = scalars(tmp_path)
    assert rows
    logged = {k for k in rows[-1] if k.startswith('loss_')}
    assert logged == FAMILY[config]
    assert all(torch.isfinite(torch.tensor(r['loss'])) for r in rows)


def test_mvd_runs_two_teachers_with_separate_decoders(teacher_ckpts):
    model = build('configs/tiny/mvd_video_tiny.py', teacher_ckpts)
    assert len(model.branches) == 2 and model.branch_names == ['', 'vid']
    image_teacher, video_teacher = model.teachers
    assert type(image_teacher).__name__ == 'FrameTeacher' and type(video_teacher).__name__ == 'FrozenTeacher'
    g0, g1 = (set(map(id, b.generators.parameters())) for b in model.branches)
    assert g0 and g1 and not g0 & g1
    calls = []
    for t in model.teachers:
        t.register_forward_hook(lambda m, a, o: calls.append(type(m).__name__))
    losses = model(torch.randn(2, 1, 3, 8, 32, 32), mode='loss')
    assert calls == ['FrameTeacher', 'FrozenTeacher']
    assert set(losses) == {'loss_gen', 'loss_gen_vid'}


def test_frame_teacher_features_are_per_frame_image_features(teacher_ckpts):
    model = build('configs/tiny/mvd_video_tiny.py', teacher_ckpts)
    frame_teacher = model.teachers[0]
    clip = torch.randn(1, 3, 8, 32, 32)
    ids = torch.arange(4 * 64).unsqueeze(0)
    feats = frame_teacher(clip, ids, [4])
    _, ref = frame_teacher.backbone.forward_masked(clip[:, :, 2], None, out_layers=[4], final_norm=False)
    torch.testing.assert_close(feats[0][:, 64:128], ref[0])  # tubelet 1 = frame 2


def test_full_view_teacher_sees_every_token(teacher_ckpts):
    model = build('configs/tiny/amd_fullview_image_tiny.py', teacher_ckpts)
    seen = []
    model.teacher.register_forward_hook(lambda m, args, out: seen.append(args[1]))
    model.loss(torch.randn(2, 3, 32, 32))
    (ids,) = seen
    assert ids.shape == (2, 64)
    assert all(sorted(row.tolist()) == list(range(64)) for row in ids)


def test_removing_the_teacher_gives_exactly_the_mae_objective(teacher_ckpts):
    amd = build('configs/tiny/amd_image_tiny.py', teacher_ckpts)
    mae = build('configs/tiny/amd_image_tiny.py', teacher_ckpts, teacher=None, generator=None,
                loss_dir=None, loss_gen=None)
    missing, unexpected = mae.load_state_dict(amd.state_dict(), strict=False)
    assert not missing and all(k.startswith('branches.') for k in unexpected)
    x = torch.randn(4, 3, 32, 32)
    amd.mask_generator.seed = mae.mask_generator.seed = 3
    a, m = amd.loss(x), mae.loss(x)
    assert set(m) == {'loss_rec'}
    assert torch.equal(a['loss_rec'], m['loss_rec'])


@pytest.mark.parametrize('extra,match', [
    (dict(name='vid', teacher={}, student_layers=[2], teacher_layers=[2], student_layer=[2]),
     r"model.extra_teachers\[0\] has unknown keys \['student_layer'\]; allowed: .*'student_layers'"),
    (dict(name='vid', teacher={}), r"model.extra_teachers\[0\] lacks \['student_layers', 'teacher_layers'\]"),
    (dict(teacher={}, student_layers=[2], teacher_layers=[2]), r'extra_teachers\[0\].name must be'),
])
def test_extra_teacher_specs_name_the_bad_key(extra, match):
    from amd_mm.models.algorithms.branch import teacher_specs
    with pytest.raises(ValueError, match=match):
        teacher_specs(teacher={}, extra_teachers=[extra], student_layers=[2], teacher_layers=[2])
    specs = teacher_specs(teacher={}, extra_teachers=[], student_layers=[2], teacher_layers=[4])
    assert [(s.name, s.key, s.teacher_layers, s.teacher_ratio) for s in specs] == [('', 'model.', [4], None)]


def test_each_branch_resolves_its_own_teacher_ratio(teacher_ckpts):
    model = build('configs/tiny/amd_mvd_video_tiny.py', teacher_ckpts)
    assert [b.teacher_ratio for b in model.branches] == [0.75, 0.5]  # default, then its own
