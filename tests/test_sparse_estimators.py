"""scipy.sparse X in fastgd.Stream and in GDRegressor/GDClassifier: the results of the same data
dense (the CSR kernels round differently: equal up to rounding), fastgd.fit's conversions and
errors, a bad sparse chunk that changes nothing, X never densified, clone and Pipeline."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp

pytest.importorskip("sklearn")

from conftest import interrupt_after_next_run
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MaxAbsScaler

import fastgd
from fastgd import GDClassifier, GDRegressor

DTYPES = (np.float64, np.float32)
SCHEDULE = fastgd.schedules.inverse_time(5, 50)


def _data(n=300, d=10, density=0.3, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = (rng.standard_normal((n, d)) * (rng.random((n, d)) < density)).astype(dtype)
    X[:, 2] = 0.0  # an empty column
    y = 1.0 + X.astype(np.float64) @ rng.standard_normal(d) + 0.1 * rng.standard_normal(n)
    return X, y


def _labels(y, k):
    return np.digitize(y, np.quantile(y, np.linspace(0, 1, k + 1)[1:-1]))


def _close(actual, desired, dtype):
    """Equal up to rounding: the CSR and dense loops sum in other orders (float64 θ either way);
    float32 results are rounded to float32 (one ulp apart at most)."""
    desired = np.asarray(desired, dtype=np.float64)
    scale = max(1.0, float(np.max(np.abs(desired))))
    atol = (1e-12 if dtype == np.float64 else 1e-6) * scale
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64), desired, rtol=0, atol=atol)


def _chunks(X, y, size):
    return [(X[i : i + size], y[i : i + size]) for i in range(0, X.shape[0], size)]


def _never_densified(monkeypatch, n):
    """Make scipy.sparse's densifications (toarray, todense) of a matrix of n rows raise (a d x d
    one, e.g. the Gram matrix of the "auto" rate, is still made dense)."""
    for cls in (sp.csr_matrix, sp.csc_matrix, sp.coo_matrix, sp.csr_array):
        for name in ("toarray", "todense"):
            original = getattr(cls, name)

            def refuse(self, *args, _original=original, **kwargs):
                if self.shape[0] == n:
                    raise AssertionError("a sparse X was densified")
                return _original(self, *args, **kwargs)

            monkeypatch.setattr(cls, name, refuse)


# -- fastgd.Stream ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("method", ["sgd", "minibatch"])
def test_csr_chunks_in_order_equal_one_epoch_over_their_concatenation(method, dtype):
    """tests/test_stream.py's property on CSR: the same bits as fastgd.fit over the whole CSR X,
    and the dense chunks' θ up to rounding."""
    X, y = _data(600, dtype=dtype)
    S = sp.csr_matrix(X)
    common = dict(method=method, learning_rate=SCHEDULE, shuffle=False, batch_size=20)
    streamed = fastgd.fit_stream(_chunks(S, y, 200), **common)
    whole = fastgd.fit(S, y, max_epochs=1, tol=0, init="zeros", **common)
    np.testing.assert_array_equal(streamed.theta, whole.theta)
    assert streamed.n_updates == whole.n_updates and streamed.n_epochs == 3
    assert streamed.theta.dtype == dtype
    dense = fastgd.fit_stream(_chunks(X, y, 200), **common)
    _close(streamed.theta, dense.theta, dtype)
    np.testing.assert_allclose(streamed.history, dense.history, rtol=1e-12 if dtype == np.float64 else 1e-6)


@pytest.mark.parametrize(
    "model",
    [dict(penalty="l2", alpha=0.01), dict(penalty="l1", alpha=0.01), dict(optimizer="adam"), dict(average=True)],
    ids=["l2", "l1", "adam", "average"],
)
@pytest.mark.parametrize("method", ["sgd", "minibatch"])
def test_csr_chunks_equal_dense_chunks_and_mix_with_them(method, model):
    """Dense, CSR and mixed chunks (CSC converted) reach the θ of fit over the whole dense X;
    the L2 scale of the CSR steps is folded at the end of every chunk: rounding only."""
    X, y = _data(600)
    S = sp.csr_matrix(X)
    common = dict(method=method, learning_rate=SCHEDULE, shuffle=False, batch_size=20, **model)
    reference = fastgd.fit(X, y, max_epochs=1, tol=0, init="zeros", **common).theta
    mixed = [(X[:200], y[:200]), (S[200:400], y[200:400]), (sp.csc_matrix(X[400:]), y[400:])]
    with pytest.warns(fastgd.SparseConversionWarning, match="CSC"):
        for chunks in (_chunks(S, y, 100), mixed):  # whole batches of 20 in every chunk
            _close(fastgd.fit_stream(chunks, **common).theta, reference, np.float64)


