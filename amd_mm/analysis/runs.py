"""One study job, run with MMEngine runners from config files.

A job is a dict (``spec``) that names config files and the steps to take:

* ``pretrain``: train the pre-training config; with ``train=False`` only build its
  model at its random initialisation (``init_weights``: the "no pre-training"
  reference), and with ``save_init`` also save that initialisation as a checkpoint
  (the study's untrained teacher);
* ``protocol``: the evaluation config of the modality. Its ``probe`` dict is the frozen
  probe (:func:`amd_mm.analysis.probe.probe_score`) of the encoder, scored for every
  seed in ``probe_seeds`` (the few-label sets are drawn per seed; default: the job's
  seed); ``pixels=True`` also probes the raw pixels (``encoder=False``: only them), and
  ``controls`` the encoder on clips without their frames' order;
* ``finetune``: fine-tune the protocol config from the pre-trained checkpoint (or the
  random initialisation), with the held-out accuracy after every epoch (its learning
  curve; no model selection) and the test loop at the end.

The configs are used as written, with the same runtime settings for every job:
``work_dir``, ``experiment_name``, ``randomness.seed``, every path that starts with
``work_dirs/study/`` moved under the study's output folder, the fine-tuning
initialisation, and ``spec['options']`` (MMEngine ``--cfg-options`` style, the same
for every job of a kind; ``--quick`` uses them to shorten runs).
"""
import glob
import json
import os
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


def top1(metrics: Dict) -> float:
    """Top-1 as a fraction from the metrics of an mmpretrain (percent) or mmaction2
    (fraction) evaluation."""
    if 'accuracy/top1' in metrics:
        return float(metrics['accuracy/top1']) / 100.0
    return float(metrics['acc/top1'])


def learning_curve(work_dir: str) -> List[List[float]]:
    """``[epoch, held-out top-1]`` of every validation logged in ``work_dir``."""
    rows = [r for r in read_scalars(work_dir) if 'accuracy/top1' in r or 'acc/top1' in r]
    return [[int(r['step']), top1(r)] for r in rows]


def last_checkpoint(work_dir: str) -> str:
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def save_initialisation(model, work_dir: str) -> str:
    """``model``'s state dict as ``work_dir/random_init.pth``, named by the work_dir's
    ``last_checkpoint`` (so configs may name the folder, as for a trained teacher)."""
    import torch
    os.makedirs(work_dir, exist_ok=True)
    path = osp.join(work_dir, 'random_init.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict(note='random initialisation')), path)
    with open(osp.join(work_dir, 'last_checkpoint'), 'w') as f:
        f.write(path)
    return path


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


def probe_job(model, protocol, spec: Dict, seed: int) -> Dict:
    """The frozen probe of ``model``'s encoder (and of the raw pixels, and the temporal
    controls, when ``spec`` asks), scored for every seed of ``spec['probe_seeds']``."""
    from mmengine.runner import Runner
    from .probe import encoder_features, pixel_features, probe_score, probe_seed
    probe = protocol.probe
    loaders = [Runner.build_dataloader(probe[k], seed=seed) for k in ('train_dataloader', 'val_dataloader')]
    bins = tuple(probe.get('bins', (1, 1, 1)))
    seeds = [int(s) for s in spec.get('probe_seeds', [seed])]
    features = {}
    if spec.get('encoder', True):
        features['probe'] = [encoder_features(model, loader, bins=bins) for loader in loaders]
    if spec.get('pixels'):
        features['pixels'] = [pixel_features(model, loader) for loader in loaders]
    for control in spec.get('controls', ()):
        features[f'control_{control}'] = [encoder_features(model, loader, bins=bins, control=control)
                                          for loader in loaders]
    out = {}
    for key, (train, val) in features.items():
        by_seed = {k: probe_score(train, val, probe, seed=k) for k in {probe_seed(probe, s) for s in seeds}}
        scores = {str(s): by_seed[probe_seed(probe, s)] for s in seeds}
        out[key] = {s: d['accuracy'] for s, d in scores.items()}
        out[f'{key}_details'] = scores
    if spec.get('masks'):
        out['masks_shape'] = render_masks(model, loaders[1], spec['masks'], spec['masks_title'])
    return out


def run_job(spec: Dict) -> Dict:
    """Run the steps of ``spec`` (see the module docstring); the result is also written
    to ``spec['result']`` as JSON. Accuracies are fractions in [0, 1]; probe results are
    ``{seed: accuracy}``."""
    import torch
    torch.set_num_threads(int(spec.get('threads', 1)))
    import amd_mm  # noqa: F401  (registration)
    from mmengine.runner import Runner
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
            result['steps'] = int(runner.iter)
        else:  # the reference without pre-training: the model at its initialisation
            runner.model.init_weights()
            result['checkpoint'] = (save_initialisation(runner.model, osp.join(run_dir, 'init'))
                                    if spec.get('save_init') else None)
        model = runner.model
        result['pretrain_s'] = time.time() - start

    protocol = None
    if spec.get('protocol'):
        protocol = load_run_config(spec['protocol'], out, osp.join(run_dir, 'finetune'),
                                   f'{name}_finetune', seed, options.get('finetune'))
    if model is not None and protocol is not None:
        t0 = time.time()
        result.update(probe_job(model, protocol, spec, seed))
        result['probe_s'] = time.time() - t0
        print(f'[study] {name}: probe ' + ', '.join(f'{k} {v}' for k, v in result.items()
                                                    if k in ('probe', 'pixels')), flush=True)

    if protocol is not None and spec.get('finetune'):
        t0 = time.time()
        init = result.get('checkpoint')
        protocol.model.backbone.init_cfg = None if init is None else dict(
            type='Pretrained', checkpoint=init, prefix='backbone.')
        runner = Runner.from_cfg(protocol)
        runner.train()
        result['finetune'] = top1(runner.test())
        result['finetune_curve'] = learning_curve(protocol.work_dir)
        result['finetune_losses'] = loss_rows(protocol.work_dir)
        result['finetune_s'] = time.time() - t0
        print(f'[study] {name}: fine-tune {result["finetune"]:.4f}', flush=True)
    result['wall_s'] = time.time() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result['cpu_s'] = usage.ru_utime + usage.ru_stime  # this worker process
    if spec.get('result'):
        with open(spec['result'], 'w') as f:
            json.dump(result, f)
    return result
