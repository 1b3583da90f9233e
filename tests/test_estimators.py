"""fastgd.GDRegressor and fastgd.GDClassifier (deprecated: fastgd.SGDRegressor/SGDClassifier with a
fastgd method replace them): scikit-learn's estimator checks, Pipeline and GridSearchCV,
partial_fit, warm_start, and equality with the fastgd.fit they wrap."""

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.datasets import make_blobs, make_regression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import fastgd
from fastgd import GDClassifier, GDRegressor

_SGD_WEIGHTS = (
    "SGD visits a row of weight 2 once with a doubled step, its duplicate twice in a random order: the iterates "
    "are equal in expectation only (scikit-learn's SGD estimators fail this check too); with method='batch' "
    "the check passes"
)


def _expected_failures(estimator):
    if estimator.method in ("sgd", "minibatch"):
        return {
            "check_sample_weight_equivalence_on_dense_data": _SGD_WEIGHTS,
            "check_sample_weight_equivalence_on_sparse_data": _SGD_WEIGHTS,
        }
    return {}


@parametrize_with_checks(
    [
        GDRegressor(random_state=0),
        GDRegressor(method="batch", random_state=0),
        GDClassifier(random_state=0),
        GDClassifier(loss="hinge", random_state=0),
    ],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def reg():
    X, y = make_regression(120, 4, noise=1.0, random_state=0)
    return StandardScaler().fit_transform(X), y / 50


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(150, 3, centers=3, cluster_std=2.0, random_state=0)
    return StandardScaler().fit_transform(X), y


def _run(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)


def test_import_fastgd_does_not_import_sklearn():
    out = _run("import sys, fastgd; assert 'sklearn' not in sys.modules; fastgd.GDRegressor; print('ok')")
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr


def test_missing_sklearn_says_how_to_install():
    out = _run(
        "import sys; sys.modules['sklearn'] = None\n"
        "import fastgd\n"
        "try:\n    fastgd.GDClassifier\nexcept ImportError as e:\n    print(e)\n"
    )
    assert out.returncode == 0, out.stderr
    assert "pip install fastgd[sklearn]" in out.stdout
    with pytest.raises(AttributeError, match="no attribute 'GDNothing'"):
        fastgd.GDNothing  # noqa: B018


# -- equality with fastgd.fit ---------------------------------------------------------------------


def test_regressor_is_fastgd_fit(reg):
    X, y = reg
    est = GDRegressor(loss="huber", epsilon=0.5, penalty="elasticnet", alpha=1e-3, random_state=3).fit(X, y)
    res = fastgd.fit(
        X, y, method="sgd", loss="huber", epsilon=0.5, penalty="elasticnet", alpha=1e-3, l1_ratio=0.15, tol=1e-3,
        init="zeros", random_state=3,
    )  # fmt: skip
    np.testing.assert_array_equal(est.coef_, res.coef)
    np.testing.assert_array_equal(est.intercept_, [res.intercept])
    assert est.intercept_.shape == (1,) and est.coef_.shape == (4,)
    assert est.n_iter_ == res.n_epochs and est.t_ == res.n_updates
    np.testing.assert_array_equal(est.loss_curve_, res.history)
    np.testing.assert_array_equal(est.predict(X), res.predict(X))
    assert est.result_.loss_name == "huber"


def test_penalty_none_and_epsilon_not_passed(reg):
    """alpha, l1_ratio and epsilon reach fastgd.fit only where they apply (it refuses them elsewhere)."""
    X, y = reg
    est = GDRegressor(penalty=None, method="auto").fit(X, y)  # squared loss: no epsilon; no penalty: no alpha
    theta = np.linalg.lstsq(np.column_stack([np.ones(len(X)), X]), y, rcond=None)[0]
    np.testing.assert_allclose(np.r_[est.intercept_, est.coef_], theta, rtol=1e-9, atol=1e-12)
    assert not hasattr(est, "partial_fit")  # method="auto" has no streaming form


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "softmax"])
def test_classifier_is_fastgd_fit(blobs, binary):
    X, y = blobs
    labels = np.array(["ant", "bee", "cow"])[y]
    if binary:
        labels = np.where(y == 2, "cow", "other")
    est = GDClassifier(random_state=1).fit(X, labels)
    res = fastgd.fit(
        X, labels, method="sgd", loss="log" if binary else "softmax", penalty="l2", alpha=1e-4, tol=1e-3,
        init="zeros", random_state=1,
    )  # fmt: skip
    k = 1 if binary else 3
    assert est.coef_.shape == (k, 3) and est.intercept_.shape == (k,)
    np.testing.assert_array_equal(est.coef_, np.reshape(res.coef.T, (k, 3)))
    np.testing.assert_array_equal(est.intercept_, np.reshape(res.intercept, (k,)))
    np.testing.assert_array_equal(est.classes_, res.classes)
    np.testing.assert_array_equal(est.predict(X), res.predict(X))
    np.testing.assert_allclose(est.predict_proba(X), res.predict_proba(X), rtol=1e-12)
    assert est.score(X, labels) > 0.8


