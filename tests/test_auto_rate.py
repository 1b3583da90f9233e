"""learning_rate="auto" for every optimizer: within 1% of numpy's least-squares optimum in the
default number of epochs, and never a claim of convergence the result does not meet."""

import warnings

import numpy as np
import pytest

import fastgd
from fastgd import schedules

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")
DTYPES = (np.float64, np.float32)


def issue(seed):
    """Offsets up to 100 and spreads 0.5 to 3 (standardize=True makes it well-posed)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(2000, 5)) * [1, 2, 0.5, 3, 1] + [10, -5, 0, 100, 3]
    return X, X @ rng.normal(size=5) + 3 + rng.normal(size=2000), True


def scaled(seed, offset=0.0):
    """Already-scaled features, fitted as they are; ``offset``: an intercept far from 0."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(2000, 5))
    return X, X @ rng.normal(size=5) + 3 + offset + rng.normal(size=2000), False


PROBLEMS = {
    "standardized": lambda: issue(0),
    "scaled": lambda: scaled(10),
    "offset100": lambda: scaled(11, offset=100.0),
}


def relative_excess(res, X, y):
    """(F(θ) - F*) / F* of the training MSE, F* from lstsq on the data as fitted (in float64)."""
    A = np.column_stack([np.ones(len(y)), X.astype(np.float64)])
    y = y.astype(np.float64)
    best = np.mean((A @ np.linalg.lstsq(A, y, rcond=None)[0] - y) ** 2)
    theta = np.r_[np.float64(res.intercept), np.asarray(res.coef, np.float64)]
    return float(np.mean((A @ theta - y) ** 2) / best - 1)


def check(res, X, y):
    excess = relative_excess(res, X, y)
    assert excess <= 1e-2, (res.learning_rate, res.n_epochs, excess)
    if res.converged:  # the certificate: (F - F*)/F <= m, hence (F - F*)/F* <= m / (1 - m)
        assert res.optimality_measure == "excess_bound"
        m = res.optimality
        assert m <= 1e-6  # the default tol
        assert excess <= m / (1 - m) + 1e-9, (excess, m)  # 1e-9: θ rounded to X's dtype
    return excess


def fit(problem, dtype, **kwargs):
    X, y, standardize = PROBLEMS[problem]()
    X, y = X.astype(dtype), y.astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
        return fastgd.fit(X, y, standardize=standardize, random_state=0, **kwargs), X, y


@pytest.mark.parametrize("problem", PROBLEMS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("method", ["batch", "minibatch"])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_auto_rate_reaches_the_optimum(optimizer, method, dtype, problem):
    res, X, y = fit(problem, dtype, method=method, optimizer=optimizer)
    assert res.coef.dtype == dtype
    check(res, X, y)


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_auto_rate_sgd(optimizer):
    res, X, y = fit("standardized", np.float64, method="sgd", optimizer=optimizer)
    check(res, X, y)


@pytest.mark.parametrize("optimizer", ["adagrad", "rmsprop", "adam"])
def test_adaptive_auto_rate_is_a_distance(optimizer):
    """eta0 = ‖∇F(θ0)‖ / L: the same for y and for 1000 y but for the factor (a length in θ's
    units); batch GD per the optimizer's AutoRate, SGD and mini-batch an exponential decay."""
    X, y, _ = scaled(3)
    rule = fastgd.optimizers.BY_NAME[optimizer]().auto_rate
    rates = []
    for scale in (1.0, 1000.0):
        kwargs = dict(method="batch", optimizer=optimizer, init="zeros", max_epochs=1, tol=0)
        sched = fastgd.fit(X, scale * y, **kwargs).learning_rate
        rates.append(sched(0))
        expected = "constant" if rule.batch_power == 0 else "inverse_scaling"
        assert sched.name == expected
    assert rates[1] == pytest.approx(1000 * rates[0], rel=1e-9)
    res = fastgd.fit(X, y, method="minibatch", optimizer=optimizer, init="zeros", max_epochs=1, tol=0)
    sched = res.learning_rate
    assert sched.name == "exponential"
    per_epoch = -(-len(y) // 32)
    assert sched(int(rule.decay_epochs * per_epoch)) == pytest.approx(sched(0) / np.e)


def test_auto_rate_at_the_optimum_is_positive():
    """A start at the optimum (no gradient, nothing to travel) still gets a valid schedule."""
    X, y, _ = scaled(4)
    theta = fastgd.fit(X, y, method="svd").theta
    res = fastgd.fit(X, y, method="batch", optimizer="adam", init=theta, max_epochs=5)
    assert res.learning_rate(0) > 0
    assert isinstance(res.learning_rate, schedules.LearningRateSchedule)


@pytest.mark.parametrize("optimizer", ["adagrad", "rmsprop", "adam"])
def test_adaptive_auto_rate_on_the_log_loss(optimizer):
    """Logistic regression: batch GD's adaptive fits reach the optimum's loss too."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1000, 4)) * [1, 2, 0.5, 3] + [10, -5, 0, 100]
    p = 1 / (1 + np.exp(-((X - X.mean(0)) / X.std(0)) @ rng.normal(size=4) - 0.5))
    y = (rng.random(1000) < p).astype(int)
    best = fastgd.fit(X, y, loss="log", method="batch", standardize=True, tol=1e-12, max_epochs=10**5).loss
    res = fastgd.fit(X, y, loss="log", method="batch", optimizer=optimizer, standardize=True, random_state=0)
    assert res.converged and res.loss <= best * (1 + 1e-6)
