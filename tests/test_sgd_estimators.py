"""fastgd.SGDRegressor and fastgd.SGDClassifier against scikit-learn's own estimators (the
reference: the same update rule and visiting order), its estimator checks, and fastgd's rules
(bad input changes nothing, overflow says so, threads and kernel cuts change no bit).

scikit-learn's own test_sgd.py runs on them in tests/test_sklearn_sgd_suite.py."""

import itertools
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

import scipy.sparse as sp
from sklearn import linear_model
from sklearn.base import is_classifier
from sklearn.datasets import make_classification, make_regression
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import fastgd
from fastgd import SGDClassifier, SGDRegressor
from fastgd import plain as plain_driver
from fastgd.exceptions import DivergenceError

_WEIGHTS = "sample_weight is not equivalent to removing/repeating samples (scikit-learn's SGD xfails it too)"


@parametrize_with_checks(
    [SGDRegressor(random_state=0), SGDClassifier(random_state=0), SGDClassifier(loss="log_loss", average=True)],
    expected_failed_checks=lambda est: {
        "check_sample_weight_equivalence_on_dense_data": _WEIGHTS,
        "check_sample_weight_equivalence_on_sparse_data": _WEIGHTS,
    },
)
def test_sklearn_checks(estimator, check):
    check(estimator)


def _data(kind):
    """Standardized data scaled by 0.1: every schedule, "optimal"'s first rates of alpha**-0.25
    included, stays stable (on unit-scale rows the squared losses' first steps overflow to 1e12
    in both libraries, and rounding differences then grow chaotically)."""
    if kind == "reg":
        X, y = make_regression(n_samples=200, n_features=6, noise=1.0, random_state=0)
        return 0.1 * StandardScaler().fit_transform(X), (y - y.mean()) / y.std()
    X, y = make_classification(n_samples=200, n_features=6, n_classes=3, n_informative=4, random_state=0)
    return 0.1 * StandardScaler().fit_transform(X), (y if kind == "multiclass" else (y > 0).astype(int))


_LOSSES = {
    "reg": list(SGDRegressor.loss_functions),
    "binary": list(SGDClassifier.loss_functions),
    "multiclass": list(SGDClassifier.loss_functions),
}
_CASES = [
    (kind, loss, lr, penalty)
    for kind in _LOSSES
    for loss, lr, penalty in itertools.product(
        _LOSSES[kind], ["optimal", "constant", "invscaling", "adaptive"], ["l2", "l1", "elasticnet", None]
    )
    # the perceptron with L1 meets exact ties: L1 makes coefficients exactly 0, the score is
    # then exactly 0 at the perceptron's kink, and one ulp decides the step (measured: 8 of
    # the 2816 cases of this grid, all perceptron + L1 on 3-class CSR, end elsewhere)
    if not (loss == "perceptron" and penalty == "l1")
]


@pytest.mark.parametrize(("kind", "loss", "learning_rate", "penalty"), _CASES)
def test_same_coefficients_as_scikit_learn(kind, loss, learning_rate, penalty):
    """Every loss x schedule x penalty, dense and CSR, shuffled or not, averaged or not: the
    coefficients of scikit-learn's estimator to 1e-9 (relative to the largest), the same
    epochs and update count."""
    X, y = _data(kind)
    ours, theirs = (
        (SGDRegressor, linear_model.SGDRegressor) if kind == "reg" else (SGDClassifier, linear_model.SGDClassifier)
    )
    for sparse, shuffle, average in itertools.product([False, True], repeat=3):
        params = dict(loss=loss, learning_rate=learning_rate, penalty=penalty, alpha=0.01, max_iter=5, tol=None,
                      shuffle=shuffle, average=average, random_state=3)  # fmt: skip
        XX = sp.csr_matrix(X) if sparse else X
        a, b = theirs(**params).fit(XX, y), ours(**params).fit(XX, y)
        scale = max(np.abs(a.coef_).max(), np.abs(a.intercept_).max())
        np.testing.assert_allclose(b.coef_, a.coef_, rtol=0, atol=1e-9 * scale, err_msg=f"{params} sparse={sparse}")
        np.testing.assert_allclose(b.intercept_, a.intercept_, rtol=0, atol=1e-9 * scale)
        assert (b.n_iter_, b.t_) == (a.n_iter_, a.t_)


