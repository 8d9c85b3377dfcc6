#!/usr/bin/env python
"""Proof that it learns: AMD against plain MAE / VideoMAE at toy scale, over seeds.

    python tools/study.py --out work_dirs/study              # full study (3 seeds)
    python tools/study.py --out /tmp/study --quick           # end-to-end smoke run (1 seed)

On data written by ``amd_mm.utils.demo_data`` (digits for images, moving digits for
videos; the label of a video is its motion direction) and for each modality:

1. pre-train a larger **teacher** with MAE / VideoMAE (seed 0, shared by all seeds);
2. for every seed, pre-train the same small **student** twice for the same steps on
   the same data: with **AMD** from the teacher, and with plain **MAE / VideoMAE**
   (the same algorithm with ``teacher=None``). The seed fixes initialisation, data
   order and masks, so the two students of a seed even see the same student masks;
3. evaluate both students on the labelled task, on the held-out split that no
   pre-training saw:

   * **fine-tune**: the toolbox's own classifier (mmpretrain ``ImageClassifier`` /
     mmaction2 ``Recognizer3D`` with their ``VisionTransformer``) initialised from
     the student checkpoint (``init_cfg Pretrained, prefix='backbone.'``), all weights
     trained, then its test loop;
   * **linear probe**: the frozen student encoder (all tokens visible, final norm,
     mean over tokens) gives one feature per image / clip (un-augmented); a
     scikit-learn ``LogisticRegressionCV`` on standardised features, C chosen by
     3-fold cross-validation on the training split only, is scored on the held-out
     split. The teacher is probed the same way as a reference.

   The student from its random initialisation (no pre-training), fine-tuned and
   probed the same way, is the second reference: pre-training has to beat it.

Writes to ``--out``: ``results.json`` (top-1 as fractions in [0, 1]: mean, std,
per-seed values per modality / method / protocol, and the paired AMD - baseline
gains), ``results.md`` (the same in percent), ``loss_curves_<modality>.png``,
``accuracy_bars.png`` and ``masks_<modality>.png`` (input, teacher-visible,
student-visible, reconstruction of held-out samples by the seed-0 AMD student, drawn
by :func:`amd_mm.engine.visualization.render_reconstruction`, the code of
``MaskReconstructionVisHook``). Each run is an MMEngine ``Runner`` in a worker
process (``--workers``, default 2, one thread each); its work_dir and log are under
``--out/runs`` and ``--out/logs``.
"""
import argparse
import copy
import glob
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

MODALITIES = ('image', 'video')
METHODS = ('amd', 'mae')
PROTOCOLS = ('finetune', 'linear_probe')
METHOD_NAMES = {'image': {'amd': 'AMD', 'mae': 'MAE'},
                'video': {'amd': 'AMD', 'mae': 'VideoMAE'}}
PROTOCOL_NAMES = {'finetune': 'fine-tune', 'linear_probe': 'linear probe'}

# Everything that differs between --quick and the full study. Students are the tiny
# configs' (width 64, 4 blocks); the teachers are larger (width 128, 6 blocks) and
# pre-trained longer, as a released teacher would be.
SETTINGS = {
    'quick': dict(
        image=dict(num_train=160, num_val=80, batch=32, teacher_epochs=2, student_epochs=2,
                   ft_epochs=2, ft_batch=32, ft_lr=2e-3, log_interval=1),
        video=dict(num_train=16, num_val=8, num_frames=16, batch=8, teacher_epochs=2,
                   student_epochs=2, ft_epochs=2, ft_batch=8, ft_repeats=1, ft_lr=1e-3,
                   log_interval=1),
        seeds=1),
    'full': dict(
        image=dict(num_train=1297, num_val=500, batch=64, teacher_epochs=60, student_epochs=20,
                   ft_epochs=10, ft_batch=64, ft_lr=2e-3, log_interval=5),
        video=dict(num_train=384, num_val=192, num_frames=24, batch=16, teacher_epochs=40,
                   student_epochs=15, ft_epochs=10, ft_batch=16, ft_repeats=1, ft_lr=1e-3,
                   log_interval=4),
        seeds=3),
}
TEACHER = dict(embed_dims=128, depth=6, num_heads=4)
STUDENT_DEPTH = 4


