"""The closed forms at the accuracy limit of float64, against exact rational solutions.

The designs (bench/accuracy.py, which also writes docs/accuracy.md) are small ill-conditioned
least-squares problems built in float64, each with its exact least-squares solution θ* of those
float64 numbers computed in ``fractions.Fraction``.  Correct digits of θ:

    digits(θ) = -log10(max_j |θ_j - θ*_j| / |θ*_j|)      (capped at 15)

The limit of a design is digits(fl(θ*)), θ* rounded to float64 (about 16): no float64 answer
does better.  "auto" must reach min(15, limit) - 1, and have at least as many correct digits
as every peer (numpy and scipy lstsq, gelsy, statsmodels' QR, scikit-learn).
"""

import importlib.util
import warnings
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import fastgd
from fastgd import closed_form
from fastgd import kernels as K

_spec = importlib.util.spec_from_file_location(
    "accuracy", Path(__file__).resolve().parents[1] / "bench" / "accuracy.py"
)
acc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(acc)

DESIGNS = acc.designs()
ILL = [d for d in DESIGNS if d.ill]
_EXACT = {}


def exact(design):
    if design.name not in _EXACT:
        _EXACT[design.name] = acc.exact_solution(design.X, design.y, design.fit_intercept, design.weights)
    return _EXACT[design.name]


def target(design):
    """What "within one digit of the exact solution" means: min(15, limit) - 1."""
    return min(acc.CAP, acc.limit(exact(design))) - 1


def fit(design, method="auto", **kwargs):
    return fastgd.fit(
        design.X, design.y, method=method, fit_intercept=design.fit_intercept, sample_weight=design.weights, **kwargs
    )


def quiet_fit(design, method="auto", **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit(design, method, **kwargs)


def test_there_are_enough_certified_designs():
    assert len(ILL) >= 8
    assert any(not d.fit_intercept for d in ILL) and any(d.weights is not None for d in ILL)
    for design in ILL:  # ill-conditioned once equilibrated: κ² eps beyond √eps
        assert design.kappa() ** 2 * closed_form.EPS > closed_form.NORMAL_LIMIT, design.name


def test_digits_measure():
    e = [Fraction(3), Fraction(-2, 3)]
    assert acc.digits([3.0, -2 / 3], e) == pytest.approx(acc.CAP)  # capped
    assert acc.digits([3.0 * (1 + 1e-9), -2 / 3], e) == pytest.approx(9.0, abs=0.01)
    assert acc.limit(e) > 15.5


def exact_loss(design, theta):
    """Σ w r² / Σ w of θ (Fractions) on the design, exactly."""
    X_b, w = design.X_b, np.ones(len(design.y)) if design.weights is None else design.weights
    theta = theta if design.fit_intercept else theta[1:]
    total = sum(
        Fraction(float(w[i]))
        * (Fraction(float(design.y[i])) - sum(Fraction(float(a)) * t for a, t in zip(row, theta, strict=True))) ** 2
        for i, row in enumerate(X_b)
    )
    return total / sum(Fraction(float(v)) for v in w)


@pytest.mark.parametrize("design", DESIGNS, ids=lambda d: d.name)
def test_auto_and_svd_reach_the_exact_solution(design):
    best = exact_loss(design, exact(design))
    for method in ("auto", "svd"):
        res = quiet_fit(design, method)
        got = acc.digits(res.theta, exact(design))
        assert got >= target(design), f"{method}: {got:.1f} digits ({res.message})"
        # the loss from the compensated residuals: the exact minimum (a plain pass loses it to cancellation)
        assert res.loss == pytest.approx(float(best), rel=1e-13)


@pytest.mark.parametrize("design", DESIGNS, ids=lambda d: d.name)
def test_auto_at_least_as_accurate_as_every_peer(design):
    ours = acc.digits(quiet_fit(design).theta, exact(design))
    peers = acc.available_peers()
    assert {"numpy lstsq", "scipy gelsd", "scipy gelsy"} <= set(peers)
    for name, solve in peers.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                theirs = acc.digits(solve(design), exact(design))
            except np.linalg.LinAlgError:  # statsmodels' covariance of a numerically singular R
                continue
        assert ours >= theirs, f"{name}: {theirs:.1f} digits, fastgd auto {ours:.1f}"


@pytest.mark.parametrize("design", DESIGNS, ids=lambda d: d.name)
def test_normal_warns_or_refuses_exactly_when_ill_conditioned(design):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = fit(design, "normal")
        except fastgd.SingularMatrixError as exc:
            assert design.ill and 'method="svd"' in str(exc)
            return
    ill = [w for w in caught if issubclass(w.category, fastgd.IllConditionedWarning)]
    if design.ill:
        assert len(ill) == 1, [str(w.message) for w in caught]
        assert "κ(XᵀX) ≈" in str(ill[0].message) and 'method="auto"' in str(ill[0].message)
        assert ill[0].filename == __file__  # raised at the caller's line
    else:
        assert not caught, [str(w.message) for w in caught]
        assert acc.digits(res.theta, exact(design)) >= 11


@pytest.mark.parametrize("design", DESIGNS, ids=lambda d: d.name)
def test_auto_says_which_path_ran_and_its_kappa(design):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = fit(design)
    assert not caught, [str(w.message) for w in caught]  # full rank, converged: nothing to warn about
    assert res.message.startswith("auto: ") and "κ" in res.message and "converged" in res.message
    if res.method == "normal":
        assert "Cholesky factorization of the equilibrated XᵀX" in res.message
    else:
        assert res.method == "svd" and "QR and SVD" in res.message and "full rank" in res.message
    if design.ill:
        assert res.method == "svd"


def test_well_conditioned_tall_data_costs_one_compensated_pass():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20_000, 8)) * np.arange(1, 9) + 5.0
    y = 1.0 + X @ rng.standard_normal(8) + rng.standard_normal(20_000)
    res = fastgd.fit(X, y)
    assert res.method == "normal" and "refined in 1 step" in res.message
    theta = np.linalg.lstsq(np.column_stack([np.ones(len(X)), X]), y, rcond=None)[0]
    np.testing.assert_allclose(res.theta, theta, rtol=1e-12)


