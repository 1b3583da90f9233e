"""``fastgd.schedules``: values against the formulas of tests/reference.py, repr, parameter checks,
and ``custom`` schedules made from a user's own ``@njit`` function."""

import math

import numba
import numpy as np
import pytest
import reference as ref
from hypothesis import given, settings
from hypothesis import strategies as st

from fastgd import schedules as S

RTOL = 1e-12
T_VALUES = [0, 1, 2, 9, 49, 50, 999, 1000, 1001, 2500, 10**5, 10**6, 10**9 + 3]

#: (constructor name, positional parameters): the defaults and a few others
CASES = [
    ("constant", (0.1,)),
    ("constant", (3,)),
    ("inverse_time", (5.0, 50.0)),
    ("inverse_time", (0.5, 1e-3)),
    ("inverse_scaling", (0.01, 0.25)),
    ("inverse_scaling", (1.0, 0.0)),
    ("inverse_scaling", (0.2, 1.0)),
    ("exponential", (0.1, 1e-3)),
    ("exponential", (0.1, 0.0)),
    ("step", (0.1, 0.5, 1000)),
    ("step", (0.1, 1.0, 1)),
    ("step", (1.0, 0.9, 7)),
    ("cosine", (0.1, 0.0, 1000)),
    ("cosine", (0.1, 1e-3, 1)),
    ("cosine", (2.0, 0.5, 33)),
]
IDS = [f"{name}{params}" for name, params in CASES]


def assert_rates_close(actual, expected, eta0):
    # 1 + cos(pi * phase) cancels near the end of a cosine period: an absolute floor of 1e-15 * eta0
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=1e-15 * eta0)


@pytest.mark.parametrize(("name", "params"), CASES, ids=IDS)
def test_values_match_reference(name, params):
    sched = getattr(S, name)(*params)
    expected = ref.schedule(name, params, np.array(T_VALUES))
    assert_rates_close(sched(np.array(T_VALUES)), expected, params[0])
    for t, e in zip(T_VALUES, expected, strict=True):
        value = sched(t)
        assert isinstance(value, float)
        assert math.isclose(value, e, rel_tol=RTOL, abs_tol=1e-15 * params[0])
    if name != "inverse_time":
        assert sched(0) == pytest.approx(params[0], rel=RTOL)  # starts at its eta0
    assert (sched(np.array(T_VALUES)) >= 0).all()
    # table(t_start, count): the rates of updates t_start ... t_start + count - 1
    table = sched.table(995, 10)
    assert table.shape == (10,)
    assert table.dtype == np.float64
    assert_rates_close(table, ref.schedule(name, params, np.arange(995, 1005)), params[0])
    # the code and params the kernels receive
    assert sched.params.dtype == np.float64
    np.testing.assert_array_equal(sched.params, np.array(params, dtype=np.float64))


def test_call_keeps_shape_and_rejects_negative_t():
    sched = S.inverse_time()
    t = np.arange(6).reshape(2, 3)
    out = sched(t)
    assert out.shape == (2, 3)
    assert_rates_close(out, ref.schedule("inverse_time", (5.0, 50.0), t), 5.0)
    with pytest.raises(ValueError, match="t must be >= 0"):
        sched(-1)
    with pytest.raises(ValueError, match="t must be >= 0"):
        sched(np.array([3, -2]))


def test_textbook_schedule():
    """Géron's learning_schedule(t) = t0 / (t + t1) with t0, t1 = 5, 50."""
    sched = S.inverse_time()
    assert sched(0) == 0.1
    assert sched(50) == 0.05
    assert repr(sched) == "inverse_time(t0=5.0, t1=50.0)"


def test_step_and_cosine_shapes():
    step = S.step(1.0, 0.5, 10)
    np.testing.assert_array_equal(step(np.array([0, 9, 10, 19, 20, 35])), [1.0, 1.0, 0.5, 0.5, 0.25, 0.125])
    cos = S.cosine(1.0, 0.0, 100)
    assert cos(0) == 1.0
    assert cos(50) == pytest.approx(0.5, rel=1e-15)
    assert cos(100) == 1.0  # restarts every period
    rates = cos(np.arange(100))
    assert (np.diff(rates) < 0).all()  # decreasing within a period
    assert rates[-1] > 0


