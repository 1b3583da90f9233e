"""Ctrl-C (issue 16): a KeyboardInterrupt within about half a second, as a plain
KeyboardInterrupt, the objects left as they were; the sliced epochs give the same bits."""

import os
import signal
import threading
import time
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import fastgd
from fastgd import engine, runner
from fastgd import kernels as K

pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGINT from a thread needs POSIX")

#: the signal comes this long into the fit; the KeyboardInterrupt must follow within LIMIT
#: (generous for a loaded 2-core machine: the slices take tens of ms)
DELAY, LIMIT = 0.6, 1.0


@pytest.fixture(scope="module")
def big():
    """1M x 31 float32 rows, 40 classes: an unsliced softmax+Adam SGD epoch is one kernel call of
    ~2 s on a 2-core machine; a pass of batch GD ~0.2 s."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((1_000_000, 31), dtype=np.float32)
    y = np.digitize(X[:, :4].sum(1), np.linspace(-4, 4, 39)).astype(np.float32)
    return X, y


def interrupted(call):
    """Run ``call`` with a SIGINT DELAY seconds in; the KeyboardInterrupt's latency (s)."""
    sent = []

    def fire():
        sent.append(time.perf_counter())
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Timer(DELAY, fire)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt) as caught:  # a SystemError would fail the test
            call()
    finally:
        timer.cancel()
        timer.join()
    assert type(caught.value) is KeyboardInterrupt
    latency = time.perf_counter() - sent[0]
    print(f"Ctrl-C latency {latency * 1000:.0f} ms")
    return latency


FITS = {
    "sgd": dict(method="sgd", loss="softmax", optimizer="adam"),
    "sgd_average": dict(method="sgd", loss="softmax", average=True),
    "minibatch": dict(method="minibatch", loss="softmax", batch_size=4),
    "batch": dict(method="batch", loss="softmax"),
}


@pytest.mark.parametrize("name", FITS)
def test_fit_interrupted_quickly(big, name):
    X, y = big
    kw = dict(FITS[name], max_epochs=1000, tol=0.0, random_state=0)
    fastgd.fit(X[:2000], y[:2000], **dict(kw, max_epochs=2))  # compiled before the clock runs
    assert interrupted(lambda: fastgd.fit(X, y, **kw)) < LIMIT


def test_sparse_sgd_interrupted_quickly(big):
    X, y = big
    Xs = sp.csr_matrix(X[:400_000])
    kw = dict(method="sgd", loss="squared", optimizer="adam", max_epochs=1000, tol=0.0, random_state=0)
    fastgd.fit(Xs[:2000], y[:2000], **dict(kw, max_epochs=2))
    assert interrupted(lambda: fastgd.fit(Xs, y[:400_000], **kw)) < LIMIT


def test_stream_unchanged_after_interrupt(big):
    X, y = big
    stream = fastgd.Stream(loss="softmax", optimizer="adam", classes=np.arange(40), random_state=0)
    stream.partial_fit(X[:2000], y[:2000])
    before = dict(vars(stream))
    theta, state, t = stream.theta.copy(), stream._runner.state.copy(), stream.t
    shuffled = stream._shuffle_state.copy()

    def chunks():
        while True:
            stream.partial_fit(X, y)

    assert interrupted(chunks) < LIMIT
    assert vars(stream).keys() == before.keys() and stream.t == t
    np.testing.assert_array_equal(stream.theta, theta)
    np.testing.assert_array_equal(stream._runner.state, state)
    np.testing.assert_array_equal(stream._shuffle_state, shuffled)


def test_estimator_unchanged_after_interrupt(big):
    X, y = big
    model = fastgd.GDClassifier(loss="log", optimizer="adam", max_epochs=3, random_state=0).fit(X[:2000], y[:2000])
    coef, intercept = model.coef_.copy(), model.intercept_.copy()
    model.set_params(max_epochs=1000, tol=0.0)
    assert interrupted(lambda: model.fit(X, y)) < LIMIT
    np.testing.assert_array_equal(model.coef_, coef)
    np.testing.assert_array_equal(model.intercept_, intercept)
    assert model.max_epochs == 1000


# --- the slices change no bit ----------------------------------------------------------------