@pytest.mark.parametrize("estimator", ["reg", "binary", "multiclass"])
def test_the_default_fit_is_scikit_learns(estimator):
    """Default parameters, tol=1e-3 stopping included: the same epochs and coefficients."""
    X, y = _data(estimator)
    ours, theirs = (
        (SGDRegressor, linear_model.SGDRegressor) if estimator == "reg" else (SGDClassifier, linear_model.SGDClassifier)
    )
    a, b = theirs(random_state=0).fit(X, y), ours(random_state=0).fit(X, y)
    assert b.n_iter_ == a.n_iter_
    np.testing.assert_allclose(b.coef_, a.coef_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(b.intercept_, a.intercept_, rtol=1e-9, atol=1e-12)


def _recorded_orders(monkeypatch):
    """The orders ``runner.Shuffler`` hands the plain driver, one copy an epoch."""
    orders, next_order = [], plain_driver.Shuffler.next
    monkeypatch.setattr(
        plain_driver.Shuffler, "next", lambda self: orders.append(next_order(self).copy()) or orders[-1]
    )
    return orders


@pytest.mark.parametrize("shuffle", ["blocks", "corgipile"])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("kind", ["reg", "binary"])
def test_a_fastgd_visiting_order_keeps_scikit_learns_rule(kind, sparse, shuffle, monkeypatch):
    """shuffle="blocks" / "corgipile" with scikit-learn's rule: each epoch visits every row once,
    in the Shuffler's order, with scikit-learn's update: partial_fit's coefficients (shuffle=False)
    on the rows taken in those orders, epoch after epoch."""
    X, y = _data(kind)
    X = sp.csr_matrix(X) if sparse else X
    estimator = SGDRegressor if kind == "reg" else SGDClassifier
    params = dict(max_iter=3, tol=None, random_state=0, average=2)  # (with L1 and averaging, fit and
    # partial_fit differ by 1e-5 in scikit-learn too: its cumulated L1 penalty restarts at each call)
    orders = _recorded_orders(monkeypatch)
    ours = estimator(shuffle=shuffle, **params).fit(X, y)
    assert len(orders) == 3 and ours.t_ == 3 * len(y) + 1
    for order in orders:
        np.testing.assert_array_equal(np.sort(order), np.arange(len(y)))
    assert not np.array_equal(orders[0], orders[1]) and not np.array_equal(orders[0], np.arange(len(y)))
    reference = estimator(shuffle=False, **params)
    for order in orders:
        reference.partial_fit(X[order], y[order], **({} if kind == "reg" else {"classes": np.unique(y)}))
    # fit against partial_fit: rounding apart (scikit-learn's own differ by ~1e-16, wscale folded otherwise)
    np.testing.assert_allclose(ours.coef_, reference.coef_, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ours.intercept_, reference.intercept_, rtol=1e-12, atol=1e-14)
    again = estimator(shuffle=shuffle, **params).fit(X, y)  # random_state fixes the orders
    np.testing.assert_array_equal(again.coef_, ours.coef_)


@pytest.mark.parametrize("shuffle", ["blocks", "corgipile"])
def test_a_fastgd_visiting_order_fits_as_well_as_scikit_learns_shuffle(shuffle):
    """Rows sorted by y (where runs of consecutive rows are least like a random sample; unshuffled,
    the MSE is ~50): the training MSE after 5 epochs, mean of 4 seeds, within 1 % of scikit-learn's
    shuffled fits (measured: 1.0011 and 1.0012 against 1.0020)."""
    X, y = make_regression(n_samples=20_000, n_features=8, noise=1.0, random_state=1)
    X = StandardScaler().fit_transform(X)
    by_y = np.argsort(y)
    X, y = X[by_y], y[by_y]

    def mse(est):
        return float(np.mean((est.predict(X) - y) ** 2))

    params = dict(max_iter=5, tol=None, learning_rate="constant", eta0=0.001)
    theirs = np.mean([mse(linear_model.SGDRegressor(random_state=s, **params).fit(X, y)) for s in range(4)])
    ours = np.mean([mse(SGDRegressor(shuffle=shuffle, random_state=s, **params).fit(X, y)) for s in range(4)])
    assert abs(ours / theirs - 1) < 0.01, (ours, theirs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_coefficients_have_xs_dtype_and_float64_arithmetic(dtype):
    X, y = _data("binary")
    X = np.round(X * 64) / 64  # exact in float32: the float32 fit is the float64 one, rounded
    est = SGDClassifier(random_state=0, max_iter=5, tol=None).fit(X.astype(dtype), y)
    assert est.coef_.dtype == dtype and est.intercept_.dtype == dtype
    ref = SGDClassifier(random_state=0, max_iter=5, tol=None).fit(X, y)
    np.testing.assert_array_equal(est.coef_, ref.coef_.astype(dtype))


def test_threads_and_kernel_cuts_change_no_bit(monkeypatch):
    X, y = _data("multiclass")
    one = SGDClassifier(random_state=1, n_jobs=1).fit(X, y)
    two = SGDClassifier(random_state=1, n_jobs=2).fit(X, y)
    np.testing.assert_array_equal(one.coef_, two.coef_)
    # every epoch cut into calls of 7 rows, and its shuffle into calls of 7 swaps
    monkeypatch.setattr(plain_driver, "rows_per_call", lambda work: 7)
    for sparse in (False, True):
        XX = sp.csr_matrix(X) if sparse else X
        cut = SGDClassifier(random_state=1, penalty="elasticnet", average=3).fit(XX, y)
        monkeypatch.undo()
        whole = SGDClassifier(random_state=1, penalty="elasticnet", average=3).fit(XX, y)
        monkeypatch.setattr(plain_driver, "rows_per_call", lambda work: 7)
        np.testing.assert_array_equal(cut.coef_, whole.coef_)
        np.testing.assert_array_equal(cut.intercept_, whole.intercept_)


def _state(est):
    return {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in vars(est).items()}


def _assert_same_state(before, est):
    after = vars(est)
    assert before.keys() == after.keys()
    for key, value in before.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(after[key], value)
        else:
            assert after[key] == value or (value is after[key])


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda est, X, y: est.fit(X, y, coef_init=np.zeros(5)), "coef_init does not match"),
        (lambda est, X, y: est.fit(np.where(X > 0.1, np.nan, X), y), "NaN"),
        (lambda est, X, y: est.partial_fit(X[:, :3], y), "features"),
        (lambda est, X, y: est.fit(X, y, sample_weight=np.ones(3)), "sample_weight"),
        (lambda est, X, y: est.set_params(alpha=-1.0).fit(X, y), "alpha"),
        (lambda est, X, y: est.partial_fit(X, y, classes=[0, 2]), "not the same as on last call"),
        (lambda est, X, y: est.set_params(penalty="elasticnet", l1_ratio=None).fit(X, y), "l1_ratio must be set"),
    ],
)
def test_a_call_that_raises_changes_nothing(call, error):
    X, y = _data("binary")
    est = SGDClassifier(random_state=0, average=True).fit(X, y)
    X_before = X.copy()
    before = _state(est)
    params = est.get_params()
    with pytest.raises(ValueError, match=error):
        call(est, X, y)
    est.set_params(**params)
    _assert_same_state(before, est)
    np.testing.assert_array_equal(X, X_before)


