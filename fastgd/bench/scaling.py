"""Row 9 of ``fastgd bench``: the time of a one-epoch SGD fit against n (float32), and its slope."""

import numpy as np

from .harness import Row, fit, make_float32, seconds_text, timed


def linear_fit(ns, ts):
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
        X, y = make_float32(n, d, seed=4)

        def one_epoch(X=X, y=y):
            fit(X, y, method="sgd", learning_rate=1e-3, max_epochs=1, tol=0, random_state=0)

        med, times = timed({"fit": one_epoch}, ctx.sizes.fit_repeats, ctx.sizes.settle_s)
        ts.append(med["fit"])
        all_times.append(times["fit"])
        del X, y
    a, b, r2, worst = linear_fit(ctx.sizes.scaling, ts)
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
                f"t = a + b·n weighted by 1/t, a = {seconds_text(max(a, 0.0))}; ns/row at each n: "
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
