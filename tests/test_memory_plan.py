"""The memory planner (amd_mm.measure.memory_plan, tools/plan.py): its fake-tensor
estimate of a step's peak agrees with the allocator's measured peak of the same step on
the tiny configs, its parts add up, and its batch search lands on the edge of the budget.
The official step's estimate (amd_mm.measure.official_amd) is checked the same way when
an export of the official repository is given in $AMD_OFFICIAL_ROOT."""
import importlib.util
import json
import os.path as osp
import sys

import pytest
import torch

from conftest import ROOT, run_tool_in_process

TOLERANCE = 0.15  # estimate within 15 % of the measured peak


@pytest.fixture(scope='module')
def planning():
    from amd_mm.measure import memory_plan, step
    return memory_plan, step


def tiny_cfg(config, **options):
    from amd_mm.measure.step import load_step_config
    return load_step_config(osp.join(ROOT, config), options or None)


@pytest.mark.parametrize('config,dtype,with_cp', [
    ('configs/tiny/amd_video_tiny.py', None, False),
    pytest.param('configs/tiny/amd_video_tiny.py', torch.bfloat16, False, marks=pytest.mark.slow),
    pytest.param('configs/tiny/amd_image_tiny.py', None, True, marks=pytest.mark.slow),
    # block masks, full-view teacher
    pytest.param('configs/tiny/maskdistill_image_tiny.py', None, False, marks=pytest.mark.slow),
])
def test_estimate_is_within_15_percent_of_the_measured_peak(planning, config, dtype, with_cp):
    memory_plan, step = planning
    cfg = tiny_cfg(config)
    batch = int(cfg.train_dataloader.batch_size)
    planner = memory_plan.StepPlanner(cfg, dtype)
    estimate = planner.estimate(batch, with_cp)
    measured = memory_plan.measure_step_memory(cfg, batch, torch.device('cpu'), dtype, with_cp)
    ratio = estimate.peak / measured['peak_bytes']
    assert abs(ratio - 1) <= TOLERANCE, (estimate.as_dict(), measured)
    # the parts are the peak, and each is what it says
    assert sum(estimate.parts.values()) == estimate.peak
    model = step.build_model(cfg, torch.device('cpu'), init_weights=False)
    teacher = model.teacher
    assert estimate.parts['frozen_teacher'] == sum(
        t.numel() * t.element_size() for t in (*teacher.parameters(), *teacher.buffers()))
    trainable = sum(p.numel() * 4 for p in model.parameters() if p.requires_grad)
    # AdamW's two moments (and step counts) of the parameters that get gradients
    assert 0.95 <= estimate.parts['optimizer_state'] / (2 * trainable) <= 1.05
    shape, _, _ = step.sample_inputs(model, cfg, step.input_geometry(cfg))
    assert estimate.parts['inputs'] == batch * torch.Size(shape).numel() * 4
    assert estimate.parts['activations'] > 0 and estimate.parts['ddp_buckets'] == 0


@pytest.mark.slow
def test_checkpointing_and_batch_move_the_estimate_as_they_should(planning):
    memory_plan, _ = planning
    cfg = tiny_cfg('configs/tiny/amd_video_tiny.py')
    planner = memory_plan.StepPlanner(cfg, gpus=8)
    small, large = planner.estimate(2), planner.estimate(4)
    assert large.peak > small.peak and large.parts['activations'] > small.parts['activations']
    assert large.parts['optimizer_state'] == small.parts['optimizer_state']
    # DDP's buckets: one more copy of the trainable parameters' gradients
    assert small.parts['ddp_buckets'] == planner.trainable_bytes > 0
    checkpointed = planner.estimate(4, with_cp=True)
    assert checkpointed.parts['activations'] < large.parts['activations']


@pytest.mark.slow
def test_largest_batch_sits_on_the_edge_of_the_budget(planning):
    memory_plan, _ = planning
    planner = memory_plan.StepPlanner(tiny_cfg('configs/tiny/amd_image_tiny.py'))
    budget = (planner.estimate(10).peak + planner.estimate(11).peak) // 2
    largest, at = planner.largest_batch(budget)
    assert largest == 10 and at.peak <= budget < planner.estimate(11).peak
    assert planner.largest_batch(planner.estimate(1).peak - 1) == (0, None)


def test_a_bf16_teacher_halves_the_planned_teacher(planning):
    memory_plan, _ = planning
    fp32 = memory_plan.StepPlanner(tiny_cfg('configs/tiny/amd_image_tiny.py')).estimate(4)
    bf16 = memory_plan.StepPlanner(tiny_cfg('configs/tiny/amd_image_tiny.py',
                                            **{'model.teacher.dtype': 'bfloat16'})).estimate(4)
    ratio = bf16.parts['frozen_teacher'] / fp32.parts['frozen_teacher']
    assert 0.5 <= ratio < 0.56  # linear / conv weights in bf16, norms and tables in fp32


@pytest.mark.slow
def test_plan_tool_prints_a_consistent_plan():
    proc = run_tool_in_process('tools/plan.py', 'configs/tiny/amd_video_tiny.py', '--gpu-memory',
                               '0.05', '0.1', '--gpus', '2', '--json')
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert (result['batch_size'], result['views'], result['samples_per_step']) == (8, 2, 16)
    assert result['dtype'] == 'fp32' and result['gpus'] == 2 and result['unit'] == 'MiB'
    est = result['estimate']
    assert abs(sum(est['parts'].values()) - est['peak']) < 0.1 and est['parts']['ddp_buckets'] > 0
    assert result['estimate_with_cp']['peak'] < est['peak']
    small, large = result['fits']
    assert 1 <= small['largest_batch'] < large['largest_batch']
    assert small['largest_batch'] <= small['largest_batch_with_cp']
    assert small['fits_config_batch'] == (est['peak'] <= small['usable_gib'] * 1024)


