"""The fast paths of the step give the reference path's losses and gradients on tiny
models: the decoder's and generators' last block computed for the predicted tokens only,
patch embedding of the gathered tokens, and transformer blocks through torch.compile."""
import os.path as osp

import pytest
import torch

from conftest import ROOT


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


@pytest.mark.slow
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


@pytest.mark.slow
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
