"""``fastgd bench``: every performance target of fastgd, each a ratio measured side by side.

Run ``fastgd bench`` (5 to 10 minutes on 2 cores), ``fastgd bench --quick`` (under a minute,
smaller data) or ``python -m fastgd.bench``; ``--only NAME ...`` picks rows, ``--json PATH``
says where the figures go (default ``bench-results.json``).

Every row times fastgd and its peer in the same process, on the same data, one after the
other (the repeats interleaved: a, b, a, b, ...), after one untimed call of each; the figure
is the median of the repeats.  These machines are shared and noisy: read the ratios, never
compare absolute times across runs.  Give numpy its best: run the command with
``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` unset (a warning says when they are set).

Peers: a parallel numba streaming read of the same X (the bandwidth probe: the physical limit
of a pass over the data), numpy doing the same arithmetic (vectorized BLAS), scikit-learn's
``SGDRegressor``, ``numpy.linalg.lstsq`` and torch on the CPU (each skipped with a note when
not installed).
"""

import argparse
import inspect
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, field

import numba
import numpy as np
from numba import njit, prange

import fastgd

from ._dispatch import Problem

#: environment variables that change how numpy's BLAS or numba's threads run (recorded in the JSON)
_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
_ENV_NUMBA = ("NUMBA_NUM_THREADS", "NUMBA_THREADING_LAYER", "NUMBA_CACHE_DIR")
#: set, these two slow numpy down: the benchmark command should run with both unset
_SLOW_BLAS_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


@dataclass(frozen=True)
class Sizes:
    """The data sizes and repetitions of one preset."""

    grad: tuple  # (n, d) of the full-batch pass (rows 1-3)
    sgd: tuple  # (n, d) of the SGD and mini-batch rows
    sgd_epochs: int
    minibatch_epochs: int
    torch_epochs: int
    lstsq: tuple  # (n, d) of batch GD vs lstsq
    lstsq_budget: float  # seconds one batch-GD fit may take (max_epochs is searched for within it)
    memory: tuple  # (n, d) float32 of the peak-memory row
    scaling: tuple  # values of n of the time-per-epoch row (d = scaling_d, float32)
    scaling_d: int
    repeats: int  # repeats of the fast passes
    fit_repeats: int  # repeats of whole fits
    startup_warm_runs: int


PRESETS = {
    "full": Sizes(
        grad=(2_000_000, 64),
        sgd=(1_000_000, 32),
        sgd_epochs=3,
        minibatch_epochs=2,
        torch_epochs=1,
        lstsq=(1_000_000, 50),
        lstsq_budget=60.0,
        memory=(5_000_000, 20),
        scaling=(100_000, 300_000, 1_000_000, 3_000_000, 10_000_000),
        scaling_d=20,
        repeats=7,
        fit_repeats=3,
        startup_warm_runs=3,
    ),
    "quick": Sizes(
        grad=(250_000, 64),
        sgd=(200_000, 32),
        sgd_epochs=1,
        minibatch_epochs=1,
        torch_epochs=1,
        lstsq=(100_000, 50),
        lstsq_budget=3.0,
        memory=(1_000_000, 20),
        scaling=(100_000, 300_000, 1_000_000),
        scaling_d=20,
        repeats=5,
        fit_repeats=2,
        startup_warm_runs=1,
    ),
    # for the tests: every code path, in seconds (the figures mean nothing at this size)
    "tiny": Sizes(
        grad=(10_000, 8),
        sgd=(5_000, 4),
        sgd_epochs=1,
        minibatch_epochs=1,
        torch_epochs=1,
        lstsq=(5_000, 4),
        lstsq_budget=0.5,
        memory=(20_000, 4),
        scaling=(5_000, 10_000, 20_000),
        scaling_d=4,
        repeats=2,
        fit_repeats=1,
        startup_warm_runs=1,
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


def _skipped(name, work, target, reason):
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


def _time(fns, repeats):
    """Median wall time (s) of each callable in ``fns`` (a dict), after one untimed call of
    each; the repeats are interleaved so that a noisy neighbour slows all of them alike.
    Returns (medians, all times)."""
    for fn in fns.values():
        fn()
    times = {key: [] for key in fns}
    for _ in range(repeats):
        for key, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - start)
    return {key: float(np.median(t)) for key, t in times.items()}, times


def _with_threads(n_threads, fn):
    """``fn()`` with numba running ``n_threads`` threads; the setting is restored afterwards."""
    previous = numba.get_num_threads()
    numba.set_num_threads(n_threads)
    try:
        return fn()
    finally:
        numba.set_num_threads(previous)


def _si(value, unit=""):
    for scale, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}".rstrip()


def _seconds(t):
    return f"{t * 1e3:.3g} ms" if t < 1 else f"{t:.3g} s"


def _mse(X, y, intercept, coef):
    """Training MSE in float64, computed the same way for every contender."""
    r = X @ np.asarray(coef, dtype=np.float64) + float(intercept) - y
    return float(r @ r) / len(y)


def _standardized(n, d, seed):
    """fastgd's synthetic data (noise 1), features standardized in numpy (float64)."""
    X, y = fastgd.make_linear(n, d, noise=1.0, random_state=seed)
    X -= X.mean(axis=0)
    X /= X.std(axis=0)
    return X, y


def _make_float32(n, d, seed=0):
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


def _quiet(fn):
    """``fn`` with warnings (ConvergenceWarning of a fixed epoch count, ...) silenced."""

    def run(*args, **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*args, **kwargs)

    return run


fit = _quiet(fastgd.fit)


@njit(parallel=True, fastmath=True, cache=True, nogil=True)
def stream_sum(flat, block):
    """The bandwidth probe: sum every element of ``flat`` (a view of X), blocks in parallel."""
    n_blocks = (flat.shape[0] + block - 1) // block
    partial = np.zeros(n_blocks)
    for b in prange(n_blocks):
        s = 0.0
        for i in range(b * block, min((b + 1) * block, flat.shape[0])):
            s += flat[i]
        partial[b] = s
    return partial.sum()


#: elements per block of the probe (1 MiB of float64)
PROBE_BLOCK = 1 << 17


def _probe(X):
    flat = X.reshape(-1)  # a view: X is C-contiguous
    return lambda: stream_sum(flat, PROBE_BLOCK)


def _fastgd_pass(X, y, theta):
    """The full-batch loss + gradient pass of method="batch": ``Problem.loss_grad``, which runs
    ``kernels.loss_grad_parallel`` (more than one block of rows, numba with > 1 thread)."""
    problem = Problem(X, y, fit_intercept=True, n_threads=max(2, numba.get_num_threads()))
    grad = np.zeros(X.shape[1] + 1)
    kernel = getattr(getattr(problem, "_loss_grad", None), "__name__", "?")
    return (lambda: problem.loss_grad(theta, grad)), kernel, grad


