"""``fastgd.warmup()``: compile (or load from the on-disk cache) every kernel up front."""

import numpy as np


def warmup(dtypes=(np.float64, np.float32), progress=True):
    """Compile every kernel for the given dtypes with tiny fits of each method, so that the
    first real fit pays no compilation (with a warm cache this only loads machine code): the
    fast loop of the squared loss and the general loop (every other loss, the penalties and
    the optimizers; sample weights compile a variant of their own on first use).
    Both the serial kernels (small data) and their parallel twins (more than one block of
    rows, when numba has more than one thread) are covered.  Run it before starting worker
    processes that share a numba cache directory (concurrent first compiles can crash): it also
    covers what the Dask backend's workers run (``fastgd.distributed.warmup``; dask itself is not
    needed for that).

    ``progress``: a tqdm bar when tqdm is installed, else one line a step, on stderr (a cold
    compile takes minutes on a slow machine; a warm one about a second).  The compiled code is
    kept in numba's cache: ``__pycache__`` beside fastgd's sources, or ``NUMBA_CACHE_DIR`` when
    set; numba rebuilds an entry when the kernel's source file or the numba version changes."""
    import warnings

    from .api import fit
    from .datasets import make_linear
    from .distributed import warmup as warmup_blocks
    from .kernels import CHUNK, NO_GRAD, combine_blocks, work_shape

    steps = [
        (dtype, n, method)
        for dtype in dtypes
        for n in (64, 2 * CHUNK + 1)
        for method in ("normal", "svd", "auto", "batch", "sgd", "minibatch")
    ]
    bar = _bar(len(steps) + 1) if progress else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k, (dtype, n, method) in enumerate(steps):
            if bar is not None:
                bar(k, f"{np.dtype(dtype).name} n={n} {method}")
            X, y = make_linear(n, 2, dtype=dtype)
            if method in ("svd", "auto"):  # the compensated passes without an intercept
                fit(X, y, method=method, fit_intercept=False)
            for standardize in (False, True):
                fit(X, y, method=method, standardize=standardize, max_epochs=1, random_state=0)
                if method in ("batch", "sgd", "minibatch"):  # the general loop: any loss, penalty, optimizer
                    fit(X, y, method=method, standardize=standardize, max_epochs=1, random_state=0, penalty="l2")
        # the last step of a pass cut into calls (``Problem.run_pass`` above SLICE_WORK), which
        # the small fits above make in one call: the loss alone (NO_GRAD) or a (K, d + 1) gradient
        for fit_intercept in (False, True):
            for grad in (NO_GRAD, np.zeros((2, 3))):
                combine_blocks(np.ones(work_shape(1, max(3, grad.size))), fit_intercept, grad)
        if bar is not None:
            bar(len(steps), "the Dask workers' kernels, scikit-learn's SGD rule")
        warmup_blocks(dtypes)
        _warmup_plain(dtypes)
    if bar is not None:
        bar(len(steps) + 1, "done")


def _warmup_plain(dtypes):
    """The kernels of SGDRegressor/SGDClassifier (``fastgd.plain``), dense and CSR, without scikit-learn."""
    import scipy.sparse as sp

    from .plain import PlainModel, plain_sgd

    model = PlainModel(
        loss="hinge", epsilon=0.1, penalty="elasticnet", alpha=1e-4, l1_ratio=0.15, learning_rate="optimal",
        eta0=0.01, power_t=0.5, fit_intercept=True, average=1, max_iter=1, tol=None, n_iter_no_change=5,
        early_stopping=False, shuffle=True, verbose=0,
    )  # fmt: skip
    for dtype in dtypes:
        X = np.eye(4, 3, dtype=dtype)
        y, ones, zeros = np.array([1.0, -1.0, 1.0, -1.0]), np.ones(4), np.zeros(3)
        for data in (X, sp.csr_matrix(X)):
            plain_sgd(model, data, y, ones, zeros, 0.0, zeros, 0.0, validation_mask=np.zeros(4, dtype=bool),
                      score=None, seed=1, weight_pos=1.0, weight_neg=1.0, t=1.0, intercept_decay=1.0)  # fmt: skip


def _bar(total):
    """``update(done, what)``: a tqdm bar, or a line on stderr a step without tqdm."""
    import sys

    try:
        from tqdm.auto import tqdm
    except ImportError:
        return lambda done, what: print(f"fastgd.warmup: {done}/{total} {what}", file=sys.stderr, flush=True)
    bar = tqdm(total=total, desc="fastgd.warmup", unit="step")

    def update(done, what):
        bar.set_postfix_str(what, refresh=False)
        bar.update(done - bar.n)
        if done == total:
            bar.close()

    return update
