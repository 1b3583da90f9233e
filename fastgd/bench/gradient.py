"""Rows 1-3 of ``fastgd bench``: the full-batch loss + gradient pass against the bandwidth probe
and numpy, in float32 against float64, and on 2 numba threads against 1."""

import numba
import numpy as np
from numba import njit, prange

import fastgd

from .._dispatch import Problem
from .harness import Row, seconds_text, si, skipped, timed, with_threads


@njit(parallel=True, fastmath=True, cache=True, nogil=True)
def stream_sum(flat, block):
    """The bandwidth probe: sum every element of ``flat`` (a view of X), blocks in parallel, each
    by ``np.sum`` (vectorized: a loop of ``s += flat[i]`` compiled to scalar adds, which read
    2 000 000 x 64 float64 at 8.5 GB/s where ``np.sum`` reads 39 GB/s and numpy's gemv 33 GB/s)."""
    n_blocks = (flat.shape[0] + block - 1) // block
    partial = np.zeros(n_blocks)
    for b in prange(n_blocks):
        partial[b] = np.sum(flat[b * block : min((b + 1) * block, flat.shape[0])])
    return partial.sum()


#: elements per block of the probe (1 MiB of float64)
PROBE_BLOCK = 1 << 17


def _probe(X):
    flat = X.reshape(-1)  # a view: X is C-contiguous
    return lambda: stream_sum(flat, PROBE_BLOCK)


def _fastgd_pass(X, y, theta):
    """The full-batch loss + gradient pass of method="batch": ``Problem.loss_grad``, which runs
    ``kernels.squared_loss_grad_parallel`` (more than one block of rows, numba with > 1 thread)."""
    problem = Problem(X, y, fit_intercept=True, n_threads=max(2, numba.get_num_threads()))
    grad = np.zeros(X.shape[1] + 1)
    kernel = problem.pass_kernel(problem.model, theta[None]).__name__
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


def bench_gradient(ctx):
    """Row 1: the full-batch pass against the bandwidth probe and against numpy."""
    X, y = _grad_data(ctx, np.float64)
    n, d = X.shape
    theta = _theta(d)
    fast, kernel, grad = _fastgd_pass(X, y, theta)
    numpy_run, numpy_out = _numpy_pass(X, y, theta)
    med, times = timed({"fastgd": fast, "probe": _probe(X), "numpy": numpy_run}, ctx.sizes.repeats, ctx.sizes.settle_s)
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
            f"{si(fast_bw, 'B/s')}",
            f"probe {si(probe_bw, 'B/s')}",
            fast_bw / probe_bw,
            "≥ 0.7 × probe B/s",
            fast_bw / probe_bw >= 0.7,
            note=f"probe: parallel numba sum of every element of X; bytes/s = X.nbytes / time; kernel {kernel}",
            figures=figures,
        ),
        Row(
            "gradient",
            work,
            seconds_text(med["fastgd"]),
            f"numpy {seconds_text(med['numpy'])}",
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
    med, times = timed({"float64": f64, "float32": f32}, ctx.sizes.repeats, ctx.sizes.settle_s)
    ratio = med["float64"] / med["float32"]
    return [
        Row(
            "float32",
            f"same pass, float32 vs float64 n={n} d={d}",
            f"f32 {si(n / med['float32'], 'rows/s')}",
            f"f64 {si(n / med['float64'], 'rows/s')}",
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
        return [skipped("threads", work, target, f"numba has {numba.config.NUMBA_NUM_THREADS} thread")]
    X, y = _grad_data(ctx, np.float64)
    fast, kernel, _ = _fastgd_pass(X, y, _theta(d))
    med, times = timed(
        {"1": lambda: with_threads(1, fast), "2": lambda: with_threads(2, fast)}, ctx.sizes.repeats, ctx.sizes.settle_s
    )
    ratio = med["1"] / med["2"]
    return [
        Row(
            "threads",
            work,
            f"2 thr {seconds_text(med['2'])}",
            f"1 thr {seconds_text(med['1'])}",
            ratio,
            target,
            ratio >= 1.7,
            note=f"numba.set_num_threads on the same {kernel}",
            figures={"n": n, "d": d, "median_s": med, "times_s": times, "kernel": kernel},
        )
    ]