def test_a_classifier_stream_on_sparse_chunks():
    X, y = _data(450)
    labels = np.array(["a", "b", "c"])[_labels(y, 3)]
    kwargs = dict(loss="softmax", penalty="l2", alpha=1e-3, learning_rate=0.05, shuffle=False, classes=["a", "b", "c"])
    sparse, dense = fastgd.Stream(**kwargs), fastgd.Stream(**kwargs)
    for (Xc, yc), Sc in zip(_chunks(X, labels, 150), _chunks(sp.csr_array(X), labels, 150), strict=True):
        sparse.partial_fit(Sc[0], yc)
        dense.partial_fit(Xc, yc)
    _close(sparse.result().theta, dense.result().theta, np.float64)
    _close(sparse.result().predict_proba(sp.csr_array(X)), dense.result().predict_proba(X), np.float64)


def _bad_sparse(kind, S, y, monkeypatch):
    """(X, y, the error and its message) of a bad sparse chunk; "interrupt" makes the next
    kernel call update θ and then raise KeyboardInterrupt (a Ctrl-C in the middle of a chunk)."""
    if kind == "nan":
        bad = S.copy()
        bad.data[5] = np.nan
        row = int(np.searchsorted(bad.indptr, 5, side="right")) - 1
        return bad, y, ValueError, rf"X contains nan at row {row}, column {bad.indices[5]}"
    if kind == "features":
        return S[:, :4], y, ValueError, "this chunk has 4 features but the stream started with 10"
    if kind == "empty":
        return sp.csr_matrix((0, S.shape[1])), y[:0], ValueError, "0 samples"
    if kind == "rows":
        return S, y[:-1], ValueError, f"X has {S.shape[0]} rows but y has {S.shape[0] - 1}"
    if kind == "diverges":
        return S, y * 1e160, fastgd.DivergenceError, None
    interrupt_after_next_run(monkeypatch)
    return S, y, KeyboardInterrupt, None


@pytest.mark.parametrize("kind", ["nan", "features", "empty", "rows", "diverges", "interrupt"])
@pytest.mark.parametrize("model", [dict(), dict(optimizer="adam", average=True)], ids=["plain", "adam-average"])
def test_a_bad_sparse_chunk_changes_nothing(monkeypatch, kind, model):
    """A bad CSR chunk gets the dense chunk's clear error, and the stream goes on exactly as if it
    had never been sent: θ, history, t and the shuffle state."""
    X, y = _data(240)
    S = sp.csr_matrix(X)
    kwargs = dict(learning_rate=0.01, random_state=1, **model)
    plain, fed = fastgd.Stream(**kwargs), fastgd.Stream(**kwargs)
    good = _chunks(S, y, 80)
    for Sc, yc in good:
        plain.partial_fit(Sc, yc)
    for k, (Sc, yc) in enumerate(good):
        if k == 1:
            bX, by, error, message = _bad_sparse(kind, S[:80], y[:80], monkeypatch)
            with pytest.raises(error, match=message):
                fed.partial_fit(bX, by)
            bX, by, error, message = _bad_sparse(kind, S[:80], y[:80], monkeypatch)
            dense = bX.toarray() if kind != "empty" else np.zeros((0, S.shape[1]))
            with pytest.raises(error, match=message):  # the same error for the same chunk dense
                fed.partial_fit(dense, by)
        fed.partial_fit(Sc, yc)
    a, b = plain.result(), fed.result()
    np.testing.assert_array_equal(a.theta, b.theta)
    np.testing.assert_array_equal(a.history, b.history)
    assert a.n_updates == b.n_updates
    np.testing.assert_array_equal(plain._shuffle_state, fed._shuffle_state)


def test_a_bad_first_sparse_chunk_starts_nothing():
    X, y = _data(100)
    bad = sp.csr_matrix(X)
    bad.data[0] = np.inf
    stream = fastgd.Stream(loss="log", random_state=0)
    fresh = dict(vars(stream))
    with pytest.raises(ValueError, match="X contains inf at row 0"):
        stream.partial_fit(bad, y > 1)
    assert vars(stream).keys() == fresh.keys()
    assert stream.theta is None and stream.n_features is None and stream.classes is None and stream.t == 0
    stream.partial_fit(sp.csr_matrix(X[:, :3]), y > 1)  # another width is a first chunk still
    assert stream.n_features == 3


# -- GDRegressor / GDClassifier -----------------------------------------------------------------------


