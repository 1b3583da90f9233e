"""The ``fastgd`` command: ``fastgd demo`` and ``fastgd fit FILE --target COLUMN``."""

import argparse
import csv
import sys
import time
import warnings

import numpy as np

from .api import fit
from .datasets import make_linear
from .kernels import CHUNK

METHODS = ("normal", "svd", "batch", "sgd", "minibatch")


def _lstsq(X, y):
    """numpy's reference least-squares solution and its training MSE."""
    X_b = np.column_stack((np.ones(X.shape[0]), X.astype(np.float64)))
    theta = np.linalg.lstsq(X_b, y.astype(np.float64), rcond=None)[0]
    return theta, float(np.mean((X_b @ theta - y) ** 2))


def _theta_text(theta, width=3):
    shown = ", ".join(f"{t:.4f}" for t in theta[:width])
    return f"[{shown}{', …' if len(theta) > width else ''}]"


def demo(args):
    """The textbook experiment: the five methods side by side with numpy.linalg.lstsq."""
    if args.plot:
        try:
            from . import plot  # noqa: F401  (fail before the work when matplotlib is missing)
        except ImportError as exc:
            raise SystemExit(f"fastgd: error: {exc}") from None
    dtype = np.dtype(args.dtype)
    X, y = make_linear(args.n, args.d, dtype=dtype, random_state=args.seed)
    t = time.perf_counter()
    head = slice(0, min(args.n, 3 * CHUNK))  # as many rows as picks the same (serial or parallel) kernels
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for method in METHODS:  # compile (or load from the cache) what the demo runs, before timing
            fit(X[head], y[head], method=method, max_epochs=2, random_state=args.seed)
    compile_s = time.perf_counter() - t
    print(f"fastgd demo: m={args.n} d={args.d} dtype={dtype} seed={args.seed}")
    print("data: X = 2·U(0, 1), y = 4 + 3·(sum of the features) + N(0, 1)")
    print(f"(kernels compiled or loaded from the cache first: {compile_s:.2f} s, not in the times below)\n")
    t = time.perf_counter()
    ref_theta, ref_loss = _lstsq(X, y)
    ref_time = time.perf_counter() - t
    header = (
        f"{'method':<10} {'θ = [θ0, θ1, …]':<30} {'training MSE':>14} {'vs lstsq':>10} "
        f"{'epochs':>7} {'updates':>9} {'time':>9} {'optimality':>11}"
    )
    print(header)
    print("-" * len(header))
    notes = []
    for method in METHODS:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            t = time.perf_counter()
            res = fit(X, y, method=method, random_state=args.seed)
            elapsed = time.perf_counter() - t
        flag = "" if res.converged else " *"
        notes += [f"{method}: {w.message}" for w in caught]
        print(
            f"{method:<10} {_theta_text(res.theta):<30} {res.loss:>14.6f} {res.loss / ref_loss - 1:>+10.1e} "
            f"{res.n_epochs:>7} {res.n_updates:>9} {elapsed * 1e3:>7.1f}ms {res.optimality:>11.1e}{flag}"
        )
    blank = ""
    print(f"{'lstsq':<10} {_theta_text(ref_theta):<30} {ref_loss:>14.6f} {blank:>28} {ref_time * 1e3:>7.1f}ms")
    print("\n'vs lstsq': relative excess training MSE over numpy.linalg.lstsq (the optimum).")
    print("'optimality': the measure that tol bounds (FitResult.optimality; 0 for the closed forms); * not converged.")
    print("Learning rates: learning_rate='auto' (batch: 1/L; sgd, minibatch: inverse_time from 1/L_b).")
    for note in notes:
        print(f"* {note}")
    if args.plot:
        _plot_paths(X, y, args.seed, args.plot)
    return 0


def _plot_paths(X, y, seed, path):
    """The textbook's figure 4-11 for the demo data: batch, SGD and mini-batch paths over the MSE contours.

    The textbook's settings for one feature (batch: η = 0.1, 1000 steps; SGD: t0/(t + t1) with
    t0, t1 = 5, 50, 50 epochs; mini-batch of 20: t0, t1 = 200, 1000, 50 epochs); with more
    features those rates may diverge, so learning_rate="auto".  θ is recorded after every update
    while that takes at most 2 million numbers (16 MB), else after every epoch."""
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, nothing global changed

    from . import plot, schedules

    textbook = X.shape[1] == 1
    record = "update" if 50 * X.shape[0] * (X.shape[1] + 1) <= 2_000_000 else "epoch"
    settings = {
        "batch": {"learning_rate": 0.1 if textbook else "auto", "max_epochs": 1000},
        "sgd": {"learning_rate": schedules.inverse_time(t0=5, t1=50) if textbook else "auto", "max_epochs": 50},
        "minibatch": {
            "learning_rate": schedules.inverse_time(t0=200, t1=1000) if textbook else "auto",
            "batch_size": 20,
            "max_epochs": 50,
        },
    }
    results = [
        fit(X, y, method=m, tol=0, random_state=seed, record_path="epoch" if m == "batch" else record, **kw)
        for m, kw in settings.items()
    ]
    ax = Figure(figsize=(7, 5), layout="constrained").subplots()
    plot.paths(results, X, y, ax=ax, labels=["Batch", "Stochastic", "Mini-batch"])
    ax.figure.savefig(path, dpi=120)
    print(f"\npaths of batch, SGD and mini-batch GD in parameter space written to {path}")


