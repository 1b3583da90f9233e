"""Synthetic data: the textbook's experiment and larger sets of the same form."""

import numpy as np


def make_linear(n_samples=100, n_features=1, *, intercept=4.0, coef=3.0, noise=1.0, dtype=np.float64, random_state=42):
    """The textbook's data: ``X = 2 * U(0, 1)``, ``y = intercept + X @ coef + N(0, noise**2)``.

    With the defaults (m = 100, one feature, seed 42) this is ``y = 4 + 3x + noise`` of
    Géron's chapter 4.  ``coef`` is a number (the same for every feature) or an array of
    ``n_features`` values.  Returns ``X`` (n, d) and ``y`` (n,) of ``dtype``.
    """
    if n_samples < 1 or n_features < 1:
        raise ValueError(f"n_samples and n_features must be >= 1, got {n_samples} and {n_features}")
    rng = np.random.default_rng(random_state)
    X = 2.0 * rng.random((n_samples, n_features))
    coef = np.broadcast_to(np.asarray(coef, dtype=np.float64), (n_features,))
    y = intercept + X @ coef + noise * rng.standard_normal(n_samples)
    return X.astype(dtype, copy=False), y.astype(dtype, copy=False)