def _problem(kind, dtype):
    """(estimator class, X, y, extra keywords of the first partial_fit) for a kind of estimator."""
    X, y = _data(dtype=dtype)
    if kind == "regressor":
        return GDRegressor, X, y, {}
    target = _labels(y, 2 if kind == "binary" else 3)
    return GDClassifier, X, target, dict(classes=np.unique(target))


def _fitted(make, how, X, y, first, **params):
    est = make(random_state=0, **params)
    if how == "fit":
        return est.fit(X, y)
    est.partial_fit(X, y, **first)
    return est.partial_fit(X[::-1], y[::-1])


KINDS = ["regressor", "binary", "softmax"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("how", ["fit", "partial_fit"])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["sgd", "minibatch"])
def test_sparse_equals_dense(kind, how, dtype, method):
    """Fitted on sparse X or on the same X dense: the same coefficients up to rounding, and on
    the fitted model predictions from sparse X equal those from dense X (and numpy's)."""
    make, X, y, first = _problem(kind, dtype)
    S = sp.csr_matrix(X)
    params = dict(method=method, max_epochs=4, tol=0, batch_size=16)
    dense = _fitted(make, how, X, y, first, **params)
    sparse = _fitted(make, how, S, y, first, **params)
    assert sparse.coef_.dtype == dense.coef_.dtype == dtype
    assert sparse.n_features_in_ == X.shape[1] and sparse.t_ == dense.t_
    _close(sparse.coef_, dense.coef_, dtype)
    _close(sparse.intercept_, dense.intercept_, dtype)
    reference = X.astype(np.float64) @ sparse.coef_.T.astype(np.float64) + sparse.intercept_
    if kind == "regressor":
        _close(sparse.predict(S), reference, dtype)
        _close(sparse.predict(S), sparse.predict(X), dtype)
        assert sparse.score(S, y) == pytest.approx(sparse.score(X, y), rel=1e-10 if dtype == np.float64 else 1e-5)
        return
    scores = sparse.decision_function(S)
    _close(scores, reference[:, 0] if kind == "binary" else reference, dtype)
    _close(scores, sparse.decision_function(X), dtype)
    _close(sparse.predict_proba(S), sparse.predict_proba(X), dtype)
    np.testing.assert_array_equal(sparse.predict(S), sparse.classes_[np.argmax(sparse.predict_proba(S), axis=1)])
    assert sparse.score(S, y) == sparse.score(X, y) == np.mean(sparse.predict(X) == y)