def test_fit_never_writes_to_the_callers_arrays():
    X, y = _data("multiclass")
    coef_init, intercept_init = np.ones((3, 6)), np.ones(3)
    copies = [a.copy() for a in (X, y, coef_init, intercept_init)]
    SGDClassifier(random_state=0, average=True).fit(X, y, coef_init=coef_init, intercept_init=intercept_init)
    for a, copy in zip((X, y, coef_init, intercept_init), copies, strict=True):
        np.testing.assert_array_equal(a, copy)


def test_overflow_is_a_divergence_and_scikit_learns_value_error():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 4))
    X[:, 0] *= 1e300
    y = (X[:, 1] > 0).astype(int)
    with pytest.raises(ValueError, match=r"Floating-point under-/overflow occurred at epoch #1\. Scaling") as info:
        SGDClassifier(loss="squared_hinge", alpha=0.1).fit(X, y)
    assert isinstance(info.value, DivergenceError) and info.value.epoch == 1


def test_scikit_learns_warning_filters_catch_its_convergence_warning():
    from sklearn.exceptions import ConvergenceWarning

    X, y = _data("binary")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        SGDClassifier(max_iter=2, random_state=0).fit(X, y)
    assert [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert all(issubclass(w.category, fastgd.ConvergenceWarning) for w in caught)


def test_sparsify_keeps_the_predictions():
    X, y = _data("multiclass")
    est = SGDClassifier(penalty="l1", alpha=0.05, random_state=0).fit(X, y)
    dense = est.decision_function(X)
    est.sparsify()
    assert sp.issparse(est.coef_)
    np.testing.assert_allclose(est.decision_function(sp.csr_matrix(X)), dense)
    est.partial_fit(X, y)  # continues from the sparse coef_
    assert isinstance(est.coef_, np.ndarray)


# --- fastgd's methods behind scikit-learn's parameters (the extra ``method`` keyword) -----------

_ENGINE_STOP = (
    "fastgd's own stopping rule: on unscaled blobs (std 20) with class weights 1000 : 0.0001 its plateau "
    "rule for the hinge loss stops far from the optimum (objective 0.58 at tol=1e-3, 2e-7 at tol=1e-6; it "
    "reports converged=False: a plateau is no certificate); "
    "scikit-learn's rule (method=None) passes"
)


_MEAN_OVER_ROWS = (
    "scikit-learn's objective, kept with a fastgd method, is mean(w loss) over the n rows: weight 2 is a "
    "repeated row only when the weights sum to n (its SGD estimators xfail this check too)"
)


def _method_failures(estimator):
    failures = {
        "check_sample_weight_equivalence_on_dense_data": _MEAN_OVER_ROWS,
        "check_sample_weight_equivalence_on_sparse_data": _MEAN_OVER_ROWS,
    }
    if is_classifier(estimator):
        failures["check_class_weight_classifiers"] = _ENGINE_STOP
    return failures


@parametrize_with_checks(
    [SGDRegressor(method="batch", learning_rate="auto"), SGDClassifier(method="batch", learning_rate="auto")],
    expected_failed_checks=_method_failures,
)
def test_sklearn_checks_with_a_fastgd_method(estimator, check):
    check(estimator)


def test_a_fastgd_method_minimizes_scikit_learns_objective():
    """The minimizer of scikit-learn's objective (its squared loss is r²/2, so alpha doubles on
    the way to fastgd): method="auto" (ridge's closed form) against Ridge, "batch" against
    LogisticRegression, both given the same objective."""
    from sklearn.linear_model import LogisticRegression, Ridge

    X, y = make_regression(n_samples=300, n_features=5, noise=5.0, random_state=0)
    X = StandardScaler().fit_transform(X)
    alpha, n = 0.05, X.shape[0]
    ours = SGDRegressor(method="auto", learning_rate="auto", alpha=alpha).fit(X, y)
    ridge = Ridge(alpha=alpha * n).fit(X, y)  # ||r||² + alpha_R ||w||² = 2n (mean r²/2 + alpha ||w||² / 2)
    np.testing.assert_allclose(ours.coef_, ridge.coef_, rtol=1e-10)
    np.testing.assert_allclose(ours.intercept_, [ridge.intercept_], rtol=1e-10, atol=1e-10)
    Xc, yc = _data("binary")
    ours = SGDClassifier(method="batch", loss="log_loss", learning_rate="auto", alpha=alpha, tol=1e-10,
                         max_iter=100_000).fit(Xc, yc)  # fmt: skip
    logistic = LogisticRegression(C=1.0 / (alpha * Xc.shape[0]), tol=1e-12, max_iter=10_000).fit(Xc, yc)
    np.testing.assert_allclose(ours.coef_, logistic.coef_, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(ours.intercept_, logistic.intercept_, rtol=1e-5, atol=1e-8)


def test_one_vs_all_with_a_fastgd_method_is_one_fit_a_class():
    X, y = _data("multiclass")
    params = dict(method="batch", loss="hinge", learning_rate="auto", alpha=0.01, max_iter=200)
    est = SGDClassifier(**params, n_jobs=2).fit(X, y)
    assert est.coef_.shape == (3, 6) and len(est.result_) == 3
    for i, label in enumerate(est.classes_):
        ref = fastgd.fit(X, np.where(y == label, 1.0, -1.0), method="batch", loss="hinge", penalty="l2",
                         alpha=0.01, max_epochs=200, tol=1e-3, init="zeros")  # fmt: skip
        np.testing.assert_array_equal(est.coef_[i], ref.coef)
        assert est.intercept_[i] == ref.intercept


def test_partial_fit_with_a_fastgd_method_is_fastgds_stream():
    X, y = _data("reg")
    est = SGDRegressor(method="sgd", learning_rate="constant", eta0=0.02, optimizer="adam", random_state=0)
    stream = fastgd.Stream(method="sgd", loss="squared", penalty="l2", alpha=2e-4, learning_rate=0.01,
                           optimizer="adam", random_state=0, init="zeros")  # fmt: skip
    for rows in np.array_split(np.arange(X.shape[0]), 4):
        est.partial_fit(X[rows], y[rows])
        stream.partial_fit(X[rows], y[rows])
    np.testing.assert_array_equal(est.coef_, stream.result().coef)
    assert est.t_ == 1.0 + X.shape[0]
    assert not hasattr(SGDRegressor(method="batch"), "partial_fit")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (dict(optimizer="adam"), "optimizer='adam' is one of fastgd's extras"),
        (dict(standardize=True), "standardize=True is one of fastgd's extras"),
        (dict(method="newton"), "'method' parameter"),
        (dict(method="sgd", learning_rate="adaptive"), "learning_rate='adaptive' is scikit-learn's rule"),
        (dict(learning_rate="auto"), "'learning_rate' parameter"),
        (dict(shuffle="rows"), "'shuffle' parameter"),  # True is scikit-learn's row shuffle
    ],
)
def test_fastgds_extras_need_a_fastgd_method(params, message):
    X, y = _data("binary")
    with pytest.raises(ValueError, match=message):
        SGDClassifier(**params).fit(X, y)