def test_losses_belong_to_the_estimator(reg, blobs):
    with pytest.raises(ValueError, match="GDRegressor takes loss in"):
        GDRegressor(loss="log").fit(*reg)
    with pytest.raises(ValueError, match="GDClassifier takes loss in"):
        GDClassifier(loss="squared").fit(*blobs)
    with pytest.raises(ValueError, match="Only binary classification is supported with loss='hinge'"):
        GDClassifier(loss="hinge").fit(*blobs)


@pytest.mark.parametrize(
    ("loss", "has_proba"), [("log", True), ("modified_huber", True), ("hinge", False), ("squared_hinge", False)]
)
def test_predict_proba_only_where_the_loss_allows(blobs, loss, has_proba):
    X, y = blobs
    est = GDClassifier(loss=loss, random_state=0)
    assert hasattr(est, "predict_proba") is has_proba
    assert hasattr(est, "predict_log_proba") is has_proba
    est.fit(X, y == 0)
    if has_proba:
        proba = est.predict_proba(X)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
        assert ((proba >= 0) & (proba <= 1)).all()
        np.testing.assert_array_equal(est.classes_[proba.argmax(axis=1)], est.predict(X))
    else:
        with pytest.raises(AttributeError, match="has no attribute 'predict_proba'") as info:
            est.predict_proba(X)
        assert "predict_proba needs loss in ('log', 'modified_huber')" in str(info.value.__cause__)
    assert not hasattr(GDRegressor(), "predict_proba")


# -- scikit-learn machinery -----------------------------------------------------------------------


def test_pipeline_and_grid_search(reg):
    X, y = reg
    X = X * np.array([1.0, 100.0, 0.01, 10.0]) + 5.0  # scales that the scaler has to fix
    pipe = make_pipeline(StandardScaler(), GDRegressor(random_state=0))
    assert pipe.fit(X, y).score(X, y) > 0.99
    search = GridSearchCV(pipe, {"gdregressor__alpha": [1e-4, 10.0]}, cv=3).fit(X, y)
    assert search.best_params_ == {"gdregressor__alpha": 1e-4}
    assert search.best_estimator_.score(X, y) > 0.99
    assert set(pipe.get_params()) >= {"gdregressor__alpha", "gdregressor__learning_rate", "gdregressor__method"}


def test_feature_names(reg):
    pd = pytest.importorskip("pandas")
    X, y = reg
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    est = GDRegressor(random_state=0).fit(frame, y)
    np.testing.assert_array_equal(est.feature_names_in_, ["a", "b", "c", "d"])
    with pytest.warns(UserWarning, match="feature names"):
        est.predict(X)


def test_float32_stays_float32(reg):
    X, y = reg
    est = GDRegressor(random_state=0).fit(X.astype(np.float32), y)
    assert est.coef_.dtype == np.float32 and est.predict(X.astype(np.float32)).dtype == np.float32


# -- partial_fit ----------------------------------------------------------------------------------


def _same(a, b):
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.intercept_, b.intercept_)


