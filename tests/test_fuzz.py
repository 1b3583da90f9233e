"""Fuzzing the faces of fastgd (hypothesis, derandomized): ``fit``, ``Stream``, the estimators
and the CLI on generated shapes, dtypes, layouts, NaN/inf placements, extreme scales and bad
parameter values.  Every outcome is either an error in fastgd's words (a ValueError, TypeError
or fastgd exception whose message names the argument at fault) or a correct result (finite;
a closed form close to lstsq), and a failed call changes nothing: the inputs are not mutated,
a Stream or an estimator is as it was before (the approach of tests/test_transactions.py).

``INPUTS`` counts the inputs tried; tests/conftest.py prints "fuzz inputs: N" at the end of the
run (summed over pytest-xdist's workers) and ``test_zz_enough_inputs`` (last in the module)
asserts N >= 10,000 when the whole module ran in one process."""

import contextlib
import io
import math
import re
import warnings

import numpy as np
import pytest
from conftest import lstsq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_transactions import _state

import fastgd
import fastgd.cli
from fastgd import exceptions

INPUTS = {"n": 0, "tests": set()}
MINIMUM = 10_000
FUZZ = settings(
    deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow], print_blob=False
)

#: a fastgd message names what is at fault: an argument, or (for X) its samples, features or columns
NAMED = re.compile(
    r"\bX\b|\by\b|sample_weight|learning_rate|alpha|l1_ratio|epsilon|penalty|max_epochs|\btol\b|batch_size|"
    r"method|loss|init|classes|optimizer|random_state|n_iter_no_change|validation_fraction|shuffle|fit_intercept|"
    r"standardize|average|chunk|features?\b|samples?\b|column|label|XᵀX"
)
#: scikit-learn's own input messages (the estimators validate with its validate_data)
SKLEARN = re.compile(
    r"Found array with|Expected 2D array|Input (X|y)?\s?contains|could not convert|Complex data not supported|"
    r"dtype='numeric' is not compatible|Unknown label type|setting an array element|Found input variables"
)
FASTGD_ERRORS = (ValueError, TypeError, exceptions.DivergenceError, exceptions.SingularMatrixError)

DTYPES = ("float16", "float32", "float64", "int64", "int8", "bool", "object", "complex", "str")


def count(k=1):
    INPUTS["n"] += k


def check_error(exc, sklearn=False):
    """The exception is one of fastgd's, and names the argument (or is a divergence)."""
    assert isinstance(exc, FASTGD_ERRORS), f"{type(exc).__name__}: {exc}"
    if isinstance(exc, (exceptions.DivergenceError, exceptions.SingularMatrixError)):
        return
    text = str(exc)
    assert NAMED.search(text) or (sklearn and SKLEARN.search(text)), f"{type(exc).__name__} names nothing: {text}"
    assert "numba" not in text.lower() and "Traceback" not in text, text


