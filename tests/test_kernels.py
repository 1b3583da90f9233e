"""Every kernel of ``fastgd.kernels`` against its plain-numpy twin in tests/reference.py.

Tolerances.  The kernels read float32 data exactly as float64 (every float32 is a float64) and
accumulate in float64, so the kernel on float32 X and the reference on ``X.astype(float64)``
do the same arithmetic up to the order of the additions: the same tolerance serves both dtypes.
For a reduction (loss, gradient, column means, row norms) the bound is absolute, relative to the
sum of the absolute values of the terms: any summation order of N terms errs by at most about
N·2⁻⁵³·Σ|terms| (≈ 6e-13 for N = 5000), hence ``RTOL = 1e-12`` times that scale.  Iterated
updates (SGD, mini-batch paths) feed those rounding differences back; on these small, stable
problems they stay far below ``PATH_RTOL = 1e-10``.
"""

import math

import numba
import numpy as np
import pytest
import reference as ref
from hypothesis import given, settings
from hypothesis import strategies as st

from fastgd import kernels as K
from fastgd import optimizers, schedules
from fastgd.kernels import codes
from fastgd.kernels._config import CHUNK
from fastgd.kernels.losses import loss_dp

RTOL = 1e-12
PATH_RTOL = 1e-10
SQUARED = int(codes.SQUARED)
SOFTMAX = int(codes.SOFTMAX)

DTYPES = pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
STANDARDIZE = pytest.mark.parametrize("standardize", [False, True], ids=["raw", "std"])
INTERCEPT = pytest.mark.parametrize("fit_intercept", [True, False], ids=["icpt", "noicpt"])
WEIGHTED = pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])

#: one instance of every built-in schedule, keyed by its code
BUILTIN = {
    codes.CONSTANT: schedules.constant(0.1),
    codes.INVERSE_TIME: schedules.inverse_time(5.0, 50.0),
    codes.INVERSE_SCALING: schedules.inverse_scaling(0.01, 0.25),
    codes.EXPONENTIAL: schedules.exponential(0.1, 1e-3),
    codes.STEP: schedules.step(0.1, 0.5, 1000),
    codes.COSINE: schedules.cosine(0.1, 1e-3, 1000),
}

#: the loss of each codes.Loss with the parameter eps it is tested with, and its number of outputs
LOSSES = {
    "squared": (0.0, 1),
    "huber": (1.0, 1),
    "epsilon_insensitive": (0.5, 1),
    "squared_epsilon_insensitive": (0.5, 1),
    "log": (0.0, 1),
    "hinge": (0.0, 1),
    "squared_hinge": (0.0, 1),
    "modified_huber": (0.0, 1),
    "perceptron": (0.0, 1),
    "softmax": (0.0, 3),
}
EACH_LOSS = pytest.mark.parametrize("loss", list(LOSSES))
REGRESSION = ("squared", "huber", "epsilon_insensitive", "squared_epsilon_insensitive")

#: the penalties as (l2, l1)
PENALTIES = {"none": (0.0, 0.0), "l2": (0.3, 0.0), "l1": (0.0, 0.4), "elasticnet": (0.15, 0.2)}
#: one instance of every optimizer, by name
OPTIMIZERS = {name: make() for name, make in optimizers.BY_NAME.items()}


def make_model(loss="squared", fit_intercept=True, l2=0.0, l1=0.0, eps=None):
    """The kernels' ``model`` tuple, always of the same numba types (bool, int, 3 floats), so
    that every test shares the same compiled specializations."""
    if eps is None:
        eps = LOSSES[loss][0]
    return (bool(fit_intercept), int(codes.Loss[loss.upper()]), float(eps), float(l2), float(l1))


def make_opt(name="sgd", average_start=-1):
    """The kernels' ``opt`` tuple (int, float64 array, int) of the optimizer ``name``."""
    o = OPTIMIZERS[name]
    return (int(o.code), o.params, int(average_start))


def zero_state(theta):
    return np.zeros((2, *theta.shape))


# The epoch kernels take grouped arguments (data, view, model, optimizer, schedule, theta, order or
# batches, path or shards); these call them with the arguments in their loops' order.


def sgd_epoch(X, y, weights, theta, order, center, scale_inv, model, opt, state, avg, code, params, t, path):
    data, optimizer, schedule = (X, y, weights), (opt, state, avg), (code, params, t)
    return K.sgd_epoch(data, (center, scale_inv), model, optimizer, schedule, theta, order, path)


def minibatch_epoch(
    X, y, weights, theta, order, b, center, scale_inv, model, opt, state, avg, code, params, t, _, path
):
    """(the grad scratch ``_`` is the kernel's own now)"""
    data, optimizer, schedule = (X, y, weights), (opt, state, avg), (code, params, t)
    return K.minibatch_epoch(data, (center, scale_inv), model, optimizer, schedule, theta, (order, b), path)


def sgd_epoch_local(
    X, y, weights, theta, order, center, scale_inv, model, code, params, t, thetas, states, status, part=None
):
    """(part: every shard's updates a .. b - 1; None: the whole epoch)"""
    data, schedule, shards = (X, y, weights), (code, params, t), (thetas, states, status)
    part = (0, order.shape[0]) if part is None else part
    return K.sgd_epoch_local(data, (center, scale_inv), model, schedule, theta, order, shards, part)


def minibatch_epoch_local(
    X, y, weights, theta, order, b, center, scale_inv, model, code, params, t, thetas, states, _, status, part=None
):
    data, schedule, shards = (X, y, weights), (code, params, t), (thetas, states, status)
    part = (0, order.shape[0]) if part is None else part
    return K.minibatch_epoch_local(data, (center, scale_inv), model, schedule, theta, (order, b), shards, part)