# --------------------------------------------------------------------------------------
# configs (built from the tiny configs, overridden here so that every choice is in one place)
# --------------------------------------------------------------------------------------
def _cfg(name):
    from mmengine.config import Config
    return Config.fromfile(osp.join(ROOT, 'configs', 'tiny', name))


def _schedule(epochs):
    warmup = min(max(1, round(0.1 * epochs)), max(epochs - 1, 0))
    sched = []
    if warmup:
        sched.append(dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=warmup,
                          convert_to_iter_based=True))
    sched.append(dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=warmup,
                      end=epochs, convert_to_iter_based=True))
    return sched


def _runtime(cfg, work_dir, name, seed, epochs, log_interval, vis=True):
    cfg.work_dir = work_dir
    cfg.experiment_name = name
    cfg.randomness = dict(seed=seed, diff_rank_seed=False)
    cfg.param_scheduler = _schedule(epochs)
    cfg.default_hooks.logger.interval = log_interval
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=epochs, max_keep_ckpts=1)
    cfg.env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'),
                       mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0))
    if vis:
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
            dict(type='MaskReconstructionVisHook', interval=0, draw_last=True, max_samples=4)]
    return cfg


def teacher_layers():
    from amd_mm.models.utils.tokens import depth_fraction_layers
    return depth_fraction_layers(STUDENT_DEPTH, TEACHER['depth'])


def pretrain_cfg(modality, method, data, s, seed, work_dir, teacher_ckpt=None):
    """MMEngine config of one pre-training run: ``method`` in ``teacher`` / ``amd`` / ``mae``."""
    epochs = s['teacher_epochs'] if method == 'teacher' else s['student_epochs']
    if modality == 'image':
        cfg = _cfg('amd_image_tiny.py')
        cfg.train_dataloader.dataset.data_root = osp.join(data, 'images') + '/'
        if method == 'teacher':
            cfg.model.backbone.arch = dict(embed_dims=TEACHER['embed_dims'],
                                           num_layers=TEACHER['depth'], num_heads=TEACHER['num_heads'],
                                           feedforward_channels=4 * TEACHER['embed_dims'])
        else:
            cfg.model.teacher.backbone.arch = dict(
                embed_dims=TEACHER['embed_dims'], num_layers=TEACHER['depth'],
                num_heads=TEACHER['num_heads'], feedforward_channels=4 * TEACHER['embed_dims'])
    else:
        cfg = _cfg('amd_video_tiny.py')
        ds = cfg.train_dataloader.dataset
        ds.ann_file = osp.join(data, 'videos', 'train_list.txt')
        ds.data_prefix = dict(video=osp.join(data, 'videos'))
        if method == 'teacher':
            cfg.model.backbone.update(TEACHER)
        else:
            cfg.model.teacher.backbone.update(TEACHER)
    cfg.train_dataloader.batch_size = s['batch']
    cfg.train_cfg.max_epochs = epochs
    if method == 'amd':
        cfg.model.teacher.checkpoint = teacher_ckpt
        cfg.model.student_layers, cfg.model.teacher_layers = teacher_layers()
    else:  # plain MAE / VideoMAE: the same algorithm without a teacher
        cfg.model.teacher = None
        cfg.model.generator = cfg.model.loss_dir = cfg.model.loss_gen = None
    return _runtime(cfg, work_dir, f'{modality}_{method}_s{seed}', seed, epochs, s['log_interval'])


