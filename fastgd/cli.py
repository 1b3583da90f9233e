"""The ``fastgd`` command: ``fastgd demo``, ``fastgd fit FILE --target COLUMN``, ``fastgd bench``.

Every failure is one line on stderr, ``fastgd: error: ...``, naming the file, the line and the
column where there is one, with exit status 2 (as argparse's usage errors); warnings are one
line each, ``fastgd: warning: ...``.
"""

import argparse
import csv
import difflib
import os
import sys
import time
import warnings
import zipfile

import numpy as np

from .api import fit
from .datasets import make_linear
from .kernels import CHUNK

METHODS = ("normal", "svd", "batch", "sgd", "minibatch")

DESCRIPTION = """Linear regression by the normal equation, SVD, batch, stochastic and mini-batch gradient
descent (numba kernels).

commands:
  fastgd demo                    the textbook experiment: five methods beside numpy's lstsq
  fastgd fit FILE --target COL   fit a CSV (header row), .npy or .npz file, print the coefficients
  fastgd bench                   the performance benchmark (fastgd beside numpy, scikit-learn, ...)
"""


class CommandError(SystemExit):
    """A usage or input error: ``main`` prints ``fastgd: error: <message>`` and exits with 2."""

    def __init__(self, message):
        super().__init__(message)
        self.code = 2


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
    if args.n <= args.d or args.d < 1:
        raise CommandError(f"--n {args.n} --d {args.d}: the demo needs --d >= 1 and more samples than features")
    if args.plot:
        try:
            from . import plot  # noqa: F401  (fail before the work when matplotlib is missing)
        except ImportError as exc:
            raise CommandError(f"--plot needs matplotlib ({exc}): pip install fastgd[plot]") from None
        args.plot = _writable(args.plot)
    dtype = np.dtype(args.dtype)
    print(f"fastgd demo: m={args.n} d={args.d} dtype={dtype} seed={args.seed}")
    print("data: X = 2·U(0, 1), y = 4 + 3·(sum of the features) + N(0, 1)")
    print("compiling the kernels (first run only; later runs load them from numba's cache):", end="", flush=True)
    X, y = make_linear(args.n, args.d, dtype=dtype, random_state=args.seed)
    t = time.perf_counter()
    head = slice(0, min(args.n, 3 * CHUNK))  # as many rows as picks the same (serial or parallel) kernels
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for method in METHODS:  # compile (or load from the cache) what the demo runs, before timing
            print(f" {method}", end="", flush=True)  # progress: each method's kernels as they compile
            fit(X[head], y[head], method=method, max_epochs=2, random_state=args.seed)
    print(f", {time.perf_counter() - t:.2f} s (not in the times below)\n")
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
    labels = ["Batch", "Stochastic", "Mini-batch"]
    fig = Figure(figsize=(13, 5.6), layout="constrained")
    ax, zoom = fig.subplots(1, 2)
    plot.paths(results, X, y, ax=ax, zoom=zoom, labels=labels)
    _save(fig, path)
    print(f"\npaths of batch, SGD and mini-batch GD in parameter space written to {path}")
    fig = Figure(figsize=(7, 5), layout="constrained")
    normal = fit(X, y, method="normal")
    plot.loss([*results, normal], labels=[*labels, "Normal equation"], ax=fig.subplots())
    _save(fig, _loss_path(path))
    print(f"their training MSE per epoch written to {_loss_path(path)}")


def _save(fig, path):
    try:
        fig.savefig(path, dpi=120)
    except OSError as exc:
        raise CommandError(f"--plot {path}: cannot write it ({exc.strerror or exc})") from None


def _loss_path(path):
    """Where the demo writes its loss figure: FILE.png -> FILE_loss.png."""
    stem, ext = os.path.splitext(path)
    return f"{stem}_loss{ext}"


