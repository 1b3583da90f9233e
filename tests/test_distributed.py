"""fastgd.fit on Dask collections (fastgd/distributed.py), on a real distributed.LocalCluster.

One cluster of 2 worker processes serves the module; the kernels are compiled into numba's
disk cache in this process before the workers start (concurrent first compiles in many
processes can crash numba), and the workers inherit NUMBA_CACHE_DIR.
"""

import os
import signal
import subprocess
import sys
import threading
import time
import warnings

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")

from conftest import lstsq  # noqa: E402

import fastgd  # noqa: E402
from fastgd import distributed as fd  # noqa: E402


@pytest.fixture(scope="module")
def client():
    fd.warmup()  # every kernel the workers run, both dtypes
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # distributed's own start-up notes
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, memory_limit="2GiB"
        )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def _data(n=12_000, d=5, dtype=np.float64, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * np.arange(1, d + 1) + 3.0
    y = 2.0 + X @ rng.standard_normal(d) + 0.5 * rng.standard_normal(n)
    return X.astype(dtype), y.astype(dtype)


def _dask(X, y, rows=1_500):
    return da.from_array(X, chunks=(rows, X.shape[1])), da.from_array(y, chunks=rows)


def _fit(X, y, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastgd.FeatureScaleWarning)
        return fastgd.fit(X, y, **kwargs)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("method", ["normal", "batch"])
def test_normal_and_batch_reach_the_in_memory_loss(client, method, dtype):
    X, y = _data(dtype=dtype)
    kwargs = dict(method=method, random_state=0, standardize=method == "batch", tol=1e-10)
    mem = _fit(X, y, **kwargs)
    res = _fit(*_dask(X, y), **kwargs)
    assert res.method == method and res.converged
    assert abs(res.loss - mem.loss) <= 1e-9 * mem.loss
    assert isinstance(res.coef, np.ndarray) and res.coef.dtype == dtype
    assert "on Dask: 8 row blocks" in res.message
    assert res.loss == pytest.approx(float(np.mean((X.astype(np.float64) @ res.coef + res.intercept - y) ** 2)))


def test_batch_streaming_path_reaches_the_in_memory_loss(client):
    X, y = _data(n=3_000, d=3)
    kwargs = dict(method="batch", standardize=True, precompute=False, random_state=0, tol=1e-9, max_epochs=300)
    mem = _fit(X, y, **kwargs)
    res = _fit(*_dask(X, y, rows=1_000), **kwargs)
    assert res.converged
    assert abs(res.loss - mem.loss) <= 1e-9 * mem.loss


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_svd_matches_in_memory_theta(client, fit_intercept):
    X, y = _data()
    X[:, 4] = 2 * X[:, 1]  # rank-deficient: the minimum-norm solution
    mem = fastgd.fit(X, y, method="svd", fit_intercept=fit_intercept)
    res = fastgd.fit(*_dask(X, y), method="svd", fit_intercept=fit_intercept)
    np.testing.assert_allclose(res.theta, mem.theta, rtol=1e-8, atol=1e-8 * np.abs(mem.theta).max())
    assert "tsqr" in res.message
    assert ("rank 5 < 6" if fit_intercept else "rank 4 < 5") in res.message


def test_normal_without_intercept_and_auto(client):
    X, y = _data()
    Xd, yd = _dask(X, y)
    for kwargs in (dict(method="normal", fit_intercept=False), dict(method="auto")):
        mem, res = fastgd.fit(X, y, **kwargs), fastgd.fit(Xd, yd, **kwargs)
        assert res.method == mem.method
        assert abs(res.loss - mem.loss) <= 1e-9 * mem.loss


@pytest.mark.parametrize("method", ["sgd", "minibatch"])
def test_sgd_and_minibatch_within_one_percent_of_the_optimum(client, method):
    X, y = _data(n=16_000)
    _, best = lstsq(X, y)
    res = _fit(*_dask(X, y, rows=2_000), method=method, standardize=True, random_state=4, max_epochs=8)
    assert res.n_epochs >= 2 and res.history.shape == (res.n_epochs,)
    assert res.loss <= 1.01 * best
    assert res.n_updates == res.n_epochs * (16_000 if method == "sgd" else 8 * -(-2_000 // 32))


def test_same_seed_and_chunking_give_the_same_bits(client):
    X, y = _data()
    Xd, yd = _dask(X, y)
    for method in ("sgd", "minibatch", "normal", "batch"):
        a = _fit(Xd, yd, method=method, standardize=True, random_state=9, max_epochs=3, tol=0)
        b = _fit(Xd, yd, method=method, standardize=True, random_state=9, max_epochs=3, tol=0)
        assert np.array_equal(a.theta, b.theta) and np.array_equal(a.history, b.history), method


def test_sgd_depends_on_the_seed_and_keeps_epoch_paths(client):
    X, y = _data()
    Xd, yd = _dask(X, y)
    a = _fit(Xd, yd, method="sgd", standardize=True, random_state=1, max_epochs=3, tol=0, record_path="epoch")
    b = _fit(Xd, yd, method="sgd", standardize=True, random_state=2, max_epochs=3, tol=0)
    assert not np.array_equal(a.theta, b.theta)
    assert a.path.shape == (4, 6)
    np.testing.assert_allclose(a.path[-1], a.theta, rtol=1e-12)
    with pytest.raises(ValueError, match="record_path='update'"):
        fastgd.fit(Xd, yd, method="sgd", record_path="update")


def test_dataframe_columns_and_an_in_memory_y(client):
    import dask.dataframe as dd
    import pandas as pd

    X, y = _data(d=3)
    frame = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "target": y})
    ddf = dd.from_pandas(frame, npartitions=4)
    mem = fastgd.fit(X, y, method="normal")
    res = fastgd.fit(ddf[["a", "b", "c"]], ddf["target"], method="normal")
    assert abs(res.loss - mem.loss) <= 1e-9 * mem.loss
    res = fastgd.fit(da.from_array(X, chunks=(3_000, 3)), y, method="normal")  # y in memory: cut like X
    assert abs(res.loss - mem.loss) <= 1e-9 * mem.loss
    with pytest.raises(TypeError, match=r"non-numeric column.*'name'"):
        fastgd.fit(dd.from_pandas(frame.assign(name="x"), npartitions=2)[["a", "name"]], ddf["target"])


def test_column_chunks_and_unknown_chunk_sizes_are_handled_with_a_note(client):
    from dask.array import PerformanceWarning

    X, y = _data()
    mem = fastgd.fit(X, y, method="normal")
    with pytest.warns(PerformanceWarning, match="rechunked once into row blocks"):
        res = fastgd.fit(da.from_array(X, chunks=(3_000, 2)), da.from_array(y, chunks=3_000), method="normal")
    assert abs(res.loss - mem.loss) <= 1e-9 * mem.loss and "column chunks" in res.message
    Xd, yd = _dask(X, y)
    keep = da.from_array(np.ones(len(y), dtype=bool), chunks=1_500)
    res = fastgd.fit(Xd[keep], yd[keep], method="normal")  # row chunks of unknown size
    assert abs(res.loss - mem.loss) <= 1e-9 * mem.loss
    assert "X's row chunk sizes were unknown: computed once" in res.message


def test_bad_input_is_reported_before_any_pass(client):
    X, y = _data()
    Xd, yd = _dask(X, y)
    with pytest.raises(ValueError, match=r"different row blocks: X's row chunks \(1500, .*y's \(3000, 3000, 3000"):
        fastgd.fit(Xd, da.from_array(y, chunks=3_000))
    with pytest.raises(ValueError, match="X has 12000 rows but y has 11999"):
        fastgd.fit(Xd, yd[:-1])
    with pytest.raises(TypeError, match="X must hold real numbers, got dtype complex128"):
        fastgd.fit(Xd.astype(np.complex128), yd)
    with pytest.raises(TypeError, match="y must hold real numbers, got dtype <U3"):
        fastgd.fit(Xd, da.from_array(np.full(len(y), "abc"), chunks=1_500))
    with pytest.raises(ValueError, match="unknown method 'fast'"):
        fastgd.fit(Xd, yd, method="fast")


@pytest.mark.parametrize("where", ["X", "y"])
def test_a_nan_is_reported_with_its_block(client, where):
    X, y = _data()
    (X if where == "X" else y)[(4_600, 2) if where == "X" else 4_600] = np.nan
    with pytest.raises(ValueError) as info:
        fastgd.fit(*_dask(X, y), method="sgd", max_epochs=50)
    text = str(info.value)
    assert f"{where} contains nan" in text and "block 3 of 8 (row 100 of that block)" in text
    assert ("row 4600, column 2" if where == "X" else "index 4600") in text


def test_divergence_raises_the_same_error(client):
    X, y = _data()
    with pytest.raises(fastgd.DivergenceError, match="stochastic gradient descent diverged in epoch 1"):
        fastgd.fit(*_dask(X, y), method="sgd", learning_rate=10.0, max_epochs=3)


def _labels(X, seed=2):
    """Two noisy classes (not separable: logistic regression has a finite optimum)."""
    rng = np.random.default_rng(seed)
    score = (X - X.mean(axis=0)) @ np.linspace(1.0, -1.0, X.shape[1]) / X.std(axis=0).sum()
    return np.where(score + rng.standard_normal(X.shape[0]) > 0, "yes", "no")


def test_log_loss_batch_equals_in_memory(client):
    X, _ = _data(n=6_000, d=4)
    labels = _labels(X)
    kwargs = dict(loss="log", method="batch", standardize=True, tol=1e-10, max_epochs=2_000, random_state=0)
    mem = _fit(X, labels, **kwargs)
    y01 = (labels == "yes").astype(np.int64)
    for y in (labels, da.from_array(y01, chunks=1_500)):  # labels in memory (cut like X), and on Dask
        res = _fit(da.from_array(X, chunks=(1_500, 4)), y, **kwargs)
        assert res.method == "batch" and res.loss_name == "log" and res.converged
        assert abs(res.objective - mem.objective) <= 1e-9 * mem.objective
        assert res.classes.tolist() == (["no", "yes"] if y is labels else [0, 1])
    np.testing.assert_allclose(res.coef, mem.coef, rtol=1e-5)


def test_softmax_batch_and_hinge_sgd(client):
    X, _ = _data(n=6_000, d=3)
    y = (X[:, 0] > 3).astype(np.int64) + (X[:, 1] > 3)
    Xd, yd = da.from_array(X, chunks=(1_500, 3)), da.from_array(y, chunks=1_500)
    # alpha 0.1: 111 epochs of round trips to the cluster to reach tol (0.01: 838)
    kwargs = dict(loss="softmax", penalty="l2", alpha=0.1, standardize=True, tol=1e-9, max_epochs=3_000)
    mem, res = _fit(X, y, **kwargs), _fit(Xd, yd, **kwargs)
    assert res.method == "batch" and res.coef.shape == (3, 3) and res.classes.tolist() == [0, 1, 2]
    assert abs(res.objective - mem.objective) <= 1e-9 * mem.objective
    kwargs = dict(loss="hinge", penalty="l2", alpha=1e-3, method="sgd", standardize=True, max_epochs=5)
    res = _fit(Xd, da.from_array((y > 0).astype(np.int64), chunks=1_500), random_state=1, **kwargs)
    best = _fit(X, (y > 0).astype(int), **{**kwargs, "method": "batch", "max_epochs": 3_000})
    assert res.n_epochs == 5 and res.objective <= 1.02 * best.objective


@pytest.mark.parametrize("method", ["normal", "svd"])
@pytest.mark.parametrize("standardize", [False, True], ids=["raw", "standardized"])
def test_ridge_closed_forms_equal_in_memory(client, method, standardize):
    X, y = _data()
    kwargs = dict(method=method, penalty="l2", alpha=0.5, standardize=standardize)
    mem, res = fastgd.fit(X, y, **kwargs), fastgd.fit(*_dask(X, y), **kwargs)
    assert abs(res.objective - mem.objective) <= 1e-9 * mem.objective
    np.testing.assert_allclose(res.theta, mem.theta, rtol=1e-8)
    assert "ridge" in res.message if method == "normal" else "tsqr" in res.message


@pytest.mark.parametrize("precompute", [True, False], ids=["gram", "streaming"])
def test_lasso_batch_equals_in_memory(client, precompute):
    X, y = _data(n=4_000, d=5)
    X[:, 3] = np.random.default_rng(5).standard_normal(4_000)  # not in y: a zero coefficient
    kwargs = dict(method="batch", penalty="l1", alpha=0.3, standardize=True, tol=1e-10, precompute=precompute)
    mem, res = _fit(X, y, max_epochs=3_000, **kwargs), _fit(*_dask(X, y, rows=1_000), max_epochs=3_000, **kwargs)
    assert res.converged
    assert abs(res.objective - mem.objective) <= 1e-9 * mem.objective
    assert np.array_equal(res.coef == 0, mem.coef == 0) and (res.coef == 0).any()


def test_sgd_l1_keeps_each_blocks_cumulative_penalty(client):
    X, y = _data(n=4_000, d=5)
    X[:, 3] = np.random.default_rng(5).standard_normal(4_000)  # not in y
    kwargs = dict(penalty="l1", alpha=0.3, standardize=True)
    best = _fit(X, y, method="batch", tol=1e-10, max_epochs=3_000, **kwargs)
    res = _fit(*_dask(X, y, rows=1_000), method="sgd", max_epochs=6, tol=0, random_state=0, **kwargs)
    assert res.coef[3] == 0.0  # an exact zero: the cumulative penalty, carried across rounds
    assert res.objective <= 1.02 * best.objective


def test_batch_optimizer_steps_on_the_client_as_in_memory(client):
    X, y = _data(n=3_000, d=3)
    kwargs = dict(method="batch", optimizer="adam", learning_rate=0.05, standardize=True, max_epochs=60, tol=0,
                  precompute=False, init="zeros")  # fmt: skip
    mem, res = _fit(X, y, **kwargs), _fit(*_dask(X, y, rows=1_000), **kwargs)
    np.testing.assert_allclose(res.history, mem.history, rtol=1e-10)
    np.testing.assert_allclose(res.theta, mem.theta, rtol=1e-10)


def test_callback_stops_a_dask_fit(client):
    X, y = _data()
    seen = []
    res = _fit(*_dask(X, y), method="sgd", standardize=True, random_state=0, max_epochs=10,
               callback=lambda epoch, state: seen.append(state.objective) or epoch == 2)  # fmt: skip
    assert res.n_epochs == 2 and seen == list(res.history) and "stopped by the callback" in res.message


def _boom():
    raise AssertionError("the data was read")


@pytest.mark.parametrize(
    "kwargs, what",
    [
        (dict(method="sgd", optimizer="adam"), "optimizer='adam' with method='sgd'"),
        (dict(method="minibatch", optimizer="momentum"), "optimizer='momentum' with method='minibatch'"),
        (dict(method="sgd", average=True), "average"),
        (dict(sample_weight=np.ones(100)), "sample_weight"),
        (dict(method="batch", early_stopping=True), "early_stopping"),
    ],
)
def test_unsupported_options_raise_before_any_pass(kwargs, what):
    import dask

    X = da.from_delayed(dask.delayed(_boom)(), shape=(100, 2), dtype=np.float64)
    y = da.from_delayed(dask.delayed(_boom)(), shape=(100,), dtype=np.float64)
    with pytest.raises(ValueError, match=f"^{what}.*not supported on Dask input yet"):
        fastgd.fit(X, y, **kwargs)


def test_import_fastgd_does_not_import_dask():
    code = "import sys, fastgd; print('dask' in sys.modules, 'distributed' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def _compiles_in_this_process():
    """Kernel signatures this process compiled (cache misses) rather than loaded from the disk cache."""
    from fastgd import kernels as K
    from fastgd.kernels.blockgram import block_gram

    kernels = (
        K.column_stats,
        K.squared_loss_grad,
        K.general_loss_grad,
        K.sgd_epoch,
        K.minibatch_epoch,
        K.shuffle,
        K.shuffle_blocks,
        K.shuffle_groups,
        block_gram,
    )
    return {k.__name__: sum(k.stats.cache_misses.values()) for k in (*kernels, K.max_row_norm2)}


def test_the_workers_load_every_kernel_from_the_cache(client):
    X, y = _data(dtype=np.float32)
    Xd, yd = _dask(X, y)
    for method in ("normal", "sgd", "minibatch"):
        _fit(Xd, yd, method=method, standardize=True, max_epochs=2, random_state=0)
    for shuffle in ("blocks", "corgipile"):
        _fit(Xd, yd, method="sgd", shuffle=shuffle, max_epochs=1, learning_rate=1e-3, random_state=0)
    labels = yd > float(np.median(y))  # the general loop and the loss passes of another loss, both ways of reading X
    for method in ("sgd", "minibatch"):
        _fit(Xd, labels, loss="log", penalty="l2", method=method, standardize=True, max_epochs=1, random_state=0)
    _fit(Xd, labels, loss="softmax", method="sgd", max_epochs=1, learning_rate=1e-4, random_state=0)
    _fit(Xd, labels, loss="log", method="batch", precompute=False, max_epochs=2, random_state=0)
    for worker, compiled in client.run(_compiles_in_this_process).items():
        assert not any(compiled.values()), (worker, compiled)


@pytest.mark.parametrize("persisted", [False, True], ids=["generated", "persisted"])
def test_a_worker_killed_in_the_middle_of_a_fit_changes_nothing(client, persisted):
    """Data generated on the workers, regenerated each pass or persisted there: the blocks a
    killed worker held or was computing are recomputed from the graph, and the fixed
    combination order gives the same bits."""
    rng = da.random.default_rng(11)
    X = rng.standard_normal((240_000, 8), chunks=(15_000, 8))
    y = 1.0 + X @ np.linspace(-1, 1, 8) + rng.standard_normal(240_000, chunks=15_000)
    if persisted:
        X, y = client.persist([X, y])
        distributed.wait([X, y])
    kwargs = dict(method="sgd", learning_rate=1e-3, max_epochs=15 if persisted else 6, tol=0, random_state=3)
    expected = fastgd.fit(X, y, **kwargs)

    out = {}
    thread = threading.Thread(target=lambda: out.update(res=fastgd.fit(X, y, **kwargs)))
    thread.start()
    deadline = time.monotonic() + 60
    while not any(client.processing().values()) and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)  # into the rounds
    busy = max(client.processing().items(), key=lambda kv: len(kv[1]))[0]
    pid = client.run(os.getpid, workers=[busy])[busy]
    assert thread.is_alive(), "the fit finished before the worker could be killed"
    os.kill(pid, signal.SIGKILL)
    thread.join(timeout=300)
    assert not thread.is_alive()
    client.wait_for_workers(2, timeout=120)
    assert pid not in client.run(os.getpid).values()  # the nanny started a new process
    np.testing.assert_array_equal(out["res"].theta, expected.theta)
    np.testing.assert_array_equal(out["res"].history, expected.history)


