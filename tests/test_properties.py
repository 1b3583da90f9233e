"""Property tests (hypothesis): random shapes and data against numpy's lstsq."""

import numpy as np
from conftest import lstsq
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import fastgd


@st.composite
def problems(draw):
    n = draw(st.integers(2, 60))
    d = draw(st.integers(1, 5))
    X = draw(arrays(np.float64, (n, d), elements=st.floats(-100, 100, allow_subnormal=False)))
    y = draw(arrays(np.float64, n, elements=st.floats(-100, 100, allow_subnormal=False)))
    return X, y


@settings(max_examples=60, deadline=None)
@given(problems(), st.booleans())
def test_svd_is_lstsq_on_any_data(problem, fit_intercept):
    """Any finite data, singular or not, over- or underdetermined: the minimum-norm optimum, or
    a clear error when it lies beyond float64 (X = [[2^-1022], [0]], y = [4, 4]: lstsq gives inf)."""
    X, y = problem
    with np.errstate(over="ignore", invalid="ignore"):
        theta, loss = lstsq(X, y, fit_intercept)
    try:
        res = fastgd.fit(X, y, method="svd", fit_intercept=fit_intercept)
    except ValueError as exc:
        assert "overflow float64" in str(exc) and not np.isfinite(loss)
        return
    scale = 1.0 + np.abs(y).max()
    assert res.loss <= loss + 1e-9 * scale**2
    X_b = np.column_stack((np.ones(len(X)), X)) if fit_intercept else X
    if np.linalg.matrix_rank(X_b) == X_b.shape[1] and np.linalg.cond(X_b) < 1e6:
        np.testing.assert_allclose(res.theta, theta, rtol=1e-7, atol=1e-9 * scale)


@settings(max_examples=40, deadline=None)
@given(problems(), st.sampled_from(["normal", "auto"]))
def test_normal_or_a_clear_error(problem, method):
    """The normal equation either reaches lstsq's loss or says XᵀX is singular (never a wrong
    answer).  It may do better: lstsq truncates a column tiny beside the intercept (its cutoff
    is taken on the raw columns), which the closed forms, equilibrated, fit exactly."""
    X, y = problem
    _, loss = lstsq(X, y)
    try:
        res = fastgd.fit(X, y, method=method)
    except fastgd.SingularMatrixError:
        assert method == "normal"
        return
    scale = 1.0 + np.abs(y).max()
    assert res.loss - loss <= 1e-6 * scale**2


@settings(max_examples=25, deadline=None)
@given(problems(), st.sampled_from(["batch", "sgd", "minibatch"]), st.integers(0, 2**32 - 1))
def test_iterative_methods_never_return_nan(problem, method, seed):
    """Whatever the data: a finite result, or a DivergenceError; the input left as it was."""
    X, y = problem
    before = X.copy(), y.copy()
    try:
        res = fastgd.fit(X, y, method=method, max_epochs=20, random_state=seed, standardize=True)
    except fastgd.DivergenceError:
        pass
    else:
        assert np.isfinite(res.theta).all() and np.isfinite(res.loss)
    assert np.array_equal(X, before[0]) and np.array_equal(y, before[1])
