"""Mixed precision: the step in bf16 stays close to fp32 with finite gradients, a bf16
teacher (``teacher.dtype``) stores half-size weights and gives the same features up to
bf16 rounding, a teacher without ``dtype`` follows the step's autocast, and (on a GPU,
``pytest -m gpu``) the AmpOptimWrapper configs train."""
import copy
import os.path as osp

import pytest
import torch

from conftest import ROOT

# bf16 keeps 8 bits of mantissa (relative rounding 2**-9 per operation); the losses are
# means over thousands of elements, so their relative difference stays far below this
LOSS_RTOL = 2e-2
FEATURE_RTOL = 3e-2  # relative L2 distance of features after 4 bf16 blocks


def tiny_model(kind, teacher_dtype=None):
    """The tiny image / video AMD model (random teacher, ``teacher.dtype``) and a batch."""
    from mmengine.config import Config
    from amd_mm.registry import MMACTION_MODELS, MMPRETRAIN_MODELS, build_model
    from conftest import image_amd_cfg
    torch.manual_seed(0)
    if kind == 'image':
        cfg = image_amd_cfg()
        cfg['teacher'] = dict(cfg['teacher'], dtype=teacher_dtype)
        model = build_model(cfg, MMPRETRAIN_MODELS)
        model.init_weights()
        return model, torch.randn(8, 3, 32, 32)
    cfg = Config.fromfile(osp.join(ROOT, 'configs/tiny/amd_video_tiny.py')).model
    cfg.teacher.checkpoint = None
    cfg.teacher.dtype = teacher_dtype
    model = build_model(cfg.to_dict(), MMACTION_MODELS)
    model.init_weights()
    return model, torch.randn(4, 3, 8, 32, 32)


def relative_distance(a, b):
    return float((a.float() - b.float()).norm() / b.float().norm())


@pytest.mark.parametrize('kind', ['image', 'video'])
def test_bf16_autocast_step_matches_fp32(kind):
    model, inputs = tiny_model(kind)
    reference = copy.deepcopy(model)  # same weights, same mask generator state
    fp32 = reference.distill_loss(inputs)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        bf16 = model.distill_loss(inputs)
    assert set(bf16) == set(fp32) >= {'loss_rec', 'loss_dir', 'loss_gen'}
    for key in fp32:
        assert bf16[key].dtype == torch.float32  # losses are computed in fp32
        torch.testing.assert_close(bf16[key], fp32[key], rtol=LOSS_RTOL, atol=0)
    sum(bf16.values()).backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0


@pytest.mark.slow
@pytest.mark.parametrize('kind', ['image', 'video'])
def test_bf16_teacher_stores_half_the_weights_and_gives_the_same_features(kind):
    model, inputs = tiny_model(kind)
    low_model, _ = tiny_model(kind, teacher_dtype='bfloat16')
    low_model.load_state_dict(model.state_dict())  # same student, heads, mask state
    low_model.teacher.load_state_dict(model.teacher.state_dict())  # cast into bf16
    teacher, low = model.teacher, low_model.teacher
    linear = [m for m in low.backbone.modules() if isinstance(m, torch.nn.Linear)]
    norms = [m for m in low.backbone.modules() if isinstance(m, torch.nn.LayerNorm)]
    assert linear and all(m.weight.dtype == torch.bfloat16 for m in linear)
    assert norms and all(m.weight.dtype == torch.float32 for m in norms)
    size = lambda t: sum(p.numel() * p.element_size() for p in t.parameters())  # noqa: E731
    assert 0.5 <= size(low) / size(teacher) < 0.56
    # the teacher alone
    n = 64 if kind == 'image' else 256
    ids = torch.rand(inputs.shape[0], n).argsort(1)
    ids_student, ids_teacher_only = ids[:, :n // 4], ids[:, n // 4:n // 2]
    ids_teacher = torch.cat([ids_student, ids_teacher_only], dim=1)
    for a, b in zip(low(inputs, ids_teacher, [2, 4]), teacher(inputs, ids_teacher, [2, 4])):
        assert a.dtype == torch.float32 and a.shape == b.shape
        assert relative_distance(a, b) < FEATURE_RTOL
    # the whole step with the bf16 teacher: losses close to the fp32 teacher's
    bf16, fp32 = low_model.distill_loss(inputs), model.distill_loss(inputs)
    assert set(bf16) == set(fp32)
    for key in fp32:
        torch.testing.assert_close(bf16[key], fp32[key], rtol=LOSS_RTOL, atol=0)
    sum(bf16.values()).backward()
    grads = [p.grad for p in low_model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_teacher_without_dtype_runs_in_the_step_precision():
    """Under the AmpOptimWrapper's autocast a teacher with ``dtype=None`` runs in that
    precision too (it used to switch autocast off and run in fp32)."""
    model, inputs = tiny_model('video')
    teacher = model.teacher
    ids = torch.rand(inputs.shape[0], 256).argsort(1)[:, :64]
    fp32 = teacher(inputs, ids, [4])
    seen = []
    handle = teacher.backbone.blocks[0].register_forward_hook(
        lambda module, args, out: seen.append(out.dtype))
    with torch.autocast('cpu', dtype=torch.bfloat16):
        amp = teacher(inputs, ids, [4])
    handle.remove()
    assert seen == [torch.bfloat16]
    assert amp[0].dtype == torch.float32 and relative_distance(amp[0], fp32[0]) < FEATURE_RTOL


# -- on a GPU ---------------------------------------------------------------------------
gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU (pytest -m gpu)')


@pytest.mark.gpu
@gpu
@pytest.mark.parametrize('config', ['configs/tiny/amd_image_tiny.py', 'configs/tiny/amd_video_tiny.py'])
@pytest.mark.parametrize('dtype', ['float16', 'bfloat16'])
@pytest.mark.parametrize('teacher_dtype', [None, 'bfloat16'])
def test_amp_optim_wrapper_trains_on_cuda(config, dtype, teacher_dtype):
    from mmengine.optim import build_optim_wrapper
    from amd_mm.measure.step import build_model, input_geometry, load_step_config, make_batch
    cfg = load_step_config(osp.join(ROOT, config), {'model.teacher.dtype': teacher_dtype})
    cfg.optim_wrapper.type = 'AmpOptimWrapper'
    cfg.optim_wrapper.dtype = dtype
    cfg.optim_wrapper.pop('on_nonfinite', None)
    device = torch.device('cuda')
    torch.manual_seed(0)
    model = build_model(cfg, device)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    assert type(wrapper).__name__ == 'AmpOptimWrapper'
    assert model.teacher.backbone.patch_embed.projection.weight.dtype == (
        torch.bfloat16 if teacher_dtype else torch.float32)
    data = make_batch(cfg, input_geometry(cfg), 4, seed=0)
    before = [p.detach().clone() for p in model.parameters() if p.requires_grad]
    for _ in range(3):
        log_vars = model.train_step(data, wrapper)
        assert all(torch.isfinite(torch.as_tensor(v)) for v in log_vars.values()), log_vars
    after = [p for p in model.parameters() if p.requires_grad]
    assert any(not torch.equal(a, b) for a, b in zip(after, before))
    assert torch.cuda.max_memory_allocated() > 0