def _numpy_pass(X, y, theta):
    """numpy's fused-as-can-be pass: r = Xθ - y (BLAS gemv), loss r·r, gradient 2/n Xᵀr."""
    n = len(y)
    coef = theta[1:].astype(X.dtype)
    out = {}

    def run():
        r = X @ coef
        r += X.dtype.type(theta[0])
        r -= y
        out["loss"] = float(r @ r) / n
        out["grad"] = (2.0 / n) * np.concatenate(([r.sum(dtype=np.float64)], X.T @ r))

    return run, out


def _grad_data(ctx, dtype):
    def make():
        if dtype == np.float64:
            return fastgd.make_linear(*ctx.sizes.grad, random_state=0)
        X, y = _grad_data(ctx, np.float64)
        return X.astype(np.float32), y.astype(np.float32)

    return ctx.data(("grad", np.dtype(dtype).name), make)


def _theta(d):
    return np.random.default_rng(5).standard_normal(d + 1)


# -------------------------------------------------------------------------------- rows


def bench_gradient(ctx):
    """Row 1: the full-batch pass against the bandwidth probe and against numpy."""
    X, y = _grad_data(ctx, np.float64)
    n, d = X.shape
    theta = _theta(d)
    fast, kernel, grad = _fastgd_pass(X, y, theta)
    numpy_run, numpy_out = _numpy_pass(X, y, theta)
    med, times = _time({"fastgd": fast, "probe": _probe(X), "numpy": numpy_run}, ctx.sizes.repeats)
    loss = fast()
    fast_bw, probe_bw = X.nbytes / med["fastgd"], X.nbytes / med["probe"]
    work = f"gradient+loss pass n={n} d={d} f64"
    figures = {
        "n": n,
        "d": d,
        "X_bytes": X.nbytes,
        "kernel": kernel,
        "median_s": med,
        "times_s": times,
        "bytes_per_s": {"fastgd": fast_bw, "probe": probe_bw, "numpy": X.nbytes / med["numpy"]},
        "loss": {"fastgd": loss, "numpy": numpy_out["loss"]},
        "grad_max_abs_diff": float(np.max(np.abs(grad - numpy_out["grad"]))),
    }
    vs_numpy = med["numpy"] / med["fastgd"]
    return [
        Row(
            "gradient",
            work,
            f"{_si(fast_bw, 'B/s')}",
            f"probe {_si(probe_bw, 'B/s')}",
            fast_bw / probe_bw,
            "≥ 0.7 × probe B/s",
            fast_bw / probe_bw >= 0.7,
            note=f"probe: parallel numba sum of every element of X; bytes/s = X.nbytes / time; kernel {kernel}",
            figures=figures,
        ),
        Row(
            "gradient",
            work,
            _seconds(med["fastgd"]),
            f"numpy {_seconds(med['numpy'])}",
            vs_numpy,
            "≥ 2.5 × numpy",
            vs_numpy >= 2.5,
            note="numpy: r = X @ coef + b - y; loss r @ r / n; grad 2/n [sum r, X.T @ r]",
            figures=figures,
        ),
    ]


def bench_float32(ctx):
    """Row 2: the same pass in float32 against float64, rows per second."""
    X64, y64 = _grad_data(ctx, np.float64)
    X32, y32 = _grad_data(ctx, np.float32)
    n, d = X64.shape
    theta = _theta(d)
    f64, _, _ = _fastgd_pass(X64, y64, theta)
    f32, _, _ = _fastgd_pass(X32, y32, theta)
    med, times = _time({"float64": f64, "float32": f32}, ctx.sizes.repeats)
    ratio = med["float64"] / med["float32"]
    return [
        Row(
            "float32",
            f"same pass, float32 vs float64 n={n} d={d}",
            f"f32 {_si(n / med['float32'], 'rows/s')}",
            f"f64 {_si(n / med['float64'], 'rows/s')}",
            ratio,
            "≥ 1.7 × rows/s",
            ratio >= 1.7,
            figures={"n": n, "d": d, "median_s": med, "times_s": times, "losses": {"float64": f64(), "float32": f32()}},
        )
    ]


def bench_threads(ctx):
    """Row 3: the same pass (float64) with 2 numba threads against 1."""
    n, d = ctx.sizes.grad
    work, target = f"same pass, 2 threads vs 1 n={n} d={d} f64", "≥ 1.7 ×"
    if numba.config.NUMBA_NUM_THREADS < 2:
        return [_skipped("threads", work, target, f"numba has {numba.config.NUMBA_NUM_THREADS} thread")]
    X, y = _grad_data(ctx, np.float64)
    fast, kernel, _ = _fastgd_pass(X, y, _theta(d))
    med, times = _time({"1": lambda: _with_threads(1, fast), "2": lambda: _with_threads(2, fast)}, ctx.sizes.repeats)
    ratio = med["1"] / med["2"]
    return [
        Row(
            "threads",
            work,
            f"2 thr {_seconds(med['2'])}",
            f"1 thr {_seconds(med['1'])}",
            ratio,
            target,
            ratio >= 1.7,
            note=f"numba.set_num_threads on the same {kernel}",
            figures={"n": n, "d": d, "median_s": med, "times_s": times, "kernel": kernel},
        )
    ]


def _sgd_data(ctx):
    return ctx.data("sgd", lambda: _standardized(*ctx.sizes.sgd, seed=1))


