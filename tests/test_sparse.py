"""scipy.sparse X: the CSR kernels give the dense path's results on the same data, bad sparse
input gets clear errors, and the caller's matrix is never touched."""

import warnings

import numpy as np
import pytest

import fastgd
from fastgd import kernels as K

sp = pytest.importorskip("scipy.sparse")


def _data(n=240, d=12, density=0.25, seed=0, loss="squared"):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * (rng.random((n, d)) < density)
    X[:, 3] = 0.0  # an empty column
    score = X @ rng.standard_normal(d)
    if loss == "log":
        y = (score + 0.3 * rng.standard_normal(n) > 0).astype(np.float64)
    elif loss == "softmax":
        y = np.digitize(score, np.quantile(score, [1 / 3, 2 / 3]))
    else:
        y = 1.0 + score + 0.1 * rng.standard_normal(n)
    return X, y


CASES = [  # (loss, penalty, extra arguments)
    ("squared", None, {}),
    ("squared", "l2", {"alpha": 0.05}),
    ("squared", "l1", {"alpha": 0.01}),
    ("log", "l2", {"alpha": 0.01}),
    ("softmax", None, {}),
    ("softmax", "l2", {"alpha": 0.01}),
]


def _same(a, b, dtype):
    rtol = 1e-10 if dtype == np.float64 else 1e-5  # float32: the result is rounded to float32
    scale = max(1.0, float(np.max(np.abs(a.theta))))
    np.testing.assert_allclose(b.theta, a.theta, rtol=0, atol=rtol * scale)
    np.testing.assert_allclose(b.history, a.history, rtol=rtol)


