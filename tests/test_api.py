"""fastgd.fit against numpy.linalg.lstsq and against itself: every method, both dtypes."""

import os
import subprocess
import sys
import threading
import warnings

import numba
import numpy as np
import pytest
from conftest import DTYPES, ITERATIVE, METHODS, lstsq

import fastgd
from fastgd.kernels._config import CHUNK

# Settings under which every iterative method gets close to the optimum quickly.
TIGHT = {
    "batch": dict(tol=1e-12, max_epochs=20_000),
    "sgd": dict(tol=0, max_epochs=300),
    "minibatch": dict(tol=0, max_epochs=300),
}


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("method", ["normal", "svd", "auto"])
def test_closed_forms_match_lstsq(multi, method, fit_intercept):
    X, y = multi
    res = fastgd.fit(X, y, method=method, fit_intercept=fit_intercept)
    theta, loss = lstsq(X, y, fit_intercept)
    np.testing.assert_allclose(res.theta, theta, rtol=1e-10, atol=1e-12)
    assert res.loss == pytest.approx(loss, rel=1e-10)
    assert res.method in ("normal", "svd") and res.converged
    assert res.n_epochs == 0 and res.history.shape == (0,)


@pytest.mark.parametrize("precompute", [False, True])
@pytest.mark.parametrize("standardize", [False, True])
def test_batch_reaches_the_least_squares_loss(multi, standardize, precompute):
    X, y = multi
    X = X + np.array([0.0, 2.0, -1.0, 0.0, 0.5])  # off-center columns: a longer valley (cond 62)
    res = fastgd.fit(
        X, y, method="batch", standardize=standardize, precompute=precompute, random_state=0, **TIGHT["batch"]
    )
    _, loss = lstsq(X, y)
    assert res.converged
    assert abs(res.loss / loss - 1) < 1e-8
    assert res.history[-1] == pytest.approx(res.loss, rel=1e-12)
    assert np.all(np.diff(res.history) <= 1e-12 * res.history[0])  # 1/L steps never increase the loss


# Géron's learning_schedule t0 / (t + t1), t0=5, t1=50, for SGD and for mini-batches of 20.  (His
# mini-batch example uses t0=200, t1=1000, which barely decays in 50 epochs of 5 updates: it ends
# 2.4% above the optimum here, the jitter his figure shows.)
TEXTBOOK = {"sgd": dict(t0=5, t1=50), "minibatch": dict(t0=5, t1=50)}


@pytest.mark.parametrize("method", ["sgd", "minibatch"])
def test_textbook_schedules_end_within_one_percent_and_improve_with_epochs(demo, method):
    X, y = demo
    _, optimum = lstsq(X, y)
    sched = fastgd.schedules.inverse_time(**TEXTBOOK[method])
    excess = {}
    for epochs in (5, 50, 500):
        losses = [
            fastgd.fit(
                X, y, method=method, learning_rate=sched, batch_size=20, tol=0, max_epochs=epochs, random_state=s
            )
            for s in range(5)
        ]
        assert all(r.learning_rate == sched for r in losses)
        excess[epochs] = np.mean([r.loss for r in losses]) / optimum - 1
    assert excess[50] < 0.01  # within 1% of the optimal loss after the textbook's 50 epochs
    assert excess[500] < excess[50] < excess[5]  # and closer as epochs grow
    assert min(excess.values()) >= -1e-12  # never below the optimum