def bench_sgd(ctx):
    """Row 4: SGD samples/s against scikit-learn's SGDRegressor, the same trajectory rule."""
    n, d = ctx.sizes.sgd
    epochs = ctx.sizes.sgd_epochs
    work, target = f"SGD epochs n={n} d={d} f64", "≥ 6 × samples/s, MSE ±1 %"
    try:
        from sklearn.linear_model import SGDRegressor
    except ImportError as exc:
        return [_skipped("sgd", work, target, f"scikit-learn is not installed ({exc})")]
    X, y = _sgd_data(ctx)
    out = {}

    def run_fastgd():
        out["fastgd"] = fit(
            X, y, method="sgd", learning_rate=SGD_ETA, max_epochs=epochs, tol=0, init="zeros", random_state=0
        )

    def run_sklearn():
        model = SGDRegressor(
            loss="squared_error",
            penalty=None,
            learning_rate="constant",
            eta0=2 * SGD_ETA,  # scikit-learn's squared_error is ½(p - y)²: half fastgd's gradient
            max_iter=epochs,
            tol=None,
            shuffle=True,
            fit_intercept=True,
            average=False,
            random_state=0,
        )
        out["sklearn"] = _quiet(model.fit)(X, y)

    med, times = _time({"fastgd": run_fastgd, "sklearn": run_sklearn}, ctx.sizes.fit_repeats)
    res, model = out["fastgd"], out["sklearn"]
    mse = {"fastgd": _mse(X, y, res.intercept, res.coef), "sklearn": _mse(X, y, model.intercept_[0], model.coef_)}
    rate = {key: n * epochs / t for key, t in med.items()}
    ratio = rate["fastgd"] / rate["sklearn"]
    loss_gap = mse["fastgd"] / mse["sklearn"] - 1
    return [
        Row(
            "sgd",
            f"{work} ×{epochs} ep",
            f"{_si(rate['fastgd'], 'samples/s')}",
            f"sklearn {_si(rate['sklearn'], 'samples/s')}",
            ratio,
            target,
            ratio >= 6 and abs(loss_gap) <= 0.01,
            note=(
                f"constant η: fastgd {SGD_ETA:g} on (p-y)², SGDRegressor eta0={2 * SGD_ETA:g} on ½(p-y)² (the same "
                f"steps); standardized X; MSE fastgd {mse['fastgd']:.6g}, sklearn {mse['sklearn']:.6g} "
                f"({loss_gap:+.2%})"
            ),
            figures={
                "n": n,
                "d": d,
                "epochs": epochs,
                "eta_fastgd": SGD_ETA,
                "eta0_sklearn": 2 * SGD_ETA,
                "median_s": med,
                "times_s": times,
                "samples_per_s": rate,
                "mse": mse,
                "mse_relative_gap": loss_gap,
            },
        )
    ]


def _accepts(**kwargs):
    """None if ``fastgd.fit`` takes these arguments (tried on tiny data), else the reason why not."""
    X, y = fastgd.make_linear(3 * 2048 + 1, 2)
    try:
        fit(X, y, method="sgd", learning_rate=1e-3, max_epochs=1, tol=0, random_state=0, **kwargs)
    except (TypeError, ValueError) as exc:
        return f"fit does not take {kwargs}: {exc}"
    return None


def bench_levers(ctx):
    """The levers of the issue, against fastgd's default SGD (no target: speed and final loss,
    to document the trade-off): shuffle="blocks" against "rows", and local SGD on all numba
    threads (n_threads > 1) against the serial run."""
    n, d = ctx.sizes.sgd
    epochs = ctx.sizes.sgd_epochs
    threads = numba.config.NUMBA_NUM_THREADS
    variants = [
        ('shuffle="blocks" vs "rows"', {"shuffle": "blocks"}, {"shuffle": "rows"}),
        (f"n_threads={threads} (local SGD) vs serial", {"n_threads": threads}, {}),
    ]
    X, y = _sgd_data(ctx)
    rows = []
    for label, lever, base in variants:
        work, target = f"SGD {label} n={n} d={d} ×{epochs} ep", "(info)"
        reason = "numba has 1 thread" if lever.get("n_threads") == 1 else _accepts(**lever)
        if reason:
            rows.append(_skipped("levers", work, target, reason))
            continue
        out = {}

        def one(key, kwargs, out=out):
            def run():
                out[key] = fit(
                    X,
                    y,
                    method="sgd",
                    learning_rate=SGD_ETA,
                    max_epochs=epochs,
                    tol=0,
                    init="zeros",
                    random_state=0,
                    **kwargs,
                )

            return run

        med, times = _time({"lever": one("lever", lever), "base": one("base", base)}, ctx.sizes.fit_repeats)
        mse = {key: _mse(X, y, res.intercept, res.coef) for key, res in out.items()}
        rate = {key: n * epochs / t for key, t in med.items()}
        rows.append(
            Row(
                "levers",
                work,
                f"{_si(rate['lever'], 'samples/s')}",
                f"{_si(rate['base'], 'samples/s')}",
                rate["lever"] / rate["base"],
                target,
                None,
                note=f"η={SGD_ETA:g}; MSE {mse['lever']:.6g} with the lever, {mse['base']:.6g} without",
                figures={
                    "lever": lever,
                    "base": base,
                    "median_s": med,
                    "times_s": times,
                    "samples_per_s": rate,
                    "mse": mse,
                },
            )
        )
    return rows


def numpy_minibatch(X, y, eta, batch_size, orders):
    """Mini-batch GD in plain numpy, vectorized per batch: for each epoch's order, the rows
    permuted once (one gather), then θ -= η 2/b X_bᵀ(X_b θ - y_b) batch after batch."""
    coef, intercept = np.zeros(X.shape[1]), 0.0
    for order in orders:
        Xp, yp = X[order], y[order]
        for start in range(0, len(y), batch_size):
            Xb, yb = Xp[start : start + batch_size], yp[start : start + batch_size]
            r = Xb @ coef
            r += intercept - yb
            scale = 2.0 * eta / len(yb)
            coef -= scale * (Xb.T @ r)
            intercept -= scale * r.sum()
    return intercept, coef


def _minibatch_fastgd(X, y, epochs, out):
    def run():
        out["fastgd"] = fit(
            X,
            y,
            method="minibatch",
            batch_size=BATCH_SIZE,
            learning_rate=MINIBATCH_ETA,
            max_epochs=epochs,
            tol=0,
            init="zeros",
            random_state=0,
        )

    return run


def bench_minibatch(ctx):
    """Row 5a: a mini-batch epoch against a plain numpy mini-batch loop."""
    n, d = ctx.sizes.sgd
    epochs = ctx.sizes.minibatch_epochs
    X, y = _sgd_data(ctx)
    rng = np.random.default_rng(3)
    orders = [rng.permutation(n) for _ in range(epochs)]
    out = {}

    def run_numpy():
        out["numpy"] = numpy_minibatch(X, y, MINIBATCH_ETA, BATCH_SIZE, orders)

    med, times = _time({"fastgd": _minibatch_fastgd(X, y, epochs, out), "numpy": run_numpy}, ctx.sizes.fit_repeats)
    res = out["fastgd"]
    mse = {"fastgd": _mse(X, y, res.intercept, res.coef), "numpy": _mse(X, y, *out["numpy"])}
    rate = {key: n * epochs / t for key, t in med.items()}
    ratio = rate["fastgd"] / rate["numpy"]
    return [
        Row(
            "minibatch",
            f"mini-batch b={BATCH_SIZE} n={n} d={d} ×{epochs} ep",
            f"{_si(rate['fastgd'], 'samples/s')}",
            f"numpy {_si(rate['numpy'], 'samples/s')}",
            ratio,
            "≥ 3 × numpy loop",
            ratio >= 3,
            note=f"η={MINIBATCH_ETA:g}; MSE fastgd {mse['fastgd']:.6g}, numpy {mse['numpy']:.6g}",
            figures={
                "n": n,
                "d": d,
                "epochs": epochs,
                "batch_size": BATCH_SIZE,
                "eta": MINIBATCH_ETA,
                "median_s": med,
                "times_s": times,
                "samples_per_s": rate,
                "mse": mse,
            },
        )
    ]


