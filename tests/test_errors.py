"""Errors in fastgd's words: each case a user met, with the message it now gets (and no numba,
numpy or pandas internals in it)."""

import inspect
import re

import numpy as np
import pandas as pd
import pytest

import fastgd
import fastgd.cli


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.random((30, 2))
    return X, X @ [1.0, 2.0] + 0.5


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(method="sgd", average=2**70), ValueError, r"average must be at most 2\*\*63 - 1"),
        (dict(method="sgd", max_epochs=2**64), ValueError, r"max_epochs must be at most 2\*\*63 - 1"),
        (dict(random_state="a"), TypeError, r"random_state must be None, an int, a SeedSequence .* got 'a'"),
        (dict(random_state=1.5), TypeError, r"random_state must be None, an int, .* got 1.5"),
        (dict(method="normal", learning_rate=0.1), ValueError, r"learning_rate applies to the iterative methods"),
        (dict(method="svd", learning_rate=0.1), ValueError, r"learning_rate applies to .* not 'svd'"),
    ],
)
def test_bad_parameters_in_fastgds_words(data, kwargs, error, match):
    with pytest.raises(error, match=match):
        fastgd.fit(*data, **kwargs)


def test_learning_rate_with_auto_is_no_error(data):
    """method="auto" may resolve to a closed form: a rate given for it is simply not needed."""
    assert fastgd.fit(*data, learning_rate=0.1).method == "normal"


@pytest.mark.parametrize("dtype", [">f4", ">f8", "<f4"])
def test_float32_stays_float32_in_any_byte_order(data, dtype):
    X, y = data
    res = fastgd.fit(X.astype(dtype), y, method="batch", max_epochs=3, tol=0)
    assert res.coef.dtype == np.dtype(dtype).newbyteorder("=")
    assert res.coef.dtype.isnative


def test_pandas_columns_that_are_not_numbers_are_named(data):
    X, y = data
    nullable = pd.DataFrame({"size": X[:, 0], "rooms": pd.array([1, 2, None] * 10, dtype="Int64")})
    with pytest.raises(TypeError, match=r"X column 'rooms' \(dtype Int64\) holds <NA>.*impute"):
        fastgd.fit(nullable, y)
    category = pd.DataFrame({"size": X[:, 0], "town": pd.Categorical(["u", "v", "w"] * 10)})
    with pytest.raises(TypeError, match=r"X column 'town' \(dtype category\) holds 'u'"):
        fastgd.fit(category, y)
    text = pd.DataFrame({"size": X[:, 0], "age": [str(v) for v in X[:, 1]]})
    with pytest.raises(TypeError, match=r"X column 'age' \(dtype (object|str)\) holds '0\.\d+'"):
        fastgd.fit(text, y)


def test_numbers_held_as_objects_are_numbers(data):
    X, y = data
    frame = pd.DataFrame({"size": X[:, 0], "age": pd.Series(list(X[:, 1]), dtype=object)})
    np.testing.assert_allclose(fastgd.fit(frame, y).coef, fastgd.fit(X, y).coef, rtol=1e-12)


def test_a_stream_given_labels_of_another_type_names_them(data):
    X, _ = data
    stream = fastgd.Stream(loss="log", classes=[0, 1])
    with pytest.raises(ValueError, match=r"the label 'a', which is not among the stream's classes \[0, 1\]"):
        stream.partial_fit(X, np.array(["a", "b"] * 15))


def test_fit_stream_of_no_chunk():
    with pytest.raises(ValueError, match=r"fit_stream got no chunk"):
        fastgd.fit_stream(iter([]))


@pytest.mark.parametrize("make", [fastgd.GDRegressor, fastgd.GDClassifier, None])
def test_a_ragged_list_is_named(make):
    ragged = [[1.0, 2.0], [3.0], [4.0, 5.0]]
    with pytest.raises(TypeError, match=r"X .* is a ragged nested list, its rows have different lengths \[1, 2\]"):
        fastgd.fit(ragged, [1.0, 2.0, 3.0]) if make is None else make().fit(ragged, [0, 1, 0])