def _float32_ulps(theta, exact_theta):
    """How many float32 ulps apart θ (float32) and the exact solution rounded to float32 are."""
    a = np.asarray(theta, np.float32).view(np.int32).astype(np.int64)
    b = np.asarray([float(t) for t in exact_theta], np.float32).view(np.int32).astype(np.int64)
    return int(np.abs(a - b).max())


FLOAT32_CASES = {  # name: (X, y, whether the condition estimate lets "auto" skip refinement)
    "well conditioned": (lambda X: (X, X @ np.arange(1.0, 5.0) + np.random.default_rng(1).standard_normal(3000), True))(
        np.random.default_rng(0).standard_normal((3000, 4))
    ),
    "noisy target": (lambda X: (X, 1e-3 * X.sum(1) + 50 * np.random.default_rng(3).standard_normal(3000), True))(
        np.random.default_rng(2).standard_normal((3000, 4))
    ),
    "cubic on [1, 10]": (lambda t: (np.c_[t, t**2, t**3], 1 + t - t**2 / 3 + t**3 / 50, False))(
        np.random.default_rng(4).uniform(1.0, 10.0, 3000)
    ),
}


@pytest.mark.parametrize("name", FLOAT32_CASES)
def test_float32_auto_refines_only_beyond_float32s_precision(name):
    """θ of float32 data is returned in float32: "auto" skips the compensated pass when the
    condition estimate puts the normal equation's answer within half a float32 ulp of the exact
    solution, and either way lands within one float32 ulp of it (exact: ``fractions``)."""
    X, y, skips = FLOAT32_CASES[name]
    X, y = X.astype(np.float32), y.astype(np.float32)
    res = fastgd.fit(X, y)
    assert res.coef.dtype == np.float32 and res.method == "normal"
    assert ("not refined" in res.message) == skips and ("refined in" in res.message) != skips
    star = acc.exact_solution(X.astype(np.float64), y.astype(np.float64), True, None)
    assert _float32_ulps(np.r_[res.intercept, res.coef], star) <= 1
    Xb = np.column_stack([np.ones(len(y)), X.astype(np.float64)])
    assert res.loss == pytest.approx(np.mean((Xb @ np.asarray(star, float) - y) ** 2), rel=1e-6)