def torch_minibatch(torch, Xt, yt, eta, batch_size, orders):
    """The same mini-batch GD in torch: nn.Linear + optim.SGD + MSELoss, float64 on the CPU."""
    model = torch.nn.Linear(Xt.shape[1], 1, dtype=torch.float64)
    with torch.no_grad():
        model.weight.zero_()
        model.bias.zero_()
    optimizer = torch.optim.SGD(model.parameters(), lr=eta)
    loss_fn = torch.nn.MSELoss()
    for order in orders:
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            optimizer.zero_grad()
            loss_fn(model(Xt[idx]), yt[idx]).backward()
            optimizer.step()
    return float(model.bias.detach()[0]), model.weight.detach().numpy()[0].copy()


def bench_torch(ctx):
    """Row 5b: a mini-batch epoch against torch on the CPU (run last: torch brings its own
    OpenMP threads, which must not disturb the other rows)."""
    n, d = ctx.sizes.sgd
    epochs = ctx.sizes.torch_epochs
    work, target = f"mini-batch b={BATCH_SIZE} n={n} d={d} ×{epochs} ep", "≥ 20 × torch CPU"
    try:
        import torch
    except ImportError as exc:
        return [_skipped("torch", work, target, f"torch is not installed ({exc})")]
    X, y = _sgd_data(ctx)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y).unsqueeze(1)
    gen = torch.Generator().manual_seed(3)
    orders = [torch.randperm(n, generator=gen) for _ in range(epochs)]
    out = {}

    def run_torch():
        out["torch"] = torch_minibatch(torch, Xt, yt, MINIBATCH_ETA, BATCH_SIZE, orders)

    med, times = _time({"fastgd": _minibatch_fastgd(X, y, epochs, out), "torch": run_torch}, ctx.sizes.fit_repeats)
    res = out["fastgd"]
    mse = {"fastgd": _mse(X, y, res.intercept, res.coef), "torch": _mse(X, y, *out["torch"])}
    rate = {key: n * epochs / t for key, t in med.items()}
    ratio = rate["fastgd"] / rate["torch"]
    return [
        Row(
            "torch",
            work,
            f"{_si(rate['fastgd'], 'samples/s')}",
            f"torch {_si(rate['torch'], 'samples/s')}",
            ratio,
            target,
            ratio >= 20,
            note=(
                f"torch {torch.__version__}, {torch.get_num_threads()} threads, float64; MSELoss = fastgd's loss, "
                f"same η={MINIBATCH_ETA:g}; MSE fastgd {mse['fastgd']:.6g}, torch {mse['torch']:.6g}"
            ),
            figures={
                "n": n,
                "d": d,
                "epochs": epochs,
                "torch_version": torch.__version__,
                "torch_threads": torch.get_num_threads(),
                "median_s": med,
                "times_s": times,
                "samples_per_s": rate,
                "mse": mse,
            },
        )
    ]


def _batch_to_tol(X, y, budget, repeats, **kwargs):
    """fit(method="batch", tol=BATCH_TOL) within about ``budget`` seconds: max_epochs grows
    (8x, or as far as the time per iteration of the last two runs says the budget allows) from
    10 until the fit converges or the budget allows no more; a streaming pass per iteration on
    ill-conditioned data needs far more iterations than a budget allows.  The figure is the
    last run, repeated (same bits: same random_state) when it converged.
    Returns (median time, times, result, max_epochs, [(max_epochs, seconds) of the search])."""

    def timed(max_epochs):
        start = time.perf_counter()
        res = fit(X, y, method="batch", tol=BATCH_TOL, max_epochs=max_epochs, random_state=0, **kwargs)
        return time.perf_counter() - start, res

    search, max_epochs = [], 10
    while True:
        t, res = timed(max_epochs)
        search.append((max_epochs, t))
        if res.converged or max_epochs >= BATCH_MAX_EPOCHS:
            break
        grow = min(8 * max_epochs, BATCH_MAX_EPOCHS)
        if len(search) > 1:  # the first run's time is mostly set-up: always try 8x more iterations once
            (m0, t0), (m1, t1) = search[-2:]
            per_iteration = max(t1 - t0, 0.0) / (m1 - m0)
            if per_iteration > 0:
                grow = min(grow, int(m1 + (budget - t1) / per_iteration))  # as many as the budget allows
            if grow < 2 * m1:
                break
        max_epochs = grow
    times = [t]
    while res.converged and len(times) < repeats and sum(times) + times[0] <= budget:
        times.append(timed(max_epochs)[0])
    return float(np.median(times)), times, res, max_epochs, search


def bench_lstsq(ctx):
    """Row 6: batch GD to the least-squares loss against numpy.linalg.lstsq."""
    n, d = ctx.sizes.lstsq
    X, y = fastgd.make_linear(n, d, random_state=2)
    X_b = np.column_stack((np.ones(n), X))  # made once, outside numpy's timing
    ref = {}

    def run_lstsq():
        ref["theta"] = np.linalg.lstsq(X_b, y, rcond=None)[0]

    lstsq_med, lstsq_times = _time({"lstsq": run_lstsq}, ctx.sizes.fit_repeats)
    lstsq_s = lstsq_med["lstsq"]
    best = _mse(X, y, ref["theta"][0], ref["theta"][1:])
    eig = np.linalg.eigvalsh(X_b.T @ X_b / n)
    X_b = None  # freed before the fits
    variants = [{}]  # fit's defaults, and the streaming path when fit has a Gram path
    if "precompute" in inspect.signature(fastgd.fit).parameters:
        variants.append({"precompute": False})
    rows = []
    for kwargs in variants:
        t, times, res, max_epochs, search = _batch_to_tol(X, y, ctx.sizes.lstsq_budget, ctx.sizes.fit_repeats, **kwargs)
        loss = _mse(X, y, res.intercept, res.coef)
        excess = (loss - best) / best
        ratio = t / lstsq_s
        args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        rows.append(
            Row(
                "lstsq",
                f"batch GD to lstsq loss (1e-9 rel) n={n} d={d}" + (f" {args}" if args else ""),
                _seconds(t) + ("" if res.converged else ", stopped"),
                f"lstsq {_seconds(lstsq_s)}",
                ratio,
                "≤ 1.5 × lstsq time",
                ratio <= 1.5 and excess <= LSTSQ_RTOL,
                note=(
                    f"fit(method='batch', tol={BATCH_TOL:g}, max_epochs={max_epochs}{', ' + args if args else ''}): "
                    f"{res.n_epochs} iterations, {'converged' if res.converged else 'NOT converged'}; loss {loss:.12g} "
                    f"vs lstsq {best:.12g}: relative excess {excess:.2e} (needs ≤ {LSTSQ_RTOL:g}); "
                    f"κ(X̃ᵀX̃) = {eig[-1] / eig[0]:.3g}"
                ),
                figures={
                    "n": n,
                    "d": d,
                    "fit_kwargs": {"tol": BATCH_TOL, "max_epochs": max_epochs, **kwargs},
                    "fastgd_median_s": t,
                    "fastgd_times_s": times,
                    "lstsq_median_s": lstsq_s,
                    "lstsq_times_s": lstsq_times["lstsq"],
                    "max_epochs_search": search,
                    "iterations": res.n_epochs,
                    "converged": bool(res.converged),
                    "loss": {"fastgd": loss, "lstsq": best},
                    "relative_excess_loss": excess,
                    "condition_number": float(eig[-1] / eig[0]),
                },
            )
        )
    rows.append(_vs_linear_regression(X, y, best, rows[0].figures["fastgd_median_s"], ctx.sizes.fit_repeats))
    return rows


