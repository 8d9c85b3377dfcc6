import pytest
import torch

from amd_mm.registry import MMACTION_MODELS, MMPRETRAIN_MODELS
from amd_mm.utils.convert import convert, detect_layout

from conftest import build_image_amd, run_tool


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
    feats, _ = teacher(x, ids, None, [2])
    ref = src.blocks(src._pos_embed(src.patch_embed(x)))[:, 1:]
    torch.testing.assert_close(feats[0], ref, rtol=1e-5, atol=1e-5)


def test_tool_converts_and_refuses_mismatched_shapes(tmp_path):
    torch.save({'model': timm_vit(96).state_dict()}, tmp_path / 'wide.pth')
    proc = run_tool('tools/convert_checkpoint.py', str(tmp_path / 'wide.pth'), str(tmp_path / 'out.pth'),
                    '--config', 'configs/tiny/finetune_image_tiny.py', check=False)
    assert proc.returncode != 0
    assert "'cls_token' has shape (1, 1, 96) but the target expects (1, 1, 64)" in proc.stderr
    assert not (tmp_path / 'out.pth').exists()


def test_tool_amd_student_to_plain_backbone(tmp_path):
    from mmpretrain.models import VisionTransformer
    from conftest import TINY_STUDENT
    model = build_image_amd()
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, tmp_path / 'amd.pth')
    run_tool('tools/convert_checkpoint.py', str(tmp_path / 'amd.pth'), str(tmp_path / 'plain.pth'),
             '--no-prefix')
    plain = torch.load(tmp_path / 'plain.pth', weights_only=False)['state_dict']
    vit = VisionTransformer(arch=TINY_STUDENT, img_size=32, patch_size=4)
    missing, unexpected = vit.load_state_dict(plain, strict=True)
    assert not missing and not unexpected
    assert not any(k.startswith(('decoder', 'teacher', 'heads', 'generators', 'mask_generator')) for k in plain)