def make_data(n, d, dtype=np.float64, seed=0, loc=0.0):
    """Features on mixed scales and offsets, y linear in them plus noise, both of ``dtype``."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * rng.uniform(0.5, 2.0, d) + rng.uniform(-1.0, 1.0, d) + loc
    w = rng.standard_normal(d + 1)
    y = w[0] + X @ w[1:] + 0.3 * rng.standard_normal(n)
    return np.ascontiguousarray(X, dtype=dtype), y.astype(dtype)


def loss_problem(loss, n, d, dtype=np.float64, seed=0):
    """(X, y, theta (K, d + 1)) for ``loss``: y real for the regression losses, ±1 for the binary
    ones, a class index 0..K-1 for softmax; theta a random point (not the optimum)."""
    X, y = make_data(n, d, dtype, seed)
    rng = np.random.default_rng(seed + 1)
    n_out = LOSSES[loss][1]
    theta = 0.5 * rng.standard_normal((n_out, d + 1))
    if loss == "softmax":
        scores = ref.design(X) @ rng.standard_normal((d + 1, n_out)) + 0.5 * rng.standard_normal((n, n_out))
        y = np.argmax(scores, axis=1).astype(dtype)
    elif loss not in REGRESSION:
        y = np.where(y > np.median(y), 1.0, -1.0).astype(dtype)
    return X, y, theta


def sample_weights(n, seed=0):
    return np.random.default_rng(seed + 2).uniform(0.2, 2.0, n)


def standardization(X, standardize):
    """(center, scale_inv) of X's columns, or (None, None) (kernels read X as is); a column
    without spread is only centered, as in fastgd._dispatch."""
    if not standardize:
        return None, None
    X64 = X.astype(np.float64)
    std = X64.std(axis=0)
    return X64.mean(axis=0), 1.0 / np.where(std > 0, std, 1.0)


def grad_scale(X, y, theta, center, scale_inv):
    """Σ|terms| of the mean squared loss and of each mean-gradient component (the error bound's scale)."""
    Xt = np.abs(ref.design(X, center, scale_inv))
    r = Xt @ np.abs(theta) + np.abs(y.astype(np.float64))
    return float(np.mean(r * r)), 2.0 * (Xt.T @ r) / X.shape[0]


#: the library's passes for ``loss_grad`` and its parallel twin: their two branches as kernels of
#: their own, picked by ``K.is_squared_pass`` (``_dispatch.Problem.pass_kernel``)
LIBRARY_PASSES = {
    K.loss_grad: (K.squared_loss_grad, K.general_loss_grad),
    K.loss_grad_parallel: (K.squared_loss_grad_parallel, K.general_loss_grad_parallel),
}


def call_loss_grad(kernel, X, y, theta, center, scale_inv, model, weights=None, with_grad=True, nones=False):
    """One pass as the library makes it: no weights as ``NO_WEIGHTS``, the loss alone with
    ``NO_GRAD``, θ (K, d + 1), through the library's pass kernel for ``kernel`` (``LIBRARY_PASSES``:
    the same bits, compiled once for the library and the tests).  ``nones`` (``None`` for both) or
    a 1-D θ: the public ``kernel`` itself, in the kernels' other accepted forms (compiled apart)."""
    if weights is None and not nones:
        weights = K.NO_WEIGHTS
    if kernel in LIBRARY_PASSES and not nones and theta.ndim == 2:
        kernel = LIBRARY_PASSES[kernel][0 if K.is_squared_pass(model, theta) else 1]
    grad = np.full(theta.shape, np.nan) if with_grad else (None if nones else K.NO_GRAD)
    work = np.full(K.work_shape(X.shape[0], theta.size), np.nan)  # the kernel must not rely on zeros
    loss = kernel(X, y, weights, theta, center, scale_inv, model, grad, work)
    return loss, grad


def assert_path_close(actual, expected):
    scale = max(np.abs(expected).max(), 1.0)
    np.testing.assert_allclose(actual, expected, rtol=PATH_RTOL, atol=PATH_RTOL * scale)


# --- loss_grad, loss_grad_parallel: the squared loss ---------------------------------------------


@DTYPES
@STANDARDIZE
@INTERCEPT
@pytest.mark.parametrize("kernel", [K.loss_grad, K.loss_grad_parallel], ids=["serial", "parallel"])
@pytest.mark.parametrize("n", [1, 37, 5000])
def test_loss_grad_matches_reference(kernel, dtype, standardize, fit_intercept, n):
    X, y = make_data(n, 3, dtype, seed=n)
    center, scale_inv = standardization(X, standardize)
    theta = np.random.default_rng(1).standard_normal((1, 4))
    theta_before = theta.copy()
    loss, grad = call_loss_grad(kernel, X, y, theta, center, scale_inv, make_model(fit_intercept=fit_intercept))
    ref_loss, ref_grad = ref.loss_grad(X, y, theta[0], center, scale_inv, fit_intercept)
    loss_scale, g_scale = grad_scale(X, y, theta[0], center, scale_inv)
    assert abs(loss - ref_loss) <= RTOL * loss_scale
    np.testing.assert_array_less(np.abs(grad[0] - ref_grad), RTOL * g_scale + 1e-300)
    if not fit_intercept:
        assert grad[0, 0] == 0.0
    np.testing.assert_array_equal(theta, theta_before)  # theta is read, never written


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 60),
    d=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
    dtype=st.sampled_from([np.float64, np.float32]),
    standardize=st.booleans(),
    fit_intercept=st.booleans(),
    log_scale=st.integers(-3, 3),
)
def test_loss_grad_random_shapes(n, d, seed, dtype, standardize, fit_intercept, log_scale):
    X, y = make_data(n, d, dtype, seed)
    X = (X * dtype(10.0**log_scale)).astype(dtype)
    center, scale_inv = standardization(X, standardize)
    theta = np.random.default_rng(seed).standard_normal((1, d + 1))
    model = make_model(fit_intercept=fit_intercept)
    loss, grad = call_loss_grad(K.loss_grad, X, y, theta, center, scale_inv, model)
    ref_loss, ref_grad = ref.loss_grad(X, y, theta[0], center, scale_inv, fit_intercept)
    loss_scale, g_scale = grad_scale(X, y, theta[0], center, scale_inv)
    assert abs(loss - ref_loss) <= RTOL * loss_scale
    np.testing.assert_array_less(np.abs(grad[0] - ref_grad), RTOL * g_scale + 1e-300)
    # the loss alone (its own loop, so summed in another order) agrees to rounding
    alone = call_loss_grad(K.loss_grad, X, y, theta, center, scale_inv, model, with_grad=False)[0]
    assert abs(alone - loss) <= RTOL * loss_scale


def test_none_is_the_empty_weights_and_gradient():
    """``None`` for the weights and for the gradient (a user's own numba code may pass it; the
    library passes ``NO_WEIGHTS`` and ``NO_GRAD``): the same loss and gradient.  The serial
    kernel only: the parallel twin is the same source, and its None variants ~25 s of compiling."""
    kernel = K.loss_grad
    X, y = make_data(3 * CHUNK + 5, 3, np.float64, seed=2)
    theta = np.random.default_rng(2).standard_normal((1, 4))
    model = make_model()
    loss, grad = call_loss_grad(kernel, X, y, theta, None, None, model)
    none_loss, none_grad = call_loss_grad(kernel, X, y, theta, None, None, model, nones=True)
    scale = grad_scale(X, y, theta[0], None, None)
    assert abs(none_loss - loss) <= RTOL * scale[0]
    np.testing.assert_array_less(np.abs(none_grad - grad)[0], RTOL * scale[1] + 1e-300)
    for nones in (False, True):
        alone = call_loss_grad(kernel, X, y, theta, None, None, model, with_grad=False, nones=nones)[0]
        assert abs(alone - loss) <= RTOL * scale[0]


@pytest.mark.parametrize("loss", ["squared", "log", "softmax"])
def test_the_library_passes_are_loss_grads_branches(loss):
    """``squared_loss_grad`` / ``general_loss_grad`` (what the library runs) give the public
    ``loss_grad``'s bits, with and without the gradient: each is one of its branches."""
    X, y, theta = loss_problem(loss, 2 * CHUNK + 7, 3, seed=5)
    model = make_model(loss)
    split = LIBRARY_PASSES[K.loss_grad][0 if K.is_squared_pass(model, theta) else 1]
    assert (split is K.squared_loss_grad) == (loss == "squared")
    for with_grad in (True, False):
        got = call_loss_grad(split, X, y, theta, None, None, model, with_grad=with_grad)
        public = K.loss_grad  # called directly, not through call_loss_grad's mapping
        grad = np.full(theta.shape, np.nan) if with_grad else K.NO_GRAD
        work = np.full(K.work_shape(X.shape[0], theta.size), np.nan)
        expected = public(X, y, K.NO_WEIGHTS, theta, None, None, model, grad, work)
        assert got[0] == expected
        if with_grad:
            np.testing.assert_array_equal(got[1], grad)


@DTYPES
@STANDARDIZE
@pytest.mark.parametrize("n", [1, 100, CHUNK, CHUNK + 1, 5000])
def test_loss_grad_parallel_is_bit_identical(dtype, standardize, n):
    X, y = make_data(n, 4, dtype, seed=n)
    center, scale_inv = standardization(X, standardize)
    theta = np.random.default_rng(2).standard_normal((1, 5))
    model = make_model()
    serial = call_loss_grad(K.loss_grad, X, y, theta, center, scale_inv, model)
    previous = numba.get_num_threads()
    try:
        results = []
        for threads in sorted({1, min(2, numba.config.NUMBA_NUM_THREADS)}):
            numba.set_num_threads(threads)
            results.append(call_loss_grad(K.loss_grad_parallel, X, y, theta, center, scale_inv, model))
    finally:
        numba.set_num_threads(previous)
    assert numba.get_num_threads() == previous
    for loss, grad in results:
        assert loss == serial[0]
        np.testing.assert_array_equal(grad, serial[1])


def test_loss_grad_parallel_is_bit_identical_weighted_softmax():
    """The general block (any loss, K outputs, weights) is also split and combined in block order."""
    X, y, theta = loss_problem("softmax", CHUNK + 500, 3, seed=3)
    weights = sample_weights(len(y), seed=3)
    model = make_model("softmax")
    serial = call_loss_grad(K.loss_grad, X, y, theta, None, None, model, weights)
    parallel = call_loss_grad(K.loss_grad_parallel, X, y, theta, None, None, model, weights)
    assert parallel[0] == serial[0]
    np.testing.assert_array_equal(parallel[1], serial[1])


def test_n_chunks():
    assert [K.n_chunks(n) for n in (0, 1, CHUNK, CHUNK + 1, 3 * CHUNK)] == [1, 1, 1, 2, 3]
    assert K.work_shape(CHUNK + 1, 12) == (2, 14)


def test_theta_1d_is_one_row():
    """A (d + 1,) theta and grad are read as one row: the very bits of (1, d + 1)."""
    X, y, theta = loss_problem("log", 50, 3, seed=4)
    model = make_model("log")
    loss2, grad2 = call_loss_grad(K.loss_grad, X, y, theta, None, None, model)
    loss1, grad1 = call_loss_grad(K.loss_grad, X, y, theta[0], None, None, model)
    assert grad1.shape == (4,)
    assert loss1 == loss2
    np.testing.assert_array_equal(grad1, grad2[0])


