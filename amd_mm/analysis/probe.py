"""Linear probing: how linearly separable a frozen encoder's features are.

The encoder sees every token (no mask), its final-norm tokens are averaged into one
feature per image or clip, and a logistic regression on standardised features, whose
inverse regularisation ``C`` is chosen by cross-validation on the training split only,
is scored on the held-out split. Deterministic for a given encoder and data: no
optimiser choices, no augmentation.
"""
import inspect
import warnings
from typing import Sequence, Tuple

import numpy as np
import torch

from ..models.algorithms.contract import batch_inputs

DEFAULT_CS = (1e-3, 1e-2, 1e-1, 1.0, 10.0)


@torch.no_grad()
def encoder_features(model, loader, encoder=None) -> Tuple[np.ndarray, np.ndarray]:
    """``(features (N, C), labels (N,))`` of every sample of ``loader``.

    Args:
        model: an AMD / VideoAMD model; its data preprocessor prepares the batches.
        loader: a dataloader of labelled samples (``gt_label`` or ``label``).
        encoder: the encoder to probe (default ``model.backbone``); it must provide
            ``forward_masked(inputs, None)``. Its train / eval mode is restored.
    """
    encoder = encoder if encoder is not None else model.backbone
    was_training = encoder.training
    encoder.eval()
    feats, labels = [], []
    try:
        for batch in loader:
            tokens, _ = encoder.forward_masked(batch_inputs(model, batch), None)
            feats.append(tokens.float().mean(dim=1).cpu().numpy())
            labels += [int(sample.gt_label) for sample in batch['data_samples']]
    finally:
        encoder.train(was_training)
    return np.concatenate(feats), np.asarray(labels)


def fit_linear_probe(train: Tuple[np.ndarray, np.ndarray], val: Tuple[np.ndarray, np.ndarray],
                     Cs: Sequence[float] = DEFAULT_CS, cv: int = 3, seed: int = 0) -> float:
    """Held-out top-1 (a fraction) of a standardised logistic regression fitted on
    ``train = (x, y)`` with ``C`` in ``Cs`` chosen by ``cv``-fold cross-validation."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    # l2 penalty (l1_ratio 0), C picked by accuracy: the defaults of scikit-learn < 1.9,
    # spelled out because 1.9 announces other defaults
    options = dict(l1_ratios=(0.0,), scoring='accuracy', use_legacy_attributes=False) \
        if 'use_legacy_attributes' in inspect.signature(LogisticRegressionCV).parameters else {}
    clf = make_pipeline(StandardScaler(), LogisticRegressionCV(
        Cs=[float(c) for c in Cs], cv=cv, max_iter=3000, random_state=seed, **options))
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', ConvergenceWarning)
        clf.fit(*train)
    x_val, y_val = val
    return float((clf.predict(x_val) == y_val).mean())


def linear_probe(model, train_loader, val_loader, encoder=None, Cs: Sequence[float] = DEFAULT_CS,
                 cv: int = 3, seed: int = 0) -> float:
    """Features of both loaders (see :func:`encoder_features`), then
    :func:`fit_linear_probe`."""
    return fit_linear_probe(encoder_features(model, train_loader, encoder),
                            encoder_features(model, val_loader, encoder), Cs=Cs, cv=cv, seed=seed)
