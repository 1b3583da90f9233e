"""``fastgd.warmup()``: compile (or load from the on-disk cache) every kernel up front."""

import numpy as np


def warmup(dtypes=(np.float64, np.float32)):
    """Compile every kernel for the given dtypes with a tiny fit of each method, so that the
    first real fit pays no compilation (with a warm cache this only loads machine code).
    Run it before starting worker processes that share a numba cache directory."""
    from .api import fit
    from .datasets import make_linear

    for dtype in dtypes:
        X, y = make_linear(64, 2, dtype=dtype)
        for method in ("normal", "svd", "batch", "sgd", "minibatch"):
            for standardize in (False, True):
                fit(X, y, method=method, standardize=standardize, max_epochs=2, tol=0, random_state=0,
                    record_path=False, n_threads=1)