def _vs_linear_regression(X, y, best, fastgd_s, repeats):
    """An info row: the same batch-GD fit against scikit-learn's LinearRegression (LAPACK)."""
    work = f"batch GD (defaults) vs scikit-learn LinearRegression n={X.shape[0]} d={X.shape[1]}"
    try:
        from sklearn.linear_model import LinearRegression
    except ImportError as exc:
        return _skipped("lstsq", work, "(info)", f"scikit-learn is not installed ({exc})")
    out = {}

    def run():
        out["model"] = LinearRegression().fit(X, y)

    med, times = _time({"sklearn": run}, repeats)
    loss = _mse(X, y, out["model"].intercept_, out["model"].coef_)
    return Row(
        "lstsq",
        work,
        _seconds(fastgd_s),
        f"LinearRegression {_seconds(med['sklearn'])}",
        fastgd_s / med["sklearn"],
        "(info)",
        None,
        note=f"LinearRegression loss {loss:.12g}, relative excess {(loss - best) / best:.2e}",
        figures={"sklearn_median_s": med["sklearn"], "sklearn_times_s": times["sklearn"], "loss": loss},
    )


_STARTUP_CODE = """
import json, time
start = time.perf_counter()
import fastgd
imported = time.perf_counter()
X, y = fastgd.make_linear(1000, 3, random_state=0)
fastgd.fit(X, y, method="sgd", max_epochs=50, random_state=0)
print(json.dumps({"import_s": imported - start, "fit_s": time.perf_counter() - imported}))
"""


def _run_child(code, env=None):
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child process failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return wall, json.loads(proc.stdout.strip().splitlines()[-1])


def bench_startup(ctx):
    """Row 7: a fresh process, ``import fastgd`` and a first small fit: cold (empty numba
    cache: compiles) and warm (kernels cached on disk)."""
    with tempfile.TemporaryDirectory(prefix="fastgd-bench-cache-") as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        cold_wall, cold = _run_child(_STARTUP_CODE, env)
        warm = [_run_child(_STARTUP_CODE, env) for _ in range(ctx.sizes.startup_warm_runs)]
    warm_wall = float(np.median([w for w, _ in warm]))
    # what the target names: `import fastgd` + the first fit, timed inside the process
    warm_s = float(np.median([split["import_s"] + split["fit_s"] for _, split in warm]))
    cold_s = cold["import_s"] + cold["fit_s"]
    return [
        Row(
            "startup",
            "fresh process: import fastgd + first small fit",
            f"warm {_seconds(warm_s)}",
            f"cold {_seconds(cold_s)}",
            warm_s,
            "warm ≤ 1 s",
            warm_s <= 1.0,
            note=(
                "import + first fit timed inside `python -c` with a temporary NUMBA_CACHE_DIR: cold = empty cache "
                f"(compiles), warm = cached; warm split: import {warm[-1][1]['import_s']:.3g} s, fit "
                f"{warm[-1][1]['fit_s']:.3g} s; whole process wall {_seconds(warm_wall)} warm, {_seconds(cold_wall)} "
                "cold (with interpreter start-up)"
            ),
            figures={
                "cold_wall_s": cold_wall,
                "cold_split_s": cold,
                "warm_wall_s": [w for w, _ in warm],
                "warm_split_s": [s for _, s in warm],
                "code": _STARTUP_CODE,
            },
        )
    ]


def _proc_status_kib(field_name):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    raise KeyError(field_name)


def memory_child(n, d, method):
    """In a fresh process: peak RSS growth (bytes) of one fit on float32 X (n, d), printed as JSON.

    The kernels are loaded first by a small fit of the same kind; X is made in blocks (no
    float64 temporary); then the peak-RSS mark is reset (/proc/self/clear_refs) and read back
    after the fit.  tracemalloc cannot see numba's allocations: RSS is the honest measure."""
    kwargs = {"sgd": dict(max_epochs=2), "batch": dict(max_epochs=10)}[method]
    small = _make_float32(3 * 2048 + 1, d, seed=1)
    fit(*small, method=method, tol=0, random_state=0, **kwargs)
    X, y = _make_float32(n, d)
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        reset = True
    except OSError:
        reset = False
    rss = _proc_status_kib("VmRSS") * 1024
    hwm = _proc_status_kib("VmHWM") * 1024
    fit(X, y, method=method, tol=0, random_state=0, **kwargs)
    peak = _proc_status_kib("VmHWM") * 1024
    result = dict(
        method=method,
        fit_kwargs=dict(tol=0, random_state=0, **kwargs),
        X_bytes=X.nbytes,
        y_bytes=y.nbytes,
        rss_before=rss,
        hwm_before=hwm,
        hwm_after=peak,
        hwm_reset=reset,
        growth=peak - (rss if reset else hwm),
    )
    print(json.dumps(result))


def bench_memory(ctx):
    """Row 8: peak memory of a fit on float32 X, against X's bytes (in a fresh process each)."""
    n, d = ctx.sizes.memory
    rows = []
    for method in ("sgd", "batch"):
        code = f"from fastgd.bench import memory_child; memory_child({n}, {d}, {method!r})"
        _, got = _run_child(code)
        ratio = (got["X_bytes"] + got["growth"]) / got["X_bytes"]
        rows.append(
            Row(
                "memory",
                f"peak memory of fit({method}) n={n} d={d} f32",
                f"+{_si(got['growth'], 'B')}",
                f"X {_si(got['X_bytes'], 'B')}",
                ratio,
                "≤ 1.10 × X bytes",
                ratio <= 1.10,
                note=(
                    f"(X bytes + peak RSS growth during fit) / X bytes; fit kwargs {got['fit_kwargs']}; "
                    f"peak mark {'reset' if got['hwm_reset'] else 'NOT reset (growth over the earlier peak)'}"
                ),
                figures=got,
            )
        )
    return rows


