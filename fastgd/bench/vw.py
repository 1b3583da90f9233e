"""The Vowpal Wabbit rows of ``fastgd bench``: fastgd's SGD beside Vowpal Wabbit (``pip install
vowpalwabbit``) on the same data and passes, dense and CSR, each library with its defaults.

Vowpal Wabbit learns from its binary cache file (written once, untimed, from a text file of the
same rows; it reads the cache from the page cache on every timed run, as it does in use), with
its default learner (adaptive, normalized, invariant updates, learning rate 0.5), squared loss,
``--passes`` over the rows in their order and no holdout (every row learnt from).  fastgd:
``fastgd.fit(method="sgd")`` with its defaults (the "auto" learning rate, a fresh row shuffle
every epoch) from zeros, on the array in memory.  No target: the figures are reported side by
side, with the training MSE of both models computed the same way (``harness.mse_of``)."""

import os
import tempfile
from importlib.metadata import version

import numpy as np

from .harness import Row, fit, mse_of, quiet, sgd_data, si, skipped, timed
from .sgd_dropin import csr_data

#: the namespace of the features in Vowpal Wabbit's input
NAMESPACE = "f"
#: Vowpal Wabbit's hash of its constant feature (the intercept), before the mask of its weights
CONSTANT_HASH = 11650396


def _write_dense(path, X, y, block=1 << 16):
    """Vowpal Wabbit's text format, ``y |f 0:x0 1:x1 ...``, float32 digits (it reads float32)."""
    fmt = "%.9g |" + NAMESPACE + " " + " ".join(f"{j}:%.9g" for j in range(X.shape[1]))
    with open(path, "w") as out:
        for start in range(0, X.shape[0], block):
            np.savetxt(out, np.column_stack([y[start : start + block], X[start : start + block]]), fmt=fmt)


def _write_csr(path, X, y):
    """The same for CSR X: only the stored entries of each row."""
    data, indices, indptr = X.data, X.indices, X.indptr
    with open(path, "w") as out:
        for i in range(X.shape[0]):
            a, b = indptr[i], indptr[i + 1]
            features = " ".join(f"{j}:{v:.9g}" for j, v in zip(indices[a:b].tolist(), data[a:b].tolist(), strict=True))
            out.write(f"{y[i]:.9g} |{NAMESPACE} {features}\n")


def _vw_model(workspace, d):
    """(intercept, coef) of a trained Workspace, read by feature name."""
    coef = np.array([workspace.get_weight_from_name(str(j), NAMESPACE) for j in range(d)])
    intercept = workspace.get_weight(CONSTANT_HASH & (workspace.num_weights() - 1))
    return intercept, coef


def _one(ctx, kind, X, y, write, vowpalwabbit):
    """One row: the cache written (untimed), then fastgd and Vowpal Wabbit timed, interleaved."""
    n, d = X.shape
    passes = ctx.sizes.sgd_epochs
    work = f"SGD vs Vowpal Wabbit, {kind} n={n} d={d} ×{passes} ep"
    with tempfile.TemporaryDirectory(prefix="fastgd-vw-") as tmp:
        text, cache = os.path.join(tmp, "train.txt"), os.path.join(tmp, "train.cache")
        write(text, X, y)
        built = vowpalwabbit.Workspace(f"-d {text} --cache_file {cache} --passes 1 --holdout_off --quiet")
        built.run_parser()  # one pass over the text: writes the cache (untimed)
        built.finish()
        os.remove(text)
        out = {}

        def run_fastgd():
            out["fastgd"] = fit(X, y, method="sgd", max_epochs=passes, tol=0, init="zeros", random_state=0)

        def run_vw():
            workspace = vowpalwabbit.Workspace(f"--cache_file {cache} --passes {passes} --holdout_off --quiet")
            workspace.run_parser()
            out["vw"] = _vw_model(workspace, d)
            workspace.finish()

        med, times = timed({"fastgd": quiet(run_fastgd), "vw": run_vw}, ctx.sizes.fit_repeats, ctx.sizes.settle_s)
    res = out["fastgd"]
    mse = {"fastgd": mse_of(X, y, res.intercept, res.coef), "vw": mse_of(X, y, *out["vw"])}
    rate = {key: n * passes / t for key, t in med.items()}
    return Row(
        "vw",
        work,
        f"{si(rate['fastgd'], 'samples/s')}, MSE {mse['fastgd']:.6g}",
        f"VW {si(rate['vw'], 'samples/s')}, MSE {mse['vw']:.6g}",
        rate["fastgd"] / rate["vw"],
        "(reported)",
        None,
        note=(
            f"fastgd.fit(method='sgd', max_epochs={passes}, tol=0, init='zeros'), its defaults otherwise (auto "
            f"rate, rows reshuffled every epoch), from the array; vowpalwabbit {version('vowpalwabbit')} "
            f"defaults (adaptive, normalized, invariant; lr 0.5), --passes {passes} --holdout_off, from its cache "
            f"file (rows in file order); training MSE of both models in float64"
        ),
        figures={
            "n": n,
            "d": d,
            "passes": passes,
            "median_s": med,
            "times_s": times,
            "samples_per_s": rate,
            "mse": mse,
        },
    )


def bench_vw(ctx):
    """fastgd's SGD against Vowpal Wabbit: the SGD row's dense data, and the drop-in rows' CSR data
    (the regression target)."""
    work, target = "SGD vs Vowpal Wabbit", "(reported)"
    try:
        import vowpalwabbit
    except ImportError as exc:
        return [skipped("vw", work, target, f"vowpalwabbit is not installed ({exc})")]
    X, y = sgd_data(ctx)
    rows = [_one(ctx, "dense", X, y, _write_dense, vowpalwabbit)]
    n_csr, d_csr, density = ctx.sizes.dropin_csr
    X_csr, ys = ctx.data("dropin_csr", lambda: csr_data(n_csr, d_csr, density, seed=4))
    rows.append(_one(ctx, f"CSR density {density:g}", X_csr, ys["regression"], _write_csr, vowpalwabbit))
    return rows