@pytest.mark.parametrize("labels", [[1, "a", 2, "b"], np.array([1, "a", 2, "b"], dtype=object)], ids=["list", "obj"])
def test_mixed_label_types_are_refused(labels):
    """numpy would read the 1 as '1' and fit four string classes without a word."""
    X = np.random.default_rng(0).random((4, 2))
    for fit in (lambda: fastgd.fit(X, labels, loss="softmax"), lambda: fastgd.GDClassifier().fit(X, labels)):
        with pytest.raises(TypeError, match=r"y mixes label types \['number', 'str'\]"):
            fit()
    with pytest.raises(TypeError, match=r"y mixes label types"):
        fastgd.GDClassifier(method="sgd").partial_fit(X, labels, classes=[1, "a", 2, "b"])


def test_scikit_learns_convergence_filters_catch_fastgds_warning(data):
    """A user who silences scikit-learn's ConvergenceWarning silences fastgd's too (and the
    reverse); fastgd.ConvergenceWarning still catches it."""
    import subprocess
    import sys
    import warnings

    from sklearn.exceptions import ConvergenceWarning as SklearnWarning

    X, y = data
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", category=SklearnWarning)
        fastgd.fit(X, y, method="sgd", max_epochs=2, random_state=0)
    assert not [w for w in caught if issubclass(w.category, fastgd.ConvergenceWarning)]
    with pytest.warns(SklearnWarning) as record:
        fastgd.fit(X, y, method="sgd", max_epochs=2, random_state=0)
    assert issubclass(record[0].category, fastgd.ConvergenceWarning)
    code = "import sys, fastgd; fastgd.fit([[0.0], [1.0], [2.0]], [0.0, 1.0, 2.1]); print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"  # import fastgd (and a fit) never imports scikit-learn


@pytest.mark.parametrize(
    ("make", "where"),
    [
        (lambda data, **kw: fastgd.fit(*data, **kw), "fit()"),
        (lambda data, **kw: fastgd.Stream(**kw), "Stream()"),
        (lambda data, **kw: fastgd.GDRegressor(**kw), "GDRegressor()"),
        (lambda data, **kw: fastgd.GDClassifier(**kw), "GDClassifier()"),
    ],
)
@pytest.mark.parametrize(
    ("keyword", "match"),
    [
        ("learnig_rate", r"'learnig_rate'; did you mean 'learning_rate'\?"),
        ("max_iter", r"'max_iter': fastgd calls it 'max_epochs' \(scikit-learn's max_iter\); pass max_epochs="),
        ("eta0", r"'eta0': fastgd calls it 'learning_rate' .*pass learning_rate="),
        ("random_stat", r"'random_stat'; did you mean 'random_state'\?"),
    ],
)
def test_a_typo_in_a_keyword_names_the_closest_one(data, make, where, keyword, match):
    if where == "Stream()" and keyword == "max_iter":  # a stream has no max_epochs
        match = r"'max_iter': fastgd calls it 'max_epochs' .*and not here: a stream takes one pass a chunk"
    with pytest.raises(TypeError, match=rf"^{re.escape(where)} got an unexpected keyword argument {match}"):
        make(data, **{keyword: 0.1})


def test_a_stream_says_why_it_takes_no_fit_only_keyword():
    with pytest.raises(TypeError, match=r"'max_epochs': a stream takes one pass a chunk"):
        fastgd.Stream(max_epochs=3)
    with pytest.raises(TypeError, match=r"'sample_weight': pass it to partial_fit"):
        fastgd.Stream(sample_weight=[1.0])
    with pytest.raises(TypeError, match=r"'zzz'; the keywords are .*learning_rate"):
        fastgd.Stream(zzz=1)


def test_the_estimators_keep_their_explicit_signature_and_set_params_suggests():
    """The typo check wraps __init__ without hiding its signature: get_params, clone and
    scikit-learn's checks read the parameters from it."""
    from sklearn.base import clone

    sig = inspect.signature(fastgd.GDRegressor.__init__)
    assert "learning_rate" in sig.parameters
    assert all(p.kind != p.VAR_KEYWORD for p in sig.parameters.values())
    est = fastgd.GDRegressor(alpha=0.5, max_epochs=7)
    assert clone(est).get_params() == est.get_params()
    with pytest.raises(ValueError, match=r"Invalid parameter 'learnig_rate' .*did you mean 'learning_rate'\?"):
        est.set_params(learnig_rate=0.1)
    with pytest.raises(ValueError, match=r"Invalid parameter 'max_iter' .*fastgd calls it 'max_epochs'"):
        fastgd.GDClassifier().set_params(max_iter=3)
    assert est.set_params(learning_rate=0.1).learning_rate == 0.1