@contextlib.contextmanager
def strict_warnings():
    """fastgd's own warnings allowed; numpy's RuntimeWarning an error (as pyproject's pytest config)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("error", RuntimeWarning)
        yield


def same(a, b):
    """Equal contents (NaN equal to NaN), for the inputs-not-mutated checks."""
    if isinstance(a, np.ndarray):
        if a.dtype != b.dtype or a.shape != b.shape:
            return False
        if a.dtype.kind in "fc":
            return np.array_equal(a, b, equal_nan=True)
        return a.tolist() == b.tolist() or (a.dtype.kind == "O" and repr(a) == repr(b))
    return a is b or a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b))


def copies(values):
    return [v.copy() if isinstance(v, np.ndarray) else v for v in values]


# ----------------------------------------------------------------------------------------------
# Generated inputs
# ----------------------------------------------------------------------------------------------


@st.composite
def matrices(draw, n=None, d=None):
    """An X: shape (incl. 0 rows, 1 row, 0 features, 1-D), dtype, layout, scale, NaN/inf cells."""
    n = draw(st.sampled_from([0, 1, 2, 3, 5, 8])) if n is None else n
    d = draw(st.sampled_from([0, 1, 2, 3])) if d is None else d
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    scale = 10.0 ** draw(st.sampled_from([0, 0, 0, -300, -150, -20, 20, 150, 300]))
    values = rng.standard_normal((n, d)) * scale
    special = draw(st.sampled_from(["none", "none", "none", "nan", "inf", "-inf", "constant", "huge_one"]))
    if special != "none" and values.size:
        i, j = draw(st.integers(0, n - 1)), draw(st.integers(0, d - 1))
        if special == "constant":
            values[:, j] = 1.0
        elif special == "huge_one":
            values[i, j] = 1e308
        else:
            values[i, j] = float(special)
    dtype = draw(st.sampled_from((*DTYPES, "float64", "float64", "float32")))
    with np.errstate(all="ignore"):
        if dtype == "str":
            X = values.astype(str)
        elif dtype == "object":
            X = values.astype(object)
        elif dtype == "complex":
            X = values.astype(complex)
        elif dtype == "bool":
            X = values > 0
        elif dtype.startswith("int"):
            X = np.clip(np.nan_to_num(values), -100, 100).astype(dtype)
        else:
            X = values.astype(dtype)
    layout = draw(st.sampled_from(["C", "C", "F", "slice", "1d", "list"]))
    if layout == "F":
        X = np.asfortranarray(X)
    elif layout == "slice":
        X = np.repeat(np.repeat(X, 2, axis=0), 2, axis=1)[::2, ::2]
    elif layout == "1d" and d == 1:
        X = X[:, 0]
    elif layout == "list":
        X = X.tolist()
    return X


@st.composite
def targets(draw, n, classification=False):
    """A y of n values (or not quite: a wrong length, a 2-D column, other dtypes, NaN)."""
    kind = draw(st.sampled_from(["good"] * 6 + ["short", "column", "nan", "inf", "str", "huge", "constant", "2d"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    y = rng.standard_normal(n)
    if classification:
        y = rng.integers(0, draw(st.sampled_from([2, 2, 3])), n).astype(float)
    if kind == "short":
        y = y[:-1] if n else np.zeros(1)
    elif kind == "column":
        y = y[:, None]
    elif kind == "2d":
        y = np.column_stack([y, y])
    elif kind in ("nan", "inf") and n:
        y[draw(st.integers(0, n - 1))] = float(kind)
    elif kind == "str":
        y = y.astype(str) if not classification else np.where(y > 0, "b", "a")
    elif kind == "huge":
        y = y * 1e200
    elif kind == "constant":
        y = np.full(n, 3.0)
    return y


BAD_NUMBERS = [-1, 0, -0.5, math.nan, math.inf, -math.inf, "a", None, True, [1], 1e308, 2**70]
#: the main keywords, each with good values and the shared bad ones
KEYWORDS = {
    "learning_rate": ["auto", 0.01, 1e-6],
    "alpha": [0.0, 1e-3, 1.0, 1e30],
    "l1_ratio": [0.0, 0.5, 1.0],
    "max_epochs": [1, 3],
    "tol": [0.0, 1e-3],
    "batch_size": [1, 4],
    "epsilon": [0.1, 1.0],
    "n_iter_no_change": [1, 5],
    "validation_fraction": [0.2, 0.5],
}


@st.composite
def keywords(draw, methods=("auto", "normal", "svd", "batch", "sgd", "minibatch")):
    """fit's keywords: a method, a loss, a penalty, and a few of the main keywords, good or bad."""
    kw = dict(method=draw(st.sampled_from(methods)), max_epochs=3, random_state=draw(st.integers(0, 9)))
    kw["loss"] = draw(st.sampled_from(["squared", "squared", "huber", "log", "softmax", "hinge", 3, "sqared"]))
    penalty = draw(st.sampled_from([None, None, "l2", "l1", "elasticnet", "l3", 1]))
    if penalty is not None:
        kw["penalty"] = penalty
        kw["alpha"] = 1e-3
    for name in draw(st.lists(st.sampled_from(sorted(KEYWORDS)), max_size=2, unique=True)):
        kw[name] = draw(st.sampled_from(KEYWORDS[name] + BAD_NUMBERS))
    if draw(st.booleans()):
        extra = draw(st.sampled_from(["fit_intercept", "standardize", "shuffle", "init", "optimizer", "average"]))
        kw[extra] = draw(st.sampled_from([True, False, "zeros", "adam", "momentum", "x", -1, math.nan, None]))
    return kw


def weights_for(draw, n):
    kind = draw(st.sampled_from(["none"] * 5 + ["good", "negative", "nan", "zeros", "short", "str"]))
    if kind == "none":
        return None
    w = np.linspace(0.5, 2.0, n)
    if kind == "negative" and n:
        w[0] = -1.0
    elif kind == "nan" and n:
        w[-1] = np.nan
    elif kind == "zeros":
        w = np.zeros(n)
    elif kind == "short":
        w = w[1:] if n else np.ones(2)
    elif kind == "str":
        w = w.astype(str)
    return w


def check_fit_result(res, X, y, kw):
    """A result is finite; a closed form on plain, well-conditioned float64 data is lstsq's."""
    assert np.isfinite(res.coef).all() and np.isfinite(res.intercept).all(), res
    assert not (res.converged and not np.isfinite(res.objective)), res
    A, b = np.asarray(X), np.asarray(y)
    plain = kw.get("penalty") is None and kw.get("loss") == "squared" and kw.get("fit_intercept", True) is True
    if res.method in ("normal", "svd") and plain and A.dtype == np.float64 and b.dtype == np.float64:
        A = A.reshape(len(b), -1)
        if A.shape[1] and len(b) > A.shape[1] + 1 and np.abs(A).max() < 1e100 and np.abs(b).max() < 1e100:
            X_b = np.column_stack((np.ones(len(b)), A))
            if np.linalg.cond(X_b) < 1e6:
                theta, _ = lstsq(A, b)
                scale = 1.0 + np.abs(b).max()
                np.testing.assert_allclose(res.theta, theta, rtol=1e-6, atol=1e-8 * scale)


