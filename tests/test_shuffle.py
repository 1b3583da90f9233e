"""shuffle="corgipile": CorgiPile's two-level order (``kernels.shuffle_corgi``, ``shuffle_groups``),
the runner's layout and sliced calls (``runner.Shuffler``, ``corgi_layout``), and fits with it."""

import numpy as np
import pytest
import reference as ref
import scipy.sparse as sp

import fastgd
from fastgd import kernels as K
from fastgd import runner

DTYPES = pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])

#: (n, block_rows, buffer_blocks): n below a block, n a multiple of the block, not a multiple,
#: one buffer for all, buffers of one block, blocks of one row
LAYOUTS = [
    (0, 4, 2),
    (1, 64, 4),
    (5, 64, 4),
    (128, 64, 1),
    (130, 64, 1),
    (1000, 7, 3),
    (1000, 7, 1000),
    (1001, 1, 10),
    (4099, 16, 256),
]


def _corgi(n, block_rows, buffer_blocks, seed, index=np.int64):
    order = np.full(n, -1, dtype=index)
    blocks = np.full(-(-n // block_rows), -1, dtype=index)
    state = np.array([seed], dtype=np.uint64)
    assert K.shuffle_corgi(order, blocks, block_rows, buffer_blocks, state) is order
    return order, blocks, state


@pytest.mark.parametrize(("n", "block_rows", "buffer_blocks"), LAYOUTS)
@pytest.mark.parametrize("index", [np.int32, np.int64])
def test_corgi_is_a_permutation_grouped_by_blocks(n, block_rows, buffer_blocks, index):
    order, blocks, state = _corgi(n, block_rows, buffer_blocks, 17, index)
    assert np.array_equal(np.sort(order), np.arange(n))
    assert np.array_equal(np.sort(blocks), np.arange(blocks.shape[0]))  # the blocks' order, kept
    k = 0
    for g in range(0, blocks.shape[0], buffer_blocks):  # each group: exactly the rows of its blocks
        rows = np.concatenate(
            [np.arange(b * block_rows, min((b + 1) * block_rows, n)) for b in blocks[g : g + buffer_blocks]]
        )
        assert np.array_equal(np.sort(order[k : k + rows.shape[0]]), np.sort(rows))
        k += rows.shape[0]
    assert k == n
    # deterministic from the state, and the documented splitmix64 draws, step by step
    expected, expected_blocks, new_state = ref.splitmix64_corgi(n, block_rows, buffer_blocks, 17)
    np.testing.assert_array_equal(order, expected)
    np.testing.assert_array_equal(blocks, expected_blocks)
    assert int(state[0]) == new_state
    np.testing.assert_array_equal(_corgi(n, block_rows, buffer_blocks, 17, index)[0], order)
    if n >= 100:  # another seed, or the advanced state: another order
        assert not np.array_equal(_corgi(n, block_rows, buffer_blocks, 18, index)[0], order)
        again = order.copy()
        K.shuffle_corgi(order, blocks, block_rows, buffer_blocks, state)
        assert not np.array_equal(order, again)


def test_corgi_mixes_within_groups():
    """The rows of a group are shuffled, not left in runs: few neighbours in the order are
    neighbours in X (a run-order visit would have n - n_blocks of them)."""
    order, _, _ = _corgi(100_000, 16, 256, 3)
    assert np.count_nonzero(np.diff(order) == 1) < 100_000 / 100
    assert not np.array_equal(order[:4096], np.sort(order[:4096]))


@pytest.mark.parametrize("step", [1, 2, 5, 100])
def test_groups_in_pieces_are_one_corgi_shuffle(step):
    """shuffle_groups over consecutive ranges of groups, each starting where the last ended,
    after the blocks' shuffle = one shuffle_corgi: the same order, the same state."""
    n, block_rows, buffer_blocks = 2003, 8, 5
    whole, _, state = _corgi(n, block_rows, buffer_blocks, 11)
    blocks = np.arange(-(-n // block_rows), dtype=np.int64)
    state2 = np.array([11], dtype=np.uint64)
    K.shuffle(blocks, state2)
    pieces, k = np.full(n, -1, dtype=np.int64), 0
    groups = -(-blocks.shape[0] // buffer_blocks)
    for first in range(0, groups, step):
        k = K.shuffle_groups(pieces, blocks, block_rows, buffer_blocks, state2, first, min(groups, first + step), k)
    assert k == n
    np.testing.assert_array_equal(pieces, whole)
    assert state2[0] == state[0]


def test_corgi_layout_follows_the_row_size():
    block, buffer = runner.CORGI_BLOCK_BYTES, runner.CORGI_BUFFER_BYTES
    for row_bytes in (4, 16, 256, 1000, 4096, 5000, buffer, 3 * buffer):
        block_rows, buffer_blocks = runner.corgi_layout(row_bytes)
        assert block_rows >= 1 and buffer_blocks >= 1
        if row_bytes <= block:  # a block: about CORGI_BLOCK_BYTES; a buffer: about CORGI_BUFFER_BYTES
            assert block - row_bytes < block_rows * row_bytes <= block
        else:
            assert block_rows == 1
        if row_bytes <= buffer:
            assert buffer / 2 < block_rows * buffer_blocks * row_bytes <= buffer
        else:
            assert buffer_blocks == 1
    assert runner.corgi_layout(32 * 8) == (16, 256)  # the bench's rows: d = 32 float64
    assert runner.corgi_layout(0.5) == runner.corgi_layout(1)  # CSR's average row may be tiny


@pytest.mark.parametrize("weighted", [False, True], ids=["all", "weighted"])
def test_shuffler_cuts_corgipile_into_calls_with_the_same_order(monkeypatch, weighted):
    """The runner's corgipile order (the blocks' shuffle and the groups in calls of about
    SLICE_WORK / ROW_WORK rows) is one shuffle_corgi call's, over the rows of weight > 0."""
    n, row_bytes = 5000, 64
    weights = None
    if weighted:
        weights = np.ones(n)
        weights[::3] = 0.0
    rows = np.flatnonzero(weights) if weighted else np.arange(n)
    block_rows, buffer_blocks = runner.corgi_layout(row_bytes)
    monkeypatch.setattr(runner, "SLICE_WORK", runner.ROW_WORK * block_rows * buffer_blocks)  # a group a call
    shuffler = runner.Shuffler(n, weights, "corgipile", np.array([5], dtype=np.uint64), row_bytes)
    assert shuffler.layout == (block_rows, buffer_blocks)
    state = np.array([5], dtype=np.uint64)
    for _ in range(2):  # two epochs: the state carries on
        positions = np.empty(rows.shape[0], dtype=np.int64)
        K.shuffle_corgi(positions, np.empty(-(-rows.shape[0] // block_rows), dtype=np.int64), block_rows,
                        buffer_blocks, state)  # fmt: skip
        np.testing.assert_array_equal(shuffler.next(), rows[positions])
        assert shuffler.state[0] == state[0]
    with pytest.raises(TypeError, match="row_bytes"):
        runner.Shuffler(n, None, "corgipile", state)


def _problem(n=3000, d=4, dtype=np.float64, seed=2, sort=False):
    X, y = fastgd.make_linear(n, d, noise=1.0, random_state=seed)
    X, y = X.astype(dtype), y.astype(dtype)
    if sort:
        s = np.argsort(y, kind="stable")
        X, y = np.ascontiguousarray(X[s]), y[s]
    return X, y


def _optimum(X, y):
    A = np.hstack([np.ones((X.shape[0], 1)), X.astype(np.float64)])
    r = A @ np.linalg.lstsq(A, y.astype(np.float64), rcond=None)[0] - y
    return float(r @ r) / len(y)


@DTYPES
@pytest.mark.parametrize("method", ["sgd", "minibatch"])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_corgipile_fits_are_reproducible_and_converge(dtype, method, sparse, monkeypatch):
    monkeypatch.setattr(runner, "CORGI_BUFFER_BYTES", 2048)  # several buffers on these few rows
    X, y = _problem(dtype=dtype)
    Xf = sp.csr_matrix(X) if sparse else X
    kw = dict(method=method, max_epochs=30, tol=0, standardize=True)
    fit = fastgd.fit(Xf, y, shuffle="corgipile", random_state=0, **kw)
    assert fit.coef.dtype == dtype
    again = fastgd.fit(Xf, y, shuffle="corgipile", random_state=0, **kw)
    assert np.array_equal(fit.theta, again.theta)
    assert not np.array_equal(fit.theta, fastgd.fit(Xf, y, shuffle="corgipile", random_state=1, **kw).theta)
    assert not np.array_equal(fit.theta, fastgd.fit(Xf, y, shuffle="rows", random_state=0, **kw).theta)
    assert fit.loss / _optimum(X, y) - 1 < 0.01


def test_corgipile_skips_rows_of_weight_zero():
    X, y = _problem()
    weights = np.ones(len(y))
    weights[: len(y) // 2] = 0.0
    kw = dict(method="sgd", max_epochs=5, tol=0, random_state=0, shuffle="corgipile")
    weighted = fastgd.fit(X, y, sample_weight=weights, **kw)
    y_bad = y.copy()
    y_bad[: len(y) // 2] = 1e6  # never visited, never counted: the same fit
    with np.errstate(all="ignore"):
        assert np.array_equal(fastgd.fit(X, y_bad, sample_weight=weights, **kw).theta, weighted.theta)


@DTYPES
def test_corgipile_on_rows_sorted_by_y_stays_close_to_rows(dtype, monkeypatch):
    """On data sorted by y, runs of consecutive rows ("blocks") bias each stretch of SGD steps
    toward one value of y; CorgiPile's buffers mix many blocks, so its final loss stays close to
    the full shuffle's.  Means over 8 seeds of the final loss relative to the least-squares one
    (one fit's loss at a constant rate is noisy)."""
    monkeypatch.setattr(runner, "CORGI_BLOCK_BYTES", 512)  # blocks of 16 or 32 rows,
    monkeypatch.setattr(runner, "CORGI_BUFFER_BYTES", 16384)  # 32 blocks a buffer: 40 or 20 buffers
    X, y = _problem(n=20_000, dtype=dtype, seed=3, sort=True)
    optimum = _optimum(X, y)
    excess = {}
    for shuffle in ("rows", "blocks", "corgipile"):
        losses = [
            fastgd.fit(X, y, method="sgd", shuffle=shuffle, learning_rate=3e-3, max_epochs=5, tol=0, random_state=seed,
                       standardize=True).loss
            for seed in range(8)
        ]  # fmt: skip
        excess[shuffle] = np.mean(losses) / optimum - 1
    # measured: rows 1.6e-2 (both dtypes), corgipile 1.9e-2 (f64) and 2.5e-2 (f32), blocks 7.1e-2
    assert excess["corgipile"] < 1.75 * excess["rows"]
    assert excess["blocks"] > 2.5 * excess["corgipile"]
    assert excess["blocks"] - excess["rows"] > 3 * (excess["corgipile"] - excess["rows"])


def test_stream_refuses_corgipile():
    with pytest.raises(ValueError, match=r"unknown shuffle 'corgipile'; choose one of True, False, 'rows'$"):
        fastgd.Stream(shuffle="corgipile")