@pytest.mark.parametrize(
    ("option", "match"),
    [
        ("--learnig-rate", r"--learnig-rate: did you mean --learning-rate\?"),
        ("--max_epochs", r"--max_epochs: did you mean --max-epochs\?"),
    ],
)
def test_the_cli_suggests_the_closest_option(tmp_path, capsys, option, match):
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,2\n2,3\n3,5\n")
    with pytest.raises(SystemExit) as exc:
        fastgd.cli.main(["fit", str(path), "--target", "b", option, "3"])
    assert exc.value.code == 2
    assert re.search(rf"unrecognized arguments: {option} 3 \({match}", capsys.readouterr().err)


@pytest.mark.parametrize("method", ["normal", "svd", "auto", "batch", "sgd", "minibatch"])
def test_a_constant_target_of_1e200(data, method):
    """The closed forms solve it (intercept 1e200, coef 0, a finite loss); gradient descent, whose
    squared loss at a prediction near 0 is 1e400, says y overflows and to scale it: never
    converged=True with an infinite loss."""
    X, _ = data
    y = np.full(X.shape[0], 1e200)
    if method in ("batch", "sgd", "minibatch"):
        with pytest.raises(ValueError, match=r"y is too large .*overflows float64\. Scale y"):
            fastgd.fit(X, y, method=method, random_state=0)
        return
    res = fastgd.fit(X, y, method=method)
    assert res.converged and np.isfinite(res.loss) and np.isfinite(res.objective)
    assert res.intercept == pytest.approx(1e200, rel=1e-12)
    assert np.abs(res.coef).max() <= 1e-12 * 1e200


@pytest.mark.parametrize("method", ["normal", "svd", "auto", "batch", "sgd", "minibatch"])
def test_a_target_beyond_float32_is_named(data, method):
    X, _ = data
    with pytest.raises(ValueError, match=r"^y contains inf once cast to X's dtype float32 \(too large for it\)"):
        fastgd.fit(X.astype(np.float32), np.full(X.shape[0], 1e200), method=method)


def test_a_huge_squared_epsilon_target_is_refused_too(data):
    X, _ = data
    with pytest.raises(ValueError, match=r"y is too large for stochastic gradient descent on the squared_eps"):
        fastgd.fit(X, np.full(X.shape[0], -1e160), method="sgd", loss="squared_epsilon_insensitive")


