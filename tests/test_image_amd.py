import pytest
import torch

from conftest import TINY_STUDENT, build_image_amd


def _fixed_batch():
    g = torch.Generator().manual_seed(0)
    return torch.randn(8, 3, 32, 32, generator=g)


@pytest.mark.slow
def test_each_loss_term_decreases_on_a_fixed_batch():
    torch.manual_seed(0)
    model = build_image_amd()
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=4e-3)
    x = _fixed_batch()
    history = []
    for _ in range(10):
        model.mask_generator.step.zero_()  # the same masks every step: a fixed problem
        losses = model.loss(x)
        history.append({k: v.item() for k, v in losses.items()})
        opt.zero_grad()
        sum(losses.values()).backward()
        opt.step()
    assert set(history[0]) == {'loss_rec', 'loss_dir', 'loss_gen'}
    for key in history[0]:
        assert all(torch.isfinite(torch.tensor(h[key])) for h in history)
        assert history[-1][key] < 0.7 * history[0][key], (key, history[0][key], history[-1][key])


def test_without_teacher_it_is_mae():
    model = build_image_amd(teacher=False)
    assert model.teacher is None and model.branches.__len__() == 0
    losses = model.loss(_fixed_batch())
    assert set(losses) == {'loss_rec'}


@pytest.mark.slow
def test_loss_weights_scale_the_terms():
    x = _fixed_batch()
    torch.manual_seed(0)
    base = build_image_amd()
    torch.manual_seed(0)
    weighted = build_image_amd(loss_gen=dict(type='AlignLoss', loss_weight=3.0))
    a, b = base.loss(x), weighted.loss(x)
    torch.testing.assert_close(b['loss_gen'], 3 * a['loss_gen'])
    torch.testing.assert_close(b['loss_dir'], a['loss_dir'])


def test_generator_mask_tokens_are_trained_and_saved():
    model = build_image_amd()
    names = dict(model.named_parameters())
    assert 'branches.0.generators.0.mask_token' in names and names['branches.0.generators.0.mask_token'].requires_grad
    assert 'branches.0.generators.1.mask_token' in model.state_dict()
    sum(model.loss(_fixed_batch()).values()).backward()
    assert model.branches[0].generators[0].mask_token.grad.abs().sum() > 0


def test_teacher_is_left_out_of_checkpoints_and_restored_on_load():
    model = build_image_amd()
    state = model.state_dict()
    assert not any(k.startswith('teacher.') for k in state)
    teacher_before = {k: v.clone() for k, v in model.teacher.state_dict().items()}
    missing, unexpected = model.load_state_dict(state, strict=True)
    assert not missing and not unexpected
    for k, v in model.teacher.state_dict().items():
        assert torch.equal(v, teacher_before[k])
    keep = build_image_amd(save_teacher=True)
    with torch.no_grad():
        keep.teacher.backbone.layers[0].ln1.weight.add_(1.0)
    saved = keep.state_dict()
    assert any(k.startswith('teacher.') for k in saved)
    # loaded back into the teacher, not into the student's module tree
    other = build_image_amd(save_teacher=True)
    assert not torch.equal(other.teacher.backbone.layers[0].ln1.weight,
                           keep.teacher.backbone.layers[0].ln1.weight)
    missing, unexpected = other.load_state_dict(saved, strict=True)
    assert not missing and not unexpected
    for k, v in keep.teacher.state_dict().items():
        assert torch.equal(other.teacher.state_dict()[k], v), k


def test_student_loads_into_mmpretrain_vision_transformer_with_no_conversion(tmp_path):
    from mmpretrain.models import VisionTransformer
    model = build_image_amd()
    path = tmp_path / 'amd.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    vit = VisionTransformer(arch=TINY_STUDENT, img_size=32, patch_size=4)
    sd = torch.load(path, weights_only=False)['state_dict']
    own = {k[len('backbone.'):]: v for k, v in sd.items() if k.startswith('backbone.')}
    missing, unexpected = vit.load_state_dict(own, strict=True)
    assert not missing and not unexpected
    # and through MMEngine's own loader with a prefix, as a fine-tuning init_cfg does
    vit2 = VisionTransformer(arch=TINY_STUDENT, img_size=32, patch_size=4,
                             init_cfg=dict(type='Pretrained', checkpoint=str(path), prefix='backbone.'))
    vit2.init_weights()
    x = torch.randn(2, 3, 32, 32)
    vit.eval(), vit2.eval(), model.backbone.eval()
    cls_out = model.backbone(x)[0][:, 0]  # the student's normed class token (out_type='raw')
    torch.testing.assert_close(vit(x)[0], cls_out)
    torch.testing.assert_close(vit2(x)[0], cls_out)
    # the masked forward with every token is the toolbox's forward
    full, _ = model.backbone.forward_masked(x, None)
    torch.testing.assert_close(full, model.backbone(x)[0][:, 1:])


