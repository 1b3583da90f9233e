"""``fastgd.warmup()``: compile (or load from the on-disk cache) every kernel up front."""

import numpy as np


def warmup(dtypes=(np.float64, np.float32)):
    """Compile every kernel for the given dtypes with tiny fits of each method, so that the
    first real fit pays no compilation (with a warm cache this only loads machine code): the
    fast loop of the squared loss and the general loop (every other loss, the penalties and
    the optimizers; sample weights compile a variant of their own on first use).
    Both the serial kernels (small data) and their parallel twins (more than one block of
    rows, when numba has more than one thread) are covered.  Run it before starting worker
    processes that share a numba cache directory (concurrent first compiles can crash): it also
    covers what the Dask backend's workers run (``fastgd.distributed.warmup``; dask itself is not
    needed for that)."""
    import warnings

    from .api import fit
    from .datasets import make_linear
    from .distributed import warmup as warmup_blocks
    from .kernels import CHUNK

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for dtype in dtypes:
            for n in (64, 2 * CHUNK + 1):
                X, y = make_linear(n, 2, dtype=dtype)
                for method in ("svd", "auto"):  # the compensated passes without an intercept
                    fit(X, y, method=method, fit_intercept=False)
                for method in ("normal", "svd", "auto", "batch", "sgd", "minibatch"):
                    for standardize in (False, True):
                        fit(X, y, method=method, standardize=standardize, max_epochs=1, random_state=0)
                        if method in ("batch", "sgd", "minibatch"):  # the general loop: any loss, penalty, optimizer
                            fit(X, y, method=method, standardize=standardize, max_epochs=1, random_state=0,
                                penalty="l2")  # fmt: skip
    warmup_blocks(dtypes)
