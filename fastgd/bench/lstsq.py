"""Row 6 of ``fastgd bench``: batch GD to the least-squares loss against numpy.linalg.lstsq, and
(an info row) against scikit-learn's LinearRegression."""

import inspect
import time

import numpy as np

import fastgd

from .harness import BATCH_MAX_EPOCHS, BATCH_TOL, LSTSQ_RTOL, Row, fit, mse_of, seconds_text, skipped, timed


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

    lstsq_med, lstsq_times = timed({"lstsq": run_lstsq}, ctx.sizes.fit_repeats, ctx.sizes.settle_s)
    lstsq_s = lstsq_med["lstsq"]
    best = mse_of(X, y, ref["theta"][0], ref["theta"][1:])
    eig = np.linalg.eigvalsh(X_b.T @ X_b / n)
    X_b = None  # freed before the fits
    variants = [{}]  # fit's defaults, and the streaming path when fit has a Gram path
    if "precompute" in inspect.signature(fastgd.fit).parameters:
        variants.append({"precompute": False})
    rows = []
    for kwargs in variants:
        t, times, res, max_epochs, search = _batch_to_tol(X, y, ctx.sizes.lstsq_budget, ctx.sizes.fit_repeats, **kwargs)
        loss = mse_of(X, y, res.intercept, res.coef)
        excess = (loss - best) / best
        ratio = t / lstsq_s
        args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        rows.append(
            Row(
                "lstsq",
                f"batch GD to lstsq loss (1e-9 rel) n={n} d={d}" + (f" {args}" if args else ""),
                seconds_text(t) + ("" if res.converged else ", stopped"),
                f"lstsq {seconds_text(lstsq_s)}",
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
        return skipped("lstsq", work, "(info)", f"scikit-learn is not installed ({exc})")
    out = {}

    def run():
        out["model"] = LinearRegression().fit(X, y)

    med, times = timed({"sklearn": run}, repeats)
    loss = mse_of(X, y, out["model"].intercept_, out["model"].coef_)
    return Row(
        "lstsq",
        work,
        seconds_text(fastgd_s),
        f"LinearRegression {seconds_text(med['sklearn'])}",
        fastgd_s / med["sklearn"],
        "(info)",
        None,
        note=f"LinearRegression loss {loss:.12g}, relative excess {(loss - best) / best:.2e}",
        figures={"sklearn_median_s": med["sklearn"], "sklearn_times_s": times["sklearn"], "loss": loss},
    )