_finite_pos = st.floats(1e-6, 1e3, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    name=st.sampled_from(["constant", "inverse_time", "inverse_scaling", "exponential", "step", "cosine"]),
    t=st.lists(st.integers(0, 10**7), min_size=1, max_size=8),
)
def test_random_parameters_match_reference(data, name, t):
    if name == "constant":
        params = (data.draw(_finite_pos),)
    elif name == "inverse_time":
        params = (data.draw(_finite_pos), data.draw(_finite_pos))
    elif name == "inverse_scaling":
        params = (data.draw(_finite_pos), data.draw(st.floats(0.0, 2.0)))
    elif name == "exponential":
        params = (data.draw(_finite_pos), data.draw(st.floats(0.0, 1e-2)))
    elif name == "step":
        params = (data.draw(_finite_pos), data.draw(st.floats(0.01, 1.0)), data.draw(st.integers(1, 10**6)))
    else:
        eta0 = data.draw(_finite_pos)
        params = (eta0, data.draw(st.floats(0.0, eta0 * 0.99)), data.draw(st.integers(1, 10**6)))
    sched = getattr(S, name)(*params)
    t = np.array(t)
    assert_rates_close(sched(t), ref.schedule(name, params, t), params[0])


# --- repr and equality ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sched", "text"),
    [
        (S.constant(0.1), "constant(eta=0.1)"),
        (S.constant(2), "constant(eta=2.0)"),
        (S.inverse_time(1, 10), "inverse_time(t0=1.0, t1=10.0)"),
        (S.inverse_scaling(), "inverse_scaling(eta0=0.01, power_t=0.25)"),
        (S.exponential(0.5, 0.001), "exponential(eta0=0.5, decay=0.001)"),
    ],
)
def test_repr(sched, text):
    assert repr(sched) == text
    assert eval(text, vars(S)) == sched  # the repr is code that rebuilds the schedule


@pytest.mark.parametrize("sched", [S.step(0.1, 0.5, 1000), S.cosine(0.1, 0.0, 1000)], ids=["step", "cosine"])
def test_repr_of_integer_parameters(sched):
    assert repr(sched).endswith("1000)")
    assert eval(repr(sched), vars(S)) == sched


def test_equality():
    assert S.constant(0.1) == S.constant(0.1)
    assert S.constant(0.1) != S.constant(0.2)
    assert S.inverse_time(5, 50) == S.inverse_time()
    assert S.inverse_time(5, 50) != S.inverse_scaling(5, 50)
    assert S.constant(0.1) != 0.1
    with pytest.raises(TypeError):
        hash(S.constant(0.1))


def test_integer_like_parameters_are_accepted():
    assert S.step(0.1, 0.5, np.int64(10)) == S.step(0.1, 0.5, 10)
    assert S.constant(np.float64(0.25))(3) == 0.25


# --- bad parameters ---------------------------------------------------------------------------