# ----------------------------------------------------------------------------------------------
# fastgd.fit
# ----------------------------------------------------------------------------------------------


@settings(FUZZ, max_examples=3500)
@given(data=st.data())
def test_fit(data):
    X = data.draw(matrices())
    n = len(X)
    kw = data.draw(keywords())
    spec = fastgd.losses.LOSSES.get(kw["loss"]) if isinstance(kw["loss"], str) else None
    y = data.draw(targets(n, classification=spec is not None and spec.classifier))
    w = weights_for(data.draw, n)
    before = copies([X, y, w])
    count()
    try:
        with strict_warnings():
            res = fastgd.fit(X, y, sample_weight=w, **kw)
    except Exception as exc:  # any exception: what it is, is the test
        check_error(exc)
    else:
        check_fit_result(res, X, y, kw)
    assert all(same(a, b) for a, b in zip(before, [X, y, w], strict=True)), "fit modified its input"
    INPUTS["tests"].add("fit")


# ----------------------------------------------------------------------------------------------
# fastgd.Stream
# ----------------------------------------------------------------------------------------------


def snapshot(stream):
    """What a failed partial_fit must leave as it was: tests/test_transactions.py's state once a
    chunk has been fitted, else the stream's starting state."""
    if stream.history:
        return _state(stream)
    return (stream.theta, stream.classes, stream.n_features, stream.t, stream._shuffle_state.copy())


def states_equal(a, b):
    return len(a) == len(b) and all(
        (x is None and y is None) or (x is not None and y is not None and np.array_equal(x, y))
        for x, y in zip(a, b, strict=True)
    )


@settings(FUZZ, max_examples=2000)
@given(data=st.data())
def test_stream(data):
    kw = data.draw(keywords(methods=("sgd", "minibatch", "batch")))
    for name in ("max_epochs", "tol", "n_iter_no_change", "validation_fraction"):
        kw.pop(name, None)
    if kw["learning_rate"] if "learning_rate" in kw else data.draw(st.booleans()):
        kw.setdefault("learning_rate", 0.01)
    classification = isinstance(kw["loss"], str) and kw["loss"] in ("log", "softmax", "hinge")
    if classification and data.draw(st.booleans()):
        kw["classes"] = data.draw(st.sampled_from([[0.0, 1.0], [0.0, 1.0, 2.0], [1.0], "ab"]))
    count()
    try:
        with strict_warnings():
            stream = fastgd.Stream(**kw)
    except Exception as exc:
        check_error(exc)
        return
    d = data.draw(st.sampled_from([1, 2]))
    for _ in range(data.draw(st.integers(1, 4))):
        good = data.draw(st.booleans())
        X = data.draw(matrices(n=data.draw(st.sampled_from([1, 3, 6])), d=d) if good else matrices())
        y = data.draw(targets(len(X), classification))
        w = weights_for(data.draw, len(X))
        before, inputs = snapshot(stream), copies([X, y, w])
        count()
        try:
            with strict_warnings():
                stream.partial_fit(X, y, sample_weight=w)
        except Exception as exc:
            check_error(exc)
            assert states_equal(snapshot(stream), before), "a failed partial_fit changed the stream"
        else:
            res = stream.result()
            assert np.isfinite(res.coef).all() and np.isfinite(res.intercept).all()
            assert np.isfinite(res.history).all()
        assert all(same(a, b) for a, b in zip(inputs, [X, y, w], strict=True)), "partial_fit modified its input"
    INPUTS["tests"].add("stream")


# ----------------------------------------------------------------------------------------------
# The estimators
# ----------------------------------------------------------------------------------------------


