"""Plugin fit: AMD over the toolboxes' shipped configs, safe input defaults, checkpoints a
plain toolbox process loads, and the launch scripts' interpreter (issue 13)."""
import json
import os
import os.path as osp
import re
import subprocess
import sys
import textwrap

import pytest
import torch
from mmengine.config import Config

from conftest import (ROOT, TINY_STUDENT, TINY_TEACHER, TINY_VIDEO_STUDENT, TINY_VIDEO_TEACHER,
                      assert_backbone_initialised_from, build_image_amd, run_tool, save_backbone,
                      scalars, shadow_python)
from test_configs import point_to_demo

EXAMPLES = osp.join(ROOT, 'configs', 'examples')
IMAGE_PRE = 'configs/examples/pretrain_amd_vit-s_on-mmpretrain-mae-vit-b_in1k.py'
VIDEO_PRE = 'configs/examples/pretrain_videoamd_vit-s_on-mmaction-videomae-vit-b_k400.py'
FINETUNE = {
    ('image', 's'): 'configs/examples/finetune_vit-s_on-mmpretrain-mae-vit-b-ft_in1k.py',
    ('image', 'b'): 'configs/examples/finetune_vit-b_on-mmpretrain-mae-vit-b-ft_in1k.py',
    ('video', 's'): 'configs/examples/finetune_vit-s_on-mmaction-videomaev2-vit-s_k400.py',
    ('video', 'b'): 'configs/examples/finetune_vit-b_on-mmaction-videomae-vit-b_k400.py',
}
TINY_DECODER = dict(type='PixelDecoder', embed_dims=64, depth=1, num_heads=4)
TINY_GENERATOR = dict(type='FeatureGenerator', depth=1, num_heads=4)


def test_examples_are_the_ones_tested_here():
    found = sorted(osp.relpath(osp.join(EXAMPLES, f), ROOT) for f in os.listdir(EXAMPLES)
                   if f.endswith('.py') and not f.startswith('_'))
    assert found == sorted([IMAGE_PRE, VIDEO_PRE, *FINETUNE.values()])


# -- safe defaults: normalisation ------------------------------------------------------------
def _video_amd(**overrides):
    from amd_mm.registry import MMACTION_MODELS, build_model
    cfg = dict(type='VideoAMD', backbone=TINY_VIDEO_STUDENT,
               teacher=dict(type='FrozenTeacher', backbone=TINY_VIDEO_TEACHER),
               decoder=TINY_DECODER, generator=TINY_GENERATOR,
               student_layers=[2, 4], teacher_layers=[2, 4])
    cfg.update(overrides)
    return build_model(cfg, MMACTION_MODELS)


def test_without_a_data_preprocessor_inputs_are_normalised_with_imagenet_stats():
    from mmengine.structures import BaseDataElement
    mean, std = torch.tensor([123.675, 116.28, 103.53]), torch.tensor([58.395, 57.12, 57.375])
    seed = torch.Generator().manual_seed(0)
    raw = torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8, generator=seed)
    image = build_image_amd(data_preprocessor=None)
    # one view of a batch of one (default_collate stacks the images of a view)
    batch = dict(inputs=[raw[None]], data_samples=[BaseDataElement()])
    out = image.data_preprocessor(batch)['inputs'][0]
    # mmpretrain loads BGR: the default flips to RGB, then normalises
    expected = (raw.flip(0).float() - mean[:, None, None]) / std[:, None, None]
    torch.testing.assert_close(out[0], expected)

    clip = torch.randint(0, 256, (1, 3, 8, 32, 32), dtype=torch.uint8,
                         generator=torch.Generator().manual_seed(1))
    video = _video_amd()
    out = video.data_preprocessor(dict(inputs=[clip], data_samples=[BaseDataElement()]))['inputs']
    expected = (clip.float() - mean[:, None, None, None]) / std[:, None, None, None]
    torch.testing.assert_close(out[0], expected)


@pytest.mark.parametrize('modality', ['image', 'video'])
def test_unnormalised_inputs_for_a_teacher_warn_once_naming_the_key(modality, monkeypatch):
    import amd_mm.models.algorithms.preprocess as preprocess
    logged = []
    monkeypatch.setattr(preprocess, 'print_log', lambda msg, **kw: logged.append(msg))
    raw = dict(type='SelfSupDataPreprocessor', to_rgb=True) if modality == 'image' else \
        dict(type='ActionDataPreprocessor', format_shape='NCTHW')
    build = build_image_amd if modality == 'image' else _video_amd
    model = build(data_preprocessor=raw)
    assert len(logged) == 1 and 'model.data_preprocessor' in logged[0], logged
    assert 'mean' in logged[0] and 'std' in logged[0]
    inputs = torch.randn(2, 3, 32, 32) if modality == 'image' else torch.randn(2, 3, 8, 32, 32)
    with torch.no_grad():
        model.loss(inputs) if modality == 'image' else model(inputs, mode='loss')
    assert len(logged) == 1  # at build only, not per step
    build(data_preprocessor=dict(raw, mean=[0., 0., 0.], std=[1., 1., 1.]))
    if modality == 'image':  # no teacher: plain MAE on raw inputs is the user's choice
        build_image_amd(data_preprocessor=raw, teacher=False)
    assert len(logged) == 1


