"""``fastgd bench --dask``: fastgd on Dask beside dask-ml, on a LocalCluster of this machine."""

import os
import sys
import time
import warnings
from dataclasses import asdict

import numpy as np

from . import command
from .harness import BATCH_TOL, LSTSQ_RTOL, Row, fit, seconds_text, si, skipped, timed
from .report import blas_text, env_warnings, format_table, machine_info, save_report, version_of

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

    from .. import distributed as fd

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
        return [skipped("dask", f"time to lstsq loss {work}", "≥ 4 × the faster dask-ml solver", reason)]
    out = {}

    def fastgd_run(method, **kwargs):
        def run():
            out[method] = fit(X, y, method=method, random_state=0, **kwargs)

        return run

    def dask_ml_run(solver):
        def run():
            out[solver] = LinearRegression(solver=solver).fit(X, y)

        return run

    med, times = timed(
        {"normal": fastgd_run("normal"), "batch": fastgd_run("batch", tol=BATCH_TOL, max_epochs=100_000)}, repeats
    )
    peer_med, peer_times = timed({"admm": dask_ml_run("admm"), "lbfgs": dask_ml_run("lbfgs")}, max(1, repeats - 1))
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
                f"{seconds_text(med[key])}, excess {excess[key]:.1e}",
                f"dask-ml {peer} {seconds_text(peer_med[peer])}, excess {excess[peer]:.1e}",
                ratio,
                "≥ 4 × the faster dask-ml solver",
                ratio >= 4 and ok,
                note=(
                    f"fastgd fit(method={key!r}{', tol=1e-11' if key == 'batch' else ''}) on the persisted dask "
                    f"arrays ({out[key].message}); dask-ml LinearRegression(solver=...) defaults (penalty='l2', "
                    f"C=1, tol=1e-4): admm {seconds_text(peer_med['admm'])} excess {excess['admm']:.2e}, lbfgs "
                    f"{seconds_text(peer_med['lbfgs'])} excess {excess['lbfgs']:.2e}; dask-ml solvers within 1e-9 of "
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
        return [skipped("dask", f"one SGD epoch {work}", target, f"dask-ml is not installed ({exc})")]
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

    med, times = timed({"fastgd": run_fastgd, "fastgd_2": run_fastgd_2, "incremental": run_incremental}, repeats)
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
            f"{si(rate['fastgd'], 'samples/s')}, loss {vs_best['fastgd']:.4f}× opt",
            f"Incremental {si(rate['incremental'], 'samples/s')}, loss {vs_best['incremental']:.4f}× opt",
            ratio,
            target,
            ratio >= 10 and vs_best["fastgd"] <= 1.01,
            note=(
                f"a whole fit(method='sgd', max_epochs=1, learning_rate={DASK_SGD_ETA:g}, init='zeros'): first pass "
                "(statistics), the start loss, one round of local SGD with averaging and its loss; dask-ml "
                f"Incremental(SGDRegressor(learning_rate='constant', eta0={2 * DASK_SGD_ETA:g}, max_iter=1)).fit: "
                "partial_fit on the blocks one after the other (the same steps on ½(p-y)²); samples/s = n / time; "
                f"a second epoch adds {seconds_text(extra_epoch)} to fastgd's fit "
                f"({si(n / max(extra_epoch, 1e-9), 'samples/s')}: median 2-epoch fit minus median 1-epoch fit)"
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
    machine["versions"].update({m: version_of(m) for m in ("dask", "distributed", "dask_ml")})
    print(
        f"fastgd bench --dask ({preset}): {machine['cpu_model']}, {machine['cpu_count']} CPUs; dask "
        f"{machine['versions']['dask']}, distributed {machine['versions']['distributed']}, dask-ml "
        f"{machine['versions']['dask_ml']}; numba {machine['versions']['numba']}; BLAS {blas_text(machine)}"
    )
    print()
    print(format_table(rows))
    report = {
        "command": command.command_line(args),
        "preset": preset,
        "dask": figures,
        "machine": machine,
        "warnings": env_warnings(),
        "total_s": time.perf_counter() - started,
        "rows": [asdict(r) for r in rows],
    }
    print(save_report(report, args.json))
    return 0