def _data():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((240, 5))
    y = X @ rng.standard_normal(5) + 0.1 * rng.standard_normal(240)
    Xs = sp.random(240, 30, density=0.15, format="csr", random_state=2)
    return X, y, Xs, (Xs @ rng.standard_normal(30) > 0).astype(float)


X_, Y_, XS_, YS_ = _data()
W_ = np.random.default_rng(3).integers(0, 3, 240).astype(float)
XB_ = np.random.default_rng(4).standard_normal((3 * K.CHUNK + 100, 4))
YB_ = XB_ @ np.arange(1.0, 5.0) + np.random.default_rng(5).standard_normal(XB_.shape[0])
WB_ = np.random.default_rng(6).uniform(0.0, 2.0, XB_.shape[0])
XSB_ = sp.random(XB_.shape[0], 30, density=0.1, format="csr", random_state=7)

SLICED = {
    "sgd": dict(X=X_, y=Y_, method="sgd"),
    "sgd_path": dict(X=X_, y=Y_, method="sgd", record_path="update"),
    "sgd_adam_avg": dict(X=X_, y=Y_ > 0, method="sgd", loss="log", optimizer="adam", average=True, penalty="l2"),
    "sgd_l1_standardized": dict(X=X_, y=Y_, method="sgd", penalty="l1", alpha=1e-3, standardize=True),
    "minibatch_softmax": dict(
        X=X_, y=np.digitize(Y_, [-1, 1]), method="minibatch", loss="softmax", batch_size=7, sample_weight=W_
    ),
    "minibatch_custom_rate": dict(X=X_, y=Y_, method="minibatch", batch_size=5, learning_rate=lambda t: 0.01),
    "csr_sgd_log": dict(X=XS_, y=YS_, method="sgd", loss="log"),
    "csr_sgd_l2_avg": dict(X=XS_, y=YS_, method="sgd", loss="log", penalty="l2", alpha=1e-3, average=True),
    "csr_sgd_hinge_l1": dict(X=XS_, y=YS_, method="sgd", loss="hinge", penalty="l1", alpha=1e-3),
    "csr_minibatch_adam": dict(X=XS_, y=YS_, method="minibatch", loss="log", batch_size=9, optimizer="adam"),
    "csr_minibatch_path": dict(X=XS_, y=YS_, method="minibatch", batch_size=9, record_path="update"),
    "batch_gram": dict(X=X_, y=Y_, method="batch", precompute=True, penalty="l2", optimizer="adam"),
    "stream": None,
    # passes over more than one block of kernels.CHUNK rows: one block a call when sliced
    "batch_passes": dict(X=XB_, y=YB_, method="batch", precompute=False, sample_weight=WB_),
    "batch_log_standardized": dict(X=XB_, y=YB_ > 0, method="batch", loss="log", standardize=True),
    "csr_batch_softmax": dict(X=XSB_, y=np.digitize(XSB_ @ np.ones(30), [-0.5, 0.5]), method="batch", loss="softmax"),
    "sgd_final_measure": dict(X=XB_, y=YB_, method="sgd", loss="huber"),
    # local SGD: every call runs the same part of each shard (kernels.sgd_epoch_local's part)
    "local_sgd_l2": dict(X=XB_, y=YB_, method="sgd", n_threads=2, penalty="l2", alpha=1e-2, sample_weight=WB_),
    "local_minibatch_l2_custom_rate": dict(
        X=XB_,
        y=YB_ > 0,
        method="minibatch",
        loss="log",
        batch_size=7,
        n_threads=2,
        penalty="l2",
        alpha=1e-2,
        learning_rate=lambda t: 0.01,
    ),
    # CSR plain steps with L2: the scaled weights' factor carried from slice to slice (runner.carry)
    "csr_sgd_l2": dict(X=XSB_, y=XSB_ @ np.ones(30) > 0.3, method="sgd", loss="log", penalty="l2", alpha=1e-3),
    "csr_sgd_l2_rescaled": dict(X=XS_, y=YS_, method="sgd", loss="hinge", penalty="l2", alpha=20.0),
    "csr_minibatch_l2": dict(X=XSB_, y=XSB_ @ np.ones(30), method="minibatch", batch_size=9, penalty="l2", alpha=1e-2),
}