def load_plan_tool():
    spec = importlib.util.spec_from_file_location('amd_mm_plan_tool',
                                                  osp.join(ROOT, 'tools', 'plan.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_plan_tool_names_a_missing_official_export(monkeypatch, tmp_path, capsys):
    from amd_mm.measure.official_amd import ENV_VAR, official_root
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert official_root() is None  # nothing given: the comparison is skipped
    tool = load_plan_tool()
    with pytest.raises(SystemExit) as exit_info:
        tool.run_main(tool.main, ['configs/tiny/amd_video_tiny.py', '--official', str(tmp_path)])
    assert exit_info.value.code == 2
    assert 'is not an export of the MCG-NJU/AMD repository' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        tool.run_main(tool.main, ['configs/tiny/amd_video_tiny.py', '--official'])
    assert '$AMD_OFFICIAL_ROOT is not set' in capsys.readouterr().err


# -- the official step (needs an export of MCG-NJU/AMD in $AMD_OFFICIAL_ROOT) -------------
def official_export():
    from amd_mm.measure.official_amd import official_root
    root = official_root()
    if root is None:
        pytest.skip('set AMD_OFFICIAL_ROOT to an export of MCG-NJU/AMD (git --git-dir=<mirror> '
                    'archive HEAD | tar -x -C DIR) to compare with the official step')
    return root


def small_official_cfg():
    """The video benchmark setting at 64 px with a ViT-S teacher: shapes the official
    models accept (16 frames, tubelet 2, patch 16), small enough for the CPU."""
    vit_s = dict(embed_dims=384, depth=12, num_heads=6, img_size=64)
    return tiny_cfg('configs/benchmark/amd_video_vit-s_vit-b_bench.py', **{
        'model.backbone.img_size': 64, 'model.teacher.backbone': vit_s})


def test_official_import_leaves_the_process_as_it_was():
    import timm
    root = official_export()
    from amd_mm.measure.official_amd import import_official
    path, entry = list(sys.path), timm.models.model_entrypoint('vit_large_patch16_224')
    modules = import_official(root)
    assert hasattr(modules.pretrain, 'PretrainAMD') and hasattr(modules.optim_factory,
                                                                 'create_optimizer')
    assert sys.path == path and 'models' not in sys.modules and 'optim_factory' not in sys.modules
    assert timm.models.model_entrypoint('vit_large_patch16_224') is entry
    import timm.optim.nadam
    assert not hasattr(timm.optim.nadam, 'Nadam')


def test_official_estimate_is_within_15_percent_of_its_measured_peak():
    root = official_export()
    from amd_mm.measure.official_amd import (OfficialPlanner, OfficialSettings,
                                              measure_official_memory)
    settings = OfficialSettings.from_config(small_official_cfg())
    assert (settings.student_width, settings.teacher_width, settings.grid) == (384, 384, (8, 4, 4))
    planner = OfficialPlanner(root, settings, autocast_dtype=None)
    estimate = planner.estimate(settings.videos)
    measured = measure_official_memory(root, settings, torch.device("cpu"), None)
    assert abs(estimate.peak / measured['peak_bytes'] - 1) <= TOLERANCE, (estimate, measured)
    # its loop keeps the previous step's gradients through the forward
    assert estimate.parts['gradients'] > 0


@pytest.mark.slow
def test_accumulation_keeps_the_gradients_alive_in_the_plan_and_the_measurement(planning):
    memory_plan, _ = planning
    plain = tiny_cfg('configs/tiny/amd_image_tiny.py')
    accumulating = tiny_cfg('configs/tiny/amd_image_tiny.py',
                            **{'optim_wrapper.accumulative_counts': 4})
    base = memory_plan.StepPlanner(plain).estimate(8)
    planner = memory_plan.StepPlanner(accumulating)
    estimate = planner.estimate(8)
    assert base.parts['gradients'] == 0 and estimate.parts['gradients'] == planner.trainable_bytes
    assert estimate.peak > base.peak and planner.notes
    measured = memory_plan.measure_step_memory(accumulating, 8, torch.device('cpu'))
    assert abs(estimate.peak / measured['peak_bytes'] - 1) <= TOLERANCE


def test_fine_tuning_configs_plan_too(planning):
    """A toolbox classifier (no masks, no teacher): same estimate and measurement; its
    backbone takes with_cp when built, so the planner does not switch it."""
    memory_plan, _ = planning
    cfg = tiny_cfg('configs/tiny/finetune_image_tiny.py')
    planner = memory_plan.StepPlanner(cfg)
    estimate = planner.estimate(8)
    measured = memory_plan.measure_step_memory(cfg, 8, torch.device('cpu'))
    assert abs(estimate.peak / measured['peak_bytes'] - 1) <= TOLERANCE
    assert estimate.parts['frozen_teacher'] == 0 and not planner.supports_cp
    with pytest.raises(ValueError, match='model.backbone.with_cp=True'):
        planner.estimate(8, with_cp=True)
