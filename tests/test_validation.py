"""Bad input gets a clear error that names the problem and the value, and changes nothing."""

import numpy as np
import pytest
from conftest import ITERATIVE, METHODS

import fastgd


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.random((20, 3)), rng.random(20)


def _fits(X, y, **kw):
    for method in METHODS:
        fastgd.fit(X, y, method=method, max_epochs=2, **kw)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    ("where", "value", "message"),
    [
        ("X", np.nan, r"X contains nan at row 4, column 1"),
        ("X", np.inf, r"X contains inf at row 4, column 1"),
        ("X", -np.inf, r"X contains -inf at row 4, column 1"),
        ("y", np.nan, r"y contains nan at index 4"),
        ("y", np.inf, r"y contains inf at index 4"),
    ],
)
def test_non_finite_values_are_located(data, method, where, value, message):
    X, y = data[0].copy(), data[1].copy()
    if where == "X":
        X[4, 1] = value
    else:
        y[4] = value
    before = X.copy(), y.copy()
    with pytest.raises(ValueError, match=message):
        fastgd.fit(X, y, method=method)
    np.testing.assert_array_equal(X, before[0])
    np.testing.assert_array_equal(y, before[1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_non_finite_found_in_any_block_of_a_large_float32_array(dtype):
    X = np.ones((10_000, 2), dtype=dtype)
    X[9_999, 0] = np.nan
    with pytest.raises(ValueError, match="row 9999, column 0"):
        fastgd.fit(X, np.ones(10_000), method="sgd")


@pytest.mark.parametrize(
    ("X", "y", "error", "message"),
    [
        (np.ones((0, 2)), np.ones(0), ValueError, r"X is empty: it has 0 samples"),
        (np.ones((5, 0)), np.ones(5), ValueError, r"X is empty: it has 0 features"),
        (np.ones((5, 2, 2)), np.ones(5), ValueError, r"X must be 2-D .* got shape \(5, 2, 2\)"),
        (np.ones((5, 2)), np.ones(4), ValueError, r"X has 5 rows but y has 4"),
        (np.ones((5, 2)), np.ones((5, 2)), ValueError, r"y must have shape \(n_samples,\) or \(n_samples, 1\)"),
        (np.ones((5, 2)), np.ones((1, 5)), ValueError, r"got shape \(1, 5\)"),
        (np.array([["a", "b"]] * 5), np.ones(5), TypeError, r"X must hold real numbers, got dtype <U1 \(string"),
        (np.ones((5, 2)), np.array(["x"] * 5), TypeError, r"y must hold real numbers"),
        (np.ones((5, 2), dtype=complex), np.ones(5), TypeError, r"complex"),
        (np.array([[1, None]] * 5), np.ones(5), TypeError, r"dtype object"),
        ([[1.0, 2.0], [3.0]], [1.0, 2.0], TypeError, r"X could not be read as a numeric array"),
        (np.float64(3.0), np.ones(1), ValueError, r"X must be 2-D"),
    ],
)
def test_bad_arrays(X, y, error, message):
    for method in METHODS:
        with pytest.raises(error, match=message):
            fastgd.fit(X, y, method=method)


def test_sparse_input_is_refused_clearly_where_dense_is_needed(data):
    scipy_sparse = pytest.importorskip("scipy.sparse")
    X, y = data
    with pytest.raises(TypeError, match="sparse"):
        fastgd.fit(X, y, init=scipy_sparse.csr_matrix(np.zeros((1, 2))))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (dict(method="newton"), ValueError, r"unknown method 'newton'; choose one of 'auto', 'normal'"),
        (dict(method=None), ValueError, r"unknown method None"),
        (dict(learning_rate=0), ValueError, r"learning_rate must be > 0 and finite, got 0"),
        (dict(learning_rate=-0.1), ValueError, r"learning_rate must be > 0 and finite, got -0.1"),
        (dict(learning_rate=float("nan")), ValueError, r"learning_rate must be > 0 and finite, got nan"),
        (dict(learning_rate="fast"), ValueError, r"unknown learning_rate 'fast'"),
        (dict(learning_rate=[0.1]), TypeError, r"learning_rate must be a positive number"),
        (dict(learning_rate=lambda t: 0.1), TypeError, r"must be a numba @njit function"),
        (dict(batch_size=0), ValueError, r"batch_size must be >= 1, got 0"),
        (dict(batch_size=2.5), TypeError, r"batch_size must be an integer, got 2.5"),
        (dict(max_epochs=0), ValueError, r"max_epochs must be >= 1, got 0"),
        (dict(max_epochs=True), TypeError, r"max_epochs must be an integer, got True"),
        (dict(tol=-1e-3), ValueError, r"tol must be a finite number >= 0.0, got -0.001"),
        (dict(tol="small"), TypeError, r"tol must be a real number, got 'small'"),
        (dict(n_iter_no_change=0), ValueError, r"n_iter_no_change must be >= 1, got 0"),
        (dict(init="ones"), ValueError, r"unknown init 'ones'"),
        (dict(init=np.ones(7)), ValueError, r"init has 7 values; expected 4 \(\[intercept, \*coef\]\) or 3"),
        (dict(init=[np.nan, 1, 1, 1]), ValueError, r"init contains NaN or inf"),
        (dict(init=[1.0, 1, 1, 1], fit_intercept=False), ValueError, r"init has intercept 1.0 but fit_intercept"),
        (dict(fit_intercept="yes"), TypeError, r"fit_intercept must be True or False, got 'yes'"),
        (dict(standardize=1), TypeError, r"standardize must be True or False, got 1"),
        (dict(shuffle=None), ValueError, r"unknown shuffle None; choose one of True, False, 'rows', .*'corgipile'$"),
        (dict(shuffle="cols"), ValueError, r"unknown shuffle 'cols'"),
        (dict(record_path="all"), ValueError, r"unknown record_path 'all'"),
        (dict(random_state="seed"), TypeError, r"random_state"),
        (dict(random_state=-1), ValueError, r"random_state"),
        (dict(random_state=np.random.RandomState(0)), TypeError, r"not RandomState"),
        (dict(n_threads=0), ValueError, r"n_threads must be >= 1, got 0"),
        (dict(precompute="yes"), ValueError, r"unknown precompute 'yes'; choose one of 'auto', True, False"),
        (dict(n_threads=10_000), ValueError, r"n_threads=10000 exceeds"),
    ],
)
def test_bad_parameters(data, kwargs, error, message):
    X, y = data
    with pytest.raises(error, match=message):
        fastgd.fit(X, y, **{"method": "sgd", **kwargs})