def _fit(name):
    if name == "stream":
        stream = fastgd.Stream(optimizer="adam", random_state=0)
        for _ in range(3):
            stream.partial_fit(X_, Y_)
        return stream.result()
    kw = dict(SLICED[name])
    if callable(kw.get("learning_rate")):
        from numba import njit

        kw["learning_rate"] = njit(lambda t: 0.01 / (1.0 + 0.01 * t))
    return fastgd.fit(**kw, max_epochs=4, tol=0.0, random_state=3)


@pytest.mark.parametrize("name", SLICED)
def test_slices_are_bit_identical(name, monkeypatch):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        whole = _fit(name)
        monkeypatch.setattr(runner, "SLICE_WORK", 1)  # one row (or batch) a kernel call
        monkeypatch.setattr(engine, "SLICE_WORK", 1)  # one Gram step a call
        monkeypatch.setattr("fastgd._dispatch.SLICE_WORK", 1)  # one block of a pass a call
        sliced = _fit(name)
    np.testing.assert_array_equal(sliced.coef, whole.coef)
    np.testing.assert_array_equal(sliced.intercept, whole.intercept)
    np.testing.assert_array_equal(sliced.history, whole.history)
    if whole.path is not None:
        np.testing.assert_array_equal(np.asarray(sliced.path), np.asarray(whole.path))


def test_slices_cover_the_epoch(monkeypatch):
    """Slices of SLICE_WORK: mini-batch ones end at batch boundaries; local SGD's parts run about
    SLICE_WORK in each shard."""
    monkeypatch.setattr(runner, "SLICE_WORK", 20 * (6 + runner.ROW_WORK))  # 20 rows of d = 5
    theta = np.zeros((1, 6))
    model, opt = (True, 0, 0.0, 0.0, 0.0), (0, np.zeros(1), -1)
    order = np.arange(101)
    sgd = runner.EpochRunner(theta, model, opt)
    assert list(sgd._slices((X_,), order, None)) == [(a, min(a + 20, 101), a) for a in range(0, 101, 20)]
    mini = runner.EpochRunner(theta, model, opt, batch_size=6)
    assert list(mini._slices((X_,), order, None)) == [(a, min(a + 18, 101), a // 6) for a in range(0, 101, 18)]
    local = runner.EpochRunner(theta, model, opt, shards=2)  # 51 + 50 rows, 20 of each a call
    assert list(local._parts(101)) == [(0, 20), (20, 40), (40, 51)]
    local = runner.EpochRunner(theta, model, opt, batch_size=3, shards=2)  # 17 batches, 6 of each a call
    assert list(local._parts(101)) == [(0, 6), (6, 12), (12, 17)]


@pytest.mark.parametrize("batch_size", [0, 3])
@pytest.mark.parametrize("l2", [0.0, 0.01])
def test_sliced_local_epoch_reports_the_same_failure(monkeypatch, batch_size, l2):
    """A local epoch that diverges in its second shard first: in parts of one update (or batch) of
    each shard a call, the runner returns the whole epoch's earliest offset k K + s, theta as it was."""
    n = 60
    X, y = np.random.default_rng(8).standard_normal((n, 3)), np.random.default_rng(9).standard_normal(n)
    X[20], X[47] = 1e200, 1e200  # shard 0's update 20 (batch 6), shard 1's update 17 (batch 5)
    order = np.arange(n)
    model, opt = (True, 0, 0.0, l2, 0.0), (0, np.zeros(1), -1)
    data = ((X,), y, None, (None, None))
    statuses = []
    for work in (runner.SLICE_WORK, 1):
        monkeypatch.setattr(runner, "SLICE_WORK", work)
        theta = np.zeros((1, 4))
        local = runner.EpochRunner(theta, model, opt, batch_size=batch_size, shards=2)
        statuses.append(local.run_coded(data, order, K.codes.CONSTANT, np.array([0.01]), 0))
        assert (theta == 0.0).all()
    whole, sliced = statuses
    assert whole == sliced and whole % 2 == 1 and whole > 0  # shard 1's failure, the earlier one