@pytest.mark.parametrize("method", ["batch", "sgd", "minibatch"])
@pytest.mark.parametrize(("loss", "penalty", "extra"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_sparse_equals_dense(method, loss, penalty, extra):
    X, y = _data(loss=loss)
    kwargs = dict(method=method, loss=loss, penalty=penalty, **extra, learning_rate=0.02, max_epochs=4, tol=0,
                  random_state=3, batch_size=16)  # fmt: skip
    dense = fastgd.fit(X, y, **kwargs)
    sparse = fastgd.fit(sp.csr_matrix(X), y, **kwargs)
    _same(dense, sparse, np.float64)


@pytest.mark.parametrize("method", ["sgd", "minibatch", "batch"])
def test_sparse_equals_dense_float32_int64_indices(method):
    X, y = _data()
    X = X.astype(np.float32)
    S = sp.csr_matrix(X)
    S.indices, S.indptr = S.indices.astype(np.int64), S.indptr.astype(np.int64)
    kwargs = dict(method=method, penalty="l2", alpha=0.05, learning_rate=0.02, max_epochs=3, tol=0, random_state=0)
    dense, sparse = fastgd.fit(X, y, **kwargs), fastgd.fit(S, y, **kwargs)
    assert sparse.coef.dtype == np.float32
    _same(dense, sparse, np.float32)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(method="sgd", optimizer="adam", average=True),
        dict(method="minibatch", sample_weight="w", penalty="elasticnet", alpha=0.02),
        dict(method="sgd", standardize=True, fit_intercept=False, penalty="l2", alpha=0.1),
        dict(method="sgd", penalty="l2", alpha=3.0, learning_rate=0.3, max_epochs=2),  # the scale folds (< 1e-9)
        dict(method="batch", learning_rate="auto", early_stopping=True, tol=1e-3),
        dict(method="minibatch", learning_rate="auto", record_path="update"),
    ],
    ids=["adam-average", "weights-elasticnet", "standardize", "rescale", "auto-early", "auto-path"],
)
def test_sparse_equals_dense_options(kwargs):
    X, y = _data()
    kwargs = {"learning_rate": 0.02, "max_epochs": 3, "tol": 0, "random_state": 5, **kwargs}
    if kwargs.get("sample_weight") == "w":
        kwargs["sample_weight"] = np.random.default_rng(1).random(X.shape[0]) * (np.arange(X.shape[0]) % 7 != 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
        dense = fastgd.fit(X, y, **kwargs)
        sparse = fastgd.fit(sp.csr_matrix(X), y, **kwargs)
    _same(dense, sparse, np.float64)
    if kwargs.get("record_path"):
        np.testing.assert_allclose(sparse.path, dense.path, rtol=0, atol=1e-10 * np.abs(dense.path).max())


def test_standardize_with_intercept_only_scales():
    """Sparse X is scaled, never centered: a different path to the same least-squares optimum."""
    X, y = _data(n=400, d=6, density=0.5)
    S = sp.csr_matrix(X)
    res = fastgd.fit(S, y, method="batch", standardize=True, max_epochs=3000, tol=1e-10)
    exact = fastgd.fit(X, y, method="svd")  # column 3 is empty: the minimum-norm solution
    np.testing.assert_allclose(res.theta, exact.theta, atol=1e-6)
    np.testing.assert_allclose(res.predict(S), exact.predict(X), atol=1e-5)


def test_kernel_parallel_twin_same_bits():
    X, y = _data(n=5000, d=7, density=0.3)
    S = sp.csr_matrix(X)
    theta = np.random.default_rng(0).standard_normal((1, 8))  # as the library passes it: (K, d + 1)
    model = (True, int(K.Loss.SQUARED), 0.0, 0.0, 0.0)
    out = []
    for kernel in (K.csr_loss_grad, K.csr_loss_grad_parallel):
        grad, work = np.zeros((1, 8)), np.zeros(K.work_shape(5000, 8))
        out.append((kernel(S.data, S.indices, S.indptr, y, K.NO_WEIGHTS, theta, None, model, grad, work), grad))
    assert out[0][0] == out[1][0] and np.array_equal(out[0][1], out[1][1])
    grad, work = np.zeros((1, 8)), np.zeros(K.work_shape(5000, 8))
    loss = K.loss_grad(X, y, K.NO_WEIGHTS, theta, None, None, model, grad, work)
    np.testing.assert_allclose(out[0][1], grad, rtol=1e-12)
    assert out[0][0] == pytest.approx(loss, rel=1e-13)


def test_column_stats_and_row_norm():
    X, _ = _data()
    S = sp.csr_matrix(X)
    mean, m2 = np.zeros(X.shape[1]), np.zeros(X.shape[1])
    assert K.csr_column_stats(S.data, S.indices, S.indptr, mean, m2) == -1
    np.testing.assert_allclose(mean, X.mean(axis=0), atol=1e-15)
    np.testing.assert_allclose(m2, X.var(axis=0) * X.shape[0], rtol=1e-12)
    assert K.csr_max_row_norm2(S.data, S.indices, S.indptr, None) == pytest.approx((X**2).sum(axis=1).max())


@pytest.mark.parametrize("fmt", ["csc", "coo", "lil"])
def test_other_formats_converted_with_a_warning(fmt):
    X, y = _data()
    kwargs = dict(method="sgd", learning_rate=0.02, max_epochs=2, tol=0, random_state=0)
    with pytest.warns(fastgd.SparseConversionWarning, match=f"{fmt.upper()}.*X.tocsr"):
        res = fastgd.fit(sp.csr_matrix(X).asformat(fmt), y, **kwargs)
    _same(fastgd.fit(X, y, **kwargs), res, np.float64)


def test_sparse_array_and_predict():
    X, y = _data()
    S = sp.csr_array(X)
    res = fastgd.fit(S, y, method="sgd", max_epochs=3, random_state=0)
    np.testing.assert_allclose(res.predict(S), res.predict(X), rtol=1e-12)
    np.testing.assert_allclose(res.predict(sp.csc_matrix(X)), res.predict(X), rtol=1e-12)  # no warning: used as is
    Xs, ys = _data(loss="softmax")
    clf = fastgd.fit(sp.csr_matrix(Xs), ys, loss="softmax", method="sgd", max_epochs=3, random_state=0)
    assert clf.predict_proba(sp.csr_matrix(Xs)).shape == (Xs.shape[0], 3)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_entry_named_by_row_and_column(bad):
    X, y = _data()
    rows, cols = np.nonzero(X)
    X[rows[17], cols[17]] = bad
    with pytest.raises(ValueError, match=rf"X contains {bad} at row {rows[17]}, column {cols[17]}"):
        fastgd.fit(sp.csr_matrix(X), y, method="sgd")


def test_bad_sparse_inputs():
    X, y = _data()
    S = sp.csr_matrix(X)
    for method in ("normal", "svd"):
        with pytest.raises(ValueError, match=r"needs a dense X.*'batch', 'sgd' or 'minibatch'"):
            fastgd.fit(S, y, method=method)
    with pytest.raises(ValueError, match="0 samples"):
        fastgd.fit(sp.csr_matrix((0, 3)), np.zeros(0))
    with pytest.raises(ValueError, match="0 features"):
        fastgd.fit(sp.csr_matrix((4, 0)), np.zeros(4))
    with pytest.raises(ValueError, match="X has 240 rows but y has 3"):
        fastgd.fit(S, y[:3], method="sgd")
    with pytest.raises(TypeError, match="complex"):
        fastgd.fit(sp.csr_matrix(X.astype(complex)), y, method="sgd")
    with pytest.raises(ValueError, match="X has 5 features but the model was fitted on 12"):
        fastgd.fit(S, y, method="sgd", max_epochs=1).predict(sp.csr_matrix((2, 5)))


def test_auto_is_batch_gd_on_sparse():
    X, y = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
        assert fastgd.fit(sp.csr_matrix(X), y, max_epochs=5).method == "batch"


def test_caller_matrix_untouched_unsorted_and_duplicates():
    X, y = _data()
    S = sp.csr_matrix(X)
    # reverse each row's entries (unsorted indices) and split the first entry of row 0 in two halves
    data, indices, indptr = [], [], [0]
    for i in range(S.shape[0]):
        lo, hi = S.indptr[i], S.indptr[i + 1]
        d, j = list(S.data[lo:hi][::-1]), list(S.indices[lo:hi][::-1])
        if i == 0:
            d, j = [d[0] / 2, d[0] / 2, *d[1:]], [j[0], j[0], *j[1:]]
        data += d
        indices += j
        indptr.append(len(data))
    U = sp.csr_matrix((np.array(data), np.array(indices, np.int32), np.array(indptr, np.int32)), shape=S.shape)
    before = (U.data.copy(), U.indices.copy(), U.indptr.copy())
    kwargs = dict(method="sgd", standardize=True, fit_intercept=False, learning_rate=0.02, max_epochs=2, tol=0,
                  random_state=0)  # fmt: skip
    res = fastgd.fit(U, y, **kwargs)
    for a, b in zip(before, (U.data, U.indices, U.indptr), strict=True):
        assert np.array_equal(a, b)
    _same(fastgd.fit(X, y, **kwargs), res, np.float64)
    assert not U.has_sorted_indices  # scipy's flags untouched too


def test_local_sgd_refused_on_sparse():
    X, y = _data()
    import numba

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs 2 threads")
    with pytest.raises(ValueError, match="local SGD, which has no sparse kernel"):
        fastgd.fit(sp.csr_matrix(X), y, method="sgd", n_threads=2)