def finetune_cfg(modality, method, data, s, seed, work_dir, student_ckpt):
    """The toolbox's classifier on the labelled task, initialised from ``student_ckpt``.

    The tiny fine-tuning recipes with the batch mixing (mixup / cutmix) switched off
    (with a few hundred samples and a few epochs it keeps the models at chance) and,
    for videos, ``ft_repeats`` clips per video (the recipe's 2 doubles the cost).
    Trained for a fixed number of epochs, no validation during training (no model
    selection on the held-out split), then the config's test protocol on it.
    """
    epochs = s['ft_epochs']
    if modality == 'image':
        cfg = _cfg('finetune_image_tiny.py')
        root = osp.join(data, 'images') + '/'
        cfg.train_dataloader.dataset.data_root = root
        cfg.test_dataloader.dataset.data_root = root
        cfg.model.train_cfg = None
    else:
        cfg = _cfg('finetune_video_tiny.py')
        vids = osp.join(data, 'videos')
        cfg.train_dataloader.dataset.ann_file = osp.join(vids, 'train_list.txt')
        cfg.test_dataloader.dataset.ann_file = osp.join(vids, 'val_list.txt')
        for dl in (cfg.train_dataloader, cfg.test_dataloader):
            dl.dataset.data_prefix = dict(video=vids)
        cfg.test_dataloader.batch_size = 8
        cfg.model.data_preprocessor.blending = None
        for step in cfg.train_dataloader.dataset.pipeline:
            if step['type'] == 'RepeatAugment':
                step['num_repeats'] = s['ft_repeats']
    if student_ckpt is None:  # from scratch
        cfg.model.backbone.init_cfg = None
    else:
        cfg.model.backbone.init_cfg.checkpoint = student_ckpt
    cfg.train_dataloader.batch_size = s['ft_batch']
    cfg.optim_wrapper.optimizer.lr = s['ft_lr']
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=epochs)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None  # no model selection on val
    return _runtime(cfg, work_dir, f'{modality}_{method}_finetune_s{seed}', seed, epochs,
                    s['log_interval'], vis=False)


def probe_loader_cfgs(modality, data):
    """Un-augmented train / held-out loaders for feature extraction."""
    if modality == 'image':
        pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
        make = lambda split: dict(  # noqa: E731
            batch_size=64, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate'),
            dataset=dict(type='CustomDataset', data_root=osp.join(data, 'images') + '/',
                         data_prefix=split, pipeline=pipeline))
    else:
        pipeline = copy.deepcopy(_cfg('finetune_video_tiny.py').val_pipeline)
        vids = osp.join(data, 'videos')
        make = lambda split: dict(  # noqa: E731
            batch_size=16, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
            dataset=dict(type='VideoDataset', ann_file=osp.join(vids, f'{split}_list.txt'),
                         data_prefix=dict(video=vids), pipeline=pipeline, test_mode=True))
    return make('train'), make('val')


# --------------------------------------------------------------------------------------
# worker side: one job = MMEngine runners in this process
# --------------------------------------------------------------------------------------
def _scalars(work_dir):
    runs = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if not runs:
        return []
    with open(runs[-1]) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [{k: r[k] for k in r if k == 'iter' or k.startswith('loss')} for r in rows if 'loss' in r]


def _last_ckpt(work_dir):
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def _features(model, loader, encoder=None):
    import numpy as np
    import torch
    from amd_mm.engine.visualization import batch_inputs
    encoder = encoder or model.backbone
    was = encoder.training
    encoder.eval()
    feats, labels = [], []
    with torch.no_grad():
        for batch in loader:
            inputs = batch_inputs(model, batch)
            tokens, _ = encoder.forward_masked(inputs, None)
            feats.append(tokens.float().mean(dim=1).cpu().numpy())
            labels += [int(sample.gt_label) for sample in batch['data_samples']]
    encoder.train(was)
    return np.concatenate(feats), np.asarray(labels)


def linear_probe(model, runner, modality, data, seed, encoder=None):
    """Top-1 (fraction) of a logistic regression on frozen mean-pooled encoder features."""
    import warnings
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    train_cfg, val_cfg = probe_loader_cfgs(modality, data)
    x_tr, y_tr = _features(model, runner.build_dataloader(train_cfg, seed=seed), encoder)
    x_va, y_va = _features(model, runner.build_dataloader(val_cfg, seed=seed), encoder)
    clf = make_pipeline(StandardScaler(), LogisticRegressionCV(
        Cs=[0.001, 0.01, 0.1, 1.0, 10.0], cv=3, max_iter=3000, random_state=seed))
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', ConvergenceWarning)
        clf.fit(x_tr, y_tr)
    return float((clf.predict(x_va) == y_va).mean())


def render_masks(model, runner, modality, data, seed, path):
    """``masks_<modality>.png`` with the hook's rendering code, on held-out samples."""
    import torch
    from PIL import Image
    from amd_mm.engine.visualization import batch_inputs, render_reconstruction
    import numpy as np
    _, val_cfg = probe_loader_cfgs(modality, data)
    loader = runner.build_dataloader(val_cfg, seed=seed)
    picks = np.linspace(0, len(loader.dataset) - 1, 4).round().astype(int)  # spread over classes
    batch = loader.collate_fn([loader.dataset[int(i)] for i in picks])
    with torch.random.fork_rng(devices=[]):
        picture = render_reconstruction(model, batch_inputs(model, batch), max_samples=4,
                                        title=f'{modality}: AMD student (seed {seed}), held-out samples')
    Image.fromarray(picture).save(path, optimize=True)
    return list(picture.shape)


