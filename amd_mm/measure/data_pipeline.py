"""What a config's data pipeline costs: seconds per video in one process (one thread),
where the time goes (per transform), DataLoader throughput with 1, 2, ... workers, and
the cost relative to another implementation measured in alternating rounds.

Used by ``tools/benchmark.py --dataloader``; the official loaders it compares with are
:mod:`.official_data`.
"""
import copy
import random
import time
from typing import Callable, Dict, List, Sequence

import numpy as np
import torch

#: a decoded-and-augmented video: its index -> the pipeline's output
VideoFn = Callable[[int], object]


def seed_all(seed: int):
    """Python's, numpy's and torch's global generators (what the pipelines draw from)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def spread(values: Sequence[float], digits: int = 4) -> Dict:
    """``median``, ``min``, ``max`` and the quartiles ``q1`` / ``q3`` of ``values``."""
    v = np.asarray(values, dtype=float)
    q1, med, q3 = np.percentile(v, [25, 50, 75])
    return dict(median=round(float(med), digits), min=round(float(v.min()), digits),
                max=round(float(v.max()), digits), q1=round(float(q1), digits),
                q3=round(float(q3), digits), n=int(len(v)))


def build_dataset(cfg, split: str, data: Dict[str, str], frames: bool = False):
    """The ``split`` (``'train'`` / ``'test'``) dataset of ``cfg`` on the benchmark data
    ``data`` (:func:`amd_mm.tools_lib.demo_data.make_benchmark_videos` paths): its list
    file and folder replace the config's; with ``frames`` the videos are read as their
    JPEG frames (``RawframeDataset``; the decord steps become ``CheckedRawFrameDecode``)."""
    from mmaction.registry import DATASETS
    dataset = copy.deepcopy(cfg[f'{split}_dataloader'].dataset)
    if frames:
        dataset.type = 'RawframeDataset'
        dataset.ann_file = data['frame_list']
        dataset.data_prefix = dict(img=data['rawframes'])
        pipeline = []
        for step in dataset.pipeline:
            if step['type'] in ('DecordInit', 'CheckedDecordInit'):
                continue
            if step['type'] in ('DecordDecode', 'OpenCVDecode', 'PyAVDecode'):
                step = dict(type='CheckedRawFrameDecode')
            pipeline.append(step)
        dataset.pipeline = pipeline
    else:
        dataset.ann_file = data['video_list']
        dataset.data_prefix = dict(video=data['videos'])
    return DATASETS.build(dataset)


class _Timed:
    """A pipeline step that adds its wall and CPU seconds to ``totals[name]``."""

    def __init__(self, transform, name: str, totals: Dict[str, List[float]]):
        self.transform, self.name, self.totals = transform, name, totals
        totals.setdefault(name, [0.0, 0.0])

    def __call__(self, results):
        wall, cpu = time.perf_counter(), time.process_time()
        out = self.transform(results)
        total = self.totals[self.name]
        total[0] += time.perf_counter() - wall
        total[1] += time.process_time() - cpu
        return out


def instrument(pipeline, totals: Dict[str, List[float]], prefix: str = ''):
    """Wrap every step of ``pipeline`` (a Compose; ``RepeatAugment``'s own steps too,
    named ``RepeatAugment/<step>``) in :class:`_Timed`; returns ``totals``."""
    for i, step in enumerate(pipeline.transforms):
        name = prefix + type(step).__name__
        inner = getattr(step, 'transforms', None)
        if type(step).__name__ == 'RepeatAugment' and hasattr(inner, 'transforms'):
            instrument(inner, totals, name + '/')
        pipeline.transforms[i] = _Timed(step, name, totals)
    return totals


def profile(dataset, videos: int, seed: int = 0) -> List[Dict]:
    """Per-step milliseconds per video (wall and CPU) and share of the CPU time, over
    ``videos`` videos of ``dataset``; nested steps (``RepeatAugment/...``) are part of
    their parent's time and listed after it."""
    pipeline = copy.deepcopy(dataset.pipeline)
    totals = instrument(pipeline, {})
    for i in range(videos):
        seed_all(seed + i)
        pipeline(dataset.get_data_info(i % len(dataset)))
    top = sum(cpu for name, (_, cpu) in totals.items() if '/' not in name)
    return [dict(step=name, wall_ms=round(wall / videos * 1e3, 2),
                 cpu_ms=round(cpu / videos * 1e3, 2), cpu_share=round(cpu / top, 3) if top else 0.0)
            for name, (wall, cpu) in totals.items()]


