"""Frozen probes: how linearly readable a frozen encoder's features are.

The encoder sees every token (no mask). Its final-norm tokens are average-pooled on a
coarse grid of the token layout (``bins``, time x height x width; ``(1, 1, 1)`` is the
usual mean over all tokens; for videos ``(T, 1, 1)`` keeps one feature per temporal
slot, so the frames' order survives the pooling), concatenated into one feature per
image or clip. A multinomial logistic regression on standardised features, whose
inverse regularisation ``C`` is chosen by stratified cross-validation on the training
split only, is scored on the held-out split.

The regression is fitted here with full-batch L-BFGS in float64 (the objective of
scikit-learn's ``LogisticRegression``: ``C * sum(cross-entropy) + |W|^2 / 2``, bias not
penalised), warm-started along the ``C`` path: the same solution as scikit-learn
(tested), about 50x faster on the study's features. Deterministic for a given encoder
and data: no optimiser choices, no augmentation.
"""
from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from ..models.algorithms.contract import batch_inputs

DEFAULT_CS = (1e-3, 1e-2, 1e-1, 1.0, 10.0)
MEAN_POOL = (1, 1, 1)


def pool_tokens(tokens: torch.Tensor, grid: Sequence[int], bins: Sequence[int] = MEAN_POOL) -> torch.Tensor:
    """``(B, N, C)`` tokens laid out on ``grid`` (``(T, H, W)``, ``N = T * H * W``)
    average-pooled to ``bins`` (each dividing its grid size) and flattened:
    ``(B, C * prod(bins))``."""
    b, n, c = tokens.shape
    t, h, w = (int(g) for g in grid)
    if n != t * h * w:
        raise ValueError(f'{n} tokens do not fill the token grid {tuple(grid)}')
    if len(bins) != 3 or any(g % int(k) for g, k in zip((t, h, w), bins)):
        raise ValueError(f'probe bins {tuple(bins)} must divide the token grid {(t, h, w)}')
    x = tokens.transpose(1, 2).reshape(b, c, t, h, w)
    return F.adaptive_avg_pool3d(x, tuple(int(k) for k in bins)).reshape(b, -1)


@torch.no_grad()
def encoder_features(model, loader, encoder=None, bins: Sequence[int] = MEAN_POOL,
                     control: str = None) -> Tuple[np.ndarray, np.ndarray]:
    """``(features (N, D), labels (N,))`` of every sample of ``loader``.

    Args:
        model: an AMD / VideoAMD model; its data preprocessor prepares the batches.
        loader: a dataloader of labelled samples (``gt_label`` or ``label``).
        encoder: the encoder to probe (default ``model.backbone``); it must provide
            ``forward_masked(inputs, None)`` and ``token_grid(inputs)``. Its train /
            eval mode is restored.
        bins: the pooling grid of :func:`pool_tokens`.
        control: ``'shuffle'`` / ``'single'``: the clips without their frames' order
            (:func:`~amd_mm.utils.clips.remove_temporal_order`, drawn
            from a generator seeded 0), for control probes.
    """
    from ..utils.clips import remove_temporal_order
    encoder = encoder if encoder is not None else model.backbone
    was_training = encoder.training
    encoder.eval()
    feats, labels = [], []
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            for batch in loader:
                inputs = batch_inputs(model, batch)
                if control is not None:
                    inputs = remove_temporal_order(inputs, control)
                tokens, _ = encoder.forward_masked(inputs, None)
                feats.append(pool_tokens(tokens.float(), encoder.token_grid(inputs), bins).cpu().numpy())
                labels += [int(sample.gt_label) for sample in batch['data_samples']]
    finally:
        encoder.train(was_training)
    return np.concatenate(feats), np.asarray(labels)


@torch.no_grad()
def pixel_features(model, loader) -> Tuple[np.ndarray, np.ndarray]:
    """``(inputs flattened (N, C*[T*]H*W), labels)``: the normalised pixels the model
    receives, for the raw-pixel baseline of the same probe."""
    feats, labels = [], []
    for batch in loader:
        feats.append(batch_inputs(model, batch).float().flatten(1).cpu().numpy())
        labels += [int(sample.gt_label) for sample in batch['data_samples']]
    return np.concatenate(feats), np.asarray(labels)