# ---------------------------------------------------------------------------------------------
# rank deficiency


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_duplicated_column_warns_and_gives_the_minimum_norm_solution(fit_intercept):
    """Columns on scales 1e-2 to 1e2 (one with an offset of 5e3), the second duplicated.  The exact
    minimum-norm solution: the exact one without the duplicate, its coefficient split in two."""
    rng = np.random.default_rng(5)
    X3 = rng.standard_normal((40, 3)) * [1.0, 100.0, 0.01] + [0.0, 5e3, 0.0]
    X = np.column_stack([X3, X3[:, 1]])  # exactly rank-deficient
    y = 1.0 + X3 @ [2.0, 0.03, -50.0] + 0.1 * rng.standard_normal(40)
    e = acc.exact_solution(X3, y, fit_intercept)
    minimum_norm = [e[0], e[1], e[2] / 2, e[3], e[2] / 2]
    X_b = np.column_stack([np.ones(40), X]) if fit_intercept else X
    lstsq = np.linalg.lstsq(X_b, y, rcond=None)[0]
    lstsq = lstsq if fit_intercept else np.concatenate(([0.0], lstsq))
    for method in ("svd", "auto"):
        with pytest.warns(fastgd.RankDeficientWarning, match=r"rank 4 < 5|rank 3 < 4"):
            res = fastgd.fit(X, y, method=method, fit_intercept=fit_intercept)
        assert res.method == "svd" and "minimum-norm" in res.message
        np.testing.assert_allclose(res.theta, lstsq, rtol=1e-7)
        # the null vector refined too: the exact minimum-norm solution, where lstsq keeps 7 to 9 digits
        assert acc.digits(res.theta, minimum_norm) >= min(acc.CAP, acc.limit(minimum_norm)) - 1
    with pytest.raises(fastgd.SingularMatrixError, match='method="svd"'):
        fastgd.fit(X, y, method="normal", fit_intercept=fit_intercept)


def test_constant_column_with_an_intercept_is_rank_deficient():
    rng = np.random.default_rng(6)
    X = np.column_stack([rng.standard_normal(30), np.full(30, 7.0)])
    y = 2.0 + 3.0 * X[:, 0] + 0.1 * rng.standard_normal(30)
    with pytest.warns(fastgd.RankDeficientWarning):
        res = fastgd.fit(X, y, method="svd")
    lstsq = np.linalg.lstsq(np.column_stack([np.ones(30), X]), y, rcond=None)[0]
    np.testing.assert_allclose(res.theta, lstsq, rtol=1e-10)


def test_tiny_columns_keep_their_rank():
    """Columns of 6e-173 (four equal) and one spike: rank 2 once equilibrated, and y = 1 is fitted
    exactly, by coefficients near 1e171 (lstsq, its cutoff on the raw columns, sees rank 1 and
    leaves a loss of 0.91).  The minimum-norm answer splits the equal columns evenly."""
    X = np.full((11, 5), 6.17787805e-173)
    X[1, 2] = 0.96875
    with pytest.warns(fastgd.RankDeficientWarning, match="rank 2 < 5"):
        res = fastgd.fit(X, np.ones(11), method="svd", fit_intercept=False)
    assert res.loss < 1e-30
    np.testing.assert_allclose(res.coef[[0, 1, 3, 4]], res.coef[0], rtol=1e-14)
    assert abs(res.coef[2]) < 1e-30


