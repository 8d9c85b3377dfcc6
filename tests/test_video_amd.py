
import pytest
import torch

from amd_mm.registry import MMACTION_MODELS, build_model

from conftest import TINY_VIDEO_STUDENT as STUDENT, TINY_VIDEO_TEACHER as TEACHER


def build_video_amd(teacher_ckpt=None, **overrides):
    cfg = dict(
        type='VideoAMD', backbone=STUDENT,
        teacher=dict(type='FrozenTeacher', backbone=TEACHER, checkpoint=teacher_ckpt),
        mask_generator=dict(type='AsymmetricMaskGenerator', student_ratio=0.9, teacher_ratio=0.75,
                            mode='tube', seed=0),
        decoder=dict(type='PixelDecoder', embed_dims=64, depth=1, num_heads=4),
        generator=dict(type='FeatureGenerator', depth=1, num_heads=4),
        student_layers=[2, 4], teacher_layers=[2, 4])
    cfg.update(overrides)
    model = build_model(cfg, MMACTION_MODELS)
    model.init_weights()
    return model


def clip_batch(b=4):
    return torch.randn(b, 3, 8, 32, 32, generator=torch.Generator().manual_seed(0))


@pytest.mark.slow
def test_video_losses_finite_and_decreasing_teacher_untouched():
    torch.manual_seed(0)
    model = build_video_amd()
    teacher_before = {k: v.clone() for k, v in model.teacher.state_dict().items()}
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=4e-3)
    x = clip_batch().unsqueeze(1)  # (B, views, C, T, H, W) as ActionDataPreprocessor gives
    model.train()
    history = []
    for _ in range(10):
        model.mask_generator.step.zero_()
        losses = model(x, mode='loss')
        history.append({k: v.item() for k, v in losses.items()})
        opt.zero_grad()
        sum(losses.values()).backward()
        opt.step()
    assert set(history[0]) == {'loss_rec', 'loss_dir', 'loss_gen'}
    for key in history[0]:
        values = torch.tensor([h[key] for h in history])
        assert torch.isfinite(values).all()
        assert values[-1] < 0.7 * values[0], (key, values[0], values[-1])
    for k, v in model.teacher.state_dict().items():
        assert torch.equal(v, teacher_before[k]), k
    assert not model.teacher.training


def test_views_are_independent_samples():
    model = build_video_amd()
    x = torch.randn(2, 3, 3, 8, 32, 32)  # 2 videos x 3 augmented views
    seen = []
    model.mask_generator.register_forward_hook(lambda m, args, out: seen.append(args[0]))
    model(x, mode='loss')
    assert seen == [6]


def test_fused_attention_equals_mmaction_attention():
    from mmaction.models.backbones.vit_mae import VisionTransformer
    fused = MMACTION_MODELS.build(STUDENT)
    plain = VisionTransformer(**{k: v for k, v in STUDENT.items() if k != 'type'}, use_mean_pooling=False)
    missing, unexpected = plain.load_state_dict(fused.state_dict(), strict=True)
    assert not missing and not unexpected
    fused.eval(), plain.eval()
    x = clip_batch(2)
    torch.testing.assert_close(fused(x), plain(x), rtol=1e-4, atol=1e-5)


def test_student_loads_into_mmaction_vision_transformer(tmp_path):
    from mmaction.models.backbones.vit_mae import VisionTransformer
    model = build_video_amd()
    path = tmp_path / 'amd_video.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    args = {k: v for k, v in STUDENT.items() if k != 'type'}
    vit = VisionTransformer(**args, use_mean_pooling=False)
    sd = torch.load(path, weights_only=False)['state_dict']
    missing, unexpected = vit.load_state_dict(
        {k[len('backbone.'):]: v for k, v in sd.items() if k.startswith('backbone.')}, strict=True)
    assert not missing and not unexpected
    # fine-tuning style: Pretrained init_cfg with prefix, mean pooling (fc_norm is new, as VideoMAE)
    ft = VisionTransformer(**args, use_mean_pooling=True,
                           init_cfg=dict(type='Pretrained', checkpoint=str(path), prefix='backbone.'))
    ft.init_weights()
    torch.testing.assert_close(ft.blocks[3].attn.qkv.weight, model.backbone.blocks[3].attn.qkv.weight)


def _official_layout(state):
    """Rename mmaction2 names to the official VideoMAE pre-training release layout."""
    out = {}
    for k, v in state.items():
        k = k.replace('patch_embed.projection.', 'patch_embed.proj.')
        k = k.replace('.mlp.layers.0.0.', '.mlp.fc1.').replace('.mlp.layers.1.', '.mlp.fc2.')
        out['encoder.' + k] = v
    out['decoder.blocks.0.norm1.weight'] = torch.ones(8)
    out['mask_token'] = torch.zeros(1, 1, 8)
    return out


def test_teacher_loads_an_official_videomae_release_with_equal_outputs(tmp_path):
    src = MMACTION_MODELS.build(TEACHER)
    with torch.no_grad():
        for p in src.parameters():
            p.add_(0.1 * torch.randn_like(p))
    state = {k: v for k, v in src.state_dict().items() if k != 'pos_embed'}  # releases omit it
    torch.save({'model': _official_layout(state)}, tmp_path / 'videomae_official.pth')
    model = build_video_amd(teacher_ckpt=str(tmp_path / 'videomae_official.pth'))
    src.eval()
    x = clip_batch(2)
    _, ref = src.forward_masked(x, None, out_layers=[4], final_norm=False)
    ids = torch.arange(256).expand(2, -1)
    feats = model.teacher(x, ids, [4])
    torch.testing.assert_close(feats[0], ref[0])


def test_teacher_with_wrong_tubelet_names_the_key(tmp_path):
    other = MMACTION_MODELS.build(dict(TEACHER, tubelet_size=1))
    torch.save({'state_dict': {'backbone.' + k: v for k, v in other.state_dict().items()}},
               tmp_path / 't1.pth')
    with pytest.raises(ValueError, match=r"'patch_embed.projection.weight' has shape \(96, 3, 1, 4, 4\) "
                                         r'but teacher.backbone expects \(96, 3, 2, 4, 4\)'):
        build_video_amd(teacher_ckpt=str(tmp_path / 't1.pth'))


def test_predict_mode_explains_itself():
    model = build_video_amd()
    with pytest.raises(RuntimeError, match='pre-training model'):
        model(clip_batch(1), mode='predict')