def run_job(spec):
    import torch
    torch.set_num_threads(spec['threads'])
    import amd_mm  # noqa: F401
    from mmengine.runner import Runner
    modality, method, seed, s = spec['modality'], spec['method'], spec['seed'], spec['settings']
    data, run_dir = spec['data'], spec['run_dir']
    result = dict(modality=modality, method=method, seed=seed)
    t0 = time.time()

    pre_dir = osp.join(run_dir, 'pretrain')
    if method == 'scratch':  # reference: the student's random initialisation, no pre-training
        runner = Runner.from_cfg(pretrain_cfg(modality, 'mae', data, s, seed, pre_dir))
        runner.model.init_weights()
        result['checkpoint'] = None
    else:
        cfg = pretrain_cfg(modality, method, data, s, seed, pre_dir, spec.get('teacher_ckpt'))
        runner = Runner.from_cfg(cfg)
        runner.train()
        result['checkpoint'] = _last_ckpt(pre_dir)
        result['losses'] = _scalars(pre_dir)
    model = runner.model
    result['pretrain_s'] = time.time() - t0

    t1 = time.time()
    result['linear_probe'] = linear_probe(model, runner, modality, data, seed)
    result['probe_s'] = time.time() - t1
    if method == 'amd' and spec.get('masks'):
        result['masks_shape'] = render_masks(model, runner, modality, data, seed, spec['masks'])
    print(f'[study] {modality} {method} seed {seed}: linear probe {result["linear_probe"]:.4f}', flush=True)

    if method != 'teacher':
        t2 = time.time()
        ft_dir = osp.join(run_dir, 'finetune')
        ft = Runner.from_cfg(finetune_cfg(modality, method, data, s, seed, ft_dir, result['checkpoint']))
        ft.train()
        metrics = ft.test()
        key = 'accuracy/top1' if modality == 'image' else 'acc/top1'
        top1 = float(metrics[key])
        result['finetune'] = top1 / 100.0 if modality == 'image' else top1
        result['finetune_losses'] = _scalars(ft_dir)
        result['finetune_s'] = time.time() - t2
        print(f'[study] {modality} {method} seed {seed}: fine-tune {result["finetune"]:.4f}', flush=True)
    result['wall_s'] = time.time() - t0
    with open(spec['result'], 'w') as f:
        json.dump(result, f)


# --------------------------------------------------------------------------------------
# driver side: data, scheduling, aggregation, pictures
# --------------------------------------------------------------------------------------
def make_data(out, settings, modalities=MODALITIES, seed=0):
    """Write (once) the images and videos of the study under ``out/data``."""
    from amd_mm.utils import demo_data
    data = osp.join(out, 'data')
    si, sv = settings['image'], settings['video']
    stamp = dict(seed=seed, image={k: si[k] for k in ('num_train', 'num_val')},
                 video={k: sv[k] for k in ('num_train', 'num_val', 'num_frames')})
    marker = osp.join(data, 'study_data.json')
    if osp.isdir(data) and (not osp.isfile(marker) or json.load(open(marker)) != stamp):
        shutil.rmtree(data)  # written for other settings: make it again
    os.makedirs(data, exist_ok=True)
    with open(marker, 'w') as f:
        json.dump(stamp, f)
    if 'image' in modalities and not osp.isfile(osp.join(data, 'images', 'meta', 'val.txt')):
        demo_data.make_images(data, num_train=si['num_train'], num_val=si['num_val'], size=32, seed=seed)
    if 'video' in modalities and not osp.isfile(osp.join(data, 'videos', 'val_list.txt')):
        demo_data.make_videos(data, num_train=sv['num_train'], num_val=sv['num_val'],
                              num_frames=sv['num_frames'], size=32, seed=seed)
    return data