@DTYPES
@STANDARDIZE
@INTERCEPT
def test_batch_gd_iterations_match_reference(dtype, standardize, fit_intercept):
    """θ ← θ − η ∇MSE(θ) driven by the kernel's gradient follows the textbook batch GD."""
    X, y = make_data(50, 3, dtype, seed=3)
    center, scale_inv = standardization(X, standardize)
    theta0 = np.random.default_rng(3).standard_normal(4)
    theta0[0] *= fit_intercept
    etas = np.full(30, 0.02)
    model = make_model(fit_intercept=fit_intercept)
    theta, path = theta0.reshape(1, 4).copy(), []
    for eta in etas:
        _, grad = call_loss_grad(K.loss_grad, X, y, theta, center, scale_inv, model)
        theta -= eta * grad
        path.append(theta[0].copy())
    ref_theta, ref_path = ref.batch_gd(X, y, theta0, etas, center, scale_inv, fit_intercept)
    assert_path_close(np.array(path), ref_path)
    np.testing.assert_array_equal(ref_path[-1], ref_theta)
    # and it does descend
    assert ref.loss_grad(X, y, theta[0], center, scale_inv)[0] < ref.loss_grad(X, y, theta0, center, scale_inv)[0]


# --- loss_grad: every loss, weights -------------------------------------------------------------


def kink_distance(loss, X, y, theta):
    """Per row, how far the prediction is from a point where the loss's derivative jumps or its
    second derivative does (inf for the smooth losses)."""
    eps = LOSSES[loss][0]
    p = ref.design(X) @ theta[0]
    y = y.astype(np.float64)
    if loss in ("huber", "epsilon_insensitive", "squared_epsilon_insensitive"):
        return np.abs(np.abs(p - y) - eps)
    if loss in ("hinge", "squared_hinge"):
        return np.abs(y * p - 1.0)
    if loss == "perceptron":
        return np.abs(y * p)
    if loss == "modified_huber":
        return np.minimum(np.abs(y * p - 1.0), np.abs(y * p + 1.0))
    return np.full(len(y), np.inf)


@pytest.mark.parametrize("loss", ["hinge", "squared_hinge", "modified_huber", "perceptron"])
def test_derivatives_at_the_kinks_are_scikit_learns(loss):
    """At and around each kink the kernels' derivative is scikit-learn's own (``_sgd_fast``'s
    losses, its y and p), e.g. -y for the hinge at z = 1 (scikit-learn's loss classes take
    dloss(y, p) with the same sign convention, on the same loss: no factor here)."""
    sgd_fast = pytest.importorskip("sklearn.linear_model._sgd_fast")
    peer = {
        "hinge": lambda: sgd_fast.Hinge(1.0),
        "squared_hinge": lambda: sgd_fast.SquaredHinge(1.0),
        "modified_huber": sgd_fast.ModifiedHuber,
        "perceptron": lambda: sgd_fast.Hinge(0.0),
    }[loss]()
    code = int(codes.Loss[loss.upper()])
    for y in (-1.0, 1.0):
        for z in (-2.0, -1.0 - 1e-12, -1.0, -0.5, 0.0, 0.5, 1.0 - 1e-12, 1.0, 1.0 + 1e-12, 2.0):
            p = z * y
            assert loss_dp(code, 0.0, p, y) == pytest.approx(peer.py_dloss(p, y), rel=1e-12), (y, z)


@DTYPES
@WEIGHTED
@EACH_LOSS
def test_loss_grad_is_the_derivative_of_the_loss(loss, dtype, weighted):
    """Central finite differences of the kernel's own mean loss give its gradient, every entry of
    theta (K, d + 1), the intercepts fitted; rows within 1e-2 of a kink are left out."""
    X, y, theta = loss_problem(loss, 200, 3, dtype, seed=5)
    keep = kink_distance(loss, X, y, theta) > 1e-2
    X, y = np.ascontiguousarray(X[keep]), y[keep]
    weights = sample_weights(len(y), seed=5) if weighted else None
    model = make_model(loss)
    if loss in ("hinge", "epsilon_insensitive", "perceptron"):  # both pieces are represented: not a trivial check
        _, G = ref.sample_terms(model, X, y, theta)
        assert 10 < np.count_nonzero(G[:, 0, 0]) < len(y) - 10
    _, grad = call_loss_grad(K.loss_grad, X, y, theta, None, None, model, weights)
    h = 1e-6
    fd = np.empty_like(theta)
    for idx in np.ndindex(theta.shape):
        up, down = theta.copy(), theta.copy()
        up[idx] += h
        down[idx] -= h
        f_up = call_loss_grad(K.loss_grad, X, y, up, None, None, model, weights)[0]
        f_down = call_loss_grad(K.loss_grad, X, y, down, None, None, model, weights)[0]
        fd[idx] = (f_up - f_down) / (2 * h)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-7)


@WEIGHTED
@STANDARDIZE
@INTERCEPT
@EACH_LOSS
def test_loss_grad_every_loss_matches_reference(loss, weighted, standardize, fit_intercept):
    """Mean loss Σ w loss / Σ w and its gradient, every loss, against the formulas of codes.Loss."""
    X, y, theta = loss_problem(loss, 300, 4, seed=6)
    center, scale_inv = standardization(X, standardize)
    weights = sample_weights(len(y), seed=6) if weighted else None
    model = make_model(loss, fit_intercept)
    loss_value, grad = call_loss_grad(K.loss_grad, X, y, theta, center, scale_inv, model, weights)
    ref_loss, ref_grad = ref.general_loss_grad(model, X, y, theta, weights, center, scale_inv)
    # error bound: RTOL times the weighted mean of the absolute terms
    terms, G = ref.sample_terms(model, X, y, theta, center, scale_inv)
    w = np.ones(len(y)) if weights is None else weights
    loss_scale = w @ np.abs(terms) / w.sum()
    g_scale = np.tensordot(w, np.abs(G), axes=1) / w.sum()
    assert abs(loss_value - ref_loss) <= RTOL * loss_scale
    np.testing.assert_array_less(np.abs(grad - ref_grad), RTOL * g_scale + 1e-300)
    if not fit_intercept:
        assert (grad[:, 0] == 0.0).all()


@EACH_LOSS
def test_integer_weights_repeat_rows(loss):
    """Weight w (an integer, 0 included) is the row repeated w times: same loss, same gradient."""
    X, y, theta = loss_problem(loss, 120, 3, seed=7)
    counts = np.random.default_rng(7).integers(0, 4, len(y))
    model = make_model(loss)
    weighted = call_loss_grad(K.loss_grad, X, y, theta, None, None, model, counts.astype(np.float64))
    repeated = call_loss_grad(K.loss_grad, np.repeat(X, counts, axis=0), np.repeat(y, counts), theta, None, None, model)
    assert math.isclose(weighted[0], repeated[0], rel_tol=RTOL)
    np.testing.assert_allclose(weighted[1], repeated[1], rtol=1e-11, atol=1e-13)


# --- update, penalty, stationarity -------------------------------------------------------------


@INTERCEPT
@pytest.mark.parametrize("penalty", list(PENALTIES))
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_update_matches_reference(optimizer, penalty, fit_intercept):
    """Several steps of each optimizer with each penalty (theta (2, d + 1), the state carried
    over, t from t_start): the documented rules, step by step; L1 gives exact zeros, the same ones."""
    rng = np.random.default_rng(8)
    l2, l1 = PENALTIES[penalty]
    model = make_model(fit_intercept=fit_intercept, l2=l2, l1=l1)
    opt = make_opt(optimizer)
    theta = 0.1 * rng.standard_normal((2, 4))
    start = theta.copy()
    state = zero_state(theta)
    reference = ref.Optimizer(*opt[:2])
    expected = theta.copy()
    t_start, zeros = 3, 0
    for k in range(8):
        grad = 0.3 * rng.standard_normal(theta.shape)
        eta = 0.1 / (1 + k)
        grad_before = grad.copy()
        K.update(theta, grad, model, opt, state, eta, t_start + k)
        expected = reference.step(expected, grad, model, eta, t_start + k)
        np.testing.assert_allclose(theta, expected, rtol=RTOL, atol=1e-15)
        np.testing.assert_array_equal(theta == 0.0, expected == 0.0)
        np.testing.assert_array_equal(grad, grad_before)
        zeros += np.count_nonzero(theta[:, 1:] == 0.0)
    if not fit_intercept:
        np.testing.assert_array_equal(theta[:, 0], start[:, 0])
    assert zeros >= 3 if l1 > 0 else zeros == 0


@pytest.mark.parametrize("penalty", list(PENALTIES))
def test_penalty_and_stationarity_match_reference(penalty):
    rng = np.random.default_rng(9)
    l2, l1 = PENALTIES[penalty]
    theta = rng.standard_normal((3, 5))
    theta[1, 2] = 0.0  # a zero coefficient: the L1 subgradient's set-valued point
    grad = rng.standard_normal(theta.shape)
    for fit_intercept in (True, False):
        model = make_model(fit_intercept=fit_intercept, l2=l2, l1=l1)
        assert math.isclose(K.penalty(theta, model), ref.penalty(theta, model), rel_tol=RTOL)
        for eta in (0.01, 0.5):
            got = K.stationarity(theta, grad, model, eta)
            assert math.isclose(got, ref.stationarity(theta, grad, model, eta), rel_tol=RTOL)


