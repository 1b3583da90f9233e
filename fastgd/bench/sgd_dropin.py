"""Rows 4b of ``fastgd bench``: ``fastgd.SGDClassifier`` and ``fastgd.SGDRegressor`` against
scikit-learn's, the same estimator parameters (scikit-learn's defaults, ``max_iter`` epochs,
``tol=None``, ``random_state=0``), on dense and CSR X: binary hinge, 10 classes one-vs-all
(``n_jobs=2``) and squared-error regression."""

import numpy as np
import scipy.sparse as sp

from .harness import Row, quiet, si, skipped, timed

#: (task, estimator, extra parameters): the same for both estimators
TASKS = (
    ("binary", "SGDClassifier", {}),
    ("10 classes", "SGDClassifier", {"n_jobs": 2}),
    ("regression", "SGDRegressor", {}),
)
#: ≥ this many times scikit-learn's samples/s, on dense and CSR X; the final loss within LOSS_RTOL
TARGET_RATIO = {"dense": 3.0, "CSR": 2.0}
LOSS_RTOL = 0.005


def _standardized(X):
    X -= X.mean(axis=0)
    X /= X.std(axis=0)
    return X


def dense_data(n, d, task, seed):
    """make_classification / make_regression, features standardized (float64)."""
    from sklearn.datasets import make_classification, make_regression

    if task == "regression":
        X, y = make_regression(n, d, n_informative=d // 2, noise=1.0, random_state=seed)
    else:
        n_classes = 10 if task == "10 classes" else 2
        X, y = make_classification(
            n,
            d,
            n_informative=d // 2,
            n_redundant=d // 4,
            n_classes=n_classes,
            n_clusters_per_class=1,
            random_state=seed,
        )
    return _standardized(X), y


def csr_data(n, d, density, seed):
    """A CSR X (standard normal values at random places) and the three tasks' y from one hidden
    linear model: its sign, the arg max of 10 such models, its value plus noise."""
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=density, format="csr", random_state=rng, data_rvs=rng.standard_normal)
    W = rng.standard_normal((d, 10))
    scores = X @ W + 0.1 * rng.standard_normal((n, 10))
    ys = {
        "binary": (scores[:, 0] > 0).astype(np.int64),
        "10 classes": scores.argmax(axis=1),
        "regression": scores[:, 0],
    }
    return X, ys


#: the lever rows: fastgd's cache-friendly visiting order for scikit-learn's rule (runs of consecutive rows)
LEVER = {"shuffle": "blocks"}


def mean_loss(task, X, y, model):
    """The fitted model's mean training loss, computed in numpy the same way for both: MSE, or
    the hinge loss of its decision function (averaged over the one-vs-all problems; no penalty)."""
    coef = np.atleast_2d(np.asarray(model.coef_, dtype=np.float64))
    scores = np.asarray(X @ coef.T) + np.asarray(model.intercept_, dtype=np.float64)
    if task == "regression":
        r = scores[:, 0] - y
        return float(r @ r) / len(y)
    classes = model.classes_
    signs = np.where(y[:, None] == (classes[1:] if len(classes) == 2 else classes)[None, :], 1.0, -1.0)
    return float(np.maximum(0.0, 1.0 - signs * scores).mean())


