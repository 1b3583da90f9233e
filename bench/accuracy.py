"""Correct digits of least-squares solvers on certified ill-conditioned designs: docs/accuracy.md.

    python bench/accuracy.py                    # prints the table, writes docs/accuracy.md
    python bench/accuracy.py --out -            # prints only

Each design is small (30 to 60 rows) and built in float64; its exact least-squares solution is
computed from those float64 numbers in rational arithmetic (``fractions.Fraction``: the normal
equations ``X_bᵀ W X_b θ = X_bᵀ W y`` solved by Gaussian elimination, exact), so it is the
solution that an ideal solver would round to float64.  A solver's correct digits are
``-log10(max_j |θ_j - θ*_j| / |θ*_j|)`` (the worst component, intercept included), capped at
``CAP``; "limit" is that of θ* rounded to float64 (about 16: the best any float64 answer can
do).  κ is the 2-norm condition number of the design's columns centered (with an intercept) and
scaled to unit norm, which is what the solvers that equilibrate face; "raw κ" that of [1, X]
as given.

The peers: ``numpy.linalg.lstsq`` (LAPACK gelsd), ``scipy.linalg.lstsq`` with gelsd and gelsy
(QR with column pivoting), statsmodels' OLS with ``method="qr"`` (skipped without statsmodels)
and scikit-learn's LinearRegression (skipped without scikit-learn).  tests/test_accuracy.py
asserts on these designs that fastgd's "auto" is within one digit of the limit and has at least
as many correct digits as every peer.
"""

import argparse
import math
import os
import sys
import warnings
from fractions import Fraction

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the fastgd of this checkout
import fastgd

#: correct digits are capped here: beyond it "correct to the last bit" is all there is to say
CAP = 15.0
COMMAND = "python bench/accuracy.py"


class Design:
    """A least-squares problem: X (n, d), y (n,), whether an intercept is fitted, sample
    weights (or None), and whether it is ill-conditioned once equilibrated (the normal
    equation must warn or refuse) or only badly scaled (a control: it must not)."""

    def __init__(self, name, X, y, fit_intercept=True, weights=None, ill=True):
        self.name, self.X, self.y = name, np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
        self.fit_intercept, self.weights, self.ill = fit_intercept, weights, ill

    @property
    def X_b(self):
        return np.column_stack([np.ones(len(self.X)), self.X]) if self.fit_intercept else self.X

    def kappa(self):
        """κ of the centered (with an intercept), unit-norm columns."""
        Z = self.X - self.X.mean(axis=0) if self.fit_intercept else self.X
        A = np.column_stack([np.ones(len(Z)), Z]) if self.fit_intercept else Z
        return float(np.linalg.cond(A / np.linalg.norm(A, axis=0)))

    def raw_kappa(self):
        return float(np.linalg.cond(self.X_b))


def polynomial(degree, lo, hi, n, seed, fit_intercept=True, noise=1e-3):
    """Monomials x, x², ..., x^degree of n sorted points uniform in [lo, hi]; y a random
    Chebyshev series in x plus noise (so the residual is not zero)."""
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(lo, hi, n))
    X = np.column_stack([x**k for k in range(1, degree + 1)])
    u = (x - (lo + hi) / 2) / ((hi - lo) / 2)
    y = np.polynomial.chebyshev.chebval(u, rng.standard_normal(degree + 1)) + noise * rng.standard_normal(n)
    return X, y