def test_stationarity_is_zero_at_a_lasso_minimum():
    """At a minimum of mean loss + penalty the proximal gradient mapping vanishes: a coefficient
    at 0 with |gradient| <= l1 counts as stationary, a non-zero one needs gradient = -l1 sign(w)."""
    theta = np.array([[0.5, 0.0, 2.0, -1.0]])
    model = make_model(l1=0.3)
    grad = np.array([[0.0, 0.2, -0.3, 0.3]])
    assert K.stationarity(theta, grad, model, 0.1) < 1e-13  # 0 up to the rounding of w - prox(w - eta g)
    grad[0, 1] = 0.4  # above l1: moving off zero pays
    assert math.isclose(K.stationarity(theta, grad, model, 0.1), 0.1)


# --- sgd_epoch, minibatch_epoch: the fast loop, squared loss -----------------------------------


def sched_args(code):
    sched = BUILTIN[code]
    return sched.code, sched.params, codes.Schedule(code).name.lower()


def fast_sgd(X, y, theta, order, sched_code, sched_params, t_start, path, model=None, center=None, scale_inv=None):
    """sgd_epoch's fast loop (state None): plain SGD, the squared loss, no penalty, no average."""
    model = make_model() if model is None else model
    return sgd_epoch(
        X, y, None, theta, order, center, scale_inv, model, make_opt(), None, None, sched_code, sched_params, t_start,
        path,
    )  # fmt: skip


@DTYPES
@STANDARDIZE
@INTERCEPT
def test_sgd_epoch_path_matches_reference(dtype, standardize, fit_intercept):
    n, d = 40, 3
    X, y = make_data(n, d, dtype, seed=4)
    X_before, y_before = X.copy(), y.copy()
    center, scale_inv = standardization(X, standardize)
    rng = np.random.default_rng(4)
    theta0 = rng.standard_normal(d + 1)
    theta0[0] *= fit_intercept
    sched = schedules.inverse_time(0.5, 50.0)  # 0.01, decaying: stable for these rows
    model = make_model(fit_intercept=fit_intercept)
    theta = theta0.reshape(1, d + 1).copy()
    for epoch in range(2):  # the second epoch starts at t = n
        order = rng.permutation(n).astype(np.int64)
        t_start = epoch * n
        path = np.full((n, 1, d + 1), np.nan)
        status = fast_sgd(X, y, theta, order, sched.code, sched.params, t_start, path, model, center, scale_inv)
        assert status == codes.OK
        etas = ref.schedule("inverse_time", [0.5, 50.0], t_start + np.arange(n))
        ref_theta, ref_path = ref.sgd_epoch(X, y, theta0, order, etas, center, scale_inv, fit_intercept)
        assert_path_close(path[:, 0], ref_path)
        np.testing.assert_array_equal(path[-1], theta)  # the last row of the path is the final theta
        theta0 = ref_theta
    if not fit_intercept:
        assert theta[0, 0] == 0.0
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(y, y_before)


@pytest.mark.parametrize("code", sorted(BUILTIN), ids=[codes.Schedule(c).name for c in sorted(BUILTIN)])
def test_sgd_epoch_every_schedule(code):
    n = 30
    X, y = make_data(n, 2, seed=5)
    theta = np.zeros((1, 3))
    sched_code, params, name = sched_args(code)
    order = np.arange(n, dtype=np.int64)[::-1].copy()
    t_start = 995  # crosses the step/cosine boundaries at t = 1000
    path = np.empty((n, 1, 3))
    assert fast_sgd(X, y, theta, order, sched_code, params, t_start, path) == codes.OK
    etas = ref.schedule(name, params, t_start + np.arange(n))
    assert_path_close(path[:, 0], ref.sgd_epoch(X, y, np.zeros(3), order, etas)[1])


def test_sgd_epoch_table_schedule_and_no_path():
    """TABLE: params[k] is the rate of the k-th update of the epoch, whatever t_start; no path
    (None) records nothing and gives the same theta."""
    n = 25
    X, y = make_data(n, 3, seed=6)
    etas = np.random.default_rng(6).uniform(0.001, 0.02, n)
    order = np.random.default_rng(7).integers(0, n, 2 * n)  # any row sequence, repeats allowed
    etas = np.concatenate([etas, etas[::-1]])
    theta = np.zeros((1, 4))
    assert fast_sgd(X, y, theta, order, codes.TABLE, etas, 12345, None) == codes.OK
    ref_theta, _ = ref.sgd_epoch(X, y, np.zeros(4), order, etas)
    assert_path_close(theta[0], ref_theta)
    theta2, path = np.zeros((1, 4)), np.empty((2 * n, 1, 4))
    fast_sgd(X, y, theta2, order, codes.TABLE, etas, 0, path)
    np.testing.assert_array_equal(theta2, theta)


