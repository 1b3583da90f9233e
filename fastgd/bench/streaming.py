"""The ``streaming`` row of ``fastgd bench``: a whole streaming batch fit of 10 steps (a pass over
X per step, ``precompute=False``) against 10 numpy steps, and the reads of X each makes, counted."""

from contextlib import contextmanager

import numpy as np

from .harness import Row, fit, mse_of, numpy_step, seconds_text, sgd_data, timed

#: steps of the row, and its constant rate on standardized features (fastgd's loss (p - y)²)
STEPS = 10
ETA = 0.1


def numpy_batch(X, y, eta, steps):
    """Batch GD in plain numpy from zeros: θ ← θ − η 2/n Xᵀ(Xθ + b − y), two reads of X a step."""
    coef, intercept = np.zeros(X.shape[1]), 0.0
    for _ in range(steps):
        intercept = numpy_step(X, y, coef, intercept, eta)
    return intercept, coef


@contextmanager
def counted_reads():
    """A list that grows by one name at each read of X a full-batch fit in memory makes (the
    statistics, alone or with the first pass; a pass; the Gram matrix; the largest row norm) while
    the block runs: the functions of ``fastgd._dispatch`` and ``fastgd.closed_form`` that read X for
    it, wrapped (SGD's epochs, read by their kernels, are not counted)."""
    from fastgd import _dispatch, closed_form

    readers = [
        (_dispatch.Problem, "measure"),
        (_dispatch.Problem, "measure_with_pass"),
        (_dispatch.Problem, "run_pass"),
        (_dispatch.Problem, "lipschitz_max"),
        (closed_form, "gram"),
    ]
    reads, saved = [], [(owner, name, getattr(owner, name)) for owner, name in readers]

    def counting(name, original):
        return lambda *args, **kwargs: reads.append(name) or original(*args, **kwargs)

    try:
        for owner, name, original in saved:
            setattr(owner, name, counting(name, original))
        yield reads
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)


def bench_streaming(ctx):
    """The streaming batch fit: fastgd's whole ``fit`` (statistics, the start's pass, a pass a
    step) against numpy's steps on the same standardized data, the same rate and start (zeros)."""
    n, d = ctx.sizes.sgd
    X, y = sgd_data(ctx)
    kwargs = dict(method="batch", precompute=False, max_epochs=STEPS, init="zeros", random_state=0)
    out = {}

    def run_fastgd():
        out["fastgd"] = fit(X, y, learning_rate=ETA, tol=0, **kwargs)

    def run_numpy():
        out["numpy"] = numpy_batch(X, y, ETA, STEPS)

    with counted_reads() as reads:  # untimed: the counted fits
        fit(X, y, learning_rate=ETA, tol=0, **kwargs)
        fixed = list(reads)
        reads.clear()
        fit(X, y, **kwargs)  # fit's own rate and tol: the certificate's Gram matrix read, which gives L too
        defaults = list(reads)
    med, times = timed({"fastgd": run_fastgd, "numpy": run_numpy}, ctx.sizes.fit_repeats, ctx.sizes.settle_s)
    res = out["fastgd"]
    mse = {"fastgd": mse_of(X, y, res.intercept, res.coef), "numpy": mse_of(X, y, *out["numpy"])}
    ratio = med["numpy"] / med["fastgd"]
    return [
        Row(
            "streaming",
            f"streaming batch fit, {STEPS} steps, n={n} d={d} f64",
            f"{seconds_text(med['fastgd'])}, {len(fixed)} reads of X",
            f"numpy {seconds_text(med['numpy'])}, {2 * STEPS} reads",
            ratio,
            f"≥ 2 × {STEPS} numpy steps, ≤ {STEPS + 1} reads",
            ratio >= 2 and len(fixed) <= STEPS + 1,
            note=(
                f"fit(method='batch', precompute=False, learning_rate={ETA}, max_epochs={STEPS}, tol=0, "
                f"init='zeros'), the whole call, against {STEPS} numpy steps θ ← θ − η 2/n Xᵀ(Xθ − y) (X @ θ, "
                f"X.T @ r); standardized X; fastgd's reads: {', '.join(_runs(fixed))}; with fit's own "
                f"learning_rate and tol: {len(defaults)} ({', '.join(_runs(defaults))}); "
                f"MSE fastgd {mse['fastgd']:.6g}, numpy {mse['numpy']:.6g}"
            ),
            figures={
                "n": n,
                "d": d,
                "steps": STEPS,
                "eta": ETA,
                "median_s": med,
                "times_s": times,
                "reads": fixed,
                "reads_with_defaults": defaults,
                "mse": mse,
            },
        )
    ]


def _runs(names):
    """['a', 'b', 'b'] -> ['a', '2 × b']: a list of reads, runs of one name counted."""
    runs = []
    for name in names:
        if runs and runs[-1][0] == name:
            runs[-1][1] += 1
        else:
            runs.append([name, 1])
    return [name if count == 1 else f"{count} × {name}" for name, count in runs]