def test_an_infinite_loss_counts_as_divergence(data):
    """The blow-up threshold stays within float64: an objective of inf diverges even when the
    start's loss was already huge."""
    X, y = data
    with pytest.raises(fastgd.DivergenceError):
        fastgd.fit(X, y * 1e150, method="sgd", learning_rate=10.0, max_epochs=5, random_state=0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("alpha", [1e10, 1e100, 1e300])
@pytest.mark.parametrize(
    "model", [dict(), dict(learning_rate=0.1), dict(optimizer="momentum"), dict(optimizer="adam"), dict(method="sgd")]
)
def test_softmax_with_a_huge_l2_penalty(dtype, alpha, model):
    """A DivergenceError with advice, or a finite fit (the "auto" rate's Lipschitz constant includes
    2·alpha); never converged=True with a non-finite objective, no numpy RuntimeWarning (pytest
    turns them into errors here)."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((30, 2)).astype(dtype)
    y = rng.integers(0, 3, 30)
    kwargs = dict(dict(method="batch", max_epochs=50, random_state=0), **model)
    try:
        res = fastgd.fit(X, y, loss="softmax", penalty="l2", alpha=alpha, **kwargs)
    except fastgd.DivergenceError as exc:
        assert "Lower learning_rate" in str(exc) and np.isfinite(exc.safe_learning_rate)
        return
    assert np.isfinite(res.objective) and np.isfinite(res.coef).all() and np.isfinite(res.intercept).all()
    if res.converged:
        assert np.abs(res.coef).max() <= 1.0 / alpha**0.5  # the penalty keeps them near 0


@pytest.mark.parametrize("method", ["normal", "svd", "auto"])
@pytest.mark.parametrize("alpha", [1e10, 1e30, 1e300])
@pytest.mark.parametrize("weighted", [False, True])
def test_ridge_with_a_huge_alpha_keeps_the_intercept(method, alpha, weighted):
    """The intercept is not penalized (the penalty is alpha ½‖coef‖²): as alpha grows, coef -> 0, the intercept -> the
    weighted mean of y (exactly: ridge's coef for this alpha, and the intercept that centers it)."""
    rng = np.random.default_rng(2)
    X = rng.standard_normal((25, 3)) + 4.0
    y = X @ [1.0, -2.0, 0.5] + 7.0 + rng.standard_normal(25)
    w = rng.random(25) + 0.5 if weighted else np.ones(25)
    res = fastgd.fit(X, y, method=method, penalty="l2", alpha=alpha, sample_weight=w if weighted else None)
    mx, my = np.average(X, axis=0, weights=w), np.average(y, weights=w)
    Xc, yc = X - mx, y - my
    ww = w / w.mean()
    coef = np.linalg.solve(Xc.T @ (ww[:, None] * Xc) / len(y) + alpha / 2 * np.eye(3), Xc.T @ (ww * yc) / len(y))
    np.testing.assert_allclose(res.coef, coef, rtol=1e-8, atol=0)
    assert res.intercept == pytest.approx(my - mx @ coef, rel=1e-13)


@pytest.mark.parametrize("make", [fastgd.GDRegressor, fastgd.GDClassifier])
def test_complex_numbers_in_a_list_are_named_by_the_estimators(make):
    """Found by tests/test_fuzz.py: scikit-learn's validation answered "float() argument must be a
    string or a real number, not 'complex'", naming nothing."""
    with pytest.raises(ValueError, match=r"^Complex data not supported: X holds complex numbers"):
        make(max_epochs=3).fit([[0.1 + 0j], [-0.2 + 0j]], [0.0, 1.0])


def test_a_huge_float_label_leaks_no_runtime_warning():
    """Found by tests/test_fuzz.py: scikit-learn's type_of_target casts y = [0, 1e200] to int (a
    numpy RuntimeWarning); the classifier now says the labels are continuous, as for any float."""
    X = np.array([[0.1], [0.3]])
    with pytest.raises(ValueError, match="Unknown label type"):
        fastgd.GDClassifier(max_epochs=3).fit(X, np.array([0.0, 1e200]))


def test_float16_infinities_leak_no_runtime_warning_from_the_estimators():
    """Found by tests/test_fuzz.py: scikit-learn's finiteness check summed float16 [inf, -inf]."""
    X = np.array([[np.inf], [-np.inf]], dtype=np.float16)
    with pytest.raises(ValueError, match=r"Input X contains infinity"):
        fastgd.GDRegressor(max_epochs=3).fit(X, [0.1, 0.2])


def test_features_too_large_to_square_are_named_on_every_path():
    """Found by tests/test_fuzz.py: a Stream (and so partial_fit) skipped the statistics checks, and
    one row of 1.3e299 (variance 0, mean square beyond float64) reached numpy's overflow warnings
    in the curvature."""
    X = np.array([[1.25730221e299], [-1.3e299]])
    with pytest.raises(ValueError, match=r"^X column 0 holds values too large to square"):
        fastgd.Stream().partial_fit(X, [0.1, -0.1])
    with pytest.raises(ValueError, match=r"^X column 0 holds values too large to square"):
        fastgd.GDRegressor(max_epochs=3).partial_fit(X, [0.1, -0.1])
    with pytest.raises(ValueError, match=r"^X column 0 holds values too large to square .*mean is 1.26e\+299"):
        fastgd.fit(X[:1], [0.1], method="sgd", max_epochs=3)


def test_an_unhashable_loss_is_named_by_the_classifier():
    """Found by tests/test_fuzz.py: GDClassifier(loss=[1]) failed in __sklearn_tags__ with
    "unhashable type: 'list'"."""
    with pytest.raises(ValueError, match=r"GDClassifier takes loss in .*got loss=\[1\]"):
        fastgd.GDClassifier(loss=[1], max_epochs=3).fit([[0.1], [0.2]], [0, 1])