@DTYPES
@STANDARDIZE
@INTERCEPT
@pytest.mark.parametrize("batch_size", [1, 7, 40, 100])
def test_minibatch_epoch_path_matches_reference(dtype, standardize, fit_intercept, batch_size):
    n, d = 40, 3
    X, y = make_data(n, d, dtype, seed=8)
    center, scale_inv = standardization(X, standardize)
    rng = np.random.default_rng(8)
    theta0 = rng.standard_normal(d + 1)
    theta0[0] *= fit_intercept
    order = rng.permutation(n).astype(np.int64)
    n_batches = -(-n // batch_size)
    t_start = 3 * n_batches
    sched = schedules.inverse_time(0.5, 20.0)
    theta, grad, path = theta0.reshape(1, d + 1).copy(), np.zeros((1, d + 1)), np.full((n_batches, 1, d + 1), np.nan)
    status = minibatch_epoch(
        X, y, None, theta, order, batch_size, center, scale_inv, make_model(fit_intercept=fit_intercept), make_opt(),
        None, None, sched.code, sched.params, t_start, grad, path,
    )  # fmt: skip
    assert status == codes.OK
    etas = ref.schedule("inverse_time", [0.5, 20.0], t_start + np.arange(n_batches))
    ref_theta, ref_path = ref.minibatch_epoch(X, y, theta0, order, batch_size, etas, center, scale_inv, fit_intercept)
    assert_path_close(path[:, 0], ref_path)
    assert_path_close(theta[0], ref_theta)
    np.testing.assert_array_equal(path[-1], theta)
    if batch_size >= n:  # one batch of every row: one step of batch GD
        assert_path_close(theta[0], ref.batch_gd(X, y, theta0, etas[:1], center, scale_inv, fit_intercept)[0])
    if batch_size == 1:  # batches of one: SGD
        assert_path_close(path[:, 0], ref.sgd_epoch(X, y, theta0, order, etas, center, scale_inv, fit_intercept)[1])


# --- sgd_epoch, minibatch_epoch: the general loop ----------------------------------------------

#: (loss, optimizer, penalty) cases of the general loop; every optimizer and loss appears once
GENERAL_CASES = [
    ("log", "adam", "elasticnet"),
    ("hinge", "sgd", "elasticnet"),
    ("huber", "momentum", "l2"),
    ("softmax", "nesterov", "l1"),
    ("modified_huber", "rmsprop", "l2"),
    ("squared_epsilon_insensitive", "adagrad", "l1"),
    ("squared_hinge", "sgd", "l2"),
    ("epsilon_insensitive", "adam", "none"),
    ("squared", "momentum", "elasticnet"),
]
GENERAL = pytest.mark.parametrize(
    ("loss", "optimizer", "penalty"), GENERAL_CASES, ids=["-".join(c) for c in GENERAL_CASES]
)


def general_setup(loss, optimizer, penalty, dtype, seed, n=40, average_start=-1):
    X, y, theta = loss_problem(loss, n, 3, dtype, seed)
    model = make_model(loss, l2=PENALTIES[penalty][0], l1=PENALTIES[penalty][1])
    opt = make_opt(optimizer, average_start)
    return X, y, sample_weights(n, seed), theta, model, opt


@DTYPES
@GENERAL
def test_sgd_epoch_general_loop_matches_reference(loss, optimizer, penalty, dtype):
    """The general loop (a state array): weighted per-sample steps of any loss, penalty and
    optimizer, update by update over two epochs (state and t carried over), and the running
    average from update ``average_start`` on, across the epoch boundary."""
    n = 40
    average_start = n // 2
    X, y, weights, theta, model, opt = general_setup(loss, optimizer, penalty, dtype, 10, n, average_start)
    sched = schedules.inverse_time(0.5, 50.0)
    state, avg = zero_state(theta), np.full(theta.shape, np.nan)
    reference, expected = ref.Optimizer(*opt[:2]), theta.copy()
    rng = np.random.default_rng(10)
    paths = []
    for epoch in range(2):
        order = rng.permutation(n).astype(np.int64)
        t_start = epoch * n
        path = np.full((n, *theta.shape), np.nan)
        status = sgd_epoch(
            X, y, weights, theta, order, None, None, model, opt, state, avg, sched.code, sched.params, t_start, path
        )
        assert status == codes.OK
        etas = ref.schedule("inverse_time", [0.5, 50.0], t_start + np.arange(n))
        expected, ref_path = ref.general_sgd_epoch(model, reference, X, y, expected, order, etas, t_start, weights)
        assert_path_close(path, ref_path)
        np.testing.assert_array_equal(path[-1], theta)
        paths.append(path)
        assert_path_close(avg, ref.average(np.concatenate(paths), 0, average_start))
    if PENALTIES[penalty][1] > 0:
        np.testing.assert_array_equal(theta == 0.0, expected == 0.0)


@DTYPES
@GENERAL
@pytest.mark.parametrize("batch_size", [1, 7])
def test_minibatch_epoch_general_loop_matches_reference(loss, optimizer, penalty, dtype, batch_size):
    """As for SGD: the step on the plain mean over the batch of w_i loss'_i x̃_i, any loss,
    penalty and optimizer, batch by batch, and the running average."""
    n = 40
    n_batches = -(-n // batch_size)
    average_start = 7 + n_batches // 2  # t_start = 7: the average starts mid-epoch
    X, y, weights, theta, model, opt = general_setup(loss, optimizer, penalty, dtype, 11, n, average_start)
    sched = schedules.inverse_time(0.5, 20.0)
    state, avg, grad = zero_state(theta), np.full(theta.shape, np.nan), np.empty_like(theta)
    order = np.random.default_rng(11).permutation(n).astype(np.int64)
    path = np.full((n_batches, *theta.shape), np.nan)
    theta0 = theta.copy()
    status = minibatch_epoch(
        X, y, weights, theta, order, batch_size, None, None, model, opt, state, avg, sched.code, sched.params, 7,
        grad, path,
    )  # fmt: skip
    assert status == codes.OK
    etas = ref.schedule("inverse_time", [0.5, 20.0], 7 + np.arange(n_batches))
    reference = ref.Optimizer(*opt[:2])
    _, ref_path = ref.general_minibatch_epoch(model, reference, X, y, theta0, order, batch_size, etas, 7, weights)
    assert_path_close(path, ref_path)
    np.testing.assert_array_equal(path[-1], theta)
    assert_path_close(avg, ref.average(path, 7, average_start))


def test_average_follows_theta_until_average_start():
    """Before update ``average_start`` the average is theta itself; with -1 it is left alone."""
    X, y, weights, theta, model, opt = general_setup("log", "sgd", "none", np.float64, 12, 30, average_start=1000)
    sched = schedules.constant(0.05)
    order = np.arange(30, dtype=np.int64)
    avg, path = np.full(theta.shape, np.nan), np.empty((30, *theta.shape))
    args = (None, None, model, opt, zero_state(theta), avg, sched.code, sched.params, 0, path)
    assert sgd_epoch(X, y, weights, theta, order, *args) == codes.OK
    np.testing.assert_array_equal(avg, theta)
    untouched = np.full(theta.shape, 7.0)
    opt = make_opt("sgd", -1)
    args = (None, None, model, opt, zero_state(theta), untouched, sched.code, sched.params, 30, path)
    assert sgd_epoch(X, y, weights, theta, order, *args) == codes.OK
    assert (untouched == 7.0).all()


def test_fast_and_general_loops_agree():
    """Squared loss, plain SGD, no penalty: the fast loop (state None) and the general loop (a
    state array) make the same updates, and both follow the weighted reference."""
    n = 40
    X, y, weights, theta0, model, opt = general_setup("squared", "sgd", "none", np.float64, 13, n)
    sched = schedules.inverse_time(0.5, 50.0)
    order = np.random.default_rng(13).permutation(n).astype(np.int64)
    fast, general = theta0.copy(), theta0.copy()
    fast_path, general_path = np.empty((n, 1, 4)), np.empty((n, 1, 4))
    assert (
        sgd_epoch(
            X, y, weights, fast, order, None, None, model, opt, None, None, sched.code, sched.params, 5, fast_path
        )
        == codes.OK
    )
    avg = np.zeros_like(theta0)
    state = zero_state(theta0)
    args = (None, None, model, opt, state, avg, sched.code, sched.params, 5, general_path)
    assert sgd_epoch(X, y, weights, general, order, *args) == codes.OK
    np.testing.assert_allclose(fast_path, general_path, rtol=RTOL, atol=RTOL)
    etas = ref.schedule("inverse_time", [0.5, 50.0], 5 + np.arange(n))
    ref_path = ref.general_sgd_epoch(model, ref.Optimizer(*opt[:2]), X, y, theta0, order, etas, 5, weights)[1]
    assert_path_close(fast_path, ref_path)
    # mini-batches, the same two loops
    fast, general, grad = theta0.copy(), theta0.copy(), np.empty_like(theta0)
    fast_path, general_path = np.empty((6, 1, 4)), np.empty((6, 1, 4))
    common = (order, 7, None, None, model, opt)
    status = minibatch_epoch(X, y, weights, fast, *common, None, None, sched.code, sched.params, 5, grad, fast_path)
    assert status == codes.OK
    status = minibatch_epoch(
        X, y, weights, general, *common, zero_state(theta0), avg, sched.code, sched.params, 5, grad, general_path
    )
    assert status == codes.OK
    np.testing.assert_allclose(fast_path, general_path, rtol=RTOL, atol=RTOL)
    etas = ref.schedule("inverse_time", [0.5, 50.0], 5 + np.arange(6))
    ref_path = ref.general_minibatch_epoch(model, ref.Optimizer(*opt[:2]), X, y, theta0, order, 7, etas, 5, weights)[1]
    assert_path_close(fast_path, ref_path)


@pytest.mark.parametrize(
    "case",
    ["log-loss", "l2", "l1", "momentum", "softmax-K3"],
)
def test_fast_loop_refuses_other_models(case):
    """state None with anything but plain SGD on the squared loss of one output without a
    penalty: NEEDS_STATE, and theta and path untouched."""
    n = 20
    X, y = make_data(n, 3, seed=14)
    theta = np.ones((3 if case == "softmax-K3" else 1, 4))
    model = {
        "log-loss": make_model("log"),
        "l2": make_model(l2=0.1),
        "l1": make_model(l1=0.1),
        "softmax-K3": make_model("softmax"),
    }.get(case, make_model())
    opt = make_opt("momentum" if case == "momentum" else "sgd")
    order = np.arange(n, dtype=np.int64)
    path = np.full((n, *theta.shape), np.nan)
    sched = schedules.constant(0.01)
    status = sgd_epoch(X, y, None, theta, order, None, None, model, opt, None, None, sched.code, sched.params, 0, path)
    assert status == codes.NEEDS_STATE
    grad = np.empty_like(theta)
    path_b = np.full((3, *theta.shape), np.nan)
    status = minibatch_epoch(
        X, y, None, theta, order, 7, None, None, model, opt, None, None, sched.code, sched.params, 0, grad, path_b
    )
    assert status == codes.NEEDS_STATE
    assert (theta == 1.0).all()
    assert np.isnan(path).all() and np.isnan(path_b).all()


# --- gram_loss_grad, gram_descent ----------------------------------------------------------------


def gram_pieces(X, y):
    """(M, h, delta, y_mean, s_yy) of gram.py's docstring, no standardization (S = I, center 0)."""
    x_mean, y_mean = X.mean(axis=0), float(y.mean())
    Xc, yc = X - x_mean, y - y_mean
    n = len(y)
    return Xc.T @ Xc / n, Xc.T @ yc / n, x_mean, y_mean, float(yc @ yc / n)


def test_gram_loss_grad_matches_reference():
    X, y = make_data(200, 4, seed=15)
    theta = np.random.default_rng(15).standard_normal(5)
    grad = np.empty(5)
    loss = K.gram_loss_grad(*gram_pieces(X, y), True, theta, grad)
    ref_loss, ref_grad = ref.loss_grad(X, y, theta)
    assert math.isclose(loss, ref_loss, rel_tol=1e-10)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("optimizer", "penalty"), [("sgd", "l2"), ("momentum", "l1"), ("adam", "elasticnet")])
def test_gram_descent_matches_streaming_updates(optimizer, penalty):
    """gram_descent's steps equal ``update`` steps on ``loss_grad``'s gradient over the data, and
    its history is the objective (mean loss + penalty) after each step."""
    X, y = make_data(200, 4, seed=16)
    pieces = gram_pieces(X, y)
    l2, l1 = PENALTIES[penalty]
    model, opt = make_model(l2=l2, l1=l1), make_opt(optimizer)
    theta0 = np.random.default_rng(16).standard_normal((1, 5))
    etas = ref.schedule("inverse_time", [2.0, 50.0], 3 + np.arange(25))
    theta, grad = theta0.copy(), np.empty((1, 5))
    K.gram_loss_grad(*pieces, True, theta[0], grad[0])
    history, path = np.full(25, np.nan), np.full((25, 1, 5), np.nan)
    steps, status = K.gram_descent(
        *pieces, model, opt, zero_state(theta), theta, etas, 3, 0.0, np.inf, grad, history, path
    )
    assert (steps, status) == (25, 0)  # MAX_EPOCHS
    # the streaming loop, with the kernels
    stream, state = theta0.copy(), zero_state(theta0)
    _, g = call_loss_grad(K.loss_grad, X, y, stream, None, None, model)
    for k, eta in enumerate(etas):
        K.update(stream, g, model, opt, state, eta, 3 + k)
        loss, g = call_loss_grad(K.loss_grad, X, y, stream, None, None, model)
        assert_path_close(path[k], stream)
        assert math.isclose(history[k], loss + K.penalty(stream, model), rel_tol=1e-10)
    np.testing.assert_array_equal(path[-1], theta)
    assert_path_close(grad, g)
    if l1 > 0:
        np.testing.assert_array_equal(theta == 0.0, stream == 0.0)


def test_gram_descent_stops_on_convergence_and_divergence():
    X, y = make_data(200, 4, seed=17)
    pieces = gram_pieces(X, y)
    model, opt = make_model(l1=0.05), make_opt("sgd")
    theta, grad = np.zeros((1, 5)), np.empty((1, 5))
    K.gram_loss_grad(*pieces, True, theta[0], grad[0])
    etas, history, path = np.full(5000, 0.05), np.full(5000, np.nan), np.full((5000, 1, 5), np.nan)
    steps, status = K.gram_descent(
        *pieces, model, opt, zero_state(theta), theta, etas, 0, 1e-8, np.inf, grad, history, path
    )
    assert status == 1 and 1 < steps < 5000  # CONVERGED
    # the measure, from the reference's gradient (equal to the Gram one up to rounding)
    assert ref.stationarity(theta, ref.loss_grad(X, y, theta[0])[1], model, 0.05) <= 1.01e-8
    assert ref.stationarity(path[steps - 2], ref.loss_grad(X, y, path[steps - 2, 0])[1], model, 0.05) > 0.99e-8
    assert np.isnan(path[steps:]).all()
    theta, grad = np.zeros((1, 5)), np.empty((1, 5))
    K.gram_loss_grad(*pieces, True, theta[0], grad[0])
    steps, status = K.gram_descent(
        *pieces, model, opt, zero_state(theta), theta, np.full(50, 10.0), 0, 0.0, 1e6, grad, history, path
    )
    assert status == 2 and steps < 50  # DIVERGED
    assert history[steps - 1] > 1e6 and (history[: steps - 1] <= 1e6).all()


# --- divergence -------------------------------------------------------------------------------


def diverging_sgd(eta=1e10, general=False):
    """An epoch at a huge rate, by the fast loop or by the general one (a state array)."""
    n = 60
    X, y = make_data(n, 3, seed=9)
    order = np.arange(n, dtype=np.int64)
    theta, path = np.zeros((1, 4)), np.full((n, 1, 4), np.nan)
    if general:
        args = (None, None, make_model(), make_opt(), zero_state(theta), np.zeros((1, 4)), codes.CONSTANT)
        status = sgd_epoch(X, y, np.ones(n), theta, order, *args, np.array([eta]), 0, path)
    else:
        status = fast_sgd(X, y, theta, order, codes.CONSTANT, np.array([eta]), 0, path)
    return X, y, order, theta, path, status


@pytest.mark.parametrize("general", [False, True], ids=["fast", "general"])
def test_sgd_epoch_reports_first_nonfinite_gradient(general):
    X, y, order, theta, path, k = diverging_sgd(general=general)
    assert k != codes.OK
    assert 0 < k < len(order)
    # the updates before k were made (and match the reference); update k was not
    etas = np.full(k, 1e10)
    with np.errstate(over="ignore", invalid="ignore"):  # theta may overflow at k - 1 (only g is checked, as documented)
        ref_path = ref.sgd_epoch(X, y, np.zeros(4), order[:k], etas)[1]
    np.testing.assert_allclose(path[:k, 0], ref_path, rtol=1e-8)
    np.testing.assert_array_equal(theta, path[k - 1])
    assert np.isnan(path[k:]).all()  # nothing recorded after k
    with np.errstate(over="ignore", invalid="ignore"):
        g = 2.0 * (ref.design(X)[order[k]] @ theta[0] - y[order[k]])
    assert not np.isfinite(g)
    # a finite rate on the same rows stays finite
    assert diverging_sgd(eta=1e-3, general=general)[-1] == codes.OK


def test_minibatch_epoch_reports_diverging_batch():
    n, batch_size = 60, 1
    X, y = make_data(n, 3, seed=9)
    order = np.arange(n, dtype=np.int64)
    theta, grad, path = np.zeros((1, 4)), np.zeros((1, 4)), np.full((n, 1, 4), np.nan)
    b = minibatch_epoch(
        X, y, None, theta, order, batch_size, None, None, make_model(), make_opt(), None, None, codes.CONSTANT,
        np.array([1e10]), 0, grad, path,
    )  # fmt: skip
    assert b != codes.OK
    assert 0 < b < n
    np.testing.assert_array_equal(theta, path[b - 1])  # left as before batch b
    assert np.isnan(path[b:]).all()


# --- learning_rate, learning_rates ------------------------------------------------------------

T_VALUES = np.array([0, 1, 2, 7, 49, 50, 999, 1000, 1001, 1999, 2000, 123_456, 10**6, 10**9 + 7], dtype=np.int64)


def test_every_builtin_code_is_covered():
    assert set(BUILTIN) | {codes.TABLE} == {int(c) for c in codes.Schedule}


@pytest.mark.parametrize("code", sorted(BUILTIN), ids=[codes.Schedule(c).name for c in sorted(BUILTIN)])
def test_learning_rates_match_reference(code):
    sched_code, params, name = sched_args(code)
    expected = ref.schedule(name, params, T_VALUES)
    out = np.full(T_VALUES.shape, np.nan)
    got = K.learning_rates(sched_code, params, T_VALUES, out)
    assert got is out
    atol = 1e-15 * params[0]  # cosine near the end of a period: 1 + cos(.) cancels
    np.testing.assert_allclose(out, expected, rtol=RTOL, atol=atol)
    for t, e in zip(T_VALUES, expected, strict=True):  # the inline helper, called directly
        assert math.isclose(K.learning_rate(sched_code, params, int(t), 0), e, rel_tol=RTOL, abs_tol=atol)
    assert (out >= 0).all()


def test_learning_rate_table():
    table = np.array([0.5, 0.25, 0.125])
    assert [K.learning_rate(codes.TABLE, table, t, 10) for t in (10, 11, 12)] == [0.5, 0.25, 0.125]
    np.testing.assert_array_equal(
        K.learning_rates(codes.TABLE, table, np.array([2, 0, 1]), np.empty(3)), [0.125, 0.5, 0.25]
    )


def test_learning_rate_unknown_code_is_nan():
    assert math.isnan(K.learning_rate(99, np.array([0.1]), 0, 0))


# --- shuffle ----------------------------------------------------------------------------------

GOLDEN = 0x9E3779B97F4A7C15


@pytest.mark.parametrize("n", [0, 1, 2, 10, 1000])
def test_shuffle_is_reproducible_permutation(n):
    seed = 12345678901234567
    order = np.arange(n, dtype=np.int64)
    state = np.array([seed], dtype=np.uint64)
    out = K.shuffle(order, state)
    assert out is order  # in place
    np.testing.assert_array_equal(np.sort(order), np.arange(n))
    # the state advanced by one splitmix64 step per draw (n - 1 draws)
    assert int(state[0]) == (seed + max(n - 1, 0) * GOLDEN) % 2**64
    # same state -> same order; the documented splitmix64 + Fisher-Yates, step by step
    again = K.shuffle(np.arange(n, dtype=np.int64), np.array([seed], dtype=np.uint64))
    np.testing.assert_array_equal(again, order)
    expected, new_state = ref.splitmix64_shuffle(np.arange(n), seed)
    np.testing.assert_array_equal(order, expected)
    assert int(state[0]) == new_state
    if n >= 10:
        # the advanced state gives a different order next time
        second = K.shuffle(np.arange(n, dtype=np.int64), state)
        assert not np.array_equal(second, order)
        assert not np.array_equal(order, np.arange(n))


def test_shuffle_is_uniform():
    """All 24 orders of 4 items, about equally often (chi-square, fixed seed: deterministic)."""
    state = np.array([7], dtype=np.uint64)
    counts = {}
    draws = 24_000
    for _ in range(draws):
        key = tuple(K.shuffle(np.arange(4, dtype=np.int64), state))
        counts[key] = counts.get(key, 0) + 1
    assert len(counts) == 24
    expected = draws / 24
    chi2 = sum((c - expected) ** 2 / expected for c in counts.values())
    assert chi2 < 49.7  # 99.9th percentile of chi-square with 23 degrees of freedom


# --- column_stats, max_row_norm2 --------------------------------------------------------------


def call_column_stats(kernel, X):
    d = X.shape[1]
    mean, m2 = np.zeros(d), np.zeros(d)
    work = np.full((K.n_chunks(X.shape[0]), 2 * d + 2), np.nan)
    status = kernel(X, mean, m2, work)
    return status, mean, m2


@DTYPES
@pytest.mark.parametrize("n", [1, 5, CHUNK, 5000])
def test_column_stats_match_numpy(dtype, n):
    X, _ = make_data(n, 4, dtype, seed=n, loc=3.0)
    X64 = X.astype(np.float64)
    status, mean, m2 = call_column_stats(K.column_stats, X)
    assert status == -1
    np.testing.assert_array_less(np.abs(mean - X64.mean(axis=0)), RTOL * np.abs(X64).mean(axis=0))
    np.testing.assert_allclose(m2, n * X64.var(axis=0), rtol=1e-10, atol=1e-300)
    # the parallel twin: the same bits
    p_status, p_mean, p_m2 = call_column_stats(K.column_stats_parallel, X)
    assert p_status == status
    np.testing.assert_array_equal(p_mean, mean)
    np.testing.assert_array_equal(p_m2, m2)


@pytest.mark.parametrize(
    ("dtype", "loc", "rtol"),
    [(np.float64, 1e8, 1e-7), (np.float64, 1e12, 1e-7), (np.float32, 1e4, 1e-7)],
    ids=["f64-1e8", "f64-1e12", "f32-1e4"],
)
def test_column_stats_huge_mean_tiny_spread(dtype, loc, rtol):
    """A mean that dwarfs the spread: sum(x^2)/n - mean^2 would lose every digit here (its
    error is about 2^-53 loc^2: 1 at 1e8, 1e8 at 1e12, for a variance of 1).  The kernel
    reads X shifted by its first row, so the mean's size costs no digits."""
    n = 5000
    X = (loc + np.random.default_rng(10).standard_normal((n, 3))).astype(dtype)
    X64 = X.astype(np.float64)
    # the reference: two-pass on X - X[0] (exact differences, Sterbenz), whose mean is accurate;
    # two-pass around numpy's own mean of X would err by about (13 eps 1e12)^2 ~ 1e-6 at 1e12
    shifted = X64 - X64[0]
    ref_var = ((shifted - shifted.mean(axis=0)) ** 2).mean(axis=0)
    for kernel in (K.column_stats, K.column_stats_parallel):
        status, mean, m2 = call_column_stats(kernel, X)
        assert status == -1
        np.testing.assert_allclose(mean, X64.mean(axis=0), rtol=1e-14)
        np.testing.assert_allclose(m2 / n, ref_var, rtol=rtol)


NONFINITE_CASES = {
    "nan-first-block": ([(3, 1, np.nan)], 3),
    "inf-later-block": ([(3000, 2, np.inf)], 3000),
    "nan-and-inf": ([(4500, 0, np.inf), (2100, 1, np.nan), (4400, 2, -np.inf)], 2100),
    "plus-minus-inf": ([(2500, 0, np.inf), (2500, 1, -np.inf)], 2500),
    "last-row": ([(4999, 3, np.nan)], 4999),
}


@DTYPES
@pytest.mark.parametrize("case", list(NONFINITE_CASES))
def test_column_stats_reports_first_nonfinite_row(dtype, case):
    X, _ = make_data(5000, 4, dtype, seed=11)
    cells, first = NONFINITE_CASES[case]
    for i, j, value in cells:
        X[i, j] = value
    assert call_column_stats(K.column_stats, X)[0] == first
    assert call_column_stats(K.column_stats_parallel, X)[0] == first


def test_column_stats_finite_row_with_overflowing_sum_is_finite():
    """Every value finite, but the row's float64 sum overflows: the row holds no NaN or inf."""
    X = np.array([[1e308, 1e308], [1.0, 2.0], [3.0, 1.0]])
    assert call_column_stats(K.column_stats, X)[0] == -1


@DTYPES
@STANDARDIZE
@pytest.mark.parametrize("n", [1, 50, 5000])
def test_max_row_norm2(dtype, standardize, n):
    X, _ = make_data(n, 3, dtype, seed=12)
    if n > 1:
        X[n - 2] = 50.0  # the largest row, in the last block
    center, scale_inv = standardization(X, standardize)
    Z = ref.design(X, center, scale_inv)[:, 1:]  # rows as the model sees them, without the 1
    norms = (Z * Z).sum(axis=1)
    expected = norms.max()
    got = K.max_row_norm2(X, center, scale_inv)
    assert math.isclose(got, expected, rel_tol=RTOL)
    assert K.max_row_norm2_parallel(X, center, scale_inv) == got  # the same blocks, the same bits
    if n > 1:
        assert int(np.argmax(norms)) == n - 2


# --- calling the kernels from a user's own @njit code ------------------------------------------


@numba.njit(cache=True)
def user_sgd(X, y, theta, order, state, n_epochs, params, center, scale_inv, model):
    """A user's own loop: shuffle, one SGD epoch, the loss; all inside numba."""
    n = X.shape[0]
    opt = (0, np.zeros(1), -1)  # plain SGD, no averaging
    work = np.zeros((1 + (n - 1) // 2048, theta.size + 2))
    losses = np.empty(n_epochs)
    t = 0
    for e in range(n_epochs):
        K.shuffle(order, state)
        status = K.sgd_epoch(
            (X, y, None), (center, scale_inv), model, (opt, None, None), (1, params, t), theta, order, None
        )
        if status != -1:
            return status, losses
        t += n
        losses[e] = K.loss_grad(X, y, None, theta, center, scale_inv, model, None, work)
    return -1, losses


@STANDARDIZE
def test_kernels_callable_from_user_njit(standardize):
    X, y = make_data(50, 3, seed=13)
    center, scale_inv = standardization(X, standardize)
    params = schedules.inverse_time(0.5, 50.0).params
    theta0 = np.random.default_rng(13).standard_normal((1, 4))
    model = make_model()

    theta_nb, order_nb, state_nb = theta0.copy(), np.arange(50, dtype=np.int64), np.array([99], dtype=np.uint64)
    status, losses = user_sgd(X, y, theta_nb, order_nb, state_nb, 5, params, center, scale_inv, model)
    assert status == codes.OK

    theta, order, state = theta0.copy(), np.arange(50, dtype=np.int64), np.array([99], dtype=np.uint64)
    py_losses, t = [], 0
    for _ in range(5):
        K.shuffle(order, state)
        assert fast_sgd(X, y, theta, order, codes.INVERSE_TIME, params, t, None, model, center, scale_inv) == codes.OK
        t += 50
        py_losses.append(call_loss_grad(K.loss_grad, X, y, theta, center, scale_inv, model, with_grad=False)[0])
    np.testing.assert_array_equal(order_nb, order)
    assert state_nb[0] == state[0]
    # not always the same bits: inlined into the caller with constant codes, LLVM may contract and
    # reassociate differently under the kernels' fastmath flags (differences of ~1 ulp seen)
    np.testing.assert_allclose(theta_nb, theta, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(losses, py_losses, rtol=1e-13)
    assert losses[-1] < ref.loss_grad(X, y, theta0[0], center, scale_inv)[0]  # it learned something


@pytest.mark.parametrize(("n", "block_rows"), [(1, 64), (130, 64), (128, 64), (1000, 7)])
def test_shuffle_blocks_is_a_permutation_of_runs(n, block_rows):
    order = np.full(n, -1, dtype=np.int32)
    blocks = np.empty(-(-n // block_rows), dtype=np.int32)
    state = np.array([5], dtype=np.uint64)
    K.shuffle_blocks(order, blocks, block_rows, state)
    assert np.array_equal(np.sort(order), np.arange(n))
    runs = np.split(order, np.flatnonzero(np.diff(order) != 1) + 1)
    starts = sorted(int(r[0]) for r in runs)
    assert all(s % block_rows == 0 for s in starts)  # every run starts at a block boundary
    assert all(len(r) <= block_rows or np.all(np.diff(r) == 1) for r in runs)
    if n > 2 * block_rows:
        again = order.copy()
        K.shuffle_blocks(order, blocks, block_rows, state)  # the state advanced: another order
        assert not np.array_equal(order, again)


# --- sgd_epoch_local, minibatch_epoch_local ------------------------------------------------------


def shards(n, n_shards):
    """[start, stop) of each of n_shards contiguous shards of n items, the first n % n_shards one longer."""
    sizes = [n // n_shards + (1 if s < n % n_shards else 0) for s in range(n_shards)]
    stops = np.cumsum(sizes)
    return [(int(stop - size), int(stop)) for size, stop in zip(sizes, stops, strict=True)]


LOCAL = pytest.mark.parametrize(("loss", "penalty"), [("squared", "none"), ("log", "elasticnet"), ("softmax", "l2")])


@LOCAL
def test_sgd_epoch_local_is_the_mean_of_serial_shards(loss, penalty):
    """Each shard runs plain weighted SGD (with the model's penalty) from theta on its contiguous
    part of the order, its own t from t_start; theta becomes the shard-size-weighted mean."""
    n, n_shards, t_start = 41, 3, 6
    X, y, weights, theta, model, _ = general_setup(loss, "sgd", penalty, np.float64, 18, n)
    sched = schedules.inverse_time(0.5, 20.0)
    order = np.random.default_rng(18).permutation(n).astype(np.int64)
    thetas, status = np.full((n_shards, *theta.shape), np.nan), np.full(n_shards, 7, dtype=np.int64)
    theta0 = theta.copy()
    first = sgd_epoch_local(
        X, y, weights, theta, order, None, None, model, sched.code, sched.params, t_start, thetas,
        np.zeros((n_shards, 2, *theta.shape)), status,
    )  # fmt: skip
    assert first == codes.OK and (status == codes.OK).all()
    expected = np.zeros_like(theta)
    for s, (start, stop) in enumerate(shards(n, n_shards)):
        etas = ref.schedule("inverse_time", [0.5, 20.0], t_start + np.arange(stop - start))
        plain = ref.Optimizer(codes.SGD, [0.0])
        shard_theta, _ = ref.general_sgd_epoch(model, plain, X, y, theta0, order[start:stop], etas, t_start, weights)
        assert_path_close(thetas[s], shard_theta)
        expected += (stop - start) / n * shard_theta
    assert_path_close(theta, expected)


@LOCAL
def test_minibatch_epoch_local_is_the_mean_of_serial_shards(loss, penalty):
    """The batches of the epoch cut into shards; theta becomes the mean weighted by batch counts."""
    n, n_shards, batch_size, t_start = 41, 3, 4, 2
    n_batches = -(-n // batch_size)  # 11, the last batch of one row
    X, y, weights, theta, model, _ = general_setup(loss, "sgd", penalty, np.float64, 19, n)
    sched = schedules.inverse_time(0.5, 20.0)
    order = np.random.default_rng(19).permutation(n).astype(np.int64)
    thetas, grads = np.full((n_shards, *theta.shape), np.nan), np.empty((n_shards, *theta.shape))
    status = np.full(n_shards, 7, dtype=np.int64)
    theta0 = theta.copy()
    first = minibatch_epoch_local(
        X, y, weights, theta, order, batch_size, None, None, model, sched.code, sched.params, t_start, thetas,
        np.zeros((n_shards, 2, *theta.shape)), grads, status,
    )  # fmt: skip
    assert first == codes.OK and (status == codes.OK).all()
    expected = np.zeros_like(theta)
    for s, (first_batch, stop_batch) in enumerate(shards(n_batches, n_shards)):
        rows = order[first_batch * batch_size : stop_batch * batch_size]
        etas = ref.schedule("inverse_time", [0.5, 20.0], t_start + np.arange(stop_batch - first_batch))
        plain = ref.Optimizer(codes.SGD, [0.0])
        shard_theta, _ = ref.general_minibatch_epoch(
            model, plain, X, y, theta0, rows, batch_size, etas, t_start, weights
        )
        assert_path_close(thetas[s], shard_theta)
        expected += (stop_batch - first_batch) / n_batches * shard_theta
    assert_path_close(theta, expected)


@pytest.mark.parametrize("batch_size", [0, 4])
@pytest.mark.parametrize("table", [False, True])
def test_local_epoch_in_parts_is_the_whole_epoch(batch_size, table):
    """Calls over consecutive parts (a, b) of every shard (the copies start from theta in the
    first, the mean is taken in the last) give the bits of one call over the whole epoch, with
    the model's penalty, weights, its own t per shard and a TABLE schedule read from t_start."""
    n, n_shards, t_start = 43, 3, 5
    X, y, weights, theta0, model, _ = general_setup("log", "sgd", "elasticnet", np.float64, 20, n)
    order = np.random.default_rng(20).permutation(n).astype(np.int64)
    longest = -(-(n if not batch_size else -(-n // batch_size)) // n_shards)
    if table:
        code, params = codes.TABLE, 0.5 / (20.0 + t_start + np.arange(longest))
    else:
        code, params = codes.INVERSE_TIME, np.array([0.5, 20.0])
    results = []
    for parts in ([(0, longest)], [(a, min(a + 2, longest)) for a in range(0, longest, 2)]):
        theta, thetas = theta0.copy(), np.full((n_shards, *theta0.shape), np.nan)
        states, status = np.zeros((n_shards, 2, *theta0.shape)), np.empty(n_shards, dtype=np.int64)
        for part in parts:
            if batch_size:
                first = minibatch_epoch_local(
                    X, y, weights, theta, order, batch_size, None, None, model, code, params, t_start, thetas,
                    states, None, status, part,
                )  # fmt: skip
            else:
                first = sgd_epoch_local(
                    X, y, weights, theta, order, None, None, model, code, params, t_start, thetas, states, status,
                    part,
                )  # fmt: skip
            assert first == codes.OK
            if part[1] < longest:
                np.testing.assert_array_equal(theta, theta0)  # the mean comes with the last part
        results.append((theta, thetas, states))
    for whole, sliced in zip(*results, strict=True):
        np.testing.assert_array_equal(sliced, whole)


def test_sgd_epoch_local_reports_the_earliest_failure():
    """A huge rate: each shard reports the position where its derivative overflowed; the epoch
    returns the earliest global offset k K + s and leaves theta as it was."""
    n, n_shards = 60, 2
    X, y = make_data(n, 3, seed=9)
    theta = np.zeros((1, 4))
    thetas, status = np.empty((n_shards, 1, 4)), np.empty(n_shards, dtype=np.int64)
    order = np.arange(n, dtype=np.int64)
    first = sgd_epoch_local(
        X, y, np.ones(n), theta, order, None, None, make_model(), codes.CONSTANT, np.array([1e10]), 0, thetas,
        np.zeros((n_shards, 2, *theta.shape)), status,
    )  # fmt: skip
    assert (status > 0).all() and (status < n // n_shards).all()
    assert first == min(status[s] * n_shards + s for s in range(n_shards))
    assert (theta == 0.0).all()


def test_plain_sgd_l1_is_cumulative_and_keeps_exact_zeros():
    """Plain SGD with L1 follows the cumulative rule (tests/reference.py::cumulative_l1) update by
    update, and the coefficients of the irrelevant features end exactly at 0, where a shrink by
    each step's penalty alone leaves them jittering around it."""
    rng = np.random.default_rng(7)
    X = rng.standard_normal((400, 6))
    y = X[:, :2] @ np.array([2.0, -1.5]) + 0.5 + 0.3 * rng.standard_normal(400)
    model = make_model("squared", l2=0.01, l1=0.2)
    opt = make_opt("sgd")
    theta = np.zeros((1, 7))
    state = zero_state(theta)
    order = rng.permutation(400).astype(np.int64)
    etas = np.full(400, 0.01)
    path = np.empty((400, 1, 7))
    plain = ref.Optimizer(codes.Optimizer.SGD, OPTIMIZERS["sgd"].params)
    expected = theta.copy()
    for epoch in range(3):
        status = sgd_epoch(
            X, y, None, theta, order, None, None, model, opt, state, None, codes.CONSTANT, etas[:1], 400 * epoch, path
        )
        assert status == codes.OK
        expected, expected_path = ref.general_sgd_epoch(model, plain, X, y, expected, order, etas, 400 * epoch)
        np.testing.assert_allclose(path, expected_path, rtol=1e-10, atol=1e-12)
    assert np.count_nonzero(theta[0, 3:] == 0.0) == 4 and np.all(theta[0, 1:3] != 0.0)


@pytest.mark.parametrize("step", [1, 7, 1000])
def test_shuffle_steps_in_pieces_are_one_shuffle(step):
    """shuffle_steps over consecutive ranges of steps = one shuffle: the same order, the same state."""
    whole, state = np.arange(500, dtype=np.int64), np.array([11], dtype=np.uint64)
    K.shuffle(whole, state)
    pieces, state2 = np.arange(500, dtype=np.int64), np.array([11], dtype=np.uint64)
    high = pieces.shape[0] - 1
    while high > 0:
        low = max(0, high - step)
        assert K.shuffle_steps(pieces, state2, high, low) is None
        high = low
    np.testing.assert_array_equal(pieces, whole)
    assert state2[0] == state[0]
    assert not np.array_equal(whole, np.arange(500))