def mean_one_weights(n, seed):
    """n (even) weights in [1/64, 2 - 1/64], multiples of 1/64, in pairs w, 2 - w: their mean is
    exactly 1, so fastgd's scaling of the weights to mean 1 changes no bit of them."""
    rng = np.random.default_rng(seed)
    half = rng.integers(1, 128, n // 2) / 64.0
    return rng.permutation(np.concatenate([half, 2.0 - half]))


def designs():
    """The certified designs, in the order of the table."""
    out = []
    X, y = polynomial(2, 1e3, 1e3 + 1, 40, 1)
    out.append(Design("quadratic, x in [1e3, 1e3 + 1]", X, y))
    X, y = polynomial(3, 1e4, 1e4 + 1, 40, 2)
    out.append(Design("cubic, x in [1e4, 1e4 + 1]", X, y))
    X, y = polynomial(6, 1, 10, 40, 3)
    out.append(Design("degree 6, x in [1, 10]", X, y))
    X, y = polynomial(7, 0, 1, 50, 4)
    out.append(Design("degree 7, x in [0, 1]", X, y))
    X, y = polynomial(10, 0, 2, 60, 5)
    out.append(Design("degree 10, x in [0, 2]", X, y))
    X, y = polynomial(10, 0, 10, 60, 10)
    out.append(Design("degree 10, x in [0, 10]", X, y))
    X, y = polynomial(10, 1, 4, 60, 6)
    out.append(Design("degree 10, x in [1, 4]", X, y))
    X, y = polynomial(6, 1, 2, 40, 10)
    out.append(Design("degree 6, no intercept, x in [1, 2]", X, y, fit_intercept=False))
    rng = np.random.default_rng(7)
    t = 1.7e9 + np.sort(rng.uniform(0, 86_400, 50))  # Unix times over one day
    X = np.column_stack([t, t**2])
    u = (t - 1.7e9) / 86_400
    out.append(Design("timestamps t ≈ 1.7e9: t, t²", X, 2.0 + 3.0 * u - u**2 + 1e-3 * rng.standard_normal(50)))
    rng = np.random.default_rng(8)
    t = np.linspace(0, 1, 40)
    s = np.sin(3 * t) + 0.1 * t
    for eps in (1e-7, 1e-10):
        X = np.column_stack([s, s + eps * rng.standard_normal(40), np.cos(t)])
        out.append(Design(f"near-collinear columns (1e{round(math.log10(eps))})", X,
                          X @ [1.0, 2.0, -1.0] + 1e-3 * rng.standard_normal(40)))  # fmt: skip
    rng = np.random.default_rng(9)
    walk = np.sin(np.linspace(0, 2, 44)) + 1e-5 * rng.standard_normal(44)  # a smooth series: its lags nearly agree
    X = np.column_stack([walk[3:], walk[2:-1], walk[1:-2], walk[:-3]])
    out.append(Design("four lags of a smooth series", X, X @ [0.5, 0.3, 0.2, 0.1] + 1e-4 * rng.standard_normal(41)))
    rng = np.random.default_rng(11)
    a, b, c = rng.standard_normal(30), rng.standard_normal(30), rng.standard_normal(30)
    X = np.column_stack([1e-8 * a, 1e8 * (a + 1e-6 * c), b])
    out.append(Design("mixed scales 1e-8..1e8, near-collinear, no intercept", X,
                      X @ [1e8, 1e-8, 1.0] + 1e-3 * rng.standard_normal(30), fit_intercept=False))  # fmt: skip
    X, y = polynomial(5, 1, 3, 40, 12)
    out.append(Design("degree 5, x in [1, 3], sample weights", X, y, weights=mean_one_weights(40, 12)))
    rng = np.random.default_rng(13)
    x1 = 1e6 + rng.uniform(0, 1, 40)
    X = np.column_stack([x1, rng.standard_normal(40)])
    y = 3.0 + 2.0 * (x1 - 1e6) - X[:, 1] + 1e-3 * rng.standard_normal(40)
    out.append(Design("control: offset 1e6, well-conditioned once centered", X, y, ill=False))
    X, y = polynomial(3, 0, 100, 40, 14)
    out.append(Design("control: cubic, x in [0, 100] (badly scaled only)", X, y, ill=False))
    return out


# ----------------------------------------------------------------------------------------------
# The exact solution and correct digits
# ----------------------------------------------------------------------------------------------


def exact_solution(X, y, fit_intercept=True, weights=None, ridge=None):
    """The exact minimizer [intercept, *coef] (Fractions) of ``Σ w (y - X_b θ)² + Σ ridge_j coef_j²``
    over the float64 numbers given: the normal equations, by Gaussian elimination in rationals.
    ridge: (d,) float64 (λ_j, the intercept unpenalized) or None."""
    n, d = X.shape
    cols = ([[Fraction(1)] * n] if fit_intercept else []) + [[Fraction(float(v)) for v in X[:, j]] for j in range(d)]
    target = [Fraction(float(v)) for v in y]
    w = [Fraction(1)] * n if weights is None else [Fraction(float(v)) for v in weights]
    p = len(cols)
    weighted = [[w[i] * col[i] for i in range(n)] for col in cols]
    M = [
        [sum(a * b for a, b in zip(weighted[r], cols[c], strict=True)) for c in range(p)]
        + [sum(a * b for a, b in zip(weighted[r], target, strict=True))]
        for r in range(p)
    ]
    if ridge is not None:
        first = int(fit_intercept)
        for j in range(d):
            M[first + j][first + j] += Fraction(float(ridge[j]))
    for k in range(p):
        pivot = next(i for i in range(k, p) if M[i][k] != 0)
        M[k], M[pivot] = M[pivot], M[k]
        for i in range(k + 1, p):
            f = M[i][k] / M[k][k]
            if f:
                M[i] = [a - f * b for a, b in zip(M[i], M[k], strict=True)]
    theta = [Fraction(0)] * p
    for k in reversed(range(p)):
        theta[k] = (M[k][p] - sum(M[k][j] * theta[j] for j in range(k + 1, p))) / M[k][k]
    return theta if fit_intercept else [Fraction(0), *theta]


def digits(theta, exact, cap=CAP):
    """Correct digits of θ: -log10 of the largest relative error of a component, capped at ``cap``
    (components exactly 0 in the exact solution count by their absolute error)."""
    worst = Fraction(0)
    for t, e in zip(np.asarray(theta, dtype=np.float64), exact, strict=True):
        error = abs(Fraction(float(t)) - e)
        worst = max(worst, error / abs(e) if e != 0 else error)
    if not np.isfinite(np.asarray(theta, dtype=np.float64)).all():
        return 0.0
    return cap if worst == 0 else max(0.0, min(cap, -math.log10(worst)))


def limit(exact):
    """The correct digits of the exact solution rounded to float64 (uncapped): the best possible."""
    return digits([float(e) for e in exact], exact, cap=math.inf)


# ----------------------------------------------------------------------------------------------
# The solvers
# ----------------------------------------------------------------------------------------------


def _pad(theta, fit_intercept):
    return np.asarray(theta, dtype=np.float64) if fit_intercept else np.concatenate(([0.0], theta))


def _weighted(design):
    """(√w X_b, √w y): the weighted problem as plain least squares, for the peers."""
    root = np.ones(len(design.y)) if design.weights is None else np.sqrt(design.weights)
    return design.X_b * root[:, None], design.y * root


def _numpy(design):
    A, b = _weighted(design)
    return _pad(np.linalg.lstsq(A, b, rcond=None)[0], design.fit_intercept)


def _scipy(driver):
    def solve(design):
        import scipy.linalg

        A, b = _weighted(design)
        return _pad(scipy.linalg.lstsq(A, b, lapack_driver=driver)[0], design.fit_intercept)

    return solve


def _statsmodels(design):
    import statsmodels.api as sm

    model = sm.WLS(design.y, design.X_b, weights=1.0 if design.weights is None else design.weights)
    return _pad(model.fit(method="qr").params, design.fit_intercept)


def _sklearn(design):
    from sklearn.linear_model import LinearRegression

    model = LinearRegression(fit_intercept=design.fit_intercept).fit(design.X, design.y, sample_weight=design.weights)
    return np.concatenate(([model.intercept_ if design.fit_intercept else 0.0], model.coef_))


def _fastgd(method):
    def solve(design):
        return fastgd.fit(
            design.X, design.y, method=method, fit_intercept=design.fit_intercept, sample_weight=design.weights
        ).theta

    return solve


#: fastgd's closed forms, then the peers: (column, solver, module it needs or None)
FASTGD = {"auto": _fastgd("auto"), "normal": _fastgd("normal"), "svd": _fastgd("svd")}
PEERS = {
    "numpy lstsq": (_numpy, None),
    "scipy gelsd": (_scipy("gelsd"), "scipy"),
    "scipy gelsy": (_scipy("gelsy"), "scipy"),
    "statsmodels QR": (_statsmodels, "statsmodels"),
    "sklearn": (_sklearn, "sklearn"),
}


def available_peers():
    """The peers whose package is installed (statsmodels and scikit-learn are optional)."""
    import importlib.util

    return {
        name: solve for name, (solve, module) in PEERS.items() if module is None or importlib.util.find_spec(module)
    }


def measure(design, solvers):
    """(θ*, {column: correct digits, or None where the solver raised LinAlgError: fastgd's
    SingularMatrixError, or a peer's own failure})."""
    exact = exact_solution(design.X, design.y, design.fit_intercept, design.weights)
    out = {}
    for name, solve in solvers.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                out[name] = digits(solve(design), exact)
            except np.linalg.LinAlgError:
                out[name] = None
    return exact, out


# ----------------------------------------------------------------------------------------------
# The table
# ----------------------------------------------------------------------------------------------


def table():
    solvers = {**FASTGD, **available_peers()}
    header = ["design", "κ", "raw κ", "limit", *[f"fastgd {k}" for k in FASTGD], *available_peers()]
    lines = []
    for design in designs():
        exact, got = measure(design, solvers)
        cells = [f"{v:.1f}" if v is not None else "refused" if k in FASTGD else "error" for k, v in got.items()]
        lines.append([design.name, f"{design.kappa():.1e}", f"{design.raw_kappa():.1e}", f"{limit(exact):.1f}", *cells])
    return header, lines


def markdown(header, lines):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    return out + ["| " + " | ".join(line) + " |" for line in lines]


PROSE = """\
Each design is small (30 to 60 rows) and built in float64. Its exact least-squares solution θ* is
computed from those float64 numbers in rational arithmetic (`fractions.Fraction`: the normal
equations solved by Gaussian elimination), so θ* is what an ideal solver would round to float64.
A solver's correct digits are `-log10(max_j |θ_j - θ*_j| / |θ*_j|)`, the worst component
(intercept included), capped at {cap:.0f}; "limit" is that of θ* rounded to float64, the best any
float64 answer can do. κ is the condition number of the columns centered (with an intercept) and
scaled to unit norm, what a solver that equilibrates faces; "raw κ" that of `[1, X]` as given.
The designs marked "control" are only badly scaled: `method="normal"` must not warn on them; on
every other one it warns (IllConditionedWarning) or refuses ("refused": SingularMatrixError).

The peers: `numpy.linalg.lstsq` (LAPACK gelsd), `scipy.linalg.lstsq` with gelsd and with gelsy
(QR with column pivoting), statsmodels' OLS/WLS with `method="qr"` ("error": it raised
LinAlgError) and scikit-learn's `LinearRegression` with its defaults (its `tol=1e-6` is the
lstsq cutoff on the centered X, so it truncates beyond κ ≈ 1e6). tests/test_accuracy.py asserts
that fastgd's `"auto"` is within one digit of min({cap:.0f}, limit) on every design and has at
least as many correct digits as every peer."""


def page(header, lines):
    missing = sorted(set(PEERS) - set(available_peers()))
    versions = f"fastgd {fastgd.__version__}, numpy {np.__version__}"
    for module in ("scipy", "statsmodels", "sklearn"):
        try:
            versions += f", {module} {__import__(module).__version__}"
        except ImportError:
            pass
    return "\n".join([
        "# fastgd accuracy",
        "",
        f"Generated by `{COMMAND}`. Do not edit this page: rerun the command.",
        "",
        PROSE.format(cap=CAP),
        "",
        *markdown(header, lines),
        "",
        f"Versions: {versions}." + (f" Skipped (not installed): {', '.join(missing)}." if missing else ""),
        "",
    ])  # fmt: skip


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", default="docs/accuracy.md", help="the Markdown page (default docs/accuracy.md; - for none)"
    )
    args = parser.parse_args(argv)
    header, lines = table()
    print("\n".join(markdown(header, lines)))
    if args.out != "-":
        if os.path.dirname(args.out):
            os.makedirs(os.path.dirname(args.out), exist_ok=True)
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(page(header, lines))
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