def _assert_regressor_fits_on_the_cluster(estimator, params, X, y, Xd, yd):
    """``estimator(**params)`` on Dask (Xd, yd): the in-memory fit's coefficients, lazy predictions."""
    on_dask = estimator(**params).fit(Xd, yd)
    in_memory = estimator(**params).fit(X, y)
    np.testing.assert_allclose(on_dask.coef_, in_memory.coef_, rtol=1e-6)
    assert on_dask.n_features_in_ == X.shape[1]
    predicted = on_dask.predict(Xd)
    assert isinstance(predicted, da.Array)
    np.testing.assert_allclose(predicted.compute(), in_memory.predict(X), rtol=1e-6)


def test_the_estimators_fit_dask_collections_on_the_cluster(client):
    """GDRegressor / GDClassifier hand Dask input to fastgd.fit (nothing computed on the client),
    give the in-memory coefficients, and predict lazily; partial_fit wants in-memory chunks."""
    pytest.importorskip("sklearn")
    X, y = _data(n=6_000, d=4)
    Xd, yd = _dask(X, y)
    common = dict(method="batch", penalty="l2", alpha=1e-3, standardize=True, tol=1e-10, max_epochs=5_000)
    _assert_regressor_fits_on_the_cluster(fastgd.GDRegressor, common, X, y, Xd, yd)

    labels = (_labels(X) == "yes").astype(np.int64)
    classifier = fastgd.GDClassifier(**common).fit(Xd, da.from_array(labels, chunks=1_500))
    reference = fastgd.GDClassifier(**common).fit(X, labels)
    assert classifier.classes_.tolist() == [0, 1]
    np.testing.assert_allclose(classifier.coef_, reference.coef_, rtol=1e-6)
    lazy = classifier.predict(Xd)
    assert isinstance(lazy, da.Array)
    np.testing.assert_array_equal(lazy.compute(), reference.predict(X))
    with pytest.raises(ValueError, match="partial_fit takes in-memory chunks"):
        fastgd.GDRegressor().partial_fit(Xd, yd)