def clips_of(output) -> int:
    """Clips (views) in one pipeline output: mmaction2's packed inputs
    ``(clips, C, T, H, W)``."""
    inputs = output['inputs']
    return int(inputs.shape[0]) if inputs.ndim == 5 else 1


def alternating_rounds(impls: Dict[str, VideoFn], videos: int, rounds: int,
                       seed: int = 0) -> Dict[str, Dict[str, List[float]]]:
    """Run every implementation over the same ``videos`` videos, ``rounds`` times, the
    order of the implementations rotating from round to round; before each video the
    global generators are seeded with the same value for every implementation (same
    frames sampled; the same first random draws). Returns per implementation the wall
    and CPU seconds per video of each round."""
    names = list(impls)
    out = {name: dict(wall=[], cpu=[]) for name in names}
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            wall, cpu = time.perf_counter(), time.process_time()
            for i in range(videos):
                seed_all(seed + r * videos + i)
                impls[name](i)
            out[name]['wall'].append((time.perf_counter() - wall) / videos)
            out[name]['cpu'].append((time.process_time() - cpu) / videos)
    return out


def ratios(slow: Dict[str, List[float]], fast: Dict[str, List[float]]) -> Dict:
    """Per-round ``slow / fast`` ratios of CPU and wall seconds, summarised."""
    return {kind: spread([s / f for s, f in zip(slow[kind], fast[kind])], 3)
            for kind in ('cpu', 'wall')}


class Videos(torch.utils.data.Dataset):
    """``fn(i)`` for ``i < length`` as a torch dataset (e.g. an official loader's
    :meth:`~amd_mm.measure.official_data.OfficialPipeline.video`)."""

    def __init__(self, fn: VideoFn, length: int):
        self.fn, self.length = fn, length

    def __len__(self):
        return self.length

    def __getitem__(self, index):
        return self.fn(index)


def _worker_init(worker_id: int):
    import cv2
    cv2.setNumThreads(0)
    torch.set_num_threads(1)
    seed_all(torch.initial_seed() % 2**31 + worker_id)


def loader_throughput(dataset, num_workers: int, videos: int, views: int) -> Dict:
    """Videos and clips per second through a ``torch.utils.data.DataLoader`` with
    ``num_workers`` workers (batch of one video, mmengine's ``pseudo_collate``), after
    each worker has delivered its first video; 0 workers: the main process."""
    from mmengine.dataset import pseudo_collate
    warm = max(1, num_workers)
    order = [i % len(dataset) for i in range(warm + videos)]
    loader = torch.utils.data.DataLoader(dataset, batch_size=1, sampler=order,
                                         num_workers=num_workers, collate_fn=pseudo_collate,
                                         worker_init_fn=_worker_init if num_workers else None)
    batches = iter(loader)
    for _ in range(warm):
        next(batches)
    start = time.perf_counter()
    for _ in range(videos):
        next(batches)
    elapsed = time.perf_counter() - start
    del batches
    per_s = videos / elapsed
    return dict(num_workers=num_workers, videos=videos, seconds=round(elapsed, 3),
                videos_per_s=round(per_s, 3), clips_per_s=round(per_s * views, 3),
                clips_per_s_per_worker=round(per_s * views / max(1, num_workers), 3))


def per_video(seconds: Sequence[float], views: int) -> Dict:
    """Seconds per video (median of rounds and spread) and clips per second."""
    s = spread(seconds, 5)
    return dict(seconds_per_video=s, clips_per_s=round(views / s['median'], 2),
                videos_per_s=round(1 / s['median'], 3))