def test_underdetermined_warns_with_the_row_count():
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((5, 12)), rng.standard_normal(5)
    with pytest.warns(fastgd.RankDeficientWarning, match="5 rows for 13 unknowns"):
        res = fastgd.fit(X, y)
    lstsq = np.linalg.lstsq(np.column_stack([np.ones(5), X]), y, rcond=None)[0]
    np.testing.assert_allclose(res.theta, lstsq, rtol=1e-9, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# weights and ridge: the refinement solves the same objective


RIDGE_DESIGNS = [d for d in DESIGNS if d.name.startswith(("degree 7", "degree 5", "control: offset", "degree 6, no"))]


@pytest.mark.parametrize("design", RIDGE_DESIGNS, ids=lambda d: d.name)
@pytest.mark.parametrize("alpha", [1e-9, 0.1])
def test_ridge_reaches_the_exact_penalized_solution(design, alpha):
    weight = len(design.y) if design.weights is None else float(design.weights.sum())
    assert design.weights is None or weight == len(design.y)  # mean-one weights: fastgd's scaling is exact
    lam = closed_form.ridge_diagonal((alpha, np.ones(design.X.shape[1])), weight)
    theta_star = acc.exact_solution(design.X, design.y, design.fit_intercept, design.weights, ridge=lam)
    best = min(acc.CAP, acc.limit(theta_star)) - 1
    for method in ("auto", "svd"):
        res = quiet_fit(design, method, penalty="l2", alpha=alpha)
        assert acc.digits(res.theta, theta_star) >= best, (method, res.message)


def test_weights_equal_repeated_rows_to_the_last_digits():
    design = next(d for d in DESIGNS if d.weights is not None)
    counts = (design.weights * 64).astype(int)  # integer weights: 64 w
    X_rep, y_rep = np.repeat(design.X, counts, axis=0), np.repeat(design.y, counts)
    weighted = quiet_fit(design)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        repeated = fastgd.fit(X_rep, y_rep)
    np.testing.assert_allclose(weighted.theta, repeated.theta, rtol=1e-14)


# ---------------------------------------------------------------------------------------------
# the compensated kernel


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("lo", [False, True], ids=["theta", "theta+lo"])
def test_residual_gradient_is_the_exact_sums_to_about_32_digits(dtype, lo):
    rng = np.random.default_rng(1)
    n, d = 300, 3
    X = (rng.standard_normal((n, d)) * 10.0 + 1e5).astype(dtype)
    theta = rng.standard_normal(d + 1)
    theta_lo = rng.standard_normal(d + 1) * 1e-17 if lo else None
    y = (X.astype(np.float64) @ theta[1:] + theta[0] + 1e-6 * rng.standard_normal(n)).astype(dtype)
    w = rng.uniform(0.0, 2.0, n)
    center = X.astype(np.float64).mean(axis=0)
    out = np.zeros((2, d + 2))
    K.residual_gradient(X, y, w, center, theta, theta_lo, np.zeros((K.n_chunks(n), 2, d + 2)), out)
    th = [Fraction(float(t)) + (Fraction(float(theta_lo[k])) if lo else 0) for k, t in enumerate(theta)]
    r = [Fraction(float(y[i])) - th[0] - sum(Fraction(float(X[i, j])) * th[j + 1] for j in range(d)) for i in range(n)]
    z = [[Fraction(float(X[i, j])) - Fraction(float(center[j])) for j in range(d)] for i in range(n)]
    exact = [sum(Fraction(float(w[i])) * r[i] for i in range(n))]
    exact += [sum(Fraction(float(w[i])) * z[i][j] * r[i] for i in range(n)) for j in range(d)]
    exact += [sum(Fraction(float(w[i])) * r[i] * r[i] for i in range(n))]
    for k in range(d + 2):  # the error of double-double sums: a few eps² of Σ |w (x - c) r| (Σ w r² last)
        scale = sum(abs(Fraction(float(w[i])) * (r[i] if k == d + 1 else z[i][k - 1] if k else 1) * r[i])
                    for i in range(n))  # fmt: skip
        got = Fraction(float(out[0, k])) + Fraction(float(out[1, k]))
        assert abs(got - exact[k]) <= 100 * Fraction(closed_form.EPS) ** 2 * scale, k


def test_residual_gradient_parallel_same_bits_and_helpers():
    rng = np.random.default_rng(2)
    n, d = 3 * K.CHUNK + 17, 5
    X, y, theta = rng.standard_normal((n, d)), rng.standard_normal(n), rng.standard_normal(d + 1)
    sums = []
    for kernel in (K.residual_gradient, K.residual_gradient_parallel):
        out = np.zeros((2, d + 2))
        kernel(X, y, None, None, theta, None, np.zeros((K.n_chunks(n), 2, d + 2)), out)
        sums.append(out)
    assert np.array_equal(sums[0], sums[1])
    assert K.two_sum(1e16, 1.0) == (1e16, 1.0) and K.two_prod(1.0 + 2**-30, 1.0 + 2**-30) == (1.0 + 2**-29, 2**-60)
    assert K.dot2(np.array([1e16, 1.0, -1e16]), np.ones(3)) == 1.0  # plain float64 gives 0
    total = np.zeros((2, 2))
    K.add_sums(total, np.array([[1e16, 1.0], [1.0, 0.0]]))
    K.add_sums(total, np.array([[-1e16, 2.0], [0.0, 0.0]]))
    assert total[0, 0] + total[1, 0] == 1.0 and total[0, 1] == 3.0