class Scheduler:
    """Runs job specs as ``tools/study.py --job`` subprocesses, ``workers`` at a time,
    each after the jobs it depends on; longest expected jobs first."""

    def __init__(self, out, workers, threads):
        self.out, self.workers, self.threads = out, workers, threads
        self.jobs, self.done, self.failed = {}, {}, []

    def add(self, name, spec, after=(), cost=1.0):
        spec = dict(spec, threads=self.threads, run_dir=osp.join(self.out, 'runs', name),
                    result=osp.join(self.out, 'runs', name, 'result.json'))
        self.jobs[name] = dict(spec=spec, after=list(after), cost=cost)

    def run(self, prepare):
        """``prepare(name, spec, done)`` fills in what a job needs from finished ones."""
        pending, running = dict(self.jobs), {}
        os.makedirs(osp.join(self.out, 'logs'), exist_ok=True)
        while pending or running:
            ready = sorted((n for n, j in pending.items() if all(a in self.done for a in j['after'])),
                           key=lambda n: -pending[n]['cost'])
            while ready and len(running) < self.workers:
                name = ready.pop(0)
                job = pending.pop(name)
                spec = prepare(name, job['spec'], self.done)
                os.makedirs(spec['run_dir'], exist_ok=True)
                path = osp.join(spec['run_dir'], 'job.json')
                with open(path, 'w') as f:
                    json.dump(spec, f, indent=1)
                log = open(osp.join(self.out, 'logs', f'{name}.log'), 'w')
                env = dict(os.environ, OMP_NUM_THREADS=str(self.threads), PYTHONUNBUFFERED='1')
                proc = subprocess.Popen([sys.executable, osp.abspath(__file__), '--job', path],
                                        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
                running[name] = (proc, log, time.time(), spec)
                print(f'[study] started {name}', flush=True)
            if pending and not running and not ready:
                raise SystemExit(f'study: jobs {sorted(pending)} wait on failed jobs {self.failed}')
            time.sleep(0.5)
            for name, (proc, log, start, spec) in list(running.items()):
                if proc.poll() is None:
                    continue
                log.close()
                del running[name]
                if proc.returncode != 0 or not osp.isfile(spec['result']):
                    self.failed.append(name)
                    with open(log.name) as f:
                        tail = f.read()[-3000:]
                    for other, (p, lg, _, _) in running.items():
                        p.kill()
                        lg.close()
                    raise SystemExit(f'study: job {name} failed ({proc.returncode}); log '
                                     f'{log.name}:\n{tail}')
                with open(spec['result']) as f:
                    self.done[name] = json.load(f)
                print(f'[study] finished {name} in {time.time() - start:.0f}s', flush=True)
        return self.done


def summarise(values):
    import numpy as np
    v = np.asarray(values, dtype=float)
    return dict(mean=float(v.mean()), std=float(v.std(ddof=1)) if len(v) > 1 else 0.0,
                values=[float(x) for x in v], n=int(len(v)))


def aggregate(done, seeds, modalities=MODALITIES):
    """Per modality / method / protocol statistics, paired AMD - baseline gains, and the
    references (teacher probe; the student from random initialisation)."""
    results, gains, references = {}, {}, {}
    for modality in modalities:
        scratch = [done[f'{modality}_scratch_s{seed}'] for seed in seeds]
        references[modality] = dict(
            teacher=dict(linear_probe=done[f'{modality}_teacher']['linear_probe']),
            scratch={p: summarise([r[p] for r in scratch]) for p in PROTOCOLS})
        results[modality] = {}
        for method in METHODS:
            runs = [done[f'{modality}_{method}_s{seed}'] for seed in seeds]
            results[modality][method] = {p: summarise([r[p] for r in runs]) for p in PROTOCOLS}
        gains[modality] = {}
        for p in PROTOCOLS:
            diff = [done[f'{modality}_amd_s{s}'][p] - done[f'{modality}_mae_s{s}'][p] for s in seeds]
            g = summarise(diff)
            g['amd_wins'] = int(sum(d > 0 for d in diff))
            g['ties'] = int(sum(d == 0 for d in diff))
            for method in METHODS:  # each pre-training against the random initialisation
                g[f'{method}_vs_scratch'] = summarise(
                    [done[f'{modality}_{method}_s{s}'][p] - done[f'{modality}_scratch_s{s}'][p]
                     for s in seeds])
            gains[modality][p] = g
    return results, gains, references


def _pct(stat):
    return f'{100 * stat["mean"]:.1f} ± {100 * stat["std"]:.1f}'


def write_markdown(path, summary):
    res, gains, refs = summary['results'], summary['gains'], summary['references']
    seeds = summary['seeds']
    lines = ['# AMD vs. MAE / VideoMAE at toy scale', '',
             f'Command: `{summary["command"]}` ({summary["mode"]} mode, seeds {seeds}, '
             f'wall time {summary["wall_s"] / 60:.1f} min on {summary["cpus"]} CPU cores).', '',
             'Top-1 accuracy (%) on the held-out split, mean ± std over seeds (sample std; per-seed '
             'values in brackets). Same student architecture, data, steps and masks for both methods.',
             '', '| modality | method | fine-tune top-1 (%) | linear-probe top-1 (%) |',
             '|---|---|---|---|']
    def cells(stats):
        return [f'{_pct(st)} [{", ".join(f"{100 * v:.1f}" for v in st["values"])}]'
                for st in (stats[p] for p in PROTOCOLS)]

    for modality in res:
        for method in METHODS:
            ft, lp = cells(res[modality][method])
            lines.append(f'| {modality} | {METHOD_NAMES[modality][method]} | {ft} | {lp} |')
        ft, lp = cells(refs[modality]['scratch'])
        lines.append(f'| {modality} | reference: random init, no pre-training | {ft} | {lp} |')
        lines.append(f'| {modality} | reference: teacher (seed 0) | - | '
                     f'{100 * refs[modality]["teacher"]["linear_probe"]:.1f} |')
    lines += ['', 'Gain of AMD over the baseline (percentage points), paired by seed, and of each '
              'pre-training over the random initialisation:', '',
              '| modality | protocol | AMD - baseline (pp) | AMD better in | verdict | '
              'AMD - random init (pp) | baseline - random init (pp) |', '|---|---|---|---|---|---|---|']
    for modality in res:
        for p in PROTOCOLS:
            g = gains[modality][p]
            if g['n'] > 1 and g['mean'] - g['std'] > 0:
                verdict = 'AMD better (gain > 1 std)'
            elif g['mean'] > 0:
                verdict = 'AMD ahead, within the spread' if g['n'] > 1 else 'AMD ahead (1 seed)'
            elif g['mean'] == 0:
                verdict = 'no difference'
            else:
                verdict = 'baseline ahead: the gain does not hold'
            amd_vs, base_vs = (g[f'{m}_vs_scratch'] for m in METHODS)
            if amd_vs['mean'] <= 0 or (amd_vs['n'] > 1 and amd_vs['mean'] - amd_vs['std'] <= 0):
                verdict += '; but AMD is not clearly above random init'
            if base_vs['mean'] < 0:
                verdict += '; the baseline is below random init'
            vs = [f'{100 * v["mean"]:+.1f} ± {100 * v["std"]:.1f}' for v in (amd_vs, base_vs)]
            lines.append(f'| {modality} | {PROTOCOL_NAMES[p]} | {100 * g["mean"]:+.1f} ± '
                         f'{100 * g["std"]:.1f} | {g["amd_wins"]}/{g["n"]} seeds | {verdict} | '
                         f'{vs[0]} | {vs[1]} |')
    pictures = [f'loss_curves_{m}.png' for m in res] + ['accuracy_bars.png'] + [f'masks_{m}.png' for m in res]
    lines += ['', 'Pictures: ' + ', '.join(f'`{p}`' for p in pictures) + '.', '', 'Settings:', '', '```',
              json.dumps(summary['settings'], indent=1), '```', '']
    with open(path, 'w') as f:
        f.write('\n'.join(lines))


def plot_losses(path, modality, done, seeds):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.3), dpi=80)
    colors = dict(teacher='0.5', amd='tab:red', mae='tab:blue')
    label = dict(teacher=f'teacher ({METHOD_NAMES[modality]["mae"]})', amd='AMD student',
                 mae=f'{METHOD_NAMES[modality]["mae"]} student')
    for name, method in [(f'{modality}_teacher', 'teacher')] + \
            [(f'{modality}_{m}_s{s}', m) for m in METHODS for s in seeds]:
        rows = done[name]['losses']
        it = [r['iter'] for r in rows if 'loss_rec' in r]
        axes[0].plot(it, [r['loss_rec'] for r in rows if 'loss_rec' in r], color=colors[method],
                     lw=1, alpha=0.8,
                     label=label[method] if name.endswith(('teacher', f'_s{seeds[0]}')) else None)
        if method == 'amd':
            for key, ls in (('loss_dir', '-'), ('loss_gen', '--')):
                axes[1].plot([r['iter'] for r in rows if key in r], [r[key] for r in rows if key in r],
                             color='tab:red', ls=ls, lw=1, alpha=0.8,
                             label=key if name.endswith('_s' + str(seeds[0])) else None)
    rec = [r['loss_rec'] for n in done if n.startswith(modality) for r in done[n].get('losses', [])
           if 'loss_rec' in r]
    if rec:  # the first iterations' drop would flatten everything else
        axes[0].set_ylim(0.95 * min(rec), 2 * sorted(rec)[len(rec) // 2])
    axes[0].set_title(f'{modality}: pixel reconstruction (loss_rec)', fontsize=9)
    axes[1].set_title(f'{modality}: AMD feature alignment', fontsize=9)
    for ax in axes:
        ax.set_xlabel('iteration', fontsize=8)
        ax.set_ylabel('loss', fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_accuracy(path, summary):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import numpy as np
    res = summary['results']
    groups = [(m, p) for m in res for p in PROTOCOLS]
    fig, ax = plt.subplots(figsize=(7, 3.3), dpi=80)
    x = np.arange(len(groups))
    refs = summary['references']
    bars = (('amd', 'tab:red', 'AMD'), ('mae', 'tab:blue', 'MAE / VideoMAE'),
            ('scratch', '0.75', 'random init'))
    for i, (method, color, name) in enumerate(bars):
        stats = [(refs[m]['scratch'] if method == 'scratch' else res[m][method])[p] for m, p in groups]
        pos = x + (i - 1) * 0.27
        ax.bar(pos, [100 * st['mean'] for st in stats], 0.25, yerr=[100 * st['std'] for st in stats],
               capsize=2, color=color, alpha=0.8, label=name)
        for j, st in enumerate(stats):
            ax.scatter([pos[j]] * len(st['values']), [100 * v for v in st['values']], s=6,
                       color='k', zorder=3)
    for j, (m, p) in enumerate(groups):
        if p == 'linear_probe':
            t = 100 * refs[m]['teacher']['linear_probe']
            ax.plot([x[j] - 0.4, x[j] + 0.4], [t, t], color='0.3', ls=':', lw=1,
                    label='teacher (probe)' if j == 1 else None)
    ax.set_xticks(x)
    ax.set_xticklabels([f'{m}\n{PROTOCOL_NAMES[p]}' for m, p in groups], fontsize=8)
    ax.set_ylabel('held-out top-1 (%)', fontsize=8)
    ax.set_ylim(0, 119)
    ax.set_yticks(range(0, 101, 20))
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7, loc='upper center', ncol=4, frameon=False)
    ax.grid(axis='y', alpha=0.3)
    ax.set_title(f'mean ± std over {len(summary["seeds"])} seed(s), dots: seeds', fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--out', default='work_dirs/study', help='output folder')
    parser.add_argument('--quick', action='store_true', help='tiny data, few steps, 1 seed (~2-3 min)')
    parser.add_argument('--seeds', type=int, default=None, help='seeds 0..N-1 (default: 3, quick: 1)')
    parser.add_argument('--workers', type=int, default=2, help='parallel runs (one thread each)')
    parser.add_argument('--modalities', nargs='+', choices=MODALITIES, default=list(MODALITIES),
                        help='run only these modalities (default: both)')
    parser.add_argument('--set', nargs='+', default=[], metavar='MOD.KEY=VALUE',
                        help='override a setting, e.g. image.student_epochs=30 (pilots)')
    parser.add_argument('--report-only', action='store_true',
                        help='rebuild results.* and the pictures from the finished runs in --out')
    parser.add_argument('--job', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.job:
        with open(args.job) as f:
            return run_job(json.load(f))
    if args.report_only:
        return report_only(osp.abspath(args.out))

    start = time.time()
    mode = 'quick' if args.quick else 'full'
    settings = copy.deepcopy(SETTINGS[mode])
    seeds = list(range(args.seeds if args.seeds else settings.pop('seeds')))
    settings.pop('seeds', None)
    for item in args.set:
        key, value = item.split('=', 1)
        modality, name = key.split('.', 1)
        if modality not in settings or name not in settings[modality]:
            raise SystemExit(f'--set {item}: unknown setting {key!r}')
        settings[modality][name] = type(settings[modality][name])(float(value)) \
            if isinstance(settings[modality][name], (int, float)) else value
    modalities = tuple(m for m in MODALITIES if m in args.modalities)
    out = osp.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    workers = max(1, args.workers)
    threads = max(1, (os.cpu_count() or 2) // workers)
    data = make_data(out, settings, modalities)
    print(f'[study] {mode}: data in {data} ({time.time() - start:.0f}s), seeds {seeds}', flush=True)

    sched = Scheduler(out, workers, threads)
    video_cost = 2.0
    for modality in modalities:
        base = dict(modality=modality, data=data, settings=settings[modality])
        w = video_cost if modality == 'video' else 1.0
        sched.add(f'{modality}_teacher', dict(base, method='teacher', seed=0), cost=10 * w)
        for seed in seeds:
            sched.add(f'{modality}_scratch_s{seed}', dict(base, method='scratch', seed=seed), cost=0.5 * w)
            for method in METHODS:
                spec = dict(base, method=method, seed=seed)
                if method == 'amd' and seed == seeds[0]:
                    spec['masks'] = osp.join(out, f'masks_{modality}.png')
                sched.add(f'{modality}_{method}_s{seed}', spec, after=[f'{modality}_teacher'],
                          cost=w * (1.5 if method == 'amd' else 1.0))

    def prepare(name, spec, done):
        if spec['method'] == 'amd':
            spec = dict(spec, teacher_ckpt=done[f'{spec["modality"]}_teacher']['checkpoint'])
        return spec

    done = sched.run(prepare)
    cmd = 'python tools/study.py --out ' + args.out + (' --quick' if args.quick else '') + \
        (f' --seeds {args.seeds}' if args.seeds else '') + \
        (f' --modalities {" ".join(modalities)}' if modalities != MODALITIES else '') + \
        (f' --set {" ".join(args.set)}' if args.set else '')
    run_info = dict(command=cmd, mode=mode, seeds=seeds, wall_s=time.time() - start,
                    cpus=os.cpu_count(), workers=workers, settings=settings, modalities=modalities)
    with open(osp.join(out, 'run_info.json'), 'w') as f:
        json.dump(run_info, f, indent=1)
    return write_report(out, done, run_info)


def report_only(out):
    """Rebuild the report from ``out/run_info.json`` and ``out/runs/*/result.json``."""
    info_path = osp.join(out, 'run_info.json')
    if not osp.isfile(info_path):
        raise SystemExit(f'--report-only: no {info_path}: run the study into {out} first')
    with open(info_path) as f:
        run_info = json.load(f)
    done = {}
    for path in sorted(glob.glob(osp.join(out, 'runs', '*', 'result.json'))):
        with open(path) as f:
            done[osp.basename(osp.dirname(path))] = json.load(f)
    return write_report(out, done, run_info)


def write_report(out, done, run_info):
    seeds, modalities = run_info['seeds'], tuple(run_info['modalities'])
    results, gains, references = aggregate(done, seeds, modalities)
    summary = dict(
        command=run_info['command'], mode=run_info['mode'], seeds=seeds, wall_s=run_info['wall_s'],
        cpus=run_info['cpus'], workers=run_info['workers'],
        units='top-1 accuracy as a fraction in [0, 1] (results.md shows percent)',
        methods={m: METHOD_NAMES[m] for m in MODALITIES},
        teacher_arch=TEACHER, student_depth=STUDENT_DEPTH,
        settings=run_info['settings'], results=results, gains=gains, references=references,
        probe='frozen student encoder, all tokens, final norm, mean over tokens; StandardScaler + '
              'LogisticRegressionCV(Cs=[1e-3..10], cv=3 on the training split)',
        job_wall_s={n: round(d['wall_s'], 1) for n, d in sorted(done.items())})
    with open(osp.join(out, 'results.json'), 'w') as f:
        json.dump(summary, f, indent=1)
    write_markdown(osp.join(out, 'results.md'), summary)
    for modality in modalities:
        plot_losses(osp.join(out, f'loss_curves_{modality}.png'), modality, done, seeds)
    plot_accuracy(osp.join(out, 'accuracy_bars.png'), summary)
    print(open(osp.join(out, 'results.md')).read())
    print(f'[study] done in {summary["wall_s"] / 60:.1f} min -> {out}', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