def _linear_fit(ns, ts):
    """t = a + b n by least squares weighted by 1/t (relative residuals); returns a, b, R², the
    largest relative residual."""
    ns, ts = np.asarray(ns, dtype=np.float64), np.asarray(ts, dtype=np.float64)
    A = np.column_stack((np.ones_like(ns), ns)) / ts[:, None]
    a, b = np.linalg.lstsq(A, np.ones_like(ts), rcond=None)[0]
    pred = a + b * ns
    spread = np.sum((ts - ts.mean()) ** 2)
    r2 = 1 - np.sum((ts - pred) ** 2) / spread if spread > 0 else 1.0
    return float(a), float(b), float(r2), float(np.max(np.abs(ts - pred) / ts))


def bench_scaling(ctx):
    """Row 9: time of a one-epoch SGD fit against n (float32): linear, and its slope."""
    d = ctx.sizes.scaling_d
    ts, all_times = [], []
    for n in ctx.sizes.scaling:
        X, y = _make_float32(n, d, seed=4)

        def one_epoch(X=X, y=y):
            fit(X, y, method="sgd", learning_rate=1e-3, max_epochs=1, tol=0, random_state=0)

        med, times = _time({"fit": one_epoch}, ctx.sizes.fit_repeats)
        ts.append(med["fit"])
        all_times.append(times["fit"])
        del X, y
    a, b, r2, worst = _linear_fit(ctx.sizes.scaling, ts)
    per_row = [t / n * 1e9 for n, t in zip(ctx.sizes.scaling, ts, strict=True)]
    return [
        Row(
            "scaling",
            f"SGD epoch time vs n={ctx.sizes.scaling[0]:.0e}..{ctx.sizes.scaling[-1]:.0e} d={d} f32",
            f"slope {b * 1e9:.3g} ns/row",
            f"R² {r2:.4f}",
            worst,
            "linear: max rel. residual ≤ 0.10",
            worst <= 0.10,
            note=(
                "one-epoch fit(method='sgd', learning_rate=1e-3, tol=0) (stats pass + shuffle + epoch + loss pass); "
                f"t = a + b·n weighted by 1/t, a = {_seconds(max(a, 0.0))}; ns/row at each n: "
                + ", ".join(f"{p:.3g}" for p in per_row)
            ),
            figures={
                "n": list(ctx.sizes.scaling),
                "d": d,
                "median_s": ts,
                "times_s": all_times,
                "ns_per_row": per_row,
                "intercept_s": a,
                "slope_ns_per_row": b * 1e9,
                "r2": r2,
                "max_relative_residual": worst,
            },
        )
    ]


#: every row, in the order they run (torch last: its OpenMP threads must not disturb the others)
BENCHES = {
    "gradient": (bench_gradient, {("grad", "float64")}),
    "float32": (bench_float32, {("grad", "float64"), ("grad", "float32")}),
    "threads": (bench_threads, {("grad", "float64")}),
    "sgd": (bench_sgd, {"sgd"}),
    "minibatch": (bench_minibatch, {"sgd"}),
    "lstsq": (bench_lstsq, set()),
    "startup": (bench_startup, set()),
    "memory": (bench_memory, set()),
    "scaling": (bench_scaling, set()),
    "levers": (bench_levers, {"sgd"}),
    "torch": (bench_torch, {"sgd"}),
}


# -------------------------------------------------------------------------------- fastgd bench --dask

#: n, d and row blocks of ``fastgd bench --dask`` (the issue's setting), and a small one for the tests
DASK_SIZES = {"full": (2_000_000, 20, 8), "quick": (400_000, 20, 8), "tiny": (20_000, 4, 4)}
#: constant SGD rate of the --dask SGD row (fastgd's (p - y)²; SGDRegressor gets twice it on ½(p - y)²)
DASK_SGD_ETA = 1e-4


def _dask_mse(X, y, intercept, coef):
    """Training MSE of (intercept, coef) on dask arrays, in float64, the same way for every contender."""
    r = X @ np.asarray(coef, dtype=np.float64).ravel() + float(np.ravel(intercept)[0]) - y
    return float((r**2).mean().compute())