class _Scaler:
    """Standardisation fitted on ``ref`` (per feature); with ``dims``, then the
    projection on the ``dims`` leading principal components of the standardised ``ref``
    (not rescaled: their variances stay, so the L2 penalty sees the same geometry as
    the standardised features). Keeps the probe in the regime of many more samples
    than features whatever the encoder's width."""

    def __init__(self, ref: np.ndarray, dims: int = None):
        self.mean, self.std = ref.mean(axis=0), ref.std(axis=0)
        self.std[self.std == 0] = 1.0
        self.basis = None
        if dims is not None and dims < ref.shape[1]:
            z = (ref - self.mean) / self.std
            z = z - z.mean(axis=0)
            # the principal axes from the smaller of the two Gram matrices (eigh of N x N
            # or D x D instead of an SVD of N x D: 4x less work for raw video pixels)
            if z.shape[0] < z.shape[1]:
                evals, u = np.linalg.eigh(z @ z.T)
                top = np.argsort(evals)[::-1][:dims]
                self.basis = (z.T @ u[:, top]) / np.sqrt(np.clip(evals[top], 1e-12, None))
            else:
                evals, v = np.linalg.eigh(z.T @ z)
                self.basis = v[:, np.argsort(evals)[::-1][:dims]]

    def __call__(self, x: np.ndarray) -> torch.Tensor:
        z = (x - self.mean) / self.std
        if self.basis is not None:
            z = z @ self.basis
        return torch.as_tensor(z, dtype=torch.float64)


def fit_logistic(x: torch.Tensor, y: torch.Tensor, C: float, num_classes: int,
                 init: Tuple[torch.Tensor, torch.Tensor] = None, max_iter: int = 100
                 ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Multinomial logistic regression ``(W (D, K), b (K,))`` minimising
    ``C * sum(cross_entropy(x @ W + b, y)) + |W|^2 / 2`` by L-BFGS (float64), from
    ``init`` (a warm start) or zeros.

    With fewer samples than features the optimum lies in the span of the samples
    (``W = x.T @ A``, the representer theorem), so the same objective is minimised
    over ``A (N, K)`` with the Gram matrix ``x @ x.T``: the same solution, far fewer
    unknowns."""
    n, d = x.shape
    dual = n < d
    gram = x @ x.T if dual else None
    if init is None:
        a = torch.zeros(n if dual else d, num_classes, dtype=torch.float64)
        b = torch.zeros(num_classes, dtype=torch.float64)
    else:
        a, b = (t.clone() for t in init)
    a.requires_grad_(True)
    b.requires_grad_(True)
    opt = torch.optim.LBFGS([a, b], lr=1.0, max_iter=max_iter, tolerance_grad=1e-7,
                            tolerance_change=1e-9, history_size=20, line_search_fn='strong_wolfe')

    def closure():
        opt.zero_grad()
        if dual:
            ka = gram @ a
            loss = C * F.cross_entropy(ka + b, y, reduction='sum') + 0.5 * (a * ka).sum()
        else:
            loss = C * F.cross_entropy(x @ a + b, y, reduction='sum') + 0.5 * (a * a).sum()
        loss.backward()
        return loss

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small matrices: more threads only spin (50x slower when contended)
    try:
        with torch.enable_grad():
            opt.step(closure)
    finally:
        torch.set_num_threads(threads)
    a, b = a.detach(), b.detach()
    return (x.T @ a if dual else a), b


def stratified_folds(labels: np.ndarray, folds: int, seed: int = 0) -> np.ndarray:
    """Fold index of every sample: each class dealt round-robin over ``folds`` in a
    seeded random order."""
    rng = np.random.default_rng(seed)
    out = np.zeros(len(labels), dtype=int)
    for cls in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == cls))
        out[idx] = np.arange(len(idx)) % folds
    return out


def _path(x: torch.Tensor, y: torch.Tensor, Cs: Sequence[float], k: int):
    """Fits along the ascending ``Cs``, each warm-started from the previous one (in
    the primal: the dual problem's start is its own zero)."""
    fits, init = [], None
    for C in Cs:
        fit = fit_logistic(x, y, float(C), k, init)
        fits.append(fit)
        init = fit if x.shape[0] >= x.shape[1] else None
    return fits


def fit_linear_probe(train: Tuple[np.ndarray, np.ndarray], val: Tuple[np.ndarray, np.ndarray],
                     Cs: Sequence[float] = DEFAULT_CS, cv: int = 3, seed: int = 0,
                     dims: int = None, details: bool = False):
    """Held-out top-1 (a fraction) of a standardised multinomial logistic regression
    fitted on ``train = (x, y)`` with ``C`` in ``Cs`` chosen by ``cv``-fold stratified
    cross-validation on ``train`` (ties: the smaller ``C``; a single ``C`` is used as
    it is). ``dims``: project on that
    many principal components first (fitted on each fit's own training samples). With
    ``details``, a dict with ``accuracy``, the chosen ``C`` and the cross-validated
    accuracy per ``C``."""
    (x_tr, y_tr), (x_val, y_val) = train, val
    x_tr, x_val = np.asarray(x_tr, dtype=np.float64), np.asarray(x_val, dtype=np.float64)
    y_tr, y_val = np.asarray(y_tr), np.asarray(y_val)
    k = int(max(y_tr.max(), y_val.max())) + 1
    Cs = sorted(float(c) for c in Cs)
    fold = stratified_folds(y_tr, cv, seed)
    scores = np.zeros(len(Cs))
    for f in range(cv if len(Cs) > 1 else 0):  # one C: nothing to choose
        fit_idx, held = fold != f, fold == f
        scale = _Scaler(x_tr[fit_idx], dims)
        xh = scale(x_tr[held])
        for i, (w, b) in enumerate(_path(scale(x_tr[fit_idx]), torch.as_tensor(y_tr[fit_idx]), Cs, k)):
            scores[i] += ((xh @ w + b).argmax(1).numpy() == y_tr[held]).mean() / cv
    best = Cs[int(np.argmax(scores))]
    scale = _Scaler(x_tr, dims)
    w, b = _path(scale(x_tr), torch.as_tensor(y_tr), [c for c in Cs if c <= best], k)[-1]
    accuracy = float(((scale(x_val) @ w + b).argmax(1).numpy() == y_val).mean())
    if details:
        return dict(accuracy=accuracy, C=best, cv_accuracy=[float(s) for s in scores])
    return accuracy


def few_label_probe(train: Tuple[np.ndarray, np.ndarray], val: Tuple[np.ndarray, np.ndarray],
                    per_class: int, folds: int, Cs: Sequence[float] = DEFAULT_CS, cv: int = 3,
                    seed: int = 0, dims: int = None) -> Dict:
    """The probe of :func:`fit_linear_probe` trained on ``per_class`` labelled samples
    of each class: the training split is dealt into ``folds`` disjoint labelled sets
    (each class's samples in a seeded random order, ``per_class`` to a set), one probe
    per set, each scored on the whole held-out split. Returns the ``mean`` accuracy and
    the ``accuracies`` per set."""
    x, y = np.asarray(train[0]), np.asarray(train[1])
    rng = np.random.default_rng(seed)
    sets: List[List[int]] = [[] for _ in range(folds)]
    for cls in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == cls))
        if len(idx) < per_class * folds:
            raise ValueError(f'class {cls} has {len(idx)} training samples, fewer than '
                             f'{per_class} x {folds} folds')
        for f in range(folds):
            sets[f] += idx[f * per_class:(f + 1) * per_class].tolist()
    accs = [fit_linear_probe((x[s], y[s]), val, Cs=Cs, cv=min(cv, per_class), seed=seed, dims=dims)
            for s in map(np.asarray, sets)]
    return dict(mean=float(np.mean(accs)), accuracies=[float(a) for a in accs])