@pytest.mark.parametrize("method", ["sgd", "minibatch"])
def test_partial_fit_passes_equal_fit_epochs(reg, method):
    """k calls of partial_fit over the data, shuffle off, are fit with max_epochs=k: the
    schedule's t carries across the calls (learning_rate="auto", a decaying schedule)."""
    X, y = reg
    params = dict(method=method, batch_size=16, shuffle=False, random_state=0)
    streamed = GDRegressor(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ConvergenceWarning (nor any other) from partial_fit
        warnings.simplefilter("ignore", fastgd.exceptions.EstimatorDeprecationWarning)  # but the deprecation
        for _ in range(3):
            streamed.partial_fit(X, y)
    fitted = GDRegressor(max_epochs=3, tol=0, **params).fit(X, y)
    _same(streamed, fitted)
    assert streamed.t_ == fitted.t_ == 3 * (len(X) if method == "sgd" else -(-len(X) // 16))
    assert streamed.n_iter_ == 3
    np.testing.assert_allclose(streamed.loss_curve_, fitted.loss_curve_, rtol=1e-12)


@pytest.mark.parametrize("binary", [True, False], ids=["log", "softmax"])
def test_classifier_partial_fit_passes_equal_fit_epochs(blobs, binary):
    X, y = blobs
    y = y == 0 if binary else y
    streamed = GDClassifier(shuffle=False, random_state=0)
    streamed.partial_fit(X, y, classes=np.unique(y))
    streamed.partial_fit(X, y)
    fitted = GDClassifier(shuffle=False, max_epochs=2, tol=0, random_state=0).fit(X, y)
    _same(streamed, fitted)
    np.testing.assert_array_equal(streamed.classes_, fitted.classes_)


def test_partial_fit_chunks_continue_the_schedule(reg):
    """Two chunks equal one pass over their concatenation (t goes on from the first chunk)."""
    X, y = reg
    whole = GDRegressor(shuffle=False, learning_rate=fastgd.schedules.inverse_time(t0=1.0, t1=10.0))
    chunks = GDRegressor(**whole.get_params())
    whole.partial_fit(X, y)
    chunks.partial_fit(X[:50], y[:50]).partial_fit(X[50:], y[50:])
    np.testing.assert_allclose(chunks.coef_, whole.coef_, rtol=1e-13)
    assert chunks.t_ == whole.t_ == len(X) and chunks.n_iter_ == 2


def test_partial_fit_after_fit_and_pickle(reg):
    """After fit, partial_fit starts from the fitted coefficients; a pickled estimator carries
    its stream (t, optimizer state) on, without the last chunk's data."""
    X, y = reg
    params = dict(shuffle=False, learning_rate=0.01, tol=0)
    est = GDRegressor(max_epochs=2, **params).fit(X, y).partial_fit(X, y)
    _same(est, GDRegressor(max_epochs=3, **params).fit(X, y))
    restored = pickle.loads(pickle.dumps(est))
    chunk_held = [k for k, v in vars(est._stream).items() if isinstance(v, np.ndarray) and np.shares_memory(v, X)]
    assert chunk_held == []  # the stream keeps nothing of the data it was fed
    _same(restored.partial_fit(X, y), est.partial_fit(X, y))
    assert restored.t_ == est.t_ == 2 * len(X)


def test_partial_fit_errors(reg, blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        GDClassifier().partial_fit(X, y)
    with pytest.raises(ValueError, match="cannot standardize"):
        GDRegressor(standardize=True).partial_fit(*reg)
    est = GDClassifier().partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="differs from the classes seen before"):
        est.partial_fit(X, y, classes=[0, 1, 2, 3])
    with pytest.raises(ValueError, match="is zero for every sample"):
        GDRegressor().partial_fit(*reg, sample_weight=np.zeros(len(reg[1])))
    assert not hasattr(GDRegressor(method="batch"), "partial_fit")
    est = GDClassifier()
    with pytest.raises(ValueError, match="not among the stream's classes"):
        est.partial_fit(X, y, classes=[0, 1])  # a failed first pass starts no stream
    assert not hasattr(est, "coef_") and not hasattr(est, "classes_")
    est.partial_fit(X, y, classes=[0, 1, 2])
    assert est.coef_.shape == (3, 3) and est.t_ == len(X)


# -- warm_start -----------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [GDRegressor, GDClassifier])
def test_warm_start_continues(reg, blobs, make):
    """A constant rate and no shuffling: 2 epochs, then 3 more from there, are 5 epochs."""
    X, y = reg if make is GDRegressor else blobs
    params = dict(shuffle=False, learning_rate=0.01, tol=0, random_state=0)
    est = make(max_epochs=2, warm_start=True, **params).fit(X, y)
    est.set_params(max_epochs=3).fit(X, y)
    _same(est, make(max_epochs=5, **params).fit(X, y))
    cold = make(max_epochs=3, **params).fit(X, y)
    assert not np.array_equal(est.coef_, cold.coef_)  # warm_start=False starts from zeros again


def test_warm_start_needs_the_same_classes(blobs):
    X, y = blobs
    est = GDClassifier(warm_start=True, max_epochs=2, tol=0).fit(X, y)
    with pytest.raises(ValueError, match="warm_start: y's classes"):
        est.fit(X, y == 0)


def test_the_gd_estimators_are_deprecated(reg):
    X, y = reg
    for estimator in (GDRegressor(max_epochs=2), GDClassifier(max_epochs=2)):
        target = y if isinstance(estimator, GDRegressor) else y > 0
        with pytest.warns(fastgd.exceptions.EstimatorDeprecationWarning, match=r"use fastgd\.SGD\w+\(method="):
            estimator.fit(X, target)
        assert issubclass(fastgd.exceptions.EstimatorDeprecationWarning, FutureWarning)
