"""One study job, run with MMEngine runners from config files.

A job is a dict (``spec``) that names config files and the steps to take:

* ``pretrain``: train the pre-training config (or, with ``train=False``, only build
  its model at its random initialisation: the "no pre-training" reference);
* ``probe``: linear probe of the pre-trained encoder with the ``probe`` loaders of the
  fine-tuning config (:mod:`amd_mm.analysis.probe`);
* ``finetune``: the fine-tuning config initialised from the pre-trained checkpoint
  (or from ``spec['init']``; None: random initialisation), trained, then its test loop.

The configs are used as written, with the same runtime settings for every job:
``work_dir``, ``experiment_name``, ``randomness.seed``, every path that starts with
``work_dirs/study/`` moved under the study's output folder, the fine-tuning
initialisation, and ``spec['options']`` (MMEngine ``--cfg-options`` style, the same
for every job of a kind; ``--quick`` uses them to shorten runs).
"""
import glob
import json
import os.path as osp
import resource
import time
from typing import Dict, List, Optional

STUDY_ROOT = 'work_dirs/study/'


def reroot(value, out: str):
    """``value`` (nested dicts / lists / strings) with every string that starts with
    ``work_dirs/study/`` moved under ``out``."""
    if isinstance(value, str):
        return osp.join(out, value[len(STUDY_ROOT):]) if value.startswith(STUDY_ROOT) else value
    if isinstance(value, dict):
        for key in list(value):
            value[key] = reroot(value[key], out)
        return value
    if isinstance(value, (list, tuple)):
        return type(value)(reroot(v, out) for v in value)
    return value


def load_run_config(path: str, out: str, work_dir: str, name: str, seed: int,
                    options: Optional[dict] = None):
    """A study config with the runtime settings of one run (see the module docstring)."""
    from ..utils.config import load_config
    cfg = load_config(path, cfg_options=options or None, work_dir=work_dir)
    reroot(cfg._cfg_dict, out)
    cfg.work_dir = work_dir
    cfg.experiment_name = name
    cfg.randomness = dict(seed=int(seed), diff_rank_seed=False)
    return cfg


def read_scalars(work_dir: str) -> List[Dict]:
    """The rows of the latest MMEngine ``scalars.json`` under ``work_dir``."""
    runs = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if not runs:
        raise FileNotFoundError(f'no MMEngine scalars.json under {work_dir!r}: was it trained?')
    with open(runs[-1]) as f:
        return [json.loads(line) for line in f if line.strip()]


def loss_rows(work_dir: str) -> List[Dict]:
    """``iter`` and the ``loss*`` terms of every logged training iteration."""
    return [{k: r[k] for k in r if k == 'iter' or k.startswith('loss')}
            for r in read_scalars(work_dir) if 'loss' in r]


def last_checkpoint(work_dir: str) -> str:
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def top1(metrics: Dict) -> float:
    """Top-1 as a fraction from the metrics of an mmpretrain (percent) or mmaction2
    (fraction) test loop."""
    if 'accuracy/top1' in metrics:
        return float(metrics['accuracy/top1']) / 100.0
    return float(metrics['acc/top1'])


def render_masks(model, loader, path: str, title: str) -> List[int]:
    """Masks and reconstructions of 4 samples spread over ``loader``'s dataset (so over
    its classes), drawn by the code of ``MaskReconstructionVisHook``; saved as a PNG."""
    import numpy as np
    import torch
    from PIL import Image
    from ..models.algorithms.contract import batch_inputs
    from ..models.algorithms.pictures import render_reconstruction
    picks = np.linspace(0, len(loader.dataset) - 1, 4).round().astype(int)
    batch = loader.collate_fn([loader.dataset[int(i)] for i in picks])
    with torch.random.fork_rng(devices=[]):
        picture = render_reconstruction(model, batch_inputs(model, batch), max_samples=4, title=title)
    Image.fromarray(picture).save(path, optimize=True)
    return list(picture.shape)


def run_job(spec: Dict) -> Dict:
    """Run the steps of ``spec`` (see the module docstring); the result is also written
    to ``spec['result']`` as JSON. Top-1 accuracies are fractions in [0, 1]."""
    import torch
    torch.set_num_threads(int(spec.get('threads', 1)))
    import amd_mm  # noqa: F401  (registration)
    from mmengine.runner import Runner
    from .probe import linear_probe
    name, seed, out, run_dir = spec['name'], int(spec['seed']), spec['out'], spec['run_dir']
    options = spec.get('options', {})
    result = dict(name=name, seed=seed)
    start = time.time()

    model = None
    if spec.get('pretrain'):
        pre_dir = osp.join(run_dir, 'pretrain')
        runner = Runner.from_cfg(load_run_config(spec['pretrain'], out, pre_dir, f'{name}_pretrain',
                                                 seed, options.get('pretrain')))
        if spec.get('train', True):
            runner.train()
            result['checkpoint'] = last_checkpoint(pre_dir)
            result['losses'] = loss_rows(pre_dir)
        else:  # the reference without pre-training: the student at its initialisation
            runner.model.init_weights()
            result['checkpoint'] = None
        model = runner.model
        result['pretrain_s'] = time.time() - start

    ft_cfg = None
    if spec.get('finetune'):
        ft_dir = osp.join(run_dir, 'finetune')
        ft_cfg = load_run_config(spec['finetune'], out, ft_dir, f'{name}_finetune', seed,
                                 options.get('finetune'))
    if model is not None and ft_cfg is not None:
        t0 = time.time()
        probe = ft_cfg.probe
        loaders = [Runner.build_dataloader(probe[k], seed=seed) for k in ('train_dataloader', 'val_dataloader')]
        result['linear_probe'] = linear_probe(model, *loaders, Cs=probe.Cs, cv=probe.cv, seed=seed)
        result['probe_s'] = time.time() - t0
        print(f'[study] {name}: linear probe {result["linear_probe"]:.4f}', flush=True)
        if spec.get('masks'):
            result['masks_shape'] = render_masks(model, loaders[1], spec['masks'], spec['masks_title'])

    if ft_cfg is not None and spec.get('do_finetune', True):
        t0 = time.time()
        init = result.get('checkpoint') if spec.get('pretrain') else spec.get('init')
        ft_cfg.model.backbone.init_cfg = None if init is None else dict(
            type='Pretrained', checkpoint=init, prefix='backbone.')
        runner = Runner.from_cfg(ft_cfg)
        runner.train()
        result['finetune'] = top1(runner.test())
        result['finetune_losses'] = loss_rows(ft_cfg.work_dir)
        result['finetune_s'] = time.time() - t0
        print(f'[study] {name}: fine-tune {result["finetune"]:.4f}', flush=True)
    result['wall_s'] = time.time() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result['cpu_s'] = usage.ru_utime + usage.ru_stime  # this worker process
    if spec.get('result'):
        with open(spec['result'], 'w') as f:
            json.dump(result, f)
    return result