@pytest.mark.parametrize('overrides,match', [
    (dict(student_layers=[2, 5]), r'model.student_layers=\[2, 5\]: layer 5 is out of range; the student has 4 blocks'),
    (dict(teacher_layers=[0, 4]), r'model.teacher_layers=\[0, 4\]: layer 0 is out of range'),
    (dict(teacher_layers=[4]), 'same length'),
    (dict(projection=False), 'model.projection=False but the student width 64 differs from the teacher width 96'),
    (dict(mask_generator=dict(type='AsymmetricMaskGenerator', student_ratio=0.5, teacher_ratio=0.6)),
     'teacher_ratio=0.6 must not exceed mask_generator.student_ratio=0.5'),
    (dict(loss_dir=None, generator=None), 'the teacher would be unused'),
])
def test_config_errors_at_build_time(overrides, match):
    with pytest.raises(ValueError, match=match):
        build_image_amd(**overrides)


def test_each_step_publishes_its_record_for_the_engine():
    from mmpretrain.structures import DataSample

    from amd_mm.models.algorithms.contract import last_step
    model = build_image_amd()
    samples = [DataSample(metainfo=dict(img_path=f'img_{i}.jpg')) for i in range(8)]
    losses = model.loss(_fixed_batch(), samples)
    record = last_step()
    assert record.files == [f'img_{i}.jpg' for i in range(8)]
    assert record.masks.ids_student.shape == (8, 16)  # 64 tokens, student ratio 0.75
    assert set(record.losses) == set(losses)
    for key, value in losses.items():
        assert not record.losses[key].requires_grad
        assert record.loss_terms()[key] == value.item()
    with pytest.raises(AttributeError):  # published complete, never changed afterwards
        record.losses = {}
    second = model.loss(_fixed_batch())  # a new step replaces the record
    assert last_step() is not record and last_step().files == []
    assert not torch.equal(last_step().masks.order, record.masks.order)
    del second


def test_a_step_sorts_each_token_set_once(monkeypatch):
    """Student, hidden and teacher-only sets are sorted once per step, however many
    consumers and aligned layers ask (the decoder, the teacher, two generators)."""
    model = build_image_amd()
    sort, calls = torch.Tensor.sort, []

    def counted(self, *args, **kwargs):
        calls.append(tuple(self.shape))
        return sort(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, 'sort', counted)
    model.loss(_fixed_batch())
    assert sorted(calls) == [(8, 16), (8, 16), (8, 48)]  # student, teacher-only, hidden
    masks = model.mask_generator.peek(8, (1, 8, 8))
    assert masks.ids_teacher(0.5) is masks.ids_teacher(0.5)
    assert torch.equal(masks.ids_teacher(0.5),
                       torch.cat([masks.ids_student, masks.ids_teacher_only(0.5)], dim=1))
    on_student, on_teacher_only = masks.split_teacher(masks.ids_teacher(0.5))
    assert torch.equal(on_student, masks.ids_student)
    assert torch.equal(on_teacher_only, masks.ids_teacher_only(0.5))


def test_reconstruct_keeps_visible_patches_and_predicts_hidden_ones():
    from amd_mm.models.utils import gather_tokens, patchify, pixel_targets
    from amd_mm.models.algorithms.preprocess import normalisation_of
    model = build_image_amd()
    model.train()
    x = _fixed_batch()
    step = int(model.mask_generator.step)
    recon, masks = model.reconstruct(x)
    assert recon.shape == x.shape and int(model.mask_generator.step) == step
    assert model.training and model.decoder.training  # modes restored
    diff = (patchify(recon, 4) - patchify(x, 4)).abs().amax(dim=(2, 3))  # (B, N)
    seen = masks.to_bool(masks.ids_student)
    assert (diff[seen] < 1e-4).all() and (diff[~seen] > 1e-2).all()
    # a decoder that predicted the true targets would give the input back: reconstruct
    # inverts the target normalisation (in the preprocessor's [0, 1] pixel units)
    mean, std = normalisation_of(model.data_preprocessor)
    targets = pixel_targets(x, 4, 1, model.target_norm, mean=mean, std=std)
    model.decoder.forward = lambda latent, ids_student, ids_masked, grid: gather_tokens(targets, ids_masked)
    perfect, _ = model.reconstruct(x, masks)
    torch.testing.assert_close(perfect, x, rtol=1e-4, atol=1e-3)


