"""tools/benchmark.py prints one well-formed JSON line; the benchmark configs build.

No timed assertions: the numbers themselves are reported in docs/PERFORMANCE.md.
"""
import importlib.util
import json
import math
import os.path as osp

import pytest
import torch

from conftest import ROOT, run_tool

BENCH_CONFIGS = ['configs/benchmark/amd_video_vit-s_vit-b_bench.py',
                 'configs/benchmark/amd_image_vit-s_vit-b_bench.py']


def load_benchmark_module():
    spec = importlib.util.spec_from_file_location('amd_mm_benchmark_tool',
                                                  osp.join(ROOT, 'tools', 'benchmark.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def last_json_line(stdout: str) -> dict:
    lines = [line for line in stdout.strip().splitlines() if line.strip()]
    assert len(lines) == 1, f'expected one line on stdout, got {len(lines)}:\n{stdout[-2000:]}'
    return json.loads(lines[0])


def check_result(result: dict, config: str):
    assert result['config'] == config
    assert result['device'] == 'cpu' and result['threads'] >= 1
    times = result['step_time_s']
    assert 0 < times['min'] <= times['median'] <= times['max']
    assert result['samples_per_s'] > 0
    assert result['flops_per_step'] > 0 and result['gflops_per_s'] > 0
    assert result['peak_memory_mb'] > 0
    assert result['teacher_checkpoint'] is None  # random teacher unless asked for
    losses = result['losses']
    for key in ('loss', 'loss_rec', 'loss_dir', 'loss_gen'):
        assert math.isfinite(losses[key]) and losses[key] > 0, key
    # activations kept for backward: some, and far less than the whole process
    assert 0 < result['saved_for_backward_mb'] < result['peak_memory_mb']
    assert result['optimizer'] == dict(type='AdamW', fused=True)  # the configs' fused AdamW


@pytest.mark.parametrize('config,unit,samples', [
    ('configs/tiny/amd_image_tiny.py', 'image', 32),        # batch 32
    ('configs/tiny/amd_video_tiny.py', 'clip', 8 * 2),      # batch 8 videos x 2 views
])
def test_benchmark_tool_prints_one_json_line(config, unit, samples):
    proc = run_tool('tools/benchmark.py', config, '--iters', '2', '--warmup', '1', '--threads', '2')
    result = last_json_line(proc.stdout)
    check_result(result, config)
    assert result['iters'] == 2 and result['warmup'] == 1
    assert result['sample_unit'] == unit and result['samples_per_step'] == samples


def test_benchmark_tool_times_the_real_dataloader(demo_root):
    config = 'configs/tiny/amd_video_tiny.py'
    proc = run_tool('tools/benchmark.py', config, '--iters', '0', '--dataloader', '--batches', '2',
                    '--cfg-options',
                    f'train_dataloader.dataset.ann_file={demo_root}/videos/train_list.txt',
                    f'train_dataloader.dataset.data_prefix.video={demo_root}/videos',
                    'train_dataloader.batch_size=2')
    result = last_json_line(proc.stdout)
    assert 'flops_per_step' not in result and 'step_time_s' not in result  # --iters 0: data only
    loader = result['dataloader']
    assert loader['batches'] == 2 and loader['samples'] == 4
    assert loader['clips_per_s'] == pytest.approx(2 * loader['samples_per_s'], rel=1e-3)
    assert loader['clips_per_s_per_worker'] > 0


@pytest.mark.parametrize('config', BENCH_CONFIGS)
def test_benchmark_configs_build_the_stated_models(config):
    from mmengine.config import Config
    from mmengine.registry import MODELS, init_default_scope
    bench = load_benchmark_module()
    cfg = Config.fromfile(osp.join(ROOT, config))
    assert cfg.model.teacher.checkpoint is None
    assert cfg.optim_wrapper.type == 'OptimWrapper' and cfg.optim_wrapper.optimizer.type == 'AdamW'
    init_default_scope(cfg.default_scope)
    model = MODELS.build(cfg.model)
    student, teacher = model.backbone, model.teacher
    assert (student.enc_width, student.enc_depth, student.enc_patch_size) == (384, 12, 16)
    assert (teacher.enc_width, teacher.enc_depth) == (768, 12)
    assert model.student_layers == [6, 12] and model.branches[0].teacher_layers == [6, 12]
    assert len(model.decoder.blocks) == 4 and model.decoder.embed_dims == 192
    assert model.decoder.blocks[0].num_heads == 3
    generators = model.branches[0].generators
    assert len(generators) == 2 and all(len(g.blocks) == 2 for g in generators)
    is_video, views, frames, h, w = bench.input_geometry(cfg)
    if 'video' in config:
        assert (is_video, views, frames, h, w) == (True, 1, 16, 112, 112)
        assert cfg.train_dataloader.batch_size == 2 and student.enc_tubelet_size == 2
        masks = model.mask_generator
        assert (masks.student_ratio, masks.teacher_ratio, masks.mode) == (0.9, 0.75, 'tube')
    else:
        assert (is_video, h, w) == (False, 224, 224)
        assert cfg.train_dataloader.batch_size == 4
        masks = model.mask_generator
        assert (masks.student_ratio, masks.teacher_ratio) == (0.75, 0.5)
    # the synthetic batch goes through the model's own data preprocessor
    data = bench.make_batch(cfg, (is_video, views, frames, h, w), 1, seed=0)
    inputs = model.data_preprocessor(data, True)['inputs']
    inputs = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
    expected = (1, views, 3, frames, h, w) if is_video else (1, 3, h, w)
    assert tuple(inputs.shape) == expected and inputs.dtype == torch.float32


# -- speed levers keep the losses: pruned last block of decoder / generators, gathered
# patch embedding ----------------------------------------------------------------------
def test_transformer_stack_num_out_returns_the_same_last_tokens():
    from amd_mm.models.utils import TransformerStack
    torch.manual_seed(0)
    stack = TransformerStack(64, depth=2, num_heads=4)
    x = torch.randn(3, 40, 64)
    full = stack(x)
    pruned = stack(x, num_out=24)
    assert pruned.shape == (3, 24, 64)
    torch.testing.assert_close(pruned, full[:, -24:], rtol=1e-6, atol=1e-7)
    assert stack(x, num_out=40).shape == full.shape


@pytest.mark.parametrize('kind', ['image', 'video'])
def test_gathered_patch_embedding_equals_convolution_then_gather(kind):
    from amd_mm.registry import MMACTION_MODELS, MMPRETRAIN_MODELS
    torch.manual_seed(0)
    if kind == 'image':
        vit = MMPRETRAIN_MODELS.build(dict(type='MaskedViT', arch=dict(
            embed_dims=64, num_layers=2, num_heads=4, feedforward_channels=128),
            img_size=32, patch_size=4))
        inputs = torch.randn(3, 3, 32, 32)
    else:
        vit = MMACTION_MODELS.build(dict(type='MaskedVideoViT', img_size=32, patch_size=4,
                                         num_frames=8, tubelet_size=2, embed_dims=64, depth=2,
                                         num_heads=4))
        inputs = torch.randn(3, 3, 8, 32, 32)
    vit.init_weights()
    with torch.no_grad():  # non-zero bias: the matmul path must add it too
        vit.patch_embed.projection.bias.normal_()
    n = 64 if kind == 'image' else 256
    ids = torch.rand(3, n).argsort(1)[:, :n // 4]
    assert vit._can_gather_embed()
    gathered = vit._embed_tokens(inputs, ids)
    vit.gather_embed = False
    reference = vit._embed_tokens(inputs, ids)
    assert gathered.shape == (3, n // 4, 64)
    torch.testing.assert_close(gathered, reference, rtol=1e-5, atol=1e-5)


def _tiny_pair(kind):
    """The same tiny model twice: with the speed levers (last decoder / generator block
    pruned, gathered patch embedding in student and teacher), and the reference path."""
    from mmengine.config import Config
    from amd_mm.registry import MMACTION_MODELS, build_model
    from conftest import image_amd_cfg
    torch.manual_seed(0)
    models = []
    for fast in (True, False):
        if kind == 'image':
            cfg = image_amd_cfg(
                decoder=dict(type='PixelDecoder', embed_dims=64, depth=2, num_heads=4,
                             prune_last_block=fast),
                generator=dict(type='FeatureGenerator', depth=2, num_heads=4,
                               prune_last_block=fast))
            cfg['backbone']['gather_embed'] = fast
            cfg['teacher']['backbone']['gather_embed'] = fast
            from amd_mm.registry import MMPRETRAIN_MODELS
            model = build_model(cfg, MMPRETRAIN_MODELS)
        else:
            cfg = Config.fromfile(osp.join(ROOT, 'configs/tiny/amd_video_tiny.py')).model
            cfg.teacher.checkpoint = None
            cfg.mask_generator.seed = 0
            cfg.decoder.prune_last_block = fast
            cfg.generator.prune_last_block = fast
            cfg.backbone.gather_embed = fast
            cfg.teacher.backbone.gather_embed = fast
            model = build_model(cfg.to_dict(), MMACTION_MODELS)
        model.init_weights()
        models.append(model)
    pruned, full = models
    full.load_state_dict(pruned.state_dict())
    full.teacher.load_state_dict(pruned.teacher.state_dict())
    assert pruned.backbone.gather_embed and not full.backbone.gather_embed
    return pruned, full


@pytest.mark.parametrize('kind', ['image', 'video'])
def test_pruned_last_block_keeps_losses_and_gradients(kind):
    pruned, full = _tiny_pair(kind)
    torch.manual_seed(1)
    inputs = torch.randn(4, 3, 32, 32) if kind == 'image' else torch.randn(2, 3, 8, 32, 32)
    losses = [model.distill_loss(inputs) for model in (pruned, full)]
    assert set(losses[0]) == set(losses[1]) >= {'loss_rec', 'loss_dir', 'loss_gen'}
    for key in losses[0]:  # same math up to float summation order in the patch embedding
        torch.testing.assert_close(losses[0][key], losses[1][key], rtol=1e-5, atol=1e-6)
    for model, terms in zip((pruned, full), losses):
        sum(terms.values()).backward()
    grads = [dict((k, p.grad) for k, p in m.named_parameters() if p.grad is not None)
             for m in (pruned, full)]
    assert set(grads[0]) == set(grads[1])
    for key in grads[0]:  # weight gradients: the same sums, zeros left out, other order
        torch.testing.assert_close(grads[0][key], grads[1][key], rtol=1e-4, atol=1e-6)


def test_compiled_blocks_keep_losses_gradients_and_checkpoint_names():
    """``model.compile_blocks=True``: every transformer block through torch.compile (teacher
    with inductor freezing): same losses and gradients up to float rounding, same
    state_dict keys (checkpoints load either way)."""
    from amd_mm.registry import MMPRETRAIN_MODELS, build_model
    from conftest import image_amd_cfg
    torch.manual_seed(0)
    models = [build_model(image_amd_cfg(compile_blocks=flag), MMPRETRAIN_MODELS) for flag in (True, False)]
    compiled, eager = models
    compiled.init_weights()
    eager.load_state_dict(compiled.state_dict())
    eager.teacher.load_state_dict(compiled.teacher.state_dict())
    assert list(compiled.state_dict()) == list(eager.state_dict())
    assert all(not k.startswith('_orig_mod') and '._orig_mod.' not in k for k in compiled.state_dict())
    inputs = torch.randn(4, 3, 32, 32)
    for step in range(2):  # the second call runs the compiled graphs, not the compilation
        losses = [model.distill_loss(inputs) for model in models]
        for key in losses[1]:
            torch.testing.assert_close(losses[0][key], losses[1][key], rtol=1e-4, atol=1e-5)
    for model, terms in zip(models, losses):
        model.zero_grad()
        sum(terms.values()).backward()
    for (name, a), b in zip(compiled.named_parameters(), eager.parameters()):
        if a.grad is not None:
            torch.testing.assert_close(a.grad, b.grad, rtol=1e-3, atol=1e-5, msg=name)
