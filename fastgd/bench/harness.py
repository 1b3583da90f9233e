"""What every row of ``fastgd bench`` shares: the presets' sizes, the Row of the table, the
Context (data made once), the timing helpers, the data makers and the child-process runner."""

import json
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field

import numba
import numpy as np

import fastgd

#: seconds to wait before each timed call, so that no contender runs while another's idle threads
#: still spin: OpenBLAS's wait about 0.1 s for more work after a call (its THREAD_TIMEOUT) and take
#: the cores from the next one's threads (measured, 2 cores: fastgd's streaming batch fit 106 ms
#: alone, 170 ms right after numpy's steps; 131 ms with OPENBLAS_THREAD_TIMEOUT=4)
SETTLE_S = 0.15


@dataclass(frozen=True)
class Sizes:
    """The data sizes and repetitions of one preset."""

    grad: tuple  # (n, d) of the full-batch pass (rows 1-3)
    sgd: tuple  # (n, d) of the SGD and mini-batch rows
    sgd_epochs: int
    minibatch_epochs: int
    dropin: tuple  # (n, d) of the dense X of the SGD drop-in rows (fastgd.SGDClassifier/SGDRegressor)
    dropin_csr: tuple  # (n, d, density) of their CSR X
    dropin_epochs: int
    torch_epochs: int
    lstsq: tuple  # (n, d) of batch GD vs lstsq
    lstsq_budget: float  # seconds one batch-GD fit may take (max_epochs is searched for within it)
    memory: tuple  # (n, d) float32 of the peak-memory row
    memmap: tuple  # (n, d) float32 of the memory-mapped file's rows
    scaling: tuple  # values of n of the time-per-epoch row (d = scaling_d, float32)
    scaling_d: int
    repeats: int  # repeats of the fast passes
    fit_repeats: int  # repeats of whole fits
    startup_warm_runs: int
    settle_s: float  # the pause before each timed call (``timed``)


PRESETS = {
    "full": Sizes(
        grad=(2_000_000, 64),
        sgd=(1_000_000, 32),
        sgd_epochs=3,
        minibatch_epochs=2,
        dropin=(200_000, 32),
        dropin_csr=(200_000, 10_000, 0.001),
        dropin_epochs=5,
        torch_epochs=1,
        lstsq=(1_000_000, 50),
        lstsq_budget=60.0,
        memory=(5_000_000, 20),
        memmap=(40_000_000, 20),
        scaling=(100_000, 300_000, 1_000_000, 3_000_000, 10_000_000),
        scaling_d=20,
        repeats=7,
        fit_repeats=3,
        startup_warm_runs=3,
        settle_s=SETTLE_S,
    ),
    "quick": Sizes(
        grad=(250_000, 64),
        sgd=(200_000, 32),
        sgd_epochs=1,
        minibatch_epochs=1,
        dropin=(50_000, 32),
        dropin_csr=(50_000, 10_000, 0.001),
        dropin_epochs=5,
        torch_epochs=1,
        lstsq=(100_000, 50),
        lstsq_budget=3.0,
        memory=(1_000_000, 20),
        memmap=(5_000_000, 20),
        scaling=(100_000, 300_000, 1_000_000),
        scaling_d=20,
        repeats=5,
        fit_repeats=2,
        startup_warm_runs=1,
        settle_s=SETTLE_S,
    ),
    # for the tests: every code path, in seconds (the figures mean nothing at this size)
    "tiny": Sizes(
        grad=(10_000, 8),
        sgd=(5_000, 4),
        sgd_epochs=1,
        minibatch_epochs=1,
        dropin=(2_000, 8),
        dropin_csr=(2_000, 500, 0.01),
        dropin_epochs=1,
        torch_epochs=1,
        lstsq=(5_000, 4),
        lstsq_budget=0.5,
        memory=(20_000, 4),
        memmap=(20_000, 4),
        scaling=(5_000, 10_000, 20_000),
        scaling_d=4,
        repeats=2,
        fit_repeats=1,
        startup_warm_runs=1,
        settle_s=0.0,
    ),
}