# -- the pre-training examples, 2 iterations at tiny size (overrides only) ------------------
def tiny_pretrain_cfg(path, demo_root, teacher_ckpts, work_dir):
    """The example config with only sizes, data and the CPU optimizer wrapper overridden."""
    cfg = Config.fromfile(osp.join(ROOT, path))
    video = cfg.model.type == 'VideoAMD'
    if video:
        cfg.model.backbone = TINY_VIDEO_STUDENT
        cfg.model.teacher.backbone = TINY_VIDEO_TEACHER
        steps = {s.type: s for s in cfg.train_dataloader.dataset.pipeline}
        steps['SampleFrames'].update(clip_len=8, frame_interval=2)
        crop, resize = steps['RepeatAugment'].transforms
        crop.input_size, resize.scale = 32, (32, 32)
        batch = 4   # 8 demo videos x 4 views
    else:
        cfg.model.backbone.update(arch=TINY_STUDENT, img_size=32, patch_size=4)
        cfg.model.teacher.backbone.update(arch=TINY_TEACHER, img_size=32, patch_size=4)
        steps = {s.type: s for s in cfg.train_dataloader.dataset.pipeline}
        steps['RandomResizedCrop'].scale = 32
        batch = 48  # 96 demo images
    cfg.model.teacher.checkpoint = teacher_ckpts['video' if video else 'image']
    cfg.model.update(decoder=TINY_DECODER, generator=TINY_GENERATOR, student_layers=[2, 4],
                     teacher_layers=[2, 4])
    point_to_demo(cfg.train_dataloader.dataset, demo_root)
    cfg.train_dataloader.update(batch_size=batch, num_workers=0, persistent_workers=False)
    # AmpOptimWrapper needs a GPU: the same optimizer and paramwise_cfg in fp32
    cfg.optim_wrapper.type = 'OptimWrapper'
    cfg.optim_wrapper.pop('loss_scale', None)
    cfg.train_cfg.max_epochs = 1
    cfg.default_hooks.logger.interval = 1
    cfg.work_dir = str(work_dir)
    cfg.randomness = dict(seed=0)
    return cfg


@pytest.fixture(scope='module')
def pretrained_examples(demo_root, teacher_ckpts, tmp_path_factory):
    """Each pre-training example trained for 2 iterations: {modality: work_dir}."""
    from mmengine.runner import Runner
    out = {}
    for modality, path in (('image', IMAGE_PRE), ('video', VIDEO_PRE)):
        work_dir = tmp_path_factory.mktemp(f'example_{modality}')
        Runner.from_cfg(tiny_pretrain_cfg(path, demo_root, teacher_ckpts, work_dir)).train()
        out[modality] = str(work_dir)
    return out


@pytest.mark.parametrize('modality', ['image', 'video'])
@pytest.mark.slow
def test_pretrain_examples_train_two_iterations(pretrained_examples, modality):
    rows = scalars(pretrained_examples[modality])
    assert [r['iter'] for r in rows] == [1, 2]
    for row in rows:
        terms = [row[k] for k in ('loss_rec', 'loss_dir', 'loss_gen')]
        assert all(torch.isfinite(torch.tensor(t)) and t > 0 for t in terms), row
    state = torch.load(osp.join(pretrained_examples[modality], 'epoch_1.pth'),
                       map_location='cpu', weights_only=False)
    assert {'optimizer', 'message_hub'} <= set(state)
    assert 'backbone.pos_embed' in state['state_dict']


# -- README: the blocks pasted over the shipped configs are the examples ---------------------
def readme_blocks():
    text = open(osp.join(ROOT, 'README.md')).read()
    section = text.split('## Add AMD to your own config', 1)[1].split('\n## ', 1)[0]
    return re.findall(r'```python\n(.*?)```', section, flags=re.S)