def test_softmax_is_fastgds_multinomial_model():
    """loss="softmax" (a fastgd method only): one model of every class, fastgd.fit's, in
    scikit-learn's shapes; partial_fit on it is fastgd's Stream."""
    X, y = _data("multiclass")
    est = SGDClassifier(method="batch", loss="softmax", learning_rate="auto", alpha=1e-3, tol=1e-8).fit(X, y)
    ref = fastgd.fit(X, y, method="batch", loss="softmax", penalty="l2", alpha=1e-3, tol=1e-8, init="zeros")
    np.testing.assert_array_equal(est.coef_, ref.coef.T)
    np.testing.assert_array_equal(est.intercept_, ref.intercept)
    np.testing.assert_allclose(est.predict_proba(X), ref.predict_proba(X), rtol=1e-12)
    streamed = SGDClassifier(method="sgd", loss="softmax", learning_rate="auto", random_state=0)
    stream = fastgd.Stream(method="sgd", loss="softmax", penalty="l2", alpha=1e-4, random_state=0, init="zeros",
                           classes=np.unique(y))  # fmt: skip
    for rows in np.array_split(np.arange(X.shape[0]), 3):
        streamed.partial_fit(X[rows], y[rows], classes=np.unique(y))
        stream.partial_fit(X[rows], y[rows])
    np.testing.assert_array_equal(streamed.coef_, stream.result().coef.T)
    with pytest.raises(ValueError, match="'loss' parameter"):
        SGDClassifier(loss="softmax").fit(X, y)  # scikit-learn's rule has no softmax