@pytest.mark.parametrize("method", ["sgd", "minibatch"])
def test_auto_schedule_decays_and_approaches_the_optimum(method):
    X, y = fastgd.make_linear(1000, 3, random_state=5)
    _, optimum = lstsq(X, y)
    excess = []
    for epochs in (5, 50, 200):
        fits = [fastgd.fit(X, y, method=method, tol=0, max_epochs=epochs, random_state=s) for s in range(3)]
        excess.append(np.mean([r.loss for r in fits]) / optimum - 1)
    assert excess[2] < excess[1] < excess[0]
    assert excess[1] < 0.01
    sched = fits[0].learning_rate
    assert isinstance(sched, fastgd.schedules.LearningRateSchedule) and sched.name == "inverse_time"
    per_epoch = 1000 if method == "sgd" else -(-1000 // 32)
    _, t1 = sched.params
    assert 0 < t1 <= 10 * per_epoch  # decays within ten epochs at the latest
    if method == "sgd":  # eta0 = 1/L_max: every single-sample step is stable
        l_max = 2 * (1 + (X**2).sum(axis=1).max())
        assert sched(0) == pytest.approx(1 / l_max)


@pytest.mark.parametrize("method", METHODS)
def test_float32_stays_float32_and_matches_float64(multi, method):
    X, y = multi
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    kw = dict(random_state=3, **TIGHT.get(method, {}))
    r32 = fastgd.fit(X32, y32, method=method, **kw)
    r64 = fastgd.fit(X32.astype(np.float64), y32.astype(np.float64), method=method, **kw)
    assert r32.coef.dtype == np.float32 and r32.intercept.dtype == np.float32 and r32.theta.dtype == np.float32
    assert r64.coef.dtype == np.float64
    np.testing.assert_allclose(r32.theta, r64.theta, rtol=1e-4, atol=1e-5)
    assert r32.loss == pytest.approx(r64.loss, rel=1e-4)


@pytest.mark.parametrize("method", METHODS)
def test_same_random_state_same_bits(multi, method):
    X, y = multi
    a = fastgd.fit(X, y, method=method, random_state=11, max_epochs=20, tol=0)
    b = fastgd.fit(X, y, method=method, random_state=11, max_epochs=20, tol=0)
    assert np.array_equal(a.theta, b.theta) and np.array_equal(a.history, b.history)
    if method in ITERATIVE:
        c = fastgd.fit(X, y, method=method, random_state=12, max_epochs=20, tol=0)
        assert not np.array_equal(a.theta, c.theta)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 numba threads")
@pytest.mark.parametrize("method", ITERATIVE)
@pytest.mark.parametrize("dtype", DTYPES)
def test_results_identical_for_one_and_two_threads(method, dtype):
    X, y = fastgd.make_linear(3 * CHUNK + 17, 4, dtype=dtype, random_state=1)  # several blocks: parallel kernels
    kw = dict(method=method, random_state=0, max_epochs=5, tol=0, standardize=True, precompute=False)
    one = fastgd.fit(X, y, n_threads=1, **kw)
    # batch: parallel gradient passes; sgd / minibatch: serial updates, parallel loss passes
    two = fastgd.fit(X, y, n_threads=2 if method == "batch" else None, **kw)
    assert np.array_equal(one.theta, two.theta)
    assert np.array_equal(one.history, two.history)
    assert numba.get_num_threads() == numba.config.NUMBA_NUM_THREADS  # restored


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 numba threads")
@pytest.mark.parametrize("method", ["sgd", "minibatch"])
def test_local_sgd_on_two_threads(method):
    X, y = fastgd.make_linear(20_000, 4, random_state=3)
    _, optimum = lstsq(X, y)
    kw = dict(method=method, random_state=0, max_epochs=20, tol=0, standardize=True)
    serial = fastgd.fit(X, y, n_threads=1, **kw)
    local = fastgd.fit(X, y, n_threads=2, **kw)
    again = fastgd.fit(X, y, n_threads=2, **kw)
    assert np.array_equal(local.theta, again.theta)  # reproducible for a given thread count
    assert not np.array_equal(local.theta, serial.theta)  # but another scheme than the serial run
    assert local.n_updates == serial.n_updates
    assert local.loss / optimum - 1 < 1e-3 and serial.loss / optimum - 1 < 1e-3
    with pytest.raises(ValueError, match="record_path='update' needs serial updates"):
        fastgd.fit(X, y, n_threads=2, record_path="update", **kw)
    assert fastgd.fit(X, y, n_threads=2, record_path="epoch", **kw).path.shape == (21, 5)


@pytest.mark.parametrize("method", [*METHODS, "auto"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
def test_inputs_are_never_modified(multi, method, dtype):
    X, y = multi
    X, y = (X * 10).astype(dtype), (y * 10).astype(dtype)
    init = np.ones(X.shape[1] + 1)
    copies = X.copy(), y.copy(), init.copy()
    fastgd.fit(X, y, method=method, init=init, max_epochs=3, random_state=0, standardize=True)
    for before, after in zip(copies, (X, y, init), strict=True):
        assert np.array_equal(before, after)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("standardize", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_gram_path_gives_the_streaming_answers(multi, standardize, fit_intercept, dtype):
    X, y = multi
    X, y = (X + np.array([0.0, 2.0, -1.0, 0.0, 0.5])).astype(dtype), y.astype(dtype)
    kw = dict(method="batch", learning_rate=0.05, max_epochs=300, tol=0, random_state=1, record_path="epoch")
    kw.update(standardize=standardize, fit_intercept=fit_intercept)
    gram = fastgd.fit(X, y, precompute=True, **kw)
    stream = fastgd.fit(X, y, precompute=False, **kw)
    np.testing.assert_allclose(gram.theta, stream.theta, rtol=1e-6 if dtype == np.float32 else 1e-10)
    np.testing.assert_allclose(gram.path, stream.path, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(gram.history, stream.history, rtol=1e-9)
    assert gram.loss == pytest.approx(stream.loss, rel=1e-9)
    # the auto learning rate: the Gram path's power iteration and the streaming one agree
    auto_gram = fastgd.fit(X, y, method="batch", precompute=True, max_epochs=1, tol=0)
    auto_stream = fastgd.fit(X, y, method="batch", precompute=False, max_epochs=1, tol=0)
    eta_g, eta_s = auto_gram.learning_rate.params[0], auto_stream.learning_rate.params[0]
    assert eta_g == pytest.approx(eta_s, rel=0.1) and eta_s >= eta_g * (1 - 1e-6)  # streaming estimates L from below


@pytest.mark.parametrize("method", ["sgd", "minibatch"])
def test_shuffle_strategies(method):
    X, y = fastgd.make_linear(5000, 3, random_state=2)
    _, optimum = lstsq(X, y)
    kw = dict(method=method, max_epochs=30, tol=0, random_state=0, standardize=True)
    fits = {s: fastgd.fit(X, y, shuffle=s, **kw) for s in (True, "rows", "blocks", "corgipile", False)}
    assert np.array_equal(fits[True].theta, fits["rows"].theta)  # True means "rows"
    assert not np.array_equal(fits["rows"].theta, fits["blocks"].theta)
    assert not np.array_equal(fits["rows"].theta, fits["corgipile"].theta)
    for res in fits.values():
        assert res.loss / optimum - 1 < 0.01


def test_predict_is_X_coef_plus_intercept(multi):
    X, y = multi
    for method in METHODS:
        res = fastgd.fit(X, y, method=method, random_state=0, max_epochs=5)
        np.testing.assert_allclose(res.predict(X), X @ res.coef + res.intercept, rtol=1e-12)
    with pytest.raises(ValueError, match="X has 3 features but the model was fitted on 5"):
        res.predict(X[:, :3])


@pytest.mark.parametrize("method", ITERATIVE)
def test_divergence_raises_with_a_safe_rate(demo, method):
    X, y = demo
    with pytest.raises(fastgd.DivergenceError, match="too large") as info:
        fastgd.fit(X, y, method=method, learning_rate=5.0, max_epochs=200, random_state=0)
    err = info.value
    assert err.method == method and err.epoch >= 1
    assert err.last_loss is None or np.isfinite(err.last_loss)
    assert 0 < err.safe_learning_rate < 5.0
    assert f"{err.safe_learning_rate:.3g}" in str(err)
    # the suggested rate indeed works
    res = fastgd.fit(X, y, method=method, learning_rate=err.safe_learning_rate, max_epochs=200, random_state=0)
    assert np.isfinite(res.loss)


def test_divergence_on_unscaled_data_says_how_to_fix_it():
    rng = np.random.default_rng(0)
    X = np.column_stack((rng.random(500) * 1e4, rng.random(500)))
    y = 1e6 * rng.standard_normal(500)
    with pytest.raises(fastgd.DivergenceError, match="standardize=True"), warnings.catch_warnings():
        warnings.simplefilter("ignore", fastgd.FeatureScaleWarning)
        fastgd.fit(X, y, method="sgd", learning_rate=0.01, random_state=0)


@pytest.mark.parametrize("method", ITERATIVE)
def test_too_few_epochs_warn_once(demo, method):
    X, y = demo
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = fastgd.fit(X, y, method=method, max_epochs=2, learning_rate=1e-4, random_state=0)
    conv = [w for w in caught if issubclass(w.category, fastgd.ConvergenceWarning)]
    assert len(conv) == 1 and "max_epochs=2" in str(conv[0].message)
    assert not res.converged and res.n_epochs == 2 and "max_epochs" in res.message


def test_feature_scale_warning(multi):
    X, y = multi
    X = X * np.array([1.0, 1e3, 1.0, 1.0, 1.0])
    with pytest.warns(fastgd.FeatureScaleWarning, match="standardize=True"):
        fastgd.fit(X, y, method="batch", max_epochs=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", fastgd.FeatureScaleWarning)
        warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
        fastgd.fit(X, y, method="batch", max_epochs=2, random_state=0, standardize=True)
        fastgd.fit(X, y, method="normal")  # closed forms do not care about scales


@pytest.mark.parametrize("method", ITERATIVE)
def test_standardize_reports_original_units(multi, method):
    X, y = multi
    X = X * np.array([1.0, 1e3, 1e-2, 1.0, 50.0]) + 7.0
    theta, loss = lstsq(X, y)
    res = fastgd.fit(X, y, method=method, standardize=True, random_state=0, **TIGHT[method])
    assert res.loss / loss - 1 < (1e-8 if method == "batch" else 1e-3)
    np.testing.assert_allclose(res.predict(X), X @ res.coef + res.intercept)
    if method == "batch":
        np.testing.assert_allclose(res.theta, theta, rtol=1e-5)


@pytest.mark.parametrize("method", ITERATIVE)
def test_without_intercept(multi, method):
    X, y = multi
    _, loss = lstsq(X, y, fit_intercept=False)
    res = fastgd.fit(X, y, method=method, fit_intercept=False, random_state=0, **TIGHT[method])
    assert res.intercept == 0
    assert res.loss / loss - 1 < (1e-8 if method == "batch" else 1e-3)


@pytest.mark.parametrize("precompute", [True, False])
def test_tol_zero_runs_exactly_max_epochs(demo, precompute):
    X, y = demo
    res = fastgd.fit(X, y, method="batch", tol=0, max_epochs=300, standardize=True, precompute=precompute)
    assert res.n_epochs == 300 and not res.converged and "tol=0" in res.message


def test_max_epochs_is_a_bound_not_an_allocation(demo):
    X, y = demo  # rates and histories are made 4096 steps at a time, not max_epochs at once
    res = fastgd.fit(X, y, method="batch", max_epochs=10**12, random_state=0)
    assert res.converged and res.n_epochs < 10_000 and res.history.shape == (res.n_epochs,)
    long = fastgd.fit(X, y, method="batch", learning_rate=1e-3, max_epochs=10_000, tol=0, record_path="epoch")
    assert long.history.shape == (10_000,) and long.path.shape == (10_001, 2)


def test_a_constant_column_keeps_a_zero_coefficient_when_standardized(multi):
    X, y = multi
    X = np.column_stack((X, np.full(len(X), 3.0)))
    for method in ITERATIVE:
        res = fastgd.fit(X, y, method=method, standardize=True, random_state=0, max_epochs=5, tol=0)
        assert res.coef[-1] == 0.0


def test_warm_start_at_the_optimum(multi):
    X, y = multi
    theta, loss = lstsq(X, y)
    res = fastgd.fit(X, y, method="batch", init=theta, max_epochs=50)
    assert res.loss == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(res.theta, theta, rtol=1e-9)
    coef_only = fastgd.fit(X, y, method="batch", init=theta[1:], max_epochs=1, tol=0)  # d values: intercept 0
    assert coef_only.n_epochs == 1
    zeros = fastgd.fit(X, y, method="sgd", init="zeros", max_epochs=1, tol=0, learning_rate=1e-9, shuffle=False)
    np.testing.assert_allclose(zeros.theta, 0, atol=1e-5)


@pytest.mark.parametrize("method", ITERATIVE)
def test_record_path(demo, method):
    X, y = demo
    init = np.array([0.5, -1.0])
    kw = dict(init=init, max_epochs=3, tol=0, batch_size=32, random_state=0)
    upd = fastgd.fit(X, y, method=method, record_path="update", **kw)
    ep = fastgd.fit(X, y, method=method, record_path="epoch", **kw)
    assert upd.path.shape == (upd.n_updates + 1, 2)
    assert ep.path.shape == (ep.n_epochs + 1, 2)
    np.testing.assert_array_equal(upd.path[0], init)
    np.testing.assert_allclose(upd.path[-1], upd.theta)
    np.testing.assert_allclose(ep.path[-1], ep.theta)
    per_epoch = upd.n_updates // upd.n_epochs
    np.testing.assert_allclose(upd.path[per_epoch::per_epoch], ep.path[1:])
    assert fastgd.fit(X, y, method=method, max_epochs=1).path is None


def test_record_path_in_original_units(demo):
    X, y = demo
    res = fastgd.fit(X, y, method="sgd", record_path=True, standardize=True, max_epochs=2, tol=0, random_state=0)
    np.testing.assert_allclose(res.path[-1], res.theta)


def test_singular_normal_equation_points_to_svd(multi):
    X, y = multi
    X = np.column_stack((X, X[:, 0] + X[:, 1]))  # a linearly dependent column
    with pytest.raises(fastgd.SingularMatrixError, match='method="svd"'):
        fastgd.fit(X, y, method="normal")
    theta, _ = lstsq(X, y)
    svd = fastgd.fit(X, y, method="svd")
    np.testing.assert_allclose(svd.theta, theta, rtol=1e-9)  # lstsq's answer is the minimum-norm one
    assert "minimum-norm" in svd.message
    auto = fastgd.fit(X, y)
    assert auto.method == "svd" and np.array_equal(auto.theta, svd.theta)


def test_constant_column_is_singular_with_an_intercept(multi):
    X, y = multi
    X = np.column_stack((X, np.full(len(X), 2.0)))
    with pytest.raises(fastgd.SingularMatrixError):
        fastgd.fit(X, y, method="normal")
    res = fastgd.fit(X, y, method="batch", standardize=True, random_state=0, **TIGHT["batch"])
    assert res.loss == pytest.approx(lstsq(X, y)[1], rel=1e-8)


def test_auto_on_underdetermined_data_is_minimum_norm_svd():
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((5, 12)), rng.standard_normal(5)
    res = fastgd.fit(X, y)
    assert res.method == "svd"
    np.testing.assert_allclose(res.theta, lstsq(X, y)[0], rtol=1e-9, atol=1e-12)
    assert res.loss < 1e-20


def test_accepted_input_forms(demo):
    X, y = demo
    ref = fastgd.fit(X, y, method="normal").theta
    np.testing.assert_allclose(fastgd.fit(X[:, 0], y, method="normal").theta, ref)  # 1-D X: one feature
    np.testing.assert_allclose(fastgd.fit(X, y[:, None], method="normal").theta, ref)  # y (n, 1) as the textbook
    np.testing.assert_allclose(fastgd.fit(X.tolist(), y.tolist(), method="normal").theta, ref)  # lists
    Xf = np.asfortranarray(np.column_stack((X, X**2)))
    Xc = np.ascontiguousarray(Xf)
    for method in METHODS:
        a = fastgd.fit(Xf, y, method=method, random_state=0, max_epochs=3)
        b = fastgd.fit(Xc, y, method=method, random_state=0, max_epochs=3)
        assert np.array_equal(a.theta, b.theta)
    ints = fastgd.fit(np.arange(10), 2 * np.arange(10) + 1, method="normal")
    assert ints.coef.dtype == np.float64
    np.testing.assert_allclose(ints.theta, [1.0, 2.0])


def test_custom_njit_schedule(demo):
    X, y = demo

    @numba.njit
    def halving(t):
        return 0.1 * 0.5 ** (t // 500)

    res = fastgd.fit(X, y, method="sgd", learning_rate=halving, max_epochs=20, tol=0, random_state=0)
    ref = fastgd.fit(
        X, y, method="sgd", learning_rate=fastgd.schedules.step(0.1, 0.5, 500), max_epochs=20, tol=0, random_state=0
    )
    np.testing.assert_allclose(res.theta, ref.theta, rtol=1e-12)


def test_result_fields_are_the_same_for_every_method(demo):
    X, y = demo
    fields = None
    for method in METHODS:
        res = fastgd.fit(X, y, method=method, random_state=0)
        names = set(vars(res))
        assert fields is None or names == fields
        fields = names
        assert res.method == method and isinstance(res.message, str) and res.message
        assert isinstance(res.loss, float) and res.theta.shape == (2,)
        assert repr(res).startswith("FitResult(method=")


def test_fits_from_many_threads_agree_and_the_layer_is_thread_safe():
    X, y = fastgd.make_linear(3 * CHUNK, 3, random_state=0)
    expected = fastgd.fit(X, y, method="batch", max_epochs=30, tol=0, random_state=0).theta
    results, errors = [None] * 8, []

    def work(k):
        try:
            results[k] = fastgd.fit(X, y, method="batch", max_epochs=30, tol=0, random_state=0).theta
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
        threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors
    for theta in results:
        assert np.array_equal(theta, expected)
    assert numba.threading_layer() in ("omp", "tbb")


def test_kernels_are_loaded_from_the_disk_cache_in_a_new_process(tmp_path):
    code = (
        "import numpy as np, fastgd; from fastgd import kernels as K;"
        "X, y = fastgd.make_linear(50, 2); fastgd.fit(X, y, method='sgd', max_epochs=2, tol=0);"
        "print(sum(K.sgd_epoch.stats.cache_hits.values()), sum(K.squared_loss_grad.stats.cache_hits.values()))"
    )
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    runs = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True) for _ in range(2)]
    assert all(r.returncode == 0 for r in runs), runs[-1].stderr
    assert runs[0].stdout.split() == ["0", "0"]  # compiled
    assert runs[1].stdout.split() == ["1", "1"]  # loaded


def test_every_kernel_is_cached_nogil_and_keeps_nan_visible():
    import importlib
    import pkgutil

    from numba.core.caching import NullCache
    from numba.core.registry import CPUDispatcher

    import fastgd.kernels

    found = {}
    for info in pkgutil.iter_modules(fastgd.kernels.__path__):
        module = importlib.import_module(f"fastgd.kernels.{info.name}")
        for name, obj in vars(module).items():
            if isinstance(obj, CPUDispatcher) and obj.__module__ == module.__name__:
                found[f"{info.name}.{name}"] = obj
    assert len(found) >= 15
    uncached = {"schedules.tabulate"}  # takes a user's function: numba cannot cache it
    for name, disp in found.items():
        assert disp.targetoptions.get("nogil") is True, name
        assert isinstance(disp._cache, NullCache) == (name in uncached), name
        fastmath = disp.targetoptions.get("fastmath", False)
        assert fastmath is not True and not {"nnan", "ninf", "fast"} & set(fastmath or ()), name