def test_the_sgd_estimators_fit_dask_collections_with_a_fastgd_method(client):
    """SGDRegressor / SGDClassifier(method=...) hand Dask input to fastgd.fit as GDRegressor does:
    the in-memory coefficients, lazy predictions; scikit-learn's rule (method=None) and partial_fit
    want in-memory data, and say so."""
    pytest.importorskip("sklearn")
    X, y = _data(n=6_000, d=4)
    Xd, yd = _dask(X, y)
    common = dict(method="batch", learning_rate="auto", standardize=True, tol=1e-10, max_iter=5_000)
    _assert_regressor_fits_on_the_cluster(fastgd.SGDRegressor, common, X, y, Xd, yd)
    # 3 noisy classes: one-vs-all, one fit on the cluster a class, each converged as in memory
    # X[:, 0] - 3 is standard normal: three classes of about a third each (the rare classes of an
    # uncentered cut made batch GD crawl along the intercept: 551 epochs against 29)
    labels = np.digitize(X[:, 0] - 3.0 + np.random.default_rng(1).normal(size=X.shape[0]), [-0.5, 0.5])
    regularized = dict(common, alpha=1e-2, loss="log_loss", tol=1e-6)  # coefficients to ~1e-3
    classifier = fastgd.SGDClassifier(**regularized).fit(Xd, da.from_array(labels, chunks=1_500))
    reference = fastgd.SGDClassifier(**regularized).fit(X, labels)
    assert all(r.converged for r in classifier.result_ + reference.result_)
    assert classifier.classes_.tolist() == [0, 1, 2]
    np.testing.assert_allclose(classifier.coef_, reference.coef_, rtol=1e-2, atol=1e-4)
    lazy = classifier.predict(Xd)
    assert isinstance(lazy, da.Array)
    np.testing.assert_array_equal(lazy.compute(), reference.predict(X))
    with pytest.raises(ValueError, match=r"method=None\) runs in memory"):
        fastgd.SGDRegressor().fit(Xd, yd)
    with pytest.raises(ValueError, match="partial_fit takes in-memory chunks"):
        fastgd.SGDRegressor(method="sgd").partial_fit(Xd, yd)


