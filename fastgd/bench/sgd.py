"""Row 4 of ``fastgd bench`` (SGD against scikit-learn's SGDRegressor) and the levers (shuffle
by blocks or CorgiPile's, on the rows in random order and sorted by y; local SGD on every numba
thread) against fastgd's default SGD."""

import numba
import numpy as np

import fastgd

from .harness import SGD_ETA, Row, fit, mse_of, quiet, sgd_data, si, skipped, timed


def bench_sgd(ctx):
    """Row 4: SGD samples/s against scikit-learn's SGDRegressor, the same trajectory rule; then
    the same with CorgiPile's two-level shuffle (issue 15's row), timed in the same rounds."""
    n, d = ctx.sizes.sgd
    epochs = ctx.sizes.sgd_epochs
    work, target = f"SGD epochs n={n} d={d} f64", "≥ 6 × samples/s, MSE ±1 %"
    try:
        from sklearn.linear_model import SGDRegressor
    except ImportError as exc:
        return [skipped("sgd", work, target, f"scikit-learn is not installed ({exc})")]
    X, y = sgd_data(ctx)
    out = {}

    def run_fastgd(shuffle):
        def run():
            out[shuffle] = fit(X, y, method="sgd", learning_rate=SGD_ETA, max_epochs=epochs, tol=0, init="zeros",
                               random_state=0, shuffle=shuffle)  # fmt: skip

        return run

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
        out["sklearn"] = quiet(model.fit)(X, y)

    fns = {"rows": run_fastgd("rows"), "corgipile": run_fastgd("corgipile"), "sklearn": run_sklearn}
    med, times = timed(fns, ctx.sizes.fit_repeats, ctx.sizes.settle_s)
    model = out["sklearn"]
    mse = {key: mse_of(X, y, out[key].intercept, out[key].coef) for key in ("rows", "corgipile")}
    mse["sklearn"] = mse_of(X, y, model.intercept_[0], model.coef_)
    rate = {key: n * epochs / t for key, t in med.items()}
    rows = []
    for key, label in (("rows", ""), ("corgipile", ', shuffle="corgipile"')):
        ratio = rate[key] / rate["sklearn"]
        loss_gap = mse[key] / mse["sklearn"] - 1
        rows.append(
            Row(
                "sgd",
                f"{work}{label} ×{epochs} ep",
                f"{si(rate[key], 'samples/s')}",
                f"sklearn {si(rate['sklearn'], 'samples/s')}",
                ratio,
                target,
                ratio >= 6 and abs(loss_gap) <= 0.01,
                note=(
                    f"constant η: fastgd {SGD_ETA:g} on (p-y)², SGDRegressor eta0={2 * SGD_ETA:g} on ½(p-y)² (the "
                    f"same steps); standardized X; fastgd shuffle={key!r}; MSE fastgd {mse[key]:.6g}, sklearn "
                    f"{mse['sklearn']:.6g} ({loss_gap:+.2%})"
                ),
                figures={
                    "n": n,
                    "d": d,
                    "epochs": epochs,
                    "shuffle": key,
                    "eta_fastgd": SGD_ETA,
                    "eta0_sklearn": 2 * SGD_ETA,
                    "median_s": {k: med[k] for k in (key, "sklearn")},
                    "times_s": {k: times[k] for k in (key, "sklearn")},
                    "samples_per_s": {k: rate[k] for k in (key, "sklearn")},
                    "mse": {k: mse[k] for k in (key, "sklearn")},
                    "mse_relative_gap": loss_gap,
                },
            )
        )
    return rows


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
    to document the trade-off): shuffle="blocks" and "corgipile" against "rows", on the rows in
    their random order and sorted by y (where runs of consecutive rows are least like a random
    sample), and local SGD on all numba threads (n_threads > 1) against the serial run."""
    n, d = ctx.sizes.sgd
    epochs = ctx.sizes.sgd_epochs
    threads = numba.config.NUMBA_NUM_THREADS
    sorted_ = ", rows sorted by y"
    variants = [
        ('shuffle="blocks" vs "rows"', {"shuffle": "blocks"}, {"shuffle": "rows"}, ""),
        ('shuffle="corgipile" vs "rows"', {"shuffle": "corgipile"}, {"shuffle": "rows"}, ""),
        ('shuffle="blocks" vs "rows"', {"shuffle": "blocks"}, {"shuffle": "rows"}, sorted_),
        ('shuffle="corgipile" vs "rows"', {"shuffle": "corgipile"}, {"shuffle": "rows"}, sorted_),
        (f"n_threads={threads} (local SGD) vs serial", {"n_threads": threads}, {}, ""),
    ]
    data = {"": sgd_data(ctx)}
    rows = []
    for label, lever, base, order in variants:
        work, target = f"SGD {label}{order} n={n} d={d} ×{epochs} ep", "(info)"
        if order not in data:  # the same rows, sorted by y (a copy: the table's other rows keep theirs)
            X0, y0 = data[""]
            by_y = np.argsort(y0, kind="stable")
            data[order] = (np.ascontiguousarray(X0[by_y]), y0[by_y])
        X, y = data[order]
        reason = "numba has 1 thread" if lever.get("n_threads") == 1 else _accepts(**lever)
        if reason:
            rows.append(skipped("levers", work, target, reason))
            continue
        out = {}

        def one(key, kwargs, out=out, X=X, y=y):
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

        med, times = timed(
            {"lever": one("lever", lever), "base": one("base", base)}, ctx.sizes.fit_repeats, ctx.sizes.settle_s
        )
        mse = {key: mse_of(X, y, res.intercept, res.coef) for key, res in out.items()}
        rate = {key: n * epochs / t for key, t in med.items()}
        rows.append(
            Row(
                "levers",
                work,
                f"{si(rate['lever'], 'samples/s')}",
                f"{si(rate['base'], 'samples/s')}",
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
