"""pytest-benchmark suites: ``python -m pytest bench/ --benchmark-only``.

Times each kernel and each method on the same data, beside numpy doing the same work, so
ratios can be read from one run (these machines are shared and noisy: never compare absolute
times across runs).  Give numpy its best: unset OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE for the
benchmark command (never in tests or CI), and note which BLAS ran (printed below).
"""

import warnings

import numpy as np
import pytest

import fastgd
from fastgd import kernels as K

N, D = 200_000, 32


@pytest.fixture(scope="module", params=[np.float64, np.float32], ids=["f64", "f32"])
def data(request):
    X, y = fastgd.make_linear(N, D, dtype=request.param, random_state=0)
    fastgd.warmup(dtypes=(request.param,))
    return X, y


def test_blas_in_use():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    for pool in threadpoolctl.threadpool_info():
        print(pool.get("internal_api"), pool.get("version"), pool.get("architecture"), pool.get("num_threads"))


def test_full_gradient_fastgd(benchmark, data):
    X, y = data
    theta, grad = np.zeros((1, D + 1)), np.zeros((1, D + 1))
    work = np.zeros(K.work_shape(N, theta.size))
    model = (True, int(K.Loss.SQUARED), 0.0, 0.0, 0.0)
    benchmark(K.loss_grad_parallel, X, y, None, theta, None, None, model, grad, work)


def test_full_gradient_numpy(benchmark, data):
    X, y = data
    coef = np.zeros(D, dtype=X.dtype)

    def step():
        r = X @ coef - y
        return float(r @ r) / N, X.T @ r

    benchmark(step)


def test_sgd_epoch_fastgd(benchmark, data):
    X, y = data
    theta, order = np.zeros((1, D + 1)), np.arange(N)
    K.shuffle(order, np.array([1], dtype=np.uint64))
    model = (True, int(K.Loss.SQUARED), 0.0, 0.0, 0.0)
    opt = (int(K.Optimizer.SGD), np.zeros(1), -1)
    sched = fastgd.schedules.constant(1e-3)
    # the fast loop: no weights, no standardization, no optimizer state, no average, no path
    data, schedule = (X, y, None), (sched.code, sched.params, 0)
    benchmark(K.sgd_epoch, data, (None, None), model, (opt, None, None), schedule, theta, order, None)


@pytest.mark.parametrize("method", ["normal", "svd", "batch", "sgd", "minibatch"])
def test_fit(benchmark, data, method):
    X, y = data
    benchmark.pedantic(fastgd.fit, args=(X, y), kwargs=dict(method=method, random_state=0), rounds=3)


def test_lstsq_numpy(benchmark, data):
    X, y = data
    X_b = np.column_stack((np.ones(N), X))
    benchmark.pedantic(np.linalg.lstsq, args=(X_b, y), kwargs=dict(rcond=None), rounds=3)


# ---- the peers and levers of ``fastgd bench`` (fastgd/bench/), one kernel or epoch at a time


def test_bandwidth_probe(benchmark, data):
    """The physical limit of a pass over X: a parallel numba read of every element."""
    from fastgd.bench import PROBE_BLOCK, stream_sum

    flat = data[0].reshape(-1)
    benchmark(stream_sum, flat, PROBE_BLOCK)


def test_minibatch_epoch_numpy(benchmark, data):
    from fastgd.bench import numpy_minibatch

    X, y = data
    orders = [np.random.default_rng(0).permutation(N)]
    benchmark.pedantic(numpy_minibatch, args=(X, y, 1e-4, 64, orders), rounds=3)


def test_sgd_epoch_sklearn(benchmark, data):
    """scikit-learn's SGDRegressor: eta0 = 2 η for fastgd's steps (its loss is ½(p - y)²)."""
    linear_model = pytest.importorskip("sklearn.linear_model")
    X, y = data
    model = linear_model.SGDRegressor(penalty=None, learning_rate="constant", eta0=2e-4, max_iter=1, tol=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        benchmark.pedantic(model.fit, args=(X, y), rounds=3)


@pytest.mark.parametrize("shuffle", ["rows", "blocks", "corgipile", False])
def test_sgd_epoch_shuffle(benchmark, data, shuffle):
    X, y = data
    kwargs = dict(method="sgd", learning_rate=1e-4, max_epochs=1, tol=0, shuffle=shuffle, random_state=0)
    benchmark.pedantic(fastgd.fit, args=(X, y), kwargs=kwargs, rounds=3)


@pytest.mark.parametrize("precompute", [True, False])
def test_batch_gd_precompute(benchmark, data, precompute):
    X, y = data
    kwargs = dict(method="batch", max_epochs=100, tol=0, precompute=precompute, random_state=0)
    benchmark.pedantic(fastgd.fit, args=(X, y), kwargs=kwargs, rounds=3)