def _writable(path):
    """The --plot path as it will be written (".png" added when it has no extension), checked
    before any work: its folder exists and can be written, and both it and the loss figure's
    path beside it (FILE_loss.png) can be opened for writing (and are not folders)."""
    if os.path.isdir(path):
        raise CommandError(f"--plot {path}: is a directory; give a file name, e.g. {os.path.join(path, 'paths.png')}")
    if not os.path.splitext(path)[1]:
        path += ".png"
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CommandError(f"--plot {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise CommandError(f"--plot {path}: the folder {folder} is not writable")
    for target in (path, _loss_path(path)):
        if os.path.isdir(target):
            raise CommandError(f"--plot {path}: {target} is a directory")
        existed = os.path.exists(target)
        try:  # a real try (os.access says yes to root, also on /proc or /sys): append nothing, remove it if new
            with open(target, "ab"):
                pass
        except OSError as exc:
            raise CommandError(f"--plot {path}: cannot write {target} ({exc.strerror or exc})") from None
        if not existed:
            os.remove(target)
    return path


def _read_table(path, target):
    """(X, y, feature names) from a CSV file with a header, a .npy 2-D array or a .npz file."""
    if os.path.isdir(path):
        raise CommandError(f"{path}: is a directory, not a data file")
    try:
        if path.endswith(".npz"):
            table, names, Xy = _read_npz(path)
            if Xy is not None:
                return Xy
        elif path.endswith(".npy"):
            table = np.load(path, allow_pickle=False)
            names = [str(j) for j in range(table.shape[1])] if table.ndim == 2 else []
        else:
            table, names = _read_csv(path)
    except FileNotFoundError:
        raise CommandError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise CommandError(f"{path}: not a UTF-8 text file (byte {exc.start}: {exc.reason})") from None
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise CommandError(f"{path}: cannot read it as {_kind(path)} ({exc})") from None
    if table.ndim != 2 or table.shape[1] < 2:
        raise CommandError(f"{path}: expected a 2-D table with at least two columns, got shape {table.shape}")
    if len(names) != table.shape[1]:
        raise CommandError(f"{path}: the header names {len(names)} columns but the rows have {table.shape[1]}")
    if target is None:
        raise CommandError(f"--target is required: one of {names}")
    if target in names:
        col = names.index(target)
    elif target.lstrip("-").isdigit() and -len(names) <= int(target) < len(names):
        col = int(target) % len(names)
    else:
        raise CommandError(f"--target {target!r} is not a column of {path}; columns: {names}")
    keep = [j for j in range(table.shape[1]) if j != col]
    return table[:, keep], table[:, col], [names[j] for j in keep]


def _kind(path):
    return {".npz": "a NumPy .npz archive", ".npy": "a NumPy .npy array"}.get(os.path.splitext(path)[1], "CSV")


def _read_npz(path):
    """(table, names, None), or (None, None, (X, y, names)) for an archive of arrays X and y."""
    if os.path.exists(path) and not zipfile.is_zipfile(path):
        raise CommandError(f"{path}: not a NumPy .npz archive (not a zip file)")
    with np.load(path, allow_pickle=False) as data:
        if "X" in data and "y" in data:
            X, y = data["X"], data["y"]
            return None, None, (X, y, [f"x{j}" for j in range(1 if X.ndim == 1 else X.shape[1])])
        if len(data.files) != 1:
            raise CommandError(f"{path}: expected arrays 'X' and 'y', or a single 2-D array; found {data.files}")
        table = data[data.files[0]]
    return table, ([str(j) for j in range(table.shape[1])] if table.ndim == 2 else []), None


def _read_csv(path):
    """(table, names) of a CSV file with one header row (a UTF-8 BOM is dropped); a cell that
    is not a number is named by its line and column."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise CommandError(f"{path}: empty file (expected a header row, then rows of numbers)")
    names = [cell.strip() for cell in rows[0]]
    body = [(line, row) for line, row in enumerate(rows[1:], start=2) if any(cell.strip() for cell in row)]
    if not body:
        raise CommandError(f"{path}: the header names the columns {names} but no data row follows it")
    for line, row in body:
        if len(row) != len(names):
            raise CommandError(
                f"{path}: the header names {len(names)} columns but the rows have {len(row)} (line {line})"
            )
        for name, cell in zip(names, row, strict=True):
            try:
                float(cell)
            except ValueError:
                raise CommandError(
                    f"{path}: not a numeric CSV table: line {line}, column {name!r} holds {cell.strip()!r}, not a "
                    "number (fix the cell, or remove the row or the column)"
                ) from None
    return np.array([[float(cell) for cell in row] for _, row in body]), names


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
    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number or 'auto', got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number or 'auto', got {text!r}")
    return value


def _bench(args):
    """``fastgd bench``: the rows (and their numba code) are imported only now."""
    from .bench.runner import main as bench_main

    return bench_main(args)


def _parser():
    from . import __version__
    from .bench import command as bench_args  # argparse only: the rows are imported when bench runs

    defaults = argparse.ArgumentDefaultsHelpFormatter
    parser = argparse.ArgumentParser(
        prog="fastgd", description=DESCRIPTION, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"fastgd {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{demo,fit,bench}")
    what = "the textbook experiment: the five methods side by side with numpy.linalg.lstsq"
    p = sub.add_parser("demo", formatter_class=defaults, help=what, description=what)
    p.add_argument("--n", type=int, default=100, help="samples (the textbook's 100)")
    p.add_argument("--d", type=int, default=1, help="features")
    p.add_argument("--seed", type=int, default=42, help="random seed of the data and the fits")
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64", help="dtype of X and y")
    p.add_argument(
        "--plot",
        metavar="FILE",
        help="also write the paths of batch, SGD and mini-batch GD as a PNG "
        "(needs matplotlib; .png is added when FILE has no extension)",
    )
    p.set_defaults(run=demo)
    p = sub.add_parser(
        "fit",
        formatter_class=defaults,
        help="fit a CSV, .npy or .npz file, print the coefficients",
        description="Fit a linear model to a CSV file (one header row), a .npy 2-D array or a .npz "
        "archive (arrays X and y, or one 2-D array) and print the coefficients.",
    )
    p.add_argument("file", help="the data file")
    p.add_argument("--target", help="the column to predict: its name (CSV) or index (required)")
    p.add_argument("--method", default="auto", choices=("auto", *METHODS), help="how to fit (see fastgd.fit)")
    p.add_argument(
        "--learning-rate",
        type=_learning_rate,
        default="auto",
        help="a positive number, or auto (derived from the data; iterative methods only)",
    )
    p.add_argument("--max-epochs", type=int, default=1000, help="passes over the data at most (iterative methods)")
    p.add_argument("--standardize", action="store_true", help="standardize the features inside the kernels")
    p.add_argument("--no-intercept", action="store_true", help="fit no intercept")
    p.add_argument("--seed", type=int, default=None, help="random seed (none given: a fresh one)")
    p.add_argument(
        "--dtype", choices=("float64", "float32"), default=None, help="compute in this dtype (none given: the file's)"
    )
    p.set_defaults(run=fit_file)
    p = sub.add_parser("bench", help="the performance benchmark (fastgd beside numpy, scikit-learn, torch)")
    bench_args.add_arguments(p)
    p.set_defaults(run=_bench)
    parser.commands = sub.choices  # the subcommands' parsers, for the suggestions of _unknown
    return parser


def _unknown(parser, command, extra):
    """argparse's "unrecognized arguments" error, with the closest option of the command for each
    unknown option (argparse itself suggests none before Python 3.14)."""
    options = [
        s for a in parser.commands[command]._actions for s in a.option_strings if s.startswith("--") and s != "--help"
    ]
    hints = []
    for arg in extra:
        name = arg.partition("=")[0]
        if name.startswith("-"):
            close = difflib.get_close_matches(name.replace("_", "-"), options, n=1, cutoff=0.6)
            if close:
                hints.append(f"{name}: did you mean {close[0]}?")
    text = f"unrecognized arguments: {' '.join(extra)}"
    parser.commands[command].error(f"{text} ({'; '.join(hints)})" if hints else text)


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"fastgd: warning: {category.__name__}: {message}", file=sys.stderr)


def main(argv=None):
    """The ``fastgd`` command; returns its exit status (2 for any error, after one line on stderr)."""
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        _unknown(parser, args.command, extra)
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning  # one line, no source path
        try:
            return args.run(args)
        except CommandError as exc:
            print(f"fastgd: error: {exc}", file=sys.stderr)
            raise
        except BrokenPipeError:  # e.g. `fastgd demo | head`: the reader left; nothing to report
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        except (ValueError, TypeError, ArithmeticError, np.linalg.LinAlgError) as exc:
            print(f"fastgd: error: {exc}", file=sys.stderr)
            return 2


if __name__ == "__main__":
    sys.exit(main())