def test_closed_forms_reach_the_exact_solution_as_in_memory(client):
    """The certified designs of bench/accuracy.py (tests/test_accuracy.py): the Gram pass, the
    tsqr path and the refinement passes over blocks give the digits of the in-memory fit."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "accuracy", Path(__file__).resolve().parents[1] / "bench" / "accuracy.py"
    )
    acc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(acc)
    wanted = ("control: offset", "degree 10, x in [0, 2]", "degree 6, no intercept", "timestamps")
    for design in [d for d in acc.designs() if d.name.startswith(wanted)]:
        exact = acc.exact_solution(design.X, design.y, design.fit_intercept)
        best = min(acc.CAP, acc.limit(exact)) - 1
        Xd, yd = _dask(design.X, design.y, rows=16)
        for method in ("auto", "svd"):
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # full rank, converged: no warning
                res = fastgd.fit(Xd, yd, method=method, fit_intercept=design.fit_intercept)
            mem = fastgd.fit(design.X, design.y, method=method, fit_intercept=design.fit_intercept)
            assert res.method == mem.method and "row blocks" in res.message
            assert acc.digits(res.theta, exact) >= best, (design.name, method, res.message)
        if design.ill:  # the merged Gram matrix's condition estimate: a warning, or a refusal
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    fastgd.fit(Xd, yd, method="normal", fit_intercept=design.fit_intercept)
                except fastgd.SingularMatrixError as exc:
                    assert 'method="svd"' in str(exc)
                else:
                    assert [w.category for w in caught] == [fastgd.IllConditionedWarning], design.name