@pytest.mark.parametrize("fmt", ["csc", "coo", "lil", "csr_array", "csr_int64"])
def test_every_sparse_format_as_fastgd_fit_takes_it(fmt):
    """Other formats are converted as fastgd.fit converts them (a SparseConversionWarning), CSR
    arrays and int64 indices are read as they are; predictions take any format."""
    X, y = _data()
    if fmt == "csr_array":
        S = sp.csr_array(X)
    elif fmt == "csr_int64":
        S = sp.csr_matrix(X)
        S.indices, S.indptr = S.indices.astype(np.int64), S.indptr.astype(np.int64)
    else:
        S = sp.csr_matrix(X).asformat(fmt)
    params = dict(max_epochs=3, tol=0, random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = GDRegressor(**params).fit(S, y)
        est.predict(S)
    converted = [w for w in caught if issubclass(w.category, fastgd.SparseConversionWarning)]
    assert len(converted) == (fmt in ("csc", "coo", "lil"))  # fit converts once; predict uses S as is
    if converted:
        assert "X.tocsr()" in str(converted[0].message)
    res = fastgd.fit(sp.csr_matrix(X), y, method="sgd", penalty="l2", alpha=1e-4, init="zeros", **params)
    np.testing.assert_array_equal(est.coef_, res.coef)
    _close(est.predict(S), res.predict(X), np.float64)


@pytest.mark.parametrize("how", ["fit", "partial_fit"])
@pytest.mark.parametrize("kind", KINDS)
def test_sparse_x_is_never_densified(monkeypatch, kind, how):
    make, X, y, first = _problem(kind, np.float64)
    S = sp.csr_matrix(X)
    expected = _fitted(make, how, S, y, first, max_epochs=3, tol=0)
    _never_densified(monkeypatch, X.shape[0])
    with pytest.raises(AssertionError, match="densified"):  # the guard works
        S.toarray()
    est = _fitted(make, how, S, y, first, max_epochs=3, tol=0)
    np.testing.assert_array_equal(est.coef_, expected.coef_)
    predict = est.predict if kind == "regressor" else est.predict_proba
    np.testing.assert_array_equal(predict(S), predict(sp.csr_matrix(X)))
    np.testing.assert_array_equal(predict(sp.coo_matrix(X)), predict(S))
    assert np.isfinite(est.score(S, y))


def test_what_fastgd_fit_refuses_on_sparse_x_the_estimators_refuse():
    X, y = _data()
    S = sp.csr_matrix(X)
    for method in ("normal", "svd"):
        with pytest.raises(ValueError, match=rf"method='{method}' needs a dense X.*'batch', 'sgd' or 'minibatch'"):
            GDRegressor(method=method).fit(S, y)
        with pytest.raises(ValueError, match=rf"method='{method}' needs a dense X"):  # fastgd.fit's own words
            fastgd.fit(S, y, method=method)
    with pytest.raises(ValueError, match="cannot standardize"):
        GDRegressor(standardize=True).partial_fit(S, y)
    import numba

    if numba.config.NUMBA_NUM_THREADS >= 2:
        with pytest.raises(ValueError, match="local SGD, which has no sparse kernel"):
            GDClassifier(n_threads=2).fit(S, y > 1)
    auto = GDRegressor(method="auto", max_epochs=5, tol=0).fit(S, y)  # "auto" on sparse X: batch GD, as fit's
    assert auto.result_.method == "batch"


def test_standardize_on_sparse_x_is_fastgd_fit_scaling_only():
    """standardize=True on sparse X: fastgd.fit's scaling without centering, no error, no copy."""
    X, y = _data()
    S = sp.csr_matrix(X)
    est = GDRegressor(standardize=True, max_epochs=3, tol=0, random_state=0).fit(S, y)
    res = fastgd.fit(S, y, method="sgd", standardize=True, penalty="l2", alpha=1e-4, max_epochs=3, tol=0,
                     init="zeros", random_state=0)  # fmt: skip
    np.testing.assert_array_equal(est.coef_, res.coef)
    np.testing.assert_array_equal(est.predict(S), res.predict(S))


@pytest.mark.parametrize("kind", KINDS)
def test_bad_sparse_input_gets_the_dense_error_and_changes_nothing(kind):
    make, X, y, first = _problem(kind, np.float64)
    S = sp.csr_matrix(X)
    est = make(random_state=0).partial_fit(S, y, **first)
    before = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in vars(est).items()}
    t = est.t_
    nan = S.copy()
    nan.data[3] = np.nan
    dense_nan = nan.toarray()
    cases = [  # (sparse X, the same X dense, y, the message, the calls that raise)
        (nan, dense_nan, y, r"contains NaN", ("partial_fit", "fit", "predict")),
        (S[:, :4], X[:, :4], y, "X has 4 features, but", ("partial_fit", "predict")),  # fit starts afresh
        (
            sp.csr_matrix((0, X.shape[1])),
            np.zeros((0, X.shape[1])),
            y[:0],
            "0 sample",
            ("partial_fit", "fit", "predict"),
        ),
    ]
    for bad, dense, target, message, calls in cases:
        for how in calls:
            for data in (bad, dense):  # the same error for the sparse X and the dense one
                with pytest.raises(ValueError, match=message):
                    if how == "predict":
                        est.predict(data)
                    else:
                        getattr(est, how)(data, target)
        assert vars(est).keys() == before.keys()
        for k, v in before.items():
            if isinstance(v, np.ndarray):
                np.testing.assert_array_equal(vars(est)[k], v)
    assert est.t_ == t
    again = make(random_state=0).partial_fit(S, y, **first).partial_fit(S, y)
    np.testing.assert_array_equal(est.partial_fit(S, y).coef_, again.coef_)  # the stream went on unharmed


def test_clone_and_pipeline_on_sparse_x():
    X, y = _data()
    S = sp.csr_matrix(X)
    est = GDRegressor(max_epochs=5, tol=0, random_state=0).fit(S, y)
    twin = clone(est)
    assert not hasattr(twin, "coef_") and twin.get_params() == est.get_params()
    np.testing.assert_array_equal(twin.fit(S, y).coef_, est.coef_)
    pipe = make_pipeline(MaxAbsScaler(), GDClassifier(max_epochs=5, tol=0, random_state=0))
    labels = _labels(y, 3)
    pipe.fit(S, labels)
    assert sp.issparse(pipe[0].transform(S))  # the scaler keeps it sparse: the classifier gets CSR
    dense = make_pipeline(MaxAbsScaler(), GDClassifier(max_epochs=5, tol=0, random_state=0)).fit(X, labels)
    _close(pipe[-1].coef_, dense[-1].coef_, np.float64)
    _close(pipe.predict_proba(S), dense.predict_proba(X), np.float64)
    assert pipe.score(S, labels) == dense.score(X, labels) > 0.5