#: constant learning rates (fastgd's convention, loss (p - y)²) on standardized features
SGD_ETA = 1e-4
MINIBATCH_ETA = 1e-2
BATCH_SIZE = 64
#: batch GD must reach the least-squares loss to this relative excess
LSTSQ_RTOL = 1e-9
#: fastgd's batch-GD stopping rule: gradient norm below BATCH_TOL times its initial value
BATCH_TOL = 1e-11
BATCH_MAX_EPOCHS = 1_000_000


@dataclass
class Row:
    """One line of the table: fastgd's figure, the peer's, their ratio and the target."""

    name: str  # the --only name of the function that made it
    work: str
    fastgd: str
    peer: str
    ratio: float | None  # None: skipped
    target: str
    met: bool | None  # None: skipped
    note: str = ""
    figures: dict = field(default_factory=dict)


def skipped(name, work, target, reason):
    return Row(name, work, "-", "-", None, target, None, note=f"skipped: {reason}", figures={"skipped": reason})


class Context:
    """Sizes, the data the rows share (made once, freed when no later row needs it)."""

    def __init__(self, sizes):
        self.sizes = sizes
        self._data = {}

    def data(self, key, make):
        if key not in self._data:
            self._data[key] = make()
        return self._data[key]

    def keep_only(self, keys):
        for key in set(self._data) - set(keys):
            del self._data[key]


# -------------------------------------------------------------------------------- helpers


def timed(fns, repeats, settle=0.0):
    """Median wall time (s) of each callable in ``fns`` (a dict), after one untimed call of
    each; the repeats are interleaved so that a noisy neighbour slows all of them alike, each
    call ``settle`` seconds after the last (``SETTLE_S``: the cores idle again).
    Returns (medians, all times)."""
    for fn in fns.values():
        fn()
    times = {key: [] for key in fns}
    for _ in range(repeats):
        for key, fn in fns.items():
            time.sleep(settle)
            start = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - start)
    return {key: float(np.median(t)) for key, t in times.items()}, times


def with_threads(n_threads, fn):
    """``fn()`` with numba running ``n_threads`` threads; the setting is restored afterwards."""
    previous = numba.get_num_threads()
    numba.set_num_threads(n_threads)
    try:
        return fn()
    finally:
        numba.set_num_threads(previous)


def si(value, unit=""):
    for scale, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}".rstrip()


def seconds_text(t):
    return f"{t * 1e3:.3g} ms" if t < 1 else f"{t:.3g} s"


def mse_of(X, y, intercept, coef):
    """Training MSE in float64, computed the same way for every contender."""
    r = X @ np.asarray(coef, dtype=np.float64) + float(intercept) - y
    return float(r @ r) / len(y)


def numpy_step(X, y, coef, intercept, eta):
    """One gradient step of the squared loss in plain numpy over the rows X, y (BLAS: two reads of
    X): θ ← θ − η 2/n Xᵀ(Xθ + b − y); ``coef`` updated in place, the new intercept returned."""
    r = X @ coef
    r += intercept - y
    scale = 2.0 * eta / len(y)
    coef -= scale * (X.T @ r)
    return intercept - scale * r.sum()


def standardized(n, d, seed):
    """fastgd's synthetic data (noise 1), features standardized in numpy (float64)."""
    X, y = fastgd.make_linear(n, d, noise=1.0, random_state=seed)
    X -= X.mean(axis=0)
    X /= X.std(axis=0)
    return X, y


def make_float32(n, d, seed=0):
    """make_linear's data in float32, made in blocks of rows: no float64 temporary the size of X."""
    X, y = np.empty((n, d), dtype=np.float32), np.empty(n, dtype=np.float32)
    rng = np.random.default_rng(seed)
    step = 1 << 16
    for start in range(0, n, step):
        block = X[start : start + step]
        rng.random(out=block, dtype=np.float32)
        block *= 2
        y[start : start + step] = 4 + 3 * block.sum(axis=1) + rng.standard_normal(block.shape[0], dtype=np.float32)
    return X, y


def quiet(fn):
    """``fn`` with warnings (ConvergenceWarning of a fixed epoch count, ...) silenced."""

    def run(*args, **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*args, **kwargs)

    return run


fit = quiet(fastgd.fit)


def sgd_data(ctx):
    return ctx.data("sgd", lambda: standardized(*ctx.sizes.sgd, seed=1))


def run_child(code, env=None):
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child process failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return wall, json.loads(proc.stdout.strip().splitlines()[-1])