BAD = [
    # (constructor, kwargs, exception, the message must match)
    ("constant", {"eta": 0}, ValueError, r"eta must be > 0, got 0\.0"),
    ("constant", {"eta": -0.1}, ValueError, r"eta must be > 0, got -0\.1"),
    ("constant", {"eta": float("nan")}, ValueError, r"eta must be finite, got nan"),
    ("constant", {"eta": float("inf")}, ValueError, r"eta must be finite, got inf"),
    ("constant", {"eta": "0.1"}, TypeError, r"eta must be a real number, got '0\.1'"),
    ("constant", {"eta": True}, TypeError, r"eta must be a real number, got True"),
    ("constant", {"eta": None}, TypeError, r"eta must be a real number, got None"),
    ("constant", {"eta": [0.1]}, TypeError, r"eta must be a real number"),
    ("inverse_time", {"t0": 0}, ValueError, r"t0 must be > 0"),
    ("inverse_time", {"t1": 0}, ValueError, r"t1 must be > 0, got 0\.0"),
    ("inverse_time", {"t1": -50}, ValueError, r"t1 must be > 0"),
    ("inverse_time", {"t0": complex(1, 1)}, TypeError, r"t0 must be a real number"),
    ("inverse_scaling", {"eta0": 0}, ValueError, r"eta0 must be > 0"),
    ("inverse_scaling", {"power_t": -0.5}, ValueError, r"power_t must be >= 0, got -0\.5"),
    ("inverse_scaling", {"power_t": float("inf")}, ValueError, r"power_t must be finite"),
    ("exponential", {"eta0": -1, "decay": 0.1}, ValueError, r"eta0 must be > 0"),
    ("exponential", {"eta0": 0.1, "decay": -0.1}, ValueError, r"decay must be >= 0"),
    ("exponential", {"eta0": 0.1, "decay": "fast"}, TypeError, r"decay must be a real number"),
    ("step", {"eta0": 0}, ValueError, r"eta0 must be > 0"),
    ("step", {"eta0": 0.1, "drop": 0}, ValueError, r"drop must be > 0"),
    ("step", {"eta0": 0.1, "drop": 1.5}, ValueError, r"drop must be <= 1, got 1\.5"),
    ("step", {"eta0": 0.1, "every": 0}, ValueError, r"every must be >= 1, got 0$"),
    ("step", {"eta0": 0.1, "every": 2.5}, TypeError, r"every must be an integer, got 2\.5"),
    ("step", {"eta0": 0.1, "every": 10.0}, TypeError, r"every must be an integer"),
    ("step", {"eta0": 0.1, "every": True}, TypeError, r"every must be an integer, got True"),
    ("cosine", {"eta0": 0}, ValueError, r"eta0 must be > 0"),
    ("cosine", {"eta0": 0.1, "eta_min": -0.1}, ValueError, r"eta_min must be >= 0"),
    ("cosine", {"eta0": 0.1, "eta_min": 0.1}, ValueError, r"eta_min must be below eta0, got eta_min=0\.1 >= eta0"),
    ("cosine", {"eta0": 0.1, "eta_min": 0.5}, ValueError, r"eta_min must be below eta0"),
    ("cosine", {"eta0": 0.1, "period": 0}, ValueError, r"period must be >= 1"),
    ("cosine", {"eta0": 0.1, "period": 1.5}, TypeError, r"period must be an integer"),
]


@pytest.mark.parametrize(("name", "kwargs", "exc", "match"), BAD, ids=[f"{b[0]}-{b[1]}" for b in BAD])
def test_bad_parameters(name, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        getattr(S, name)(**kwargs)


# --- custom -----------------------------------------------------------------------------------


@numba.njit
def halving(t):
    return 0.1 * 0.5 ** (t // 100)


@numba.njit
def bad_rate(t):
    """Positive except: 0 at t = 7, negative at t = 12, NaN at t = 20."""
    if t == 7:
        return 0.0
    if t == 12:
        return -0.01
    if t == 20:
        return np.nan
    return 0.01


def test_custom_njit_function():
    sched = S.custom(halving)
    assert isinstance(sched, S.LearningRateSchedule)
    assert sched.code == int(S._Code.TABLE)
    t = np.arange(250, 450)
    expected = 0.1 * 0.5 ** (t // 100)
    np.testing.assert_array_equal(sched.table(250, 200), expected)
    np.testing.assert_array_equal(sched(t), expected)
    assert sched(150) == 0.05
    assert repr(sched) == "custom('halving')"
    assert sched == S.custom(halving)
    assert sched != S.custom(bad_rate)


@pytest.mark.parametrize(
    "func",
    [lambda t: 0.1, math.sqrt, 0.1, "inverse_time", numba.vectorize(lambda t: 0.1)],
    ids=["lambda", "builtin", "float", "str", "vectorize"],
)
def test_custom_rejects_non_njit(func):
    with pytest.raises(TypeError, match=r"must be a numba @njit function of t"):
        S.custom(func)


@pytest.mark.parametrize(
    ("t_start", "count", "bad_t", "value"),
    [(0, 10, 7, r"0\.0"), (8, 10, 12, r"-0\.01"), (13, 10, 20, "nan"), (5, 3, 7, r"0\.0")],
)
def test_custom_table_rejects_bad_rates(t_start, count, bad_t, value):
    sched = S.custom(bad_rate)
    message = rf"^learning_rate function bad_rate returned {value} at t={bad_t}; rates must be > 0 and finite$"
    with pytest.raises(ValueError, match=message):
        sched.table(t_start, count)


def test_custom_table_accepts_a_good_range():
    sched = S.custom(bad_rate)
    np.testing.assert_array_equal(sched.table(0, 7), np.full(7, 0.01))
    np.testing.assert_array_equal(sched.table(21, 100), np.full(100, 0.01))
