"""Statistics of accuracies over seeds: summaries, seed-paired comparisons with a
seed-bootstrap interval, a paired t-test, Holm's correction over a list of
comparisons, and the minimum detectable effect at the study's number of seeds.

Everything is a pure function of its inputs (the bootstrap draws from its own seeded
generator), so the same numbers give the same report.
"""
import math
from typing import Dict, List, Optional, Sequence

import numpy as np

ALPHA = 0.05
POWER = 0.8
BOOTSTRAP_DRAWS = 20000


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


def bootstrap_interval(values: Sequence[float], level: float = 0.95, draws: int = BOOTSTRAP_DRAWS,
                       seed: int = 0) -> List[float]:
    """Percentile interval of the mean of ``values`` over ``draws`` resamples of the
    values with replacement (the seed bootstrap: each value is one seed)."""
    v = np.asarray(values, dtype=float)
    if len(v) < 2:
        raise ValueError('a bootstrap interval needs at least two values')
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), size=(draws, len(v)))].mean(axis=1)
    tail = (1.0 - level) / 2
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return [float(low), float(high)]


def paired_t_test(diff: Sequence[float]) -> Dict:
    """Two-sided one-sample t-test of the paired differences against 0: ``t``, ``df``
    and ``p`` (``p`` is 1 when every difference is 0, 0 when they are equal and not 0)."""
    from scipy import stats
    d = np.asarray(diff, dtype=float)
    n = len(d)
    if n < 2:
        raise ValueError('a paired t-test needs at least two pairs')
    mean, sd = d.mean(), d.std(ddof=1)
    if sd == 0:
        return dict(t=0.0 if mean == 0 else math.copysign(math.inf, mean), df=n - 1,
                    p=1.0 if mean == 0 else 0.0)
    t = mean / (sd / math.sqrt(n))
    return dict(t=float(t), df=n - 1, p=float(2 * stats.t.sf(abs(t), n - 1)))


def holm(pvalues: Sequence[float]) -> List[float]:
    """Holm's step-down adjusted p-values (same order as given): the ``i``-th smallest
    p is multiplied by ``m - i`` (``i`` from 0), then made monotone, capped at 1."""
    p = np.asarray(pvalues, dtype=float)
    m = len(p)
    order = np.argsort(p, kind='stable')
    adjusted = np.empty(m)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[index]))
        adjusted[index] = running
    return [float(x) for x in adjusted]


def minimum_detectable_effect(sd: float, n: int, alpha: float = ALPHA, power: float = POWER) -> float:
    """The smallest true mean difference that a two-sided paired t-test at level
    ``alpha`` over ``n`` pairs detects with probability ``power``, when the paired
    differences have standard deviation ``sd`` (exact, from the noncentral t)."""
    from scipy import optimize, stats
    if n < 2:
        raise ValueError('the minimum detectable effect needs at least two pairs')
    if sd == 0:
        return 0.0
    df = n - 1
    crit = stats.t.ppf(1 - alpha / 2, df)

    def shortfall(effect):
        nc = effect / (sd / math.sqrt(n))
        return stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc) - power

    high = sd / math.sqrt(n) * (crit + stats.t.ppf(power, df) + 1)
    for _ in range(60):  # widen the bracket until the power is reached (few pairs: heavy tails)
        value = shortfall(high)
        if not math.isfinite(value):
            break  # beyond the noncentral t's numerical range (one or two pairs): unreachable
        if value > 0:
            try:
                return float(optimize.brentq(shortfall, 0.0, high, xtol=1e-12 * max(1.0, high)))
            except ValueError:  # a NaN inside the bracket, same cause
                break
        high *= 2
    return math.inf


def compare(a: Sequence[float], b: Sequence[float], level: float = 1 - ALPHA,
            corrected_level: Optional[float] = None, seed: int = 0) -> Dict:
    """One seed-paired comparison ``a - b``: :func:`paired_difference`, the bootstrap
    interval at ``level`` (``ci``) and at ``corrected_level`` (``ci_corrected``, for a
    family of comparisons), the paired t-test, and the minimum detectable effect at
    the corrected level (``mde``, power 0.8)."""
    out = paired_difference(a, b)
    diff = [float(x) - float(y) for x, y in zip(a, b)]
    corrected_level = level if corrected_level is None else corrected_level
    out.update(ci=bootstrap_interval(diff, level, seed=seed), level=level,
               ci_corrected=bootstrap_interval(diff, corrected_level, seed=seed),
               corrected_level=corrected_level, **paired_t_test(diff),
               mde=minimum_detectable_effect(out['std'], out['n'], alpha=1 - corrected_level))
    return out


def compare_family(pairs: Dict[str, tuple], alpha: float = ALPHA, seed: int = 0) -> Dict[str, Dict]:
    """Every comparison of a family fixed in advance, ``{name: (a, b)}``: each
    :func:`compare` with its interval corrected for the family's size (Bonferroni:
    level ``1 - alpha / m``), its t-test p adjusted by :func:`holm` (``p_holm``), and
    ``resolved``: the corrected interval excludes 0 and ``p_holm < alpha``."""
    m = len(pairs)
    out = {name: compare(a, b, 1 - alpha, 1 - alpha / m, seed=seed) for name, (a, b) in pairs.items()}
    for name, p in zip(out, holm([c['p'] for c in out.values()])):
        c = out[name]
        c['p_holm'] = p
        c['family_size'] = m
        low, high = c['ci_corrected']
        c['resolved'] = bool((low > 0 or high < 0) and p < alpha)
    return out


def reading(comparison: Dict, better: str = 'A better', worse: str = 'B better') -> str:
    """A plain reading of a :func:`compare_family` result."""
    if not comparison['resolved']:
        return 'not resolved'
    return better if comparison['mean'] > 0 else worse