def test_parameters_are_checked_before_any_work(data):
    """A bad parameter is reported even when the data is bad too (no numba traceback)."""
    with pytest.raises(ValueError, match="max_epochs"):
        fastgd.fit(np.full((3, 2), np.nan), np.ones(3), method="batch", max_epochs=-1)


@pytest.mark.parametrize("method", ITERATIVE)
def test_batch_size_larger_than_the_data_is_clipped_with_a_warning(data, method):
    X, y = data
    if method == "minibatch":
        with pytest.warns(UserWarning, match="batch_size=50 exceeds the 20 samples"):
            res = fastgd.fit(X, y, method=method, batch_size=50, max_epochs=3, tol=0, random_state=0)
        assert res.n_updates == 3
    else:  # batch_size only concerns mini-batch
        res = fastgd.fit(X, y, method=method, batch_size=50, max_epochs=3, tol=0, random_state=0)
        assert res.n_updates == (3 if method == "batch" else 60)


def test_readonly_and_strided_inputs_are_accepted(data):
    X, y = data
    ref = fastgd.fit(X, y, method="sgd", random_state=0, max_epochs=3, tol=0)
    Xr, yr = X.copy(), y.copy()
    Xr.flags.writeable = False
    yr.flags.writeable = False
    assert np.array_equal(fastgd.fit(Xr, yr, method="sgd", random_state=0, max_epochs=3, tol=0).theta, ref.theta)
    wide = np.zeros((20, 6))
    wide[:, ::2] = X
    strided = fastgd.fit(wide[:, ::2], y, method="sgd", random_state=0, max_epochs=3, tol=0)
    assert np.array_equal(strided.theta, ref.theta)


def test_overflowing_values_get_clear_errors(data):
    X, y = data
    with pytest.raises(ValueError, match="y holds values too large to square"):
        fastgd.fit(X, y * 1e160, method="sgd")
    for kw in (dict(method="batch"), dict(method="batch", precompute=False), dict(method="sgd")):
        with pytest.raises(ValueError, match="XᵀX overflows float64; rescale X"):
            fastgd.fit(X * 1e150, y, **kw)
    with pytest.raises(ValueError, match="y contains inf once cast to X's dtype float32"):
        fastgd.fit(X.astype(np.float32), y * 1e39)


def test_a_custom_schedule_of_the_wrong_form_is_a_clear_error(data):
    numba = pytest.importorskip("numba")

    @numba.njit
    def two_args(t, u):
        return 0.1

    with pytest.raises(TypeError, match="must take one integer t and return a number"):
        fastgd.fit(*data, method="sgd", learning_rate=two_args)


def test_the_scale_warning_points_at_the_callers_line(data):
    X, y = data
    with pytest.warns(fastgd.FeatureScaleWarning) as record:
        fastgd.fit(X * np.array([1.0, 1e3, 1.0]), y, method="batch", max_epochs=2, tol=0)
    assert record[0].filename == __file__
