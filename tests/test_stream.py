"""Data that arrives in pieces or lives in a file, and watching a fit: fastgd.Stream /
fit_stream, memory-mapped input, callback and progress."""

import warnings

import numpy as np
import pytest

import fastgd
from fastgd import kernels as K

SCHEDULE = fastgd.schedules.inverse_time(5, 50)


@pytest.fixture(scope="module")
def data():
    return fastgd.make_linear(600, 3, random_state=1)


def chunks(X, y, size):
    return [(X[i : i + size], y[i : i + size]) for i in range(0, X.shape[0], size)]


@pytest.mark.parametrize("method", ["sgd", "minibatch"])
def test_chunks_in_order_equal_one_epoch_over_their_concatenation(data, method):
    X, y = data
    common = dict(method=method, learning_rate=SCHEDULE, shuffle=False, batch_size=20)
    streamed = fastgd.fit_stream(chunks(X, y, 200), **common)
    whole = fastgd.fit(X, y, max_epochs=1, tol=0, init="zeros", **common)
    np.testing.assert_array_equal(streamed.theta, whole.theta)
    assert streamed.n_updates == whole.n_updates
    assert streamed.n_epochs == 3  # one per chunk


def test_the_schedule_continues_across_partial_fits(data):
    X, y = data
    stream = fastgd.Stream(learning_rate=SCHEDULE, shuffle=False)
    stream.partial_fit(X[:300], y[:300])
    assert stream.t == 300
    stream.partial_fit(X[300:], y[300:])
    assert stream.t == 600
    whole = fastgd.fit(X, y, method="sgd", learning_rate=SCHEDULE, shuffle=False, max_epochs=1, tol=0, init="zeros")
    np.testing.assert_array_equal(stream.result().theta, whole.theta)


def test_a_classifier_stream_keeps_its_classes(data):
    X, y = data
    labels = np.where(y > np.median(y), "hi", "lo")
    stream = fastgd.Stream(loss="log", penalty="l2", alpha=1e-3, learning_rate=0.05, classes=["lo", "hi"])
    for Xc, yc in chunks(X, labels, 150):
        stream.partial_fit(Xc, yc)
    res = stream.result()
    assert res.classes.tolist() == ["hi", "lo"]
    assert set(res.predict(X)) <= {"hi", "lo"}
    with pytest.raises(ValueError, match=r"label 'mid', which is not among the stream's classes"):
        stream.partial_fit(X[:2], ["hi", "mid"])


def test_bad_chunks_get_clear_errors(data):
    X, y = data
    stream = fastgd.Stream(learning_rate=0.01)
    stream.partial_fit(X[:100], y[:100])
    with pytest.raises(ValueError, match="this chunk has 2 features but the stream started with 3"):
        stream.partial_fit(X[:100, :2], y[:100])
    bad = X[:100].copy()
    bad[7, 1] = np.nan
    with pytest.raises(ValueError, match="row 7, column 1"):
        stream.partial_fit(bad, y[:100])
    with pytest.raises(TypeError, match="each chunk must be a tuple"):
        fastgd.fit_stream([X[:10]])
    with pytest.raises(ValueError, match="no chunk has been fitted yet"):
        fastgd.Stream().result()
    with pytest.raises(ValueError, match="unknown method 'batch'"):
        fastgd.Stream(method="batch")
    with pytest.raises(ValueError, match="needs exactly 2 classes"):
        fastgd.Stream(loss="hinge", classes=[0, 1, 2])


def test_a_memory_mapped_array_reaches_the_kernels_uncopied(tmp_path, monkeypatch, data):
    X, y = data
    path = tmp_path / "X.npy"
    np.save(path, X)
    mapped = np.load(path, mmap_mode="r")
    seen = []
    epoch = K.sgd_epoch

    def spy(data, *args):
        seen.append(data[0])  # data = (X, y, weights)
        return epoch(data, *args)

    monkeypatch.setattr(K, "sgd_epoch", spy)
    res = fastgd.fit(mapped, y, method="sgd", max_epochs=2, tol=0, learning_rate=SCHEDULE, random_state=0)
    assert seen and all(np.shares_memory(X_kernel, mapped) for X_kernel in seen)
    assert res.n_epochs == 2
    in_memory = fastgd.fit(X, y, method="sgd", max_epochs=2, tol=0, learning_rate=SCHEDULE, random_state=0)
    np.testing.assert_array_equal(res.theta, in_memory.theta)


@pytest.mark.parametrize(
    ("method", "extra"),
    [("sgd", {}), ("minibatch", {}), ("batch", {}), ("batch", dict(precompute=False)), ("batch", dict(loss="huber"))],
)
def test_a_callback_sees_every_epoch_and_can_stop_the_fit(data, method, extra):
    X, y = data
    seen = []

    def callback(epoch, state):
        seen.append(state)
        return epoch == 4

    res = fastgd.fit(X, y, method=method, callback=callback, random_state=0, **extra)
    assert [s.epoch for s in seen] == [1, 2, 3, 4]
    assert res.n_epochs == 4 and not res.converged
    assert res.message == "stopped by the callback after epoch 4"
    np.testing.assert_allclose(seen[-1].theta, res.theta, rtol=1e-6)  # float32 cast aside, the same θ
    assert seen[-1].objective == pytest.approx(res.history[-1])


def test_a_callback_that_never_stops_changes_nothing(data):
    X, y = data
    plain = fastgd.fit(X, y, method="sgd", random_state=3)
    watched = fastgd.fit(X, y, method="sgd", random_state=3, callback=lambda epoch, state: None)
    np.testing.assert_array_equal(plain.theta, watched.theta)
    assert watched.converged == plain.converged


def test_progress_draws_a_bar(data, capsys):
    pytest.importorskip("tqdm")
    X, y = data
    res = fastgd.fit(X, y, method="sgd", progress=True, max_epochs=3, tol=0, random_state=0)
    err = capsys.readouterr().err
    assert "stochastic gradient descent" in err and "3/3" in err
    assert res.n_epochs == 3


def test_bad_callbacks_and_progress_get_clear_errors(data):
    X, y = data
    with pytest.raises(TypeError, match="callback must be a function"):
        fastgd.fit(X, y, method="sgd", callback=42)
    with pytest.raises(TypeError, match="progress must be True or False"):
        fastgd.fit(X, y, method="sgd", progress="yes")
    with pytest.raises(ValueError, match="apply to the iterative methods"):
        fastgd.fit(X, y, method="normal", callback=lambda e, s: None)


def test_an_exception_in_a_callback_propagates(data):
    X, y = data

    def callback(epoch, state):
        raise RuntimeError("from the callback")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(RuntimeError, match="from the callback"):
            fastgd.fit(X, y, method="minibatch", callback=callback)