def test_readme_blocks_pasted_over_shipped_configs_give_the_examples(tmp_path):
    blocks = readme_blocks()
    assert len(blocks) == 2
    for block, example in zip(blocks, (IMAGE_PRE, VIDEO_PRE)):
        base = re.match(r"# _base_ = (\[.*?\])", block).group(1)  # the user's own line
        path = tmp_path / osp.basename(example)
        path.write_text(f'_base_ = {base}\n{block}')
        pasted = Config.fromfile(str(path))  # no MMEngine inheritance error
        reference = Config.fromfile(osp.join(ROOT, example))
        assert pasted.model.to_dict() == reference.model.to_dict()
        if pasted.model.type == 'AMD':  # the video example adds a schedule of its own
            assert pasted.optim_wrapper.to_dict() == reference.optim_wrapper.to_dict()
        assert not {'neck', 'head', 'cls_head', 'arch'} & set(pasted.model)
        # normalisation survives _delete_: mmpretrain's sits at the top level (the Runner
        # gives it to the model), mmaction2's is restated in the block
        norm = pasted.model.get('data_preprocessor') or pasted.data_preprocessor
        assert norm.mean == [123.675, 116.28, 103.53] and norm.std == [58.395, 57.12, 57.375]


# -- fine-tuning examples at full size: the toolboxes' own (small) ViTs take the students ----
@pytest.mark.parametrize('modality,size', sorted(FINETUNE))
@pytest.mark.slow
def test_finetune_examples_load_every_backbone_tensor_of_a_student(modality, size, tmp_path):
    from amd_mm.registry import MMACTION_MODELS, MMPRETRAIN_MODELS, build_model
    student = Config.fromfile(osp.join(ROOT, IMAGE_PRE if modality == 'image' else VIDEO_PRE))
    student = student.model.backbone.to_dict()  # the student of the pre-training example
    if size == 'b':
        student.update(dict(arch='b') if modality == 'image' else dict(embed_dims=768, num_heads=12))
    registry = MMPRETRAIN_MODELS if modality == 'image' else MMACTION_MODELS
    encoder = build_model(student, registry)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():  # distinct values everywhere (cheaper than init_weights at ViT-B)
        for value in encoder.state_dict().values():
            value.copy_(torch.randn(value.shape, generator=generator))
    ckpt = save_backbone(encoder, tmp_path / 'student.pth')
    assert_backbone_initialised_from(FINETUNE[modality, size], ckpt)


# -- publishing for a plain toolbox process --------------------------------------------------
@pytest.mark.slow
def test_publish_drops_training_state_and_keeps_tensors(pretrained_examples, tmp_path):
    from amd_mm.checkpoints.publish import publish
    src = osp.join(pretrained_examples['image'], 'epoch_1.pth')
    raw = torch.load(src, map_location='cpu', weights_only=False)
    with pytest.raises(Exception, match='Weights only load failed'):
        torch.load(src, map_location='cpu')  # what a process without amd_mm's compat does
    full = publish(src, str(tmp_path / 'amd_image.pth'))
    name = osp.basename(full)
    assert re.fullmatch(r'amd_image-[0-9a-f]{8}\.pth', name)
    import hashlib
    assert hashlib.sha256(open(full, 'rb').read()).hexdigest()[:8] == name[-12:-4]
    out = torch.load(full)  # torch's default weights_only=True
    assert set(out) == {'state_dict', 'meta'}
    assert set(out['state_dict']) == {k for k, v in raw['state_dict'].items() if torch.is_tensor(v)}
    for k, v in out['state_dict'].items():
        assert torch.equal(v, raw['state_dict'][k]), k
    assert out['meta']['epoch'] == 1 and out['meta']['iter'] == 2 and out['meta']['cfg']
    backbone = torch.load(publish(pretrained_examples['image'], str(tmp_path / 'student'),
                                  backbone_only=True))  # a work_dir: its last checkpoint
    student = {k for k in out['state_dict'] if k.startswith('backbone.')}
    assert set(backbone['state_dict']) == student
    torch.save({'optimizer': raw['optimizer']}, tmp_path / 'opt.pth')
    with pytest.raises(ValueError, match='IN: .* holds no model weights'):
        publish(str(tmp_path / 'opt.pth'), str(tmp_path / 'x.pth'))