def dask_rows(n, d, blocks, repeats, progress=print):
    """The rows of ``fastgd bench --dask``: fastgd on Dask beside dask-ml on the same persisted
    dask arrays, in one LocalCluster of this machine (one single-threaded worker process per
    CPU).  Returns (rows, figures)."""
    import dask
    import dask.array as da
    import distributed

    from . import distributed as fd

    fd.warmup()  # compiled (or loaded) before the workers start
    workers = max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count())
    figures = {"n": n, "d": d, "blocks": blocks, "workers": workers, "threads_per_worker": 1}
    work = f"n={n} d={d} f64, {blocks} blocks, LocalCluster {workers}x1 thread"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
    client = distributed.Client(cluster)
    try:
        rng = da.random.default_rng(0)
        X = rng.standard_normal((n, d), chunks=(-(-n // blocks), d))
        y = 4.0 + X @ np.linspace(-2.0, 2.0, d) + rng.standard_normal(n, chunks=(X.chunks[0],))
        X, y = dask.persist(X, y)
        distributed.wait([X, y])
        client.run(fd.warmup)  # load the kernels in every worker before timing
        ref = fit(X, y, method="svd")  # the optimum, by tsqr: another road than the Gram path timed below
        best = ref.loss
        figures["optimum_loss_svd_tsqr"] = best
        progress(f"# dask: optimum {best:.12g} (svd by tsqr)", file=sys.stderr)
        rows = _dask_exact_rows(X, y, best, repeats, work, figures, progress)
        rows += _dask_sgd_rows(X, y, best, repeats, work, figures, progress)
    finally:
        client.close()
        cluster.close()
    return rows, figures


def _dask_exact_rows(X, y, best, repeats, work, figures, progress):
    try:
        from dask_ml.linear_model import LinearRegression
    except ImportError as exc:
        reason = f"dask-ml is not installed ({exc}): pip install dask-ml"
        return [_skipped("dask", f"time to lstsq loss {work}", "≥ 4 × the faster dask-ml solver", reason)]
    out = {}

    def fastgd_run(method, **kwargs):
        def run():
            out[method] = fit(X, y, method=method, random_state=0, **kwargs)

        return run

    def dask_ml_run(solver):
        def run():
            out[solver] = LinearRegression(solver=solver).fit(X, y)

        return run

    med, times = _time(
        {"normal": fastgd_run("normal"), "batch": fastgd_run("batch", tol=BATCH_TOL, max_epochs=100_000)}, repeats
    )
    peer_med, peer_times = _time({"admm": dask_ml_run("admm"), "lbfgs": dask_ml_run("lbfgs")}, max(1, repeats - 1))
    loss = {key: out[key].loss for key in ("normal", "batch")}
    for solver in ("admm", "lbfgs"):
        loss[solver] = _dask_mse(X, y, out[solver].intercept_, out[solver].coef_)
    excess = {key: (value - best) / best for key, value in loss.items()}
    figures.update(exact_median_s={**med, **peer_med}, exact_times_s={**times, **peer_times}, exact_loss=loss)
    figures["exact_relative_excess"] = excess
    progress(f"# dask: exact {med} {peer_med} excess {excess}", file=sys.stderr)
    reached = [s for s in ("admm", "lbfgs") if excess[s] <= LSTSQ_RTOL]
    peer = min(("admm", "lbfgs"), key=lambda s: peer_med[s])
    rows = []
    for key in ("normal", "batch"):
        ratio = peer_med[peer] / med[key]
        ok = excess[key] <= LSTSQ_RTOL
        rows.append(
            Row(
                "dask",
                f"time to lstsq loss (1e-9 rel), fastgd {key}, {work}",
                f"{_seconds(med[key])}, excess {excess[key]:.1e}",
                f"dask-ml {peer} {_seconds(peer_med[peer])}, excess {excess[peer]:.1e}",
                ratio,
                "≥ 4 × the faster dask-ml solver",
                ratio >= 4 and ok,
                note=(
                    f"fastgd fit(method={key!r}{', tol=1e-11' if key == 'batch' else ''}) on the persisted dask "
                    f"arrays ({out[key].message}); dask-ml LinearRegression(solver=...) defaults (penalty='l2', "
                    f"C=1, tol=1e-4): admm {_seconds(peer_med['admm'])} excess {excess['admm']:.2e}, lbfgs "
                    f"{_seconds(peer_med['lbfgs'])} excess {excess['lbfgs']:.2e}; dask-ml solvers within 1e-9 of "
                    f"the optimum: {', '.join(reached) or 'none'}; optimum: fastgd svd by dask tsqr"
                ),
                figures={"median_s": {key: med[key], **peer_med}, "loss": loss, "relative_excess": excess},
            )
        )
    return rows


def _dask_sgd_rows(X, y, best, repeats, work, figures, progress):
    n = int(X.shape[0])
    target = "≥ 10 × Incremental samples/s, loss ≤ 1.01 × optimum"
    try:
        from dask_ml.wrappers import Incremental
        from sklearn.linear_model import SGDRegressor
    except ImportError as exc:
        return [_skipped("dask", f"one SGD epoch {work}", target, f"dask-ml is not installed ({exc})")]
    out = {}

    def run_fastgd():
        out["fastgd"] = fit(
            X, y, method="sgd", learning_rate=DASK_SGD_ETA, max_epochs=1, tol=0, init="zeros", random_state=0
        )

    def run_fastgd_2():
        out["fastgd_2"] = fit(
            X, y, method="sgd", learning_rate=DASK_SGD_ETA, max_epochs=2, tol=0, init="zeros", random_state=0
        )

    def run_incremental():
        model = SGDRegressor(
            loss="squared_error",
            penalty=None,
            learning_rate="constant",
            eta0=2 * DASK_SGD_ETA,  # ½(p - y)²: half fastgd's gradient
            max_iter=1,
            tol=None,
            shuffle=True,
            random_state=0,
        )
        out["incremental"] = Incremental(model, shuffle_blocks=True, random_state=0).fit(X, y)

    med, times = _time({"fastgd": run_fastgd, "fastgd_2": run_fastgd_2, "incremental": run_incremental}, repeats)
    extra_epoch = med.pop("fastgd_2") - med["fastgd"]  # what a second epoch adds: one round of the cluster
    estimator = out["incremental"].estimator_
    loss = {
        "fastgd": out["fastgd"].loss,
        "incremental": _dask_mse(X, y, estimator.intercept_, estimator.coef_),
    }
    rate = {key: n / t for key, t in med.items()}
    ratio = rate["fastgd"] / rate["incremental"]
    vs_best = {key: value / best for key, value in loss.items()}
    figures.update(sgd_median_s=med, sgd_times_s=times, sgd_samples_per_s=rate, sgd_loss=loss)
    figures["sgd_extra_epoch_s"] = extra_epoch
    progress(f"# dask: sgd {rate} {vs_best}", file=sys.stderr)
    return [
        Row(
            "dask",
            f"one SGD epoch, {work}",
            f"{_si(rate['fastgd'], 'samples/s')}, loss {vs_best['fastgd']:.4f}× opt",
            f"Incremental {_si(rate['incremental'], 'samples/s')}, loss {vs_best['incremental']:.4f}× opt",
            ratio,
            target,
            ratio >= 10 and vs_best["fastgd"] <= 1.01,
            note=(
                f"a whole fit(method='sgd', max_epochs=1, learning_rate={DASK_SGD_ETA:g}, init='zeros'): first pass "
                "(statistics), the start loss, one round of local SGD with averaging and its loss; dask-ml "
                f"Incremental(SGDRegressor(learning_rate='constant', eta0={2 * DASK_SGD_ETA:g}, max_iter=1)).fit: "
                "partial_fit on the blocks one after the other (the same steps on ½(p-y)²); samples/s = n / time; "
                f"a second epoch adds {_seconds(extra_epoch)} to fastgd's fit "
                f"({_si(n / max(extra_epoch, 1e-9), 'samples/s')}: median 2-epoch fit minus median 1-epoch fit)"
            ),
            figures={
                "median_s": med,
                "samples_per_s": rate,
                "loss": loss,
                "loss_vs_optimum": vs_best,
                "extra_epoch_s": extra_epoch,
            },
        )
    ]


def dask_main(args):
    """``fastgd bench --dask``: the table of ``dask_rows``."""
    for line in env_warnings():
        print(line)
    preset = args.preset or ("quick" if args.quick else "full")
    n, d, blocks = DASK_SIZES[preset]
    started = time.perf_counter()
    try:
        rows, figures = dask_rows(n, d, blocks, repeats=2 if preset == "tiny" else 3)
    except ImportError as exc:
        print(f"fastgd bench --dask needs dask and distributed: pip install 'fastgd[bench]' ({exc})")
        return 2
    machine = machine_info()
    machine["versions"].update({m: _version(m) for m in ("dask", "distributed", "dask_ml")})
    print(
        f"fastgd bench --dask ({preset}): {machine['cpu_model']}, {machine['cpu_count']} CPUs; dask "
        f"{machine['versions']['dask']}, distributed {machine['versions']['distributed']}, dask-ml "
        f"{machine['versions']['dask_ml']}; numba {machine['versions']['numba']}; BLAS {_blas_text(machine)}"
    )
    print()
    print(format_table(rows))
    report = {
        "preset": preset,
        "dask": figures,
        "machine": machine,
        "warnings": env_warnings(),
        "total_s": time.perf_counter() - started,
        "rows": [asdict(r) for r in rows],
    }
    with open(args.json, "w") as f:
        json.dump(report, f, indent=1, default=float)
    print(f"\n{len(rows)} rows in {report['total_s']:.0f} s; figures in {args.json}")
    return 0


# -------------------------------------------------------------------------------- machine, table, main


def _version(module):
    try:
        return __import__(module).__version__
    except ImportError:
        return None


def machine_info():
    """The machine and software the figures come from."""
    cpu_model = None
    try:
        with open("/proc/cpuinfo") as f:
            cpu_model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), None)
    except OSError:
        pass
    try:
        layer = numba.threading_layer()
    except ValueError:
        layer = None
    try:
        from threadpoolctl import threadpool_info

        blas = threadpool_info()
    except ImportError:
        blas = "threadpoolctl is not installed"
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": cpu_model,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "numba_threading_layer": layer,
        "numba_threads": numba.get_num_threads(),
        "numba_max_threads": numba.config.NUMBA_NUM_THREADS,
        "threadpools": blas,
        "versions": {m: _version(m) for m in ("fastgd", "numpy", "numba", "scipy", "sklearn", "threadpoolctl")},
        "environment": {k: os.environ.get(k) for k in _ENV + _ENV_NUMBA},
    }