def test_construction_is_keyword_only():
    from amd_mm.models.algorithms import AMD, DistillOptions
    from amd_mm.registry import MMPRETRAIN_MODELS
    with pytest.raises(TypeError):
        AMD(dict(type='MaskedViT'), dict(type='AsymmetricMaskGenerator'))
    model = build_image_amd()
    with pytest.raises(TypeError):
        model.init_distill(DistillOptions(mask_generator=dict(type='AsymmetricMaskGenerator')),
                           MMPRETRAIN_MODELS)


def test_options_are_declared_once_and_passed_through_by_both_shells():
    """DistillOptions is the one declaration: both shells take exactly its fields (the
    video shell with VideoDistillOptions' defaults), the config check knows them, and an
    unknown key is refused naming it."""
    import inspect
    from dataclasses import MISSING, fields

    from amd_mm.models.algorithms import AMD, DistillOptions, VideoAMD, VideoDistillOptions
    from amd_mm.tools_lib.config_check import accepted_args
    names = [f.name for f in fields(DistillOptions)]
    assert [f.name for f in fields(VideoDistillOptions)] == names
    for shell, options in ((AMD, DistillOptions), (VideoAMD, VideoDistillOptions)):
        params = inspect.signature(shell).parameters
        assert list(params) == ['backbone', *names, 'data_preprocessor', 'init_cfg']
        assert all(p.kind is p.KEYWORD_ONLY for p in params.values())
        for f in fields(options):
            default = f.default if f.default_factory is MISSING else f.default_factory()
            assert params[f.name].default == (inspect.Parameter.empty if default is MISSING
                                              else default), f.name
        assert accepted_args(shell) >= set(params)
    assert inspect.signature(VideoAMD).parameters['teacher_layers'].default == (12, 24)
    model = build_image_amd(target_norm='none', save_teacher=True)
    assert model.target_norm == 'none' and model.save_teacher is True
    with pytest.raises(TypeError, match='student_layer'):
        build_image_amd(student_layer=[2])


def test_symmetric_teacher_switches_the_generative_branch_off(monkeypatch):
    """teacher_ratio == student_ratio (the paper's symmetric ablation): the teacher runs
    exactly the student's tokens, no generator is built, only loss_rec and loss_dir."""
    import amd_mm.models.algorithms.core as core
    logged = []
    monkeypatch.setattr(core, 'print_log', lambda msg, **kw: logged.append(msg))
    model = build_image_amd(mask_generator=dict(
        type='AsymmetricMaskGenerator', student_ratio=0.75, teacher_ratio=0.75, seed=0))
    assert len(logged) == 1 and 'generative branch has nothing to predict and is off' in logged[0]
    assert model.branches[0].generators is None
    assert not any('generators' in name for name, _ in model.named_parameters())
    seen = []
    model.teacher.register_forward_hook(lambda m, args, out: seen.append(args[1]))
    losses = model.loss(_fixed_batch())
    assert set(losses) == {'loss_rec', 'loss_dir'}
    (ids_teacher,), = [seen]
    assert ids_teacher.shape == (8, 16)  # the student's 16 tokens, nothing more


def test_direct_only_teacher_still_sees_its_own_tokens():
    """Without a generator the teacher still runs every token it sees (as the official
    teacher does): its features on the student's tokens, the direct targets, carry the
    context of the teacher-only tokens, so direct-only is not the symmetric arm."""
    model = build_image_amd(generator=None, loss_gen=None)  # teacher ratio 0.5, student 0.75
    seen = []
    model.teacher.register_forward_hook(lambda m, args, out: seen.append((args[1], out)))
    x = _fixed_batch()
    losses = model.loss(x)
    assert set(losses) == {'loss_rec', 'loss_dir'}
    (ids_teacher, feats), = seen
    assert ids_teacher.shape == (8, 32)  # 16 of the student's + 16 only the teacher sees
    ids_student, targets = ids_teacher[:, :16], feats[-1][:, :16]
    without_context = model.teacher(x, ids_student, model.branches[0].teacher_layers)
    assert not torch.allclose(without_context[-1], targets, atol=1e-4)
