import pytest
import torch

from amd_mm.masking import AsymmetricMaskGenerator
from amd_mm.registry import MMPRETRAIN_MODELS

from conftest import TINY_TEACHER, build_image_amd


def _teacher(checkpoint=None, **kw):
    return MMPRETRAIN_MODELS.build(dict(
        type='FrozenTeacher', checkpoint=checkpoint,
        backbone=dict(type='MaskedViT', arch=TINY_TEACHER, img_size=32, patch_size=4), **kw))


def test_teacher_features_equal_a_run_by_hand():
    teacher = _teacher()
    vit = teacher.backbone
    x = torch.randn(3, 3, 32, 32)
    m = AsymmetricMaskGenerator(0.75, 0.5, seed=0)(3, (1, 8, 8))
    feats = teacher(x, m.ids_teacher(0.5), [1, 3])
    on_s, on_d = zip(*(m.split_teacher(f) for f in feats))
    for b in range(3):
        tokens = vit.patch_embed(x[b:b + 1])[0] + vit.pos_embed[:, 1:]
        keep = m.ids_student[b].tolist() + m.ids_teacher_only(0.5)[b].tolist()
        seq = torch.cat([vit.cls_token + vit.pos_embed[:, :1], tokens[:, keep]], dim=1)
        taps = {}
        for i, layer in enumerate(vit.layers, start=1):
            seq = layer(seq)
            taps[i] = seq[0, 1:]
        n_s = m.ids_student.shape[1]
        for j, layer in enumerate([1, 3]):
            torch.testing.assert_close(on_s[j][b], taps[layer][:n_s], rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(on_d[j][b], taps[layer][n_s:], rtol=1e-5, atol=1e-5)


def test_teacher_stops_after_the_deepest_layer():
    teacher = _teacher()
    calls = []
    for i, layer in enumerate(teacher.backbone.layers):
        layer.register_forward_hook(lambda *a, i=i: calls.append(i))
    m = AsymmetricMaskGenerator(0.75, 0.5, seed=0)(2, (1, 8, 8))
    teacher(torch.randn(2, 3, 32, 32), m.ids_teacher(0.5), [2])
    assert calls == [0, 1]


def test_teacher_stays_frozen_under_train():
    teacher = _teacher()
    teacher.train()
    assert not teacher.training and not teacher.backbone.training
    assert all(not p.requires_grad for p in teacher.parameters())


def test_teacher_untouched_by_a_training_step(tmp_path):
    model = build_image_amd()
    before = {k: v.clone() for k, v in model.teacher.state_dict().items()}
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    losses = model.loss(torch.randn(4, 3, 32, 32))
    sum(losses.values()).backward()
    assert all(p.grad is None for p in model.teacher.parameters())
    assert model.backbone.layers[0].attn.qkv.weight.grad is not None
    opt.step()
    for k, v in model.teacher.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert not model.teacher.training


def _save_backbone(path, teacher, prefix='backbone.'):
    torch.save({'state_dict': {prefix + k: v for k, v in teacher.backbone.state_dict().items()},
                'meta': {}}, path)


def test_teacher_loads_mmengine_checkpoint_and_work_dir(tmp_path):
    src = _teacher()
    with torch.no_grad():
        for p in src.parameters():
            p.add_(torch.randn_like(p))
    _save_backbone(tmp_path / 'epoch_1.pth', src)
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_1.pth'))
    for ckpt in (str(tmp_path / 'epoch_1.pth'), str(tmp_path)):
        loaded = _teacher(checkpoint=ckpt)
        for k, v in src.backbone.state_dict().items():
            assert torch.equal(loaded.backbone.state_dict()[k], v), k


def test_teacher_checkpoint_survives_runner_init_weights(tmp_path):
    src = _teacher()
    _save_backbone(tmp_path / 't.pth', src)
    model = build_image_amd(teacher_ckpt=str(tmp_path / 't.pth'))  # calls init_weights()
    for k, v in src.backbone.state_dict().items():
        assert torch.equal(model.teacher.backbone.state_dict()[k], v), k


def test_teacher_checkpoint_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"teacher.checkpoint: file '.*nope.pth' does not exist"):
        _teacher(checkpoint=str(tmp_path / 'nope.pth'))
    with pytest.raises(FileNotFoundError, match='last_checkpoint'):
        _teacher(checkpoint=str(tmp_path))
    wide = MMPRETRAIN_MODELS.build(dict(
        type='FrozenTeacher', backbone=dict(type='MaskedViT', img_size=32, patch_size=4, arch=dict(
            TINY_TEACHER, embed_dims=128))))
    _save_backbone(tmp_path / 'wide.pth', wide)
    with pytest.raises(ValueError, match=r"'cls_token' has shape \(1, 1, 128\) but teacher.backbone expects \(1, 1, 96\)"):
        _teacher(checkpoint=str(tmp_path / 'wide.pth'))
    torch.save({'optimizer': {'state': {}, 'param_groups': []}}, tmp_path / 'opt.pth')
    with pytest.raises(ValueError, match='holds no model weights.*optimizer'):
        _teacher(checkpoint=str(tmp_path / 'opt.pth'))
    torch.save({'state_dict': {'neck.x': torch.ones(1)}}, tmp_path / 'neck.pth')
    with pytest.raises(ValueError, match='lacks .* teacher weights'):
        _teacher(checkpoint=str(tmp_path / 'neck.pth'))