def _blas_text(info):
    pools = info["threadpools"]
    if isinstance(pools, str):
        return pools
    return "; ".join(
        f"{p.get('internal_api')} {p.get('version') or ''} [{p.get('prefix')}] ({p.get('num_threads')} threads)"
        for p in pools
    )


def env_warnings(environ=os.environ):
    """One line per environment variable that slows numpy's BLAS down (never unset here)."""
    return [
        f"warning: {k}={environ[k]} is set: it slows numpy's BLAS, the peer of several rows; run the benchmark "
        f"with it unset (env -u {k} fastgd bench)"
        for k in _SLOW_BLAS_ENV
        if k in environ
    ]


def _met_text(row):
    if row.met is None:
        return "skipped" if row.ratio is None else "-"
    return "yes" if row.met else "no"


def format_table(rows):
    """The table: work, fastgd, peer, ratio, target, met; then the notes, numbered."""
    header = ("", "work", "fastgd", "peer", "ratio", "target", "met")
    cells = [
        (
            f"[{i}]",
            r.work,
            r.fastgd,
            r.peer,
            "-" if r.ratio is None else f"{r.ratio:.3g}",
            r.target,
            _met_text(r),
        )
        for i, r in enumerate(rows, 1)
    ]
    widths = [max(len(c[k]) for c in [header, *cells]) for k in range(len(header))]
    right = {4}

    def line(c):
        return "  ".join(
            v.rjust(w) if k in right else v.ljust(w) for k, (v, w) in enumerate(zip(c, widths, strict=True))
        )

    out = [line(header).rstrip(), "  ".join("-" * w for w in widths)]
    out += [line(c).rstrip() for c in cells]
    notes = [f"[{i}] {r.note}" for i, r in enumerate(rows, 1) if r.note]
    return "\n".join(out + (["", *notes] if notes else []))


def run(names, preset="full", progress=print):
    """Run the rows ``names`` (keys of BENCHES, in BENCHES order) at a preset's sizes; returns
    (rows, the JSON-able report)."""
    sizes = PRESETS[preset]
    started = time.perf_counter()
    warmup_start = time.perf_counter()
    fastgd.warmup()
    stream_sum(np.zeros(4), PROBE_BLOCK)  # compile (or load) the probe; starts numba's threads
    warmup_s = time.perf_counter() - warmup_start
    ctx = Context(sizes)
    selected = [name for name in BENCHES if name in names]
    rows, seconds = [], {}
    for k, name in enumerate(selected):
        fn, _ = BENCHES[name]
        start = time.perf_counter()
        got = fn(ctx)
        seconds[name] = time.perf_counter() - start
        rows += got
        progress(f"# {name}: {seconds[name]:.1f} s", file=sys.stderr)
        ctx.keep_only(set().union(*(BENCHES[later][1] for later in selected[k + 1 :])))
    report = {
        "preset": preset,
        "sizes": asdict(sizes),
        "machine": machine_info(),
        "warnings": env_warnings(),
        "warmup_s": warmup_s,
        "seconds_per_bench": seconds,
        "total_s": time.perf_counter() - started,
        "rows": [asdict(r) for r in rows],
    }
    return rows, report


def add_arguments(parser):
    parser.add_argument("--quick", action="store_true", help="smaller data: the whole run in under a minute")
    parser.add_argument("--json", default="bench-results.json", metavar="PATH", help="where the figures go")
    parser.add_argument(
        "--only", nargs="+", choices=list(BENCHES), metavar="NAME", help=f"run only these rows: {', '.join(BENCHES)}"
    )
    parser.add_argument(
        "--dask",
        action="store_true",
        help="fastgd on Dask beside dask-ml, on a LocalCluster of this machine (pip install 'fastgd[bench]')",
    )
    parser.add_argument("--preset", choices=list(PRESETS), default=None, help=argparse.SUPPRESS)


def main(args=None):
    """``fastgd bench``; ``args``: parsed arguments (from the fastgd CLI) or a list of strings."""
    if args is None or isinstance(args, list):
        parser = argparse.ArgumentParser(prog="fastgd bench", description=__doc__.split("\n\n")[0])
        add_arguments(parser)
        args = parser.parse_args(args)
    if getattr(args, "dask", False):
        return dask_main(args)
    preset = args.preset or ("quick" if args.quick else "full")
    for line in env_warnings():
        print(line)
    rows, report = run(args.only or list(BENCHES), preset)
    machine = report["machine"]
    print(
        f"fastgd bench ({preset}): {machine['cpu_model']}, {machine['cpu_count']} CPUs; numba "
        f"{machine['versions']['numba']}, {machine['numba_threads']} threads ({machine['numba_threading_layer']}); "
        f"numpy {machine['versions']['numpy']}; BLAS {_blas_text(machine)}"
    )
    for line in report["warnings"]:
        print(line)
    print()
    print(format_table(rows))
    with open(args.json, "w") as f:
        json.dump(report, f, indent=1, default=float)
    print(f"\n{len(rows)} rows in {report['total_s']:.0f} s; figures in {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