PLAIN_TOOLBOX = textwrap.dedent('''
    """A colleague's process: mmpretrain / mmaction2 only, amd_mm never imported."""
    import json, sys, types
    import torch
    from mmengine.config import Config
    from mmengine.registry import MODELS, DefaultScope

    root, image_ckpt, video_ckpt, image_vit, video_vit = sys.argv[1:6]
    # mmaction2 1.2.0's wheel lacks mmaction/models/localizers/drn (upstream #2714): without
    # these lines no mmaction2 model builds, with or without amd_mm checkpoints
    for name in ('mmaction.models.localizers.drn', 'mmaction.models.localizers.drn.drn'):
        sys.modules[name] = types.ModuleType(name)
    sys.modules['mmaction.models.localizers.drn.drn'].DRN = None

    def finetune(config, ckpt, scope, backbone, head):
        cfg = Config.fromfile(f'{root}/{config}')
        cfg.model.backbone.update(json.loads(backbone))  # tiny sizes, as the tiny students
        cfg.model.backbone.init_cfg.checkpoint = ckpt
        cfg.model[head].in_channels = 64
        with DefaultScope.overwrite_default_scope(scope):
            model = MODELS.build(cfg.model)
        model.init_weights()
        state = torch.load(ckpt)['state_dict']  # torch's default: weights_only=True
        own = model.backbone.state_dict()
        loaded = [k for k in own if 'backbone.' + k in state]
        assert len(loaded) >= len(own) - 2, (len(loaded), len(own))
        assert all(torch.equal(own[k], state['backbone.' + k]) for k in loaded)
        x = torch.randn(1, 3, 32, 32) if scope == 'mmpretrain' else torch.randn(1, 1, 3, 8, 32, 32)
        with torch.no_grad():
            assert model(x, mode='tensor') is not None
        print(f'{config}: {type(model).__name__}, {len(loaded)} backbone tensors from {ckpt}')

    finetune('configs/examples/finetune_vit-s_on-mmpretrain-mae-vit-b-ft_in1k.py', image_ckpt,
             'mmpretrain', image_vit, 'head')
    finetune('configs/examples/finetune_vit-s_on-mmaction-videomaev2-vit-s_k400.py', video_ckpt,
             'mmaction', video_vit, 'cls_head')
    assert not [m for m in sys.modules if m.split('.')[0] == 'amd_mm'], 'amd_mm was imported'
    print('PLAIN TOOLBOX OK')
''')


@pytest.mark.e2e
def test_published_students_load_in_a_process_without_amd_mm(pretrained_examples, tmp_path):
    from amd_mm.checkpoints.publish import publish
    out = run_tool('tools/publish_checkpoint.py', pretrained_examples['image'],
                   str(tmp_path / 'amd_image.pth'), '--backbone-only').stdout
    published = dict(image=out.split(':')[0].strip(),  # the tool prints the final name first
                     video=publish(pretrained_examples['video'], str(tmp_path / 'amd_video.pth')))
    assert re.fullmatch(r'amd_image-[0-9a-f]{8}\.pth', osp.basename(published['image'])), out
    script = tmp_path / 'colleague.py'
    script.write_text(PLAIN_TOOLBOX)
    image_vit = dict(arch=TINY_STUDENT, img_size=32, patch_size=4)
    video_vit = {k: v for k, v in TINY_VIDEO_STUDENT.items() if k != 'type'}
    env = dict(os.environ, OMP_NUM_THREADS='2', PYTHONPATH='')  # not even the checkout on the path
    args = [ROOT, published['image'], published['video'], json.dumps(image_vit),
            json.dumps(video_vit)]
    proc = subprocess.run([sys.executable, str(script), *args], cwd=str(tmp_path), env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0 and 'PLAIN TOOLBOX OK' in proc.stdout, \
        proc.stdout[-3000:] + proc.stderr[-5000:]


# -- launch scripts: $PYTHON, not the first `python` on PATH ---------------------------------
def test_launch_scripts_run_the_interpreter_named_by_PYTHON(tmp_path):
    """tools/dist_test.sh and tools/slurm_train.sh (tools/dist_train.sh: the 2-process run in
    test_reliability) call $PYTHON even when another `python` stands first on PATH."""
    record = tmp_path / 'argv.txt'
    recorder = tmp_path / 'venv_python'
    recorder.write_text(f'#!/bin/sh\necho "$0 $*" >> {record}\n')
    recorder.chmod(0o755)
    env = dict(os.environ, PATH=shadow_python(tmp_path), PYTHON=str(recorder), PORT='29633')
    subprocess.run(['bash', 'tools/dist_test.sh', 'CFG.py', 'CKPT.pth', '2', '--x'], cwd=ROOT,
                   env=env, check=True, timeout=60)
    srun = tmp_path / 'bin' / 'srun'  # a fake srun that runs the task command once
    srun.write_text('#!/bin/sh\nshift 2\nwhile [ "${1#--}" != "$1" ]; do shift; done\nexec "$@"\n')
    srun.chmod(0o755)
    subprocess.run(['bash', 'tools/slurm_train.sh', 'PART', 'JOB', 'CFG.py', 'WD', '--y'], cwd=ROOT,
                   env=env, check=True, timeout=60)
    test_call, train_call = record.read_text().splitlines()
    assert test_call == (f'{recorder} -m torch.distributed.run --nproc_per_node=2 '
                         f'--master_port=29633 {ROOT}/tools/test.py CFG.py CKPT.pth '
                         '--launcher pytorch --x')
    assert train_call == (f'{recorder} -u {ROOT}/tools/train.py CFG.py --work-dir=WD '
                          '--launcher=slurm --y')