def _one(kind, task, estimator, classes, extra, X, y, epochs, repeats, settle, lever=None):
    """One row: ``classes`` = {"fastgd": fastgd's estimator class, "sklearn": scikit-learn's};
    ``lever``: fastgd's extra keywords for fastgd's estimator alone (a visiting order: then its
    loss is another shuffle's, and the row asks it to be no worse than scikit-learn's + 0.5 %).
    The k-th fit of each side (the untimed first, then the repeats) has random_state=k, and the
    loss is the mean over those fits: a shuffled fit's final loss varies from seed to seed."""
    n, d = X.shape
    params = {"max_iter": epochs, "tol": None, **extra}
    loss_name = "MSE" if task == "regression" else "hinge"
    lever_text = ", ".join(f"{k}={v!r}" for k, v in (lever or {}).items())
    work = f"{estimator} drop-in{' + ' + lever_text if lever else ''}, {task}, {kind} n={n} d={d}"
    if kind == "CSR":
        work += f" density {X.nnz / (n * d):.2g}"
    work += f" ×{epochs} ep"
    target = f"≥ {TARGET_RATIO[kind]:g} × samples/s, {loss_name} {'≤ +' if lever else '±'}{LOSS_RTOL:.1%}"
    out = {key: [] for key in classes}  # the fitted models, in random_state order

    def runner(key):
        own = {**params, **lever} if lever and key == "fastgd" else params

        def run():
            out[key].append(quiet(classes[key](**own, random_state=len(out[key])).fit)(X, y))

        return run

    # the first (untimed) call of each compiles fastgd's kernels; then fastgd, sklearn, fastgd, ...
    med, times = timed({key: runner(key) for key in classes}, repeats, settle)
    rate = {key: n * epochs / t for key, t in med.items()}
    losses = {key: [mean_loss(task, X, y, model) for model in models] for key, models in out.items()}
    loss = {key: float(np.mean(values)) for key, values in losses.items()}
    spread = float(np.std(losses["sklearn"]) / loss["sklearn"])  # scikit-learn's own, seed to seed
    ratio = rate["fastgd"] / rate["sklearn"]
    gap = loss["fastgd"] / loss["sklearn"] - 1
    args = ", ".join(f"{k}={v!r}" for k, v in params.items())
    averaged = ", mean of the one-vs-all problems" if task == "10 classes" else ""
    return Row(
        "sgd_dropin",
        work,
        f"{si(rate['fastgd'], 'samples/s')}, {loss_name} {loss['fastgd']:.6g}",
        f"sklearn {si(rate['sklearn'], 'samples/s')}, {loss_name} {loss['sklearn']:.6g}",
        ratio,
        target,
        ratio >= TARGET_RATIO[kind] and (gap <= LOSS_RTOL if lever else abs(gap) <= LOSS_RTOL),
        note=(
            (f"fastgd's with {lever_text} (scikit-learn's update rule, fastgd's visiting order); " if lever else "")
            + f"{estimator}({args}, random_state=k), scikit-learn's defaults otherwise, for both; samples/s = n × "
            f"epochs / median fit time; training {loss_name} (no penalty{averaged}), mean of the fits k = 0 .. "
            f"{len(out['fastgd']) - 1}: fastgd {loss['fastgd']:.10g}, sklearn {loss['sklearn']:.10g} "
            f"({gap:+.2e} relative; scikit-learn's seed-to-seed spread {spread:.2%})"
        ),
        figures={
            "X": kind,
            "task": task,
            "estimator": estimator,
            "n": n,
            "d": d,
            "nnz": int(X.nnz) if kind == "CSR" else n * d,
            "params": params,
            "lever": lever,
            "n_iter": {key: [int(model.n_iter_) for model in models] for key, models in out.items()},
            "seeds": len(out["fastgd"]),
            "median_s": med,
            "best_s": {key: min(t) for key, t in times.items()},
            "times_s": times,
            "samples_per_s": rate,
            "loss": loss,
            "losses": losses,
            "loss_relative_gap": gap,
        },
    )


def bench_sgd_dropin(ctx):
    """Rows 4b: the drop-in estimators against scikit-learn's, one row per X and task; then the
    same rows with fastgd's estimators given ``LEVER`` (a visiting order of fastgd's)."""
    n, d = ctx.sizes.dropin
    n_csr, d_csr, density = ctx.sizes.dropin_csr
    epochs, repeats = ctx.sizes.dropin_epochs, ctx.sizes.fit_repeats
    try:
        import sklearn.linear_model

        import fastgd

        classes = {
            name: {"fastgd": getattr(fastgd, name), "sklearn": getattr(sklearn.linear_model, name)}
            for name in ("SGDClassifier", "SGDRegressor")
        }
    except ImportError as exc:  # fastgd's need scikit-learn >= 1.6
        return [
            skipped("sgd_dropin", f"{estimator} drop-in, {task}", "≥ 2-3 × samples/s", str(exc))
            for task, estimator, _ in TASKS
        ]
    X_csr, ys = ctx.data("dropin_csr", lambda: csr_data(n_csr, d_csr, density, seed=4))
    data = {("CSR", task): (X_csr, ys[task]) for task, _, _ in TASKS}
    for task, _, _ in TASKS:
        data["dense", task] = ctx.data(("dropin", task), lambda task=task: dense_data(n, d, task, seed=3))
    rows = []
    for lever in (None, LEVER):  # scikit-learn's parameters alone, then with fastgd's visiting order
        for kind in ("dense", "CSR"):
            for task, estimator, extra in TASKS:
                X, y = data[kind, task]
                rows.append(
                    _one(
                        kind,
                        task,
                        estimator,
                        classes[estimator],
                        extra,
                        X,
                        y,
                        epochs,
                        repeats,
                        ctx.sizes.settle_s,
                        lever,
                    )
                )
    return rows
