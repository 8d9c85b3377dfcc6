import os.path as osp

import pytest
import torch

from amd_mm.registry import MMACTION_MODELS, MMPRETRAIN_MODELS
from amd_mm.checkpoints.convert import convert, detect_layout

from conftest import build_image_amd, run_tool_in_process


def timm_vit(width=64):
    from timm.models.vision_transformer import VisionTransformer
    torch.manual_seed(0)
    return VisionTransformer(img_size=32, patch_size=4, embed_dim=width, depth=2, num_heads=4,
                             mlp_ratio=2, qkv_bias=True, num_classes=0).eval()


def mmpretrain_vit(width=64):
    from mmpretrain.models import VisionTransformer
    vit = VisionTransformer(arch=dict(embed_dims=width, num_layers=2, num_heads=4,
                                      feedforward_channels=2 * width),
                            img_size=32, patch_size=4, out_type='raw')
    vit.eval()  # mmpretrain's train() returns None
    return vit


def test_timm_round_trip_gives_equal_outputs():
    src = timm_vit()
    state = src.state_dict()
    assert detect_layout(state) == 'timm'
    mine = mmpretrain_vit()
    missing, unexpected = mine.load_state_dict(convert(state), strict=True)
    assert not missing and not unexpected
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(mine(x)[0], src.forward_features(x), rtol=1e-5, atol=1e-5)
    back = convert(convert(state), to='timm')
    assert back.keys() == state.keys()
    assert all(torch.equal(back[k], state[k]) for k in state)


def _videomae_release(src):
    out = {}
    for k, v in convert(src.state_dict(), to='videomae').items():
        out['encoder.' + k] = v
    out.update({'decoder.head.weight': torch.zeros(3, 3), 'mask_token': torch.zeros(1, 1, 8),
                'encoder_to_decoder.weight': torch.zeros(8, 8)})
    return out


def test_videomae_round_trip_gives_equal_outputs():
    from mmaction.models.backbones.vit_mae import VisionTransformer
    kw = dict(img_size=32, patch_size=4, num_frames=4, embed_dims=64, depth=2, num_heads=4,
              mlp_ratio=2, use_mean_pooling=False)
    torch.manual_seed(0)
    src = VisionTransformer(**kw).eval()
    release = _videomae_release(src)
    assert detect_layout(release) == 'videomae'
    assert 'blocks.0.mlp.fc1.weight' in convert(src.state_dict(), to='videomae')
    mine = MMACTION_MODELS.build(dict(type='MaskedVideoViT', **kw))
    mine.eval()
    converted = convert(release)
    missing, unexpected = mine.load_state_dict(converted, strict=False)
    assert not missing and not unexpected
    x = torch.randn(2, 3, 4, 32, 32)
    torch.testing.assert_close(mine(x), src(x), rtol=1e-4, atol=1e-5)


def test_teacher_loads_a_timm_mae_release(tmp_path):
    src = timm_vit(96)
    release = dict(src.state_dict(), mask_token=torch.zeros(1, 1, 64),
                   **{'decoder_embed.weight': torch.zeros(64, 96)})
    torch.save({'model': release}, tmp_path / 'mae_release.pth')
    teacher = MMPRETRAIN_MODELS.build(dict(
        type='FrozenTeacher', checkpoint=str(tmp_path / 'mae_release.pth'),
        backbone=dict(type='MaskedViT', arch=dict(embed_dims=96, num_layers=2, num_heads=4,
                                                  feedforward_channels=192),
                      img_size=32, patch_size=4, fixed_pos_embed=False)))
    x = torch.randn(1, 3, 32, 32)
    ids = torch.arange(64).unsqueeze(0)
    feats = teacher(x, ids, [2])
    ref = src.blocks(src._pos_embed(src.patch_embed(x)))[:, 1:]
    torch.testing.assert_close(feats[0], ref, rtol=1e-5, atol=1e-5)


def test_tool_converts_and_refuses_mismatched_shapes(tmp_path):
    torch.save({'model': timm_vit(96).state_dict()}, tmp_path / 'wide.pth')
    proc = run_tool_in_process('tools/convert_checkpoint.py', tmp_path / 'wide.pth',
                               tmp_path / 'out.pth', '--config',
                               'configs/tiny/finetune_image_tiny.py', check=False)
    assert proc.returncode != 0
    assert "'cls_token' has shape (1, 1, 96) but the target expects (1, 1, 64)" in proc.stderr
    assert not (tmp_path / 'out.pth').exists()