@settings(FUZZ, max_examples=1500)
@given(data=st.data())
def test_estimators(data):
    classifier = data.draw(st.booleans())
    make = fastgd.GDClassifier if classifier else fastgd.GDRegressor
    params = dict(max_epochs=3, random_state=0, method=data.draw(st.sampled_from(["sgd", "minibatch", "batch"])))
    if data.draw(st.booleans()):
        name = data.draw(st.sampled_from(["learning_rate", "alpha", "tol", "batch_size", "penalty", "loss"]))
        params[name] = data.draw(st.sampled_from([*KEYWORDS.get(name, ["l2", "hinge", "huber"]), *BAD_NUMBERS]))
    est = make(**params)
    d = data.draw(st.sampled_from([1, 2]))
    for _ in range(data.draw(st.integers(1, 3))):
        call = data.draw(st.sampled_from(["fit", "fit", "partial_fit", "predict"]))
        good = data.draw(st.booleans())
        X = data.draw(matrices(n=data.draw(st.sampled_from([2, 5])), d=d) if good else matrices())
        y = data.draw(targets(len(X), classifier))
        before, inputs = dict(vars(est)), copies([X, y])
        count()
        try:
            with strict_warnings():
                if call == "predict":
                    out = est.predict(X)
                elif call == "partial_fit" and classifier:
                    est.partial_fit(X, y, classes=[0.0, 1.0, 2.0])
                else:
                    getattr(est, call)(X, y)
        except Exception as exc:
            if type(exc).__name__ == "NotFittedError" or (isinstance(exc, AttributeError) and call == "partial_fit"):
                continue  # predict before fit; partial_fit of method="batch": scikit-learn's own answers
            check_error(exc, sklearn=True)
            assert vars(est).keys() == before.keys()
            assert all(vars(est)[k] is v for k, v in before.items()), "a failed call changed the estimator"
        else:
            if call == "predict":
                assert len(out) == np.shape(X)[0]
                assert classifier or np.isfinite(out).all()
            else:
                assert np.isfinite(est.coef_).all() and np.isfinite(est.intercept_).all()
        assert all(same(a, b) for a, b in zip(inputs, [X, y], strict=True)), "the estimator modified its input"
    INPUTS["tests"].add("estimators")


# ----------------------------------------------------------------------------------------------
# The CLI
# ----------------------------------------------------------------------------------------------

CELLS = ["1", "-2.5", "3e2", "0", " 4 ", "", "nan", "inf", "x", "1e400", "1e-320", "0x10", "1,5"]


@st.composite
def csv_texts(draw):
    names = draw(st.sampled_from([["a", "b"], ["a", "b", "c"], ["a"], ["", "b"], ["a", "a"]]))
    rows = []
    for _ in range(draw(st.integers(0, 6))):
        width = len(names) + draw(st.sampled_from([0, 0, 0, 0, 1, -1]))
        rows.append(",".join(draw(st.sampled_from(CELLS[:4] * 4 + CELLS)) for _ in range(max(width, 0))))
    header = draw(st.sampled_from([",".join(names), ",".join(names), "", "\ufeff" + ",".join(names)]))
    return "\n".join([header, *rows]) + draw(st.sampled_from(["\n", ""]))


@settings(FUZZ, max_examples=1000, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(text=csv_texts(), data=st.data())
def test_cli(tmp_path, text, data):
    path = tmp_path / "data.csv"
    path.write_text(text, encoding="utf-8")
    argv = ["fit", str(path), "--max-epochs", "3", "--seed", "0"]
    target = data.draw(st.sampled_from(["b", "b", "a", "0", "-1", "9", "zz", None]))
    if target is not None:
        argv += ["--target", target]
    for option, values in [
        ("--method", ["auto", "normal", "svd", "batch", "sgd", "minibatch", "newton"]),
        ("--learning-rate", ["auto", "0.01", "0", "-1", "nan", "x", "1e308"]),
        ("--dtype", ["float32", "float64", "int8"]),
        ("--max-epochs", ["1", "0", "-3", "x"]),
    ]:
        if data.draw(st.booleans()):
            argv += [option, data.draw(st.sampled_from(values))]
    if data.draw(st.integers(0, 9)) == 0:
        argv.append(data.draw(st.sampled_from(["--standardize", "--no-intercept", "--learnig-rate=1"])))
    out, err = io.StringIO(), io.StringIO()
    count()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), strict_warnings():
        try:
            status = fastgd.cli.main(argv)
        except SystemExit as exc:
            status = exc.code
    errors = [line for line in err.getvalue().splitlines() if "error:" in line]
    if status == 0:
        assert not errors and "intercept" in out.getvalue()
        assert "nan" not in out.getvalue().split("intercept", 1)[1].lower()  # the coefficients are finite
    else:
        assert status == 2, (argv, err.getvalue())
        assert len(errors) == 1, err.getvalue()
        assert "Traceback" not in err.getvalue() and "numba" not in err.getvalue().lower()
    assert path.read_text(encoding="utf-8") == text, "the CLI modified its input file"
    INPUTS["tests"].add("cli")


def test_zz_enough_inputs():
    """Last in the module: when every fuzz test above ran, they tried at least MINIMUM inputs."""
    if INPUTS["tests"] != {"fit", "stream", "estimators", "cli"}:
        pytest.skip(f"only {sorted(INPUTS['tests'])} of the fuzz tests ran")
    assert INPUTS["n"] >= MINIMUM, f"fuzz inputs: {INPUTS['n']} < {MINIMUM}"
