"""Statistics of accuracies over seeds: summaries and seed-paired differences."""
from typing import Dict, Sequence

import numpy as np


def summarise(values: Sequence[float]) -> Dict:
    """``mean``, sample ``std`` (0 for one value), the ``values`` and their count ``n``."""
    v = np.asarray(values, dtype=float)
    return dict(mean=float(v.mean()), std=float(v.std(ddof=1)) if len(v) > 1 else 0.0,
                values=[float(x) for x in v], n=int(len(v)))


def paired_difference(a: Sequence[float], b: Sequence[float]) -> Dict:
    """``a - b`` paired by position (by seed): :func:`summarise` of the differences plus
    ``wins`` (seeds where ``a > b``), ``ties`` and ``losses``."""
    if len(a) != len(b):
        raise ValueError(f'paired values need equal lengths, got {len(a)} and {len(b)}')
    diff = [float(x) - float(y) for x, y in zip(a, b)]
    out = summarise(diff)
    out.update(wins=sum(d > 0 for d in diff), ties=sum(d == 0 for d in diff),
               losses=sum(d < 0 for d in diff))
    return out


def verdict(diff: Dict, better: str = 'A better', worse: str = 'B better') -> str:
    """A plain reading of a paired difference over ``n`` seeds: established only when the
    mean exceeds one standard deviation and every seed agrees."""
    n, mean, std = diff['n'], diff['mean'], diff['std']
    if mean == 0:
        return 'no difference'
    agree = diff['wins'] if mean > 0 else diff['losses']
    side = better if mean > 0 else worse
    if n > 1 and abs(mean) > std and agree == n:
        return f'{side} ({agree}/{n} seeds, |mean| > std)'
    if n == 1:
        return f'{side} (1 seed only)'
    return f'{side}, within the spread ({agree}/{n} seeds)'
