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

from ..engine.visualization import batch_inputs

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
def encoder_features(model, loader, encoder=None, bins: Sequence[int] = MEAN_POOL
                     ) -> Tuple[np.ndarray, np.ndarray]:
    """``(features (N, D), labels (N,))`` of every sample of ``loader``.

    Args:
        model: an AMD / VideoAMD model; its data preprocessor prepares the batches.
        loader: a dataloader of labelled samples (``gt_label`` or ``label``).
        encoder: the encoder to probe (default ``model.backbone``); it must provide
            ``forward_masked(inputs, None)`` and ``token_grid(inputs)``. Its train /
            eval mode is restored.
        bins: the pooling grid of :func:`pool_tokens`.
    """
    encoder = encoder if encoder is not None else model.backbone
    was_training = encoder.training
    encoder.eval()
    feats, labels = [], []
    try:
        for batch in loader:
            inputs = batch_inputs(model, batch)
            tokens, _ = encoder.forward_masked(inputs, None)
            feats.append(pool_tokens(tokens.float(), encoder.token_grid(inputs), bins).cpu().numpy())
            labels += [int(sample.gt_label) for sample in batch['data_samples']]
    finally:
        encoder.train(was_training)
    return np.concatenate(feats), np.asarray(labels)


def _standardise(x: np.ndarray, ref: np.ndarray) -> torch.Tensor:
    mean, std = ref.mean(axis=0), ref.std(axis=0)
    std[std == 0] = 1.0
    return torch.as_tensor((x - mean) / std, dtype=torch.float64)


def fit_logistic(x: torch.Tensor, y: torch.Tensor, C: float, num_classes: int,
                 init: Tuple[torch.Tensor, torch.Tensor] = None, max_iter: int = 300
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
                            tolerance_change=1e-10, history_size=20, line_search_fn='strong_wolfe')

    def closure():
        opt.zero_grad()
        if dual:
            ka = gram @ a
            loss = C * F.cross_entropy(ka + b, y, reduction='sum') + 0.5 * (a * ka).sum()
        else:
            loss = C * F.cross_entropy(x @ a + b, y, reduction='sum') + 0.5 * (a * a).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
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
                     details: bool = False):
    """Held-out top-1 (a fraction) of a standardised multinomial logistic regression
    fitted on ``train = (x, y)`` with ``C`` in ``Cs`` chosen by ``cv``-fold stratified
    cross-validation on ``train`` (ties: the smaller ``C``). With ``details``, a dict
    with ``accuracy``, the chosen ``C`` and the cross-validated accuracy per ``C``."""
    (x_tr, y_tr), (x_val, y_val) = train, val
    x_tr, x_val = np.asarray(x_tr, dtype=np.float64), np.asarray(x_val, dtype=np.float64)
    y_tr, y_val = np.asarray(y_tr), np.asarray(y_val)
    k = int(max(y_tr.max(), y_val.max())) + 1
    Cs = sorted(float(c) for c in Cs)
    fold = stratified_folds(y_tr, cv, seed)
    scores = np.zeros(len(Cs))
    for f in range(cv):
        fit_idx, held = fold != f, fold == f
        xf, ref = _standardise(x_tr[fit_idx], x_tr[fit_idx]), x_tr[fit_idx]
        xh = _standardise(x_tr[held], ref)
        for i, (w, b) in enumerate(_path(xf, torch.as_tensor(y_tr[fit_idx]), Cs, k)):
            scores[i] += ((xh @ w + b).argmax(1).numpy() == y_tr[held]).mean() / cv
    best = Cs[int(np.argmax(scores))]
    w, b = _path(_standardise(x_tr, x_tr), torch.as_tensor(y_tr), [c for c in Cs if c <= best], k)[-1]
    accuracy = float(((_standardise(x_val, x_tr) @ w + b).argmax(1).numpy() == y_val).mean())
    if details:
        return dict(accuracy=accuracy, C=best, cv_accuracy=[float(s) for s in scores])
    return accuracy


def few_label_probe(train: Tuple[np.ndarray, np.ndarray], val: Tuple[np.ndarray, np.ndarray],
                    per_class: int, folds: int, Cs: Sequence[float] = DEFAULT_CS, cv: int = 3,
                    seed: int = 0) -> Dict:
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
    accs = [fit_linear_probe((x[s], y[s]), val, Cs=Cs, cv=min(cv, per_class), seed=seed)
            for s in map(np.asarray, sets)]
    return dict(mean=float(np.mean(accs)), accuracies=[float(a) for a in accs])


def linear_probe(model, train_loader, val_loader, encoder=None, Cs: Sequence[float] = DEFAULT_CS,
                 cv: int = 3, seed: int = 0, bins: Sequence[int] = MEAN_POOL) -> float:
    """Features of both loaders (see :func:`encoder_features`), then
    :func:`fit_linear_probe`."""
    return fit_linear_probe(encoder_features(model, train_loader, encoder, bins),
                            encoder_features(model, val_loader, encoder, bins), Cs=Cs, cv=cv, seed=seed)