def _read_table(path, target):
    """(X, y, feature names) from a CSV file with a header, a .npy 2-D array or a .npz file."""
    if path.endswith(".npz"):
        with np.load(path) as data:
            if "X" in data and "y" in data:
                X, y = data["X"], data["y"]
                return X, y, [f"x{j}" for j in range(1 if X.ndim == 1 else X.shape[1])]
            if len(data.files) != 1:
                raise SystemExit(f"{path}: expected arrays 'X' and 'y', or a single 2-D array; found {data.files}")
            table = data[data.files[0]]
        names = [str(j) for j in range(table.shape[1])] if table.ndim == 2 else []
    elif path.endswith(".npy"):
        table = np.load(path)
        names = [str(j) for j in range(table.shape[1])] if table.ndim == 2 else []
    else:
        with open(path, newline="") as f:
            names = [c.strip() for c in next(csv.reader(f), [])]
        if not names:
            raise SystemExit(f"{path}: empty file")
        try:
            table = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
        except ValueError as exc:
            raise SystemExit(f"{path}: not a numeric CSV table with one header row ({exc})") from None
    if table.ndim != 2 or table.shape[1] < 2:
        raise SystemExit(f"{path}: expected a 2-D table with at least two columns, got shape {table.shape}")
    if len(names) != table.shape[1]:
        raise SystemExit(f"{path}: the header names {len(names)} columns but the rows have {table.shape[1]}")
    if target is None:
        raise SystemExit(f"--target is required: one of {names}")
    if target in names:
        col = names.index(target)
    elif target.lstrip("-").isdigit() and -len(names) <= int(target) < len(names):
        col = int(target) % len(names)
    else:
        raise SystemExit(f"--target {target!r} is not a column of {path}; columns: {names}")
    keep = [j for j in range(table.shape[1]) if j != col]
    return table[:, keep], table[:, col], [names[j] for j in keep]


def fit_file(args):
    X, y, names = _read_table(args.file, args.target)
    if args.dtype:
        X, y = X.astype(args.dtype), y.astype(args.dtype)
    res = fit(
        X,
        y,
        method=args.method,
        learning_rate=args.learning_rate,
        max_epochs=args.max_epochs,
        standardize=args.standardize,
        fit_intercept=not args.no_intercept,
        random_state=args.seed,
    )
    print(f"method {res.method}: {res.message}")
    print(f"optimality {res.optimality:.3g} ({res.optimality_measure}; converged={res.converged})")
    print(f"training MSE {res.loss:.6g} on {X.shape[0]} samples ({res.n_epochs} epochs, {res.n_updates} updates)\n")
    width = max(len("intercept"), *map(len, names))
    print(f"{'intercept':<{width}}  {res.intercept:.10g}")
    for name, c in zip(names, res.coef, strict=True):
        print(f"{name:<{width}}  {c:.10g}")
    return 0


def _learning_rate(text):
    return text if text == "auto" else float(text)


def _bench(args):
    """``fastgd bench``: the rows (and their numba code) are imported only now."""
    from .bench.runner import main as bench_main

    return bench_main(args)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="fastgd", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="the textbook experiment: five methods side by side with numpy's lstsq")
    p.add_argument("--n", type=int, default=100, help="samples (default 100, as the textbook)")
    p.add_argument("--d", type=int, default=1, help="features (default 1)")
    p.add_argument("--seed", type=int, default=42, help="random seed of the data and the fits (default 42)")
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    p.add_argument(
        "--plot", metavar="FILE", help="also write the paths of batch, SGD and mini-batch GD (needs matplotlib)"
    )
    p.set_defaults(run=demo)
    p = sub.add_parser("fit", help="fit a CSV (with a header row), .npy or .npz file and print the coefficients")
    p.add_argument("file")
    p.add_argument("--target", help="the column to predict: its name (CSV) or index")
    p.add_argument("--method", default="auto", choices=("auto", *METHODS))
    p.add_argument("--learning-rate", type=_learning_rate, default="auto", help="a number, or auto")
    p.add_argument("--max-epochs", type=int, default=1000)
    p.add_argument("--standardize", action="store_true")
    p.add_argument("--no-intercept", action="store_true")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--dtype", choices=("float64", "float32"), default=None)
    p.set_defaults(run=fit_file)
    from .bench import command as bench_args  # argparse only: the rows are imported when bench runs

    p = sub.add_parser("bench", help="the performance benchmark: fastgd beside numpy, scikit-learn and torch")
    bench_args.add_arguments(p)
    p.set_defaults(run=_bench)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, TypeError, ArithmeticError, np.linalg.LinAlgError) as exc:
        print(f"fastgd: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