def test_weights_keep_scikit_learns_objective_with_a_fastgd_method():
    """scikit-learn's objective is mean(w loss) + alpha R: weights of 3 weigh the data against the
    penalty (Ridge with sample_weight=3 and the same alpha n), although fastgd.fit normalizes them."""
    from sklearn.linear_model import Ridge

    X, y = make_regression(n_samples=200, n_features=4, noise=5.0, random_state=1)
    weights = np.full(200, 3.0)
    ours = SGDRegressor(method="auto", alpha=0.2).fit(X, y, sample_weight=weights)
    ridge = Ridge(alpha=0.2 * 200).fit(X, y, sample_weight=weights)
    np.testing.assert_allclose(ours.coef_, ridge.coef_, rtol=1e-10)
    assert not np.allclose(ours.coef_, Ridge(alpha=0.2 * 200).fit(X, y).coef_, rtol=1e-3)


def test_regressor_warm_start_is_scikit_learns():
    """scikit-learn's regressor goes on from coef_ and its running average (not the averaged
    coef_), and ignores coef_init then."""
    X, y = _data("reg")
    params = dict(average=True, warm_start=True, shuffle=False, max_iter=3, tol=None, eta0=0.01)
    ours, theirs = SGDRegressor(**params), linear_model.SGDRegressor(**params)
    for _ in range(2):
        ours.fit(X, y, coef_init=np.full(6, 5.0))
        theirs.fit(X, y, coef_init=np.full(6, 5.0))
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-12)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=1e-12)


def test_one_vs_all_seeds_are_drawn_in_the_classes_order():
    X, y = _data("multiclass")
    params = dict(method="sgd", loss="hinge", learning_rate="auto", max_iter=3, tol=None)
    fits = [SGDClassifier(**params, n_jobs=n, random_state=np.random.RandomState(0)).fit(X, y) for n in (1, 2, 2)]
    for other in fits[1:]:
        np.testing.assert_array_equal(other.coef_, fits[0].coef_)


def test_softmax_of_two_classes_is_the_logistic_model():
    X, y = _data("binary")
    est = SGDClassifier(method="batch", loss="softmax", learning_rate="auto", tol=1e-8).fit(X, y)
    p = 1.0 / (1.0 + np.exp(-est.decision_function(X)))
    np.testing.assert_allclose(est.predict_proba(X), np.column_stack([1 - p, p]), rtol=1e-12)