def test_tool_amd_student_to_plain_backbone(tmp_path):
    from mmpretrain.models import VisionTransformer
    from conftest import TINY_STUDENT
    model = build_image_amd()
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, tmp_path / 'amd.pth')
    run_tool_in_process('tools/convert_checkpoint.py', tmp_path / 'amd.pth', tmp_path / 'plain.pth',
                        '--no-prefix')
    plain = torch.load(tmp_path / 'plain.pth', weights_only=False)['state_dict']
    vit = VisionTransformer(arch=TINY_STUDENT, img_size=32, patch_size=4)
    missing, unexpected = vit.load_state_dict(plain, strict=True)
    assert not missing and not unexpected
    assert not any(k.startswith(('decoder', 'teacher', 'heads', 'generators', 'mask_generator')) for k in plain)


# -- whole official pre-training checkpoints (PretrainAMD) <-> VideoAMD -------------------------
def _official_block(prefix, dim, hidden):
    """Key names and shapes of one official block (models/modeling_finetune_amd.py Block)."""
    return {f'{prefix}norm1.weight': (dim,), f'{prefix}norm1.bias': (dim,),
            f'{prefix}attn.qkv.weight': (3 * dim, dim), f'{prefix}attn.q_bias': (dim,),
            f'{prefix}attn.v_bias': (dim,), f'{prefix}attn.proj.weight': (dim, dim),
            f'{prefix}attn.proj.bias': (dim,), f'{prefix}norm2.weight': (dim,),
            f'{prefix}norm2.bias': (dim,), f'{prefix}mlp.fc1.weight': (hidden, dim),
            f'{prefix}mlp.fc1.bias': (hidden,), f'{prefix}mlp.fc2.weight': (dim, hidden),
            f'{prefix}mlp.fc2.bias': (dim,)}


def official_pretrain_state(enc=64, depth=4, enc_mlp=2, dec=64, dec_depth=1, teacher=96, gen_depth=1,
                            heads=2, out=96):
    """A state dict in the layout the official PretrainAMD saves (its state_dict() key
    names, models/modeling_pretrain.py), filled with random values."""
    shapes = {'encoder.patch_embed.proj.weight': (enc, 3, 2, 4, 4), 'encoder.patch_embed.proj.bias': (enc,),
              'encoder.norm.weight': (enc,), 'encoder.norm.bias': (enc,),
              'encoder_to_decoder.weight': (dec, enc), 'mask_token': (1, 1, dec),
              'decoder.norm.weight': (dec,), 'decoder.norm.bias': (dec,),
              'decoder.head.weight': (out, dec), 'decoder.head.bias': (out,)}
    for i in range(depth):
        shapes.update(_official_block(f'encoder.blocks.{i}.', enc, enc * enc_mlp))
    for i in range(dec_depth):
        shapes.update(_official_block(f'decoder.blocks.{i}.', dec, 4 * dec))
    for h in range(heads):
        shapes[f'encoder.projection_heads.{h}.weight'] = (teacher, enc)
        shapes[f'generators.{h}.norm.weight'] = shapes[f'generators.{h}.norm.bias'] = (teacher,)
        for i in range(gen_depth):
            shapes.update(_official_block(f'generators.{h}.blocks.{i}.', teacher, 4 * teacher))
    g = torch.Generator().manual_seed(0)
    return {k: torch.randn(s, generator=g) * 0.05 for k, s in shapes.items()}


def _tiny_official_video_amd():
    from test_video_amd import build_video_amd
    return build_video_amd(decoder=dict(type='PixelDecoder', embed_dims=64, depth=1, num_heads=4,
                                        embed_bias=False))