def probe_seed(protocol: Dict, seed: int) -> int:
    """The seed the probe of ``protocol`` draws with for a run of ``seed``: the labelled
    sets of a few-label probe are drawn per run; the full-data probe's cross-validation
    folds are fixed (seed 0), so its score is a function of the features alone."""
    return int(seed) if protocol.get('few_label') else 0


def probe_score(train: Tuple[np.ndarray, np.ndarray], val: Tuple[np.ndarray, np.ndarray],
                protocol: Dict, seed: int = 0) -> Dict:
    """The study's probe of features ``train`` / ``val`` by ``protocol`` (the ``probe`` dict
    of a study protocol config: ``Cs``, ``cv``, optional ``dims`` and ``few_label=dict(
    per_class, folds)``): ``accuracy`` (for few labels, the mean over the labelled sets
    drawn with ``seed``) and the details."""
    Cs, cv, dims = protocol.get('Cs', DEFAULT_CS), int(protocol.get('cv', 3)), protocol.get('dims')
    few = protocol.get('few_label')
    seed = probe_seed(protocol, seed)
    if few:
        out = few_label_probe(train, val, int(few['per_class']), int(few['folds']), Cs=Cs, cv=cv,
                              seed=seed, dims=dims)
        return dict(accuracy=out['mean'], folds=out['accuracies'])
    out = fit_linear_probe(train, val, Cs=Cs, cv=cv, seed=seed, dims=dims, details=True)
    return dict(accuracy=out['accuracy'], C=out['C'], cv_accuracy=out['cv_accuracy'])


def linear_probe(model, train_loader, val_loader, encoder=None, Cs: Sequence[float] = DEFAULT_CS,
                 cv: int = 3, seed: int = 0, bins: Sequence[int] = MEAN_POOL, dims: int = None) -> float:
    """Features of both loaders (see :func:`encoder_features`), then
    :func:`fit_linear_probe`."""
    return fit_linear_probe(encoder_features(model, train_loader, encoder, bins),
                            encoder_features(model, val_loader, encoder, bins), Cs=Cs, cv=cv,
                            seed=seed, dims=dims)