def test_official_pretrain_checkpoint_converts_to_the_whole_model():
    from amd_mm.checkpoints.convert import convert_official_pretrain, is_official_pretrain
    official = official_pretrain_state()
    assert is_official_pretrain(official) and detect_layout(official) == 'videomae'
    model = _tiny_official_video_amd()
    converted = convert_official_pretrain(official)
    result = model.load_state_dict(converted, strict=False)
    assert not result.unexpected_keys
    # only what the official checkpoint cannot hold keeps the fresh init
    assert sorted(result.missing_keys) == ['backbone.pos_embed', 'branches.0.generators.0.mask_token',
                                           'branches.0.generators.1.mask_token', 'mask_generator.step']
    state = model.state_dict()
    blk = 'decoder.blocks.0.attn.'
    assert torch.equal(state['decoder.blocks.0.qkv.bias'],
                       torch.cat([official[blk + 'q_bias'], torch.zeros(64), official[blk + 'v_bias']]))
    assert torch.equal(state['decoder.embed.weight'], official['encoder_to_decoder.weight'])
    assert torch.equal(state['decoder.mask_token'], official['mask_token'])
    assert torch.equal(state['branches.0.heads.1.weight'], official['encoder.projection_heads.1.weight'])
    assert torch.equal(state['branches.0.generators.1.blocks.0.mlp.2.weight'],
                       official['generators.1.blocks.0.mlp.fc2.weight'])
    assert torch.equal(state['backbone.blocks.3.attn.q_bias'], official['encoder.blocks.3.attn.q_bias'])
    assert torch.equal(state['backbone.blocks.3.mlp.layers.0.0.weight'], official['encoder.blocks.3.mlp.fc1.weight'])


@pytest.mark.slow
def test_whole_model_round_trip_gives_equal_losses():
    from amd_mm.checkpoints.convert import convert_official_pretrain, to_official_pretrain
    torch.manual_seed(0)
    source = _tiny_official_video_amd()
    with torch.no_grad():  # random values everywhere, also in the zero-initialised biases
        for p in source.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    official = to_official_pretrain(source.state_dict())
    assert set(official) == set(official_pretrain_state()) - {k for k in official_pretrain_state()
                                                              if k.startswith('generators.') and '.norm.' in k}
    target = _tiny_official_video_amd()
    target.load_state_dict(convert_official_pretrain(official), strict=False)
    for a, b in zip(source.branches[0].generators, target.branches[0].generators):
        b.mask_token.data.copy_(a.mask_token.data)  # not in the official layout
    target.teacher.load_state_dict(source.teacher.state_dict())  # the same (random) teacher
    x = torch.randn(2, 1, 3, 8, 32, 32)
    losses = []
    for model in (source, target):
        model.mask_generator.step.zero_()
        losses.append(model(x, mode='loss'))
    assert losses[0].keys() == {'loss_rec', 'loss_dir', 'loss_gen'}
    for key in losses[0]:
        torch.testing.assert_close(losses[1][key], losses[0][key], rtol=1e-6, atol=1e-7)


def test_to_official_refuses_what_it_cannot_hold():
    from amd_mm.checkpoints.convert import to_official_pretrain
    from test_video_amd import build_video_amd
    with pytest.raises(ValueError, match='embed_bias=False'):
        to_official_pretrain(build_video_amd().state_dict())  # MAE-style decoder input bias


def test_tool_converts_the_whole_official_checkpoint_for_a_config(tmp_path):
    from mmengine.runner import load_checkpoint
    torch.save({'model': official_pretrain_state(), 'epoch': 199}, tmp_path / 'checkpoint-199.pth')
    config = tmp_path / 'amd_video_official_tiny.py'
    from conftest import ROOT
    config.write_text(f"_base_ = [{osp.join(ROOT, 'configs/tiny/amd_video_tiny.py')!r}]\n"
                      "model = dict(decoder=dict(depth=1, embed_bias=False))\n")
    out = tmp_path / 'amd_mm_whole.pth'
    proc = run_tool_in_process('tools/convert_checkpoint.py', tmp_path / 'checkpoint-199.pth', out,
                               '--whole', '--config', config)
    assert 'mask tokens in a plain Python list' in proc.stdout
    # the model of the config takes it (load_from): every weight but the documented ones
    from mmengine.config import Config
    from mmengine.registry import MODELS, DefaultScope
    cfg = Config.fromfile(str(config))
    cfg.model.teacher.checkpoint = None
    with DefaultScope.overwrite_default_scope('mmaction'):
        model = MODELS.build(cfg.model)
    load_checkpoint(model, str(out), strict=False)
    converted = torch.load(out, weights_only=False)['state_dict']
    state = model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in converted.items())
    # the unmodified tiny config has a decoder input bias the official checkpoint lacks
    proc = run_tool_in_process('tools/convert_checkpoint.py', tmp_path / 'checkpoint-199.pth',
                               tmp_path / 'no.pth', '--whole', '--config',
                               'configs/tiny/amd_video_tiny.py', check=False)
    assert proc.returncode != 0 and 'decoder.embed.bias' in proc.stderr
