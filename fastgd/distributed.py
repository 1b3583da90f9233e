"""The Dask backend of ``fastgd.fit``: data that outgrows one machine, the same kernels.

``fastgd.fit(X, y, ...)`` hands a ``dask.array`` (or a dask DataFrame's columns) here and gets
back the same ``FitResult``, with numpy θ.  Dask is imported lazily (``pip install
fastgd[dask]``); whatever scheduler is active runs the work: a ``distributed.Client`` (a
LocalCluster, an HPC queue, Kubernetes, ``Client("tcp://scheduler:8786")``), or, without one,
Dask's local threads.

Blocks are row blocks (one chunk of columns; a column-chunked X is rechunked once, with a
warning).  Every block is worked on where it lives by the same ``@njit`` kernels as in memory
(they are ``nogil``: a worker's threads run blocks in parallel).  Only θ (O(d)) and partial
sums (O(d²)) travel; the data never reaches the client.

=========================  ==================================================================
method                     how it runs
=========================  ==================================================================
first pass (every method)  per block: ``column_stats`` (finiteness, means, M2) of X and y, and
                           for the Gram path ``block_gram`` (XᵀX, Xᵀy centered on the block's
                           means); blocks merged pairwise (Chan et al.) in a fixed binary tree
normal                     the merged d x d system, equilibrated and solved by Cholesky
                           (``closed_form.solve_normal``, with the ridge term for ``penalty="l2"``)
svd                        ``dask.array.linalg.tsqr`` of the centered, equilibrated ``[1, X, y]``:
                           R and Qᵀy (ridge rows appended for ``penalty="l2"``), the SVD of R (the
                           rank), then refinement passes (``kernels.residual_gradient`` per block,
                           the double-double sums added in block order); only R factors and
                           (2, d + 2) sums travel
auto                       the merged system's Cholesky factor and condition estimate, then as in
                           memory (``closed_form.auto``): refinement passes from that factor, or
                           the tsqr path
batch (Gram path)          squared loss: the merged system, then ``kernels.gram_descent`` in
                           memory, exactly as ``precompute=True`` in memory
batch (passes)             any other loss, or ``precompute=False``: one pass per step, per-block
                           loss + gradient (K (d + 1) + 1 numbers a block) summed on the client in
                           block order; the step (``kernels.update``: optimizer, penalty) is the
                           in-memory loop's (``engine.batch``)
sgd, minibatch             local SGD with averaging, one round per epoch (below); plain steps
                           with the penalty (the kernels' fast loop for the plain squared loss)
=========================  ==================================================================

Local SGD with averaging (parameter mixing: Mann et al., 2009, "Efficient large-scale
distributed training of conditional maximum entropy models"; Zinkevich, Weimer, Smola and Li,
2010, "Parallelized stochastic gradient descent"): each round every block runs one local epoch
from the current θ (its rows in an order shuffled with a seed drawn from the fit's
``random_state``, the round and the block), its k-th update at ``t = (round - 1) * u + k``
with u the updates of the largest block (each block counts its own updates, as the threads of
in-memory local SGD do); then θ becomes the block-size-weighted mean of the blocks' θ, summed
in a seeded shuffled order of the blocks.  The average, and the training loss at it, are
computed on the cluster in the same round trip (one ``dask.compute`` a round; the first round
also measures the start loss).  The stopping rule and the divergence checks are those of the
in-memory fit.

Class labels (classification losses) are collected by one ``dask.array.unique`` over y and
encoded block by block with ``_validation.encode_labels``'s rule.  Not on Dask yet (a ValueError
before any pass): ``average``, ``sample_weight``, ``early_stopping``, and optimizers other than
plain SGD for "sgd" / "minibatch".

Determinism: partial results are combined in a fixed order, never as they complete, so the
same data, chunking and ``random_state`` give the same bits, whichever worker ran a block, and
when a lost worker's blocks are recomputed.
"""

import dataclasses
import functools
import math
import operator
import warnings

import numpy as np

from . import _validation as v
from . import closed_form, engine, schedules
from . import kernels as K
from ._dispatch import GRAM_MAX_FEATURES, GramLoss, Problem, power_iteration, start_vector, thread_count
from .kernels.blockgram import block_gram
from .kernels.codes import OK, SGD, SQUARED, STATE_SLOTS
from .losses import LOSSES
from .options import make_options
from .runner import EpochRunner, Shuffler, plain_steps

# ----------------------------------------------------------------------------------------------
# Every call of a fastgd kernel in this module (adapt these when a kernel's signature changes).
# The argument types are fixed here (see ``_clean``): each kernel has exactly the compiled
# signatures that ``warmup`` loads, whatever the caller passes.
# ----------------------------------------------------------------------------------------------


def _block_stats(Xb, yb):
    """``column_stats`` of one block of X and of y: (mean, M2, first non-finite row of X or -1,
    y's mean, y's M2, first non-finite row of y or -1)."""
    n, d = Xb.shape
    mean, m2 = np.zeros(d), np.zeros(d)
    bad = K.column_stats(Xb, mean, m2, np.zeros((K.n_chunks(n), 2 * d + 2)))
    y_mean, y_m2 = np.zeros(1), np.zeros(1)
    bad_y = K.column_stats(yb.reshape(-1, 1), y_mean, y_m2, np.zeros((K.n_chunks(n), 4)))
    return mean, m2, int(bad), float(y_mean[0]), float(y_m2[0]), int(bad_y)


def _block_gram(Xb, yb, x_shift, y_shift):
    """``block_gram``: (ZᵀZ, Zᵀr) of one block, Z = X - x_shift, r = y - y_shift (float64)."""
    d = Xb.shape[1]
    A, b = np.zeros((d, d)), np.zeros(d)
    block_gram(Xb, yb, x_shift, float(y_shift), A, b)
    return A, b


def _block_loss_grad(Xb, yb, theta, where, model, with_grad):
    """The pass of one block (no sample weights; ``loss_grad``'s branch for the model, as the
    in-memory passes): (sum of the loss over its rows, sum of the
    gradient (theta's shape) or None).  theta: (K, d + 1); where: (center, scale_inv)."""
    center, scale_inv = where
    n = Xb.shape[0]
    grad = np.zeros(theta.shape) if with_grad else K.NO_GRAD
    work = np.zeros(K.work_shape(n, theta.size))
    kernel = K.squared_loss_grad if K.is_squared_pass(model, theta) else K.general_loss_grad  # as in memory
    loss = kernel(Xb, yb, K.NO_WEIGHTS, theta, center, scale_inv, model, grad, work)
    return loss * n, (grad * n if with_grad else None)


def _block_max_row_norm2(Xb, center, scale_inv):
    """``max_row_norm2`` of one block, on one numba thread (the workers' threads are the parallelism)."""
    with thread_count(1):
        return float(K.max_row_norm2(Xb, center, scale_inv))


def _block_order(rows, shuffle, seed, row_bytes=8):
    """The visiting order of a block's rows: ``runner.Shuffler``'s from ``seed`` (``row_bytes``:
    the bytes of one row, for shuffle="corgipile")."""
    return Shuffler(rows, None, shuffle, np.array([seed], dtype=np.uint64), row_bytes).next()


def _plain_opt():
    """The ``opt`` of local SGD: plain steps, no averaging."""
    return (int(SGD), np.zeros(1), -1)


def _block_epoch(Xb, yb, theta, order, batch_size, where, model, state, sched_code, params, t_start):
    """One local epoch of plain steps on a block by the epoch runner, ``theta`` (K, d + 1)
    updated in place: SGD (batch_size 0) or mini-batch; the kernels' fast loop for the squared
    loss on one output without a penalty, else the general one with the block's (2, K, d + 1)
    ``state`` (SGD's cumulative L1 penalty; zeros when None).  Returns (``codes.OK`` or where a
    non-finite gradient appeared, the state after the epoch: None for the fast loop)."""
    runner = EpochRunner(theta, model, _plain_opt(), batch_size, state=state)
    status = runner.run_coded(((Xb,), yb, None, where), order, sched_code, params, t_start)
    return status, runner.state


def warmup(dtypes=(np.float64, np.float32)):
    """Compile (or load from numba's disk cache) every kernel the Dask workers run, on tiny
    blocks.  Call it once before starting worker processes that share ``NUMBA_CACHE_DIR``:
    concurrent first compiles of one kernel in many processes can crash numba (numba #4807)."""
    rng = np.random.default_rng(0)
    sched = schedules.constant(0.01)
    for dtype in dtypes:
        X = rng.random((5, 2)).astype(dtype)
        y = X.sum(axis=1)
        mean, _, _, y_mean, _, _ = _block_stats(X, y)
        _block_gram(X, y, mean, y_mean)
        for center in (None, mean):  # the compensated passes: without an intercept, with it
            for theta_lo in (None, np.zeros(3)):  # the normal equation's iterate, the accurate path's
                _sums_task(X, y, center, np.zeros(3), theta_lo)
        for where in ((None, None), (np.zeros(2), np.ones(2))):
            _block_max_row_norm2(X, *where)
            for plain, loss in ((True, "squared"), (False, "log")):  # the fast loop and the general one
                model = _clean_model((True, int(LOSSES[loss].code), 0.0, 0.0, 0.0))
                yl = y if plain else np.where(y > y.mean(), 1.0, -1.0).astype(dtype)
                theta = np.zeros((1, 3))
                state = None if plain else np.zeros((STATE_SLOTS, *theta.shape))
                for with_grad in (False, True):
                    _block_loss_grad(X, yl, theta, where, model, with_grad)
                for shuffle in ("rows", "blocks", "corgipile", False):
                    order = _block_order(5, shuffle, 1, X.shape[1] * X.itemsize)
                    for batch_size in (0, 2):
                        _block_epoch(X, yl, theta.copy(), order, batch_size, where, model, state, sched.code,
                                     sched.params, 0)  # fmt: skip


# ----------------------------------------------------------------------------------------------
# Tasks: what a worker does with one block (and how two partial results combine).
# ----------------------------------------------------------------------------------------------


def _contiguous(a):
    """An array as the kernels' cached signatures take it: C-contiguous and writeable.  A block
    that is read-only or strided (a broadcast, a view, a buffer from the network) is copied, one
    block at a time; otherwise numba would compile a new signature inside every worker."""
    if a is None or (a.flags.c_contiguous and a.flags.writeable):
        return a
    return np.array(a, order="C")


def _clean_model(model):
    """``model`` with the types of the compiled signatures: (bool, int, float, float, float)."""
    fit_intercept, loss_code, eps, l2, l1 = model
    return bool(fit_intercept), int(loss_code), float(eps), float(l2), float(l1)


def _clean_where(where):
    center, scale_inv = where
    return _contiguous(center), _contiguous(scale_inv)


def _theta_rows(theta):
    """θ as the workers' kernels take it: (K, d + 1) float64, C-contiguous and writeable."""
    return _contiguous(np.asarray(theta, dtype=np.float64).reshape(-1, np.shape(theta)[-1]))


def _encode_block(yb, classes, multiclass, dtype):
    """Class labels of one block as the kernels read them, by ``_validation.encode_labels``'s
    rule: the class's index for softmax, else +1 for the second (larger) of the two classes, -1
    for the first."""
    index = np.searchsorted(classes, yb)
    if multiclass:
        return index.astype(dtype)
    return np.where(index == 1, 1.0, -1.0).astype(dtype)


def _moments_task(Xb, yb, index, offset, with_gram):
    """The first pass over one block: its row count, means and M2 of X and y, the first
    non-finite value (if any), and with ``with_gram`` its centered Gram matrix."""
    Xb, yb = _contiguous(Xb), _contiguous(yb)
    mean, m2, bad, y_mean, y_m2, bad_y = _block_stats(Xb, yb)
    part = {"n": Xb.shape[0], "mean": mean, "m2": m2, "y_mean": y_mean, "y_m2": y_m2, "bad": None}
    if bad >= 0:
        col = int(np.flatnonzero(~np.isfinite(Xb[bad]))[0])
        part["bad"] = ("X", index, offset + bad, bad, col, float(Xb[bad, col]))
    elif bad_y >= 0:
        part["bad"] = ("y", index, offset + bad_y, bad_y, None, float(yb[bad_y]))
    elif with_gram:
        part["A"], part["b"] = _block_gram(Xb, yb, mean, y_mean)
    return part


def _merge_moments(a, b):
    """Two blocks' moments as one (Chan, Golub and LeVeque's pairwise update); a non-finite
    value wins (the earlier block's)."""
    if a["bad"] is not None or b["bad"] is not None:
        return a if a["bad"] is not None else b
    na, nb = a["n"], b["n"]
    n = na + nb
    f = na * nb / n
    dx = b["mean"] - a["mean"]
    dy = b["y_mean"] - a["y_mean"]
    out = {
        "n": n,
        "mean": a["mean"] + dx * (nb / n),
        "m2": a["m2"] + b["m2"] + dx * dx * f,
        "y_mean": a["y_mean"] + dy * (nb / n),
        "y_m2": a["y_m2"] + b["y_m2"] + dy * dy * f,
        "bad": None,
    }
    if "A" in a:
        out["A"] = a["A"] + b["A"] + f * np.outer(dx, dx)
        out["b"] = a["b"] + b["b"] + f * dx * dy
    return out


def _loss_task(Xb, yb, theta, where, model, with_grad, zero_y):
    """[sum of the loss, sum of the gradient (flattened; zeros without ``with_grad``)] over one
    block; ``zero_y`` reads y as 0 (the Hessian-vector product of the power iteration)."""
    Xb = _contiguous(Xb)
    yb = np.zeros(Xb.shape[0], dtype=Xb.dtype) if zero_y else _contiguous(yb)
    theta = _theta_rows(theta)
    loss, grad = _block_loss_grad(Xb, yb, theta, _clean_where(where), _clean_model(model), with_grad)
    out = np.zeros(theta.size + 1)
    out[0] = loss
    if grad is not None:
        out[1:] = grad.ravel()
    return out


def _average_task(results, weights, order):
    """The blocks' θ averaged with ``weights``, summed in ``order`` (positions in ``results``):
    (first failing status or codes.OK, θ, the start losses summed in block order)."""
    theta = np.zeros_like(results[0][1])
    start = 0.0
    for result in results:
        start += result[2]
    for k in order:
        status, block_theta = results[k][:2]
        if status != OK:
            return status, theta, start
        theta += weights[k] * block_theta
    return OK, theta, start


def _round_loss_task(Xb, yb, averaged, where, model):
    """The loss sum of one block at the round's averaged θ (NaN when a block failed)."""
    status, theta, _ = averaged
    if status != OK:
        return math.nan
    return float(_loss_task(Xb, yb, theta, where, model, False, False)[0])


def _max_norm_task(Xb, center, scale_inv):
    return _block_max_row_norm2(_contiguous(Xb), _contiguous(center), _contiguous(scale_inv))


def _epoch_task(Xb, yb, theta, state, seed, shuffle, batch_size, where, model, sched_code, params, t_start,
                start_loss):  # fmt: skip
    """One local epoch of SGD (batch_size 0) or mini-batch GD on one block, from ``theta`` and
    the block's ``state`` (None: the fast loop): (status, the block's θ, the block's loss sum at
    the start θ if ``start_loss`` else 0, the block's state after the epoch)."""
    Xb, yb = _contiguous(Xb), _contiguous(yb)
    where, model = _clean_where(where), _clean_model(model)
    theta = np.array(_theta_rows(theta))  # the block's own, writeable copies: a task never changes its inputs
    state = None if state is None else np.array(state, dtype=np.float64)
    start = _block_loss_grad(Xb, yb, theta, where, model, False)[0] if start_loss else 0.0
    order = _block_order(Xb.shape[0], shuffle, seed, Xb.shape[1] * Xb.itemsize)
    status, state = _block_epoch(
        Xb, yb, theta, order, batch_size, where, model, state, sched_code, _contiguous(params), t_start
    )
    return int(status), theta, float(start), state


def _tree(parts, combine):
    """Combine ``parts`` (Delayed) pairwise in a fixed binary tree: (0, 1), (2, 3), ... then
    the same on the results; deterministic, whatever order the blocks finish in."""
    import dask

    combine = dask.delayed(combine, pure=True)
    while len(parts) > 1:
        parts = [combine(parts[i], parts[i + 1]) if i + 1 < len(parts) else parts[i] for i in range(0, len(parts), 2)]
    return parts[0]


def _compute(*graphs):
    import dask

    return dask.compute(*graphs)


# ----------------------------------------------------------------------------------------------
# Input: dask arrays of row blocks, checked before any pass over the data.
# ----------------------------------------------------------------------------------------------


def _is_dask(a):
    import dask

    return dask.is_dask_collection(a)


def _chunks_text(chunks):
    if len(chunks) <= 6:
        return str(tuple(int(c) for c in chunks))
    head = ", ".join(str(int(c)) for c in chunks[:3])
    tail = ", ".join(str(int(c)) for c in chunks[-2:])
    return f"({head}, …, {tail}) ({len(chunks)} blocks)"


def _frame_to_array(a, name, numeric=True):
    """A dask DataFrame or Series as a dask array (its partitions' lengths computed once);
    non-numeric columns are named (allowed for class labels: ``numeric=False``)."""
    dtypes = a.dtypes.items() if hasattr(a.dtypes, "items") else [(a.name, a.dtype)]
    bad = [f"{col!r} ({dt})" for col, dt in dtypes if getattr(dt, "kind", "O") not in "fiub"]
    if bad and numeric:
        raise TypeError(f"{name} must hold real numbers; non-numeric column(s): {', '.join(bad)}")
    return a.to_dask_array(lengths=True)


def _as_dask_array(a, name, notes, numeric=True):
    import dask.array as da

    if hasattr(a, "to_dask_array"):  # dask DataFrame / Series
        a = _frame_to_array(a, name, numeric)
    if not isinstance(a, da.Array):
        return a
    meta = getattr(a, "_meta", None)
    if hasattr(meta, "tocsr") or hasattr(meta, "todense"):
        raise TypeError(f"{name} is a sparse matrix; fastgd needs a dense array (sparse support is planned)")
    if numeric:
        dtype = v.numeric_dtype(a.dtype, name)
        if a.dtype != dtype:
            a = a.astype(dtype)
    if a.ndim >= 1 and any(math.isnan(c) for c in a.chunks[0]):
        a = a.compute_chunk_sizes()
        notes.append(f"{name}'s row chunk sizes were unknown: computed once")
    return a


def _row_blocks(X, y, labels=False):
    """X (n, d) and y (n,) as dask arrays of the same row blocks, X in one chunk of columns,
    y of X's dtype (with ``labels``: y as given, class labels to encode); metadata checks only
    (no pass over the data).  Returns (X, y, notes)."""
    import dask.array as da

    notes = []
    X, y = _as_dask_array(X, "X", notes), _as_dask_array(y, "y", notes, numeric=not labels)
    if not isinstance(X, da.Array):  # y is the dask one: X in memory, cut like y
        X = v.check_X(X)
        if X.shape[0] != y.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]}")
        X = da.from_array(X, chunks=(y.chunks[0], -1))
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features) or 1-D (one feature), got shape {X.shape}")
    n, d = X.shape
    if n == 0 or d == 0:
        raise ValueError(f"X is empty: it has {n} samples and {d} features")
    if not isinstance(y, da.Array):  # X is the dask one: y in memory, cut like X
        y = v.check_y_shape(np.asarray(y) if labels else v.as_numeric_array(y, "y"), n)
        y = da.from_array(y, chunks=(X.chunks[0],))
    y = v.check_y_shape(y, n)
    if len(X.chunks[1]) > 1:
        from dask.array import PerformanceWarning

        note = (
            f"X was chunked along its columns too ({len(X.chunks[1])} column chunks): rechunked once into row blocks "
            "of all columns; chunk it as X.rechunk({1: -1}) to avoid the shuffle"
        )
        warnings.warn(note, PerformanceWarning, stacklevel=4)
        X = X.rechunk({1: -1})
        notes.append(note)
    if tuple(X.chunks[0]) != tuple(y.chunks[0]):
        raise ValueError(
            f"X and y are split into different row blocks: X's row chunks {_chunks_text(X.chunks[0])}, y's "
            f"{_chunks_text(y.chunks[0])}; the blocks must pair up row for row: rechunk one like the other, "
            "e.g. y = y.rechunk(X.chunks[0])"
        )
    if y.dtype != X.dtype and not labels:
        y = y.astype(X.dtype)
    return X, y, notes


def _encode_labels(y, spec, dtype):
    """Class labels on Dask -> (y as the kernels read it, blocks of X's dtype; the classes,
    sorted): the classes from one ``dask.array.unique`` (a pass over y only), checked with
    ``_validation.encode_labels``'s rules and messages, then each block encoded by its rule."""
    import dask.array as da

    (classes,) = _compute(da.unique(y))
    classes = np.asarray(classes)
    n = int(y.shape[0])
    if classes.dtype.kind in "fc" and not np.isfinite(classes).all():
        value = classes[~np.isfinite(classes)][0]
        raise ValueError(f"y contains {value}: class labels must be finite; remove or impute it before fitting")
    # the class count (and label type) checks of the in-memory fit: on the classes, each twice, so
    # that its "looks continuous" rule (which needs the real sample count) stays quiet here
    v.encode_labels(np.concatenate([classes, classes]), 2 * classes.shape[0], spec, dtype)
    if classes.dtype.kind == "f" and classes.shape[0] > max(20, n // 2):
        raise ValueError(
            f"y has {classes.shape[0]} distinct values in {n} samples: it looks continuous, but "
            f"loss={spec.name!r} is for classification; use a regression loss (e.g. 'squared')"
        )
    encode = functools.partial(
        _encode_block, classes=classes, multiclass=spec.task == "multiclass", dtype=np.dtype(dtype)
    )
    return y.map_blocks(encode, dtype=dtype), classes


# ----------------------------------------------------------------------------------------------
# The problem on Dask: fastgd._dispatch.Problem with passes over blocks instead of over X.
# ----------------------------------------------------------------------------------------------


class DaskProblem(Problem):
    """The data of one fit as row blocks on Dask.  Reads the blocks once on creation (the first
    pass: finiteness, means, variances, and with ``with_gram`` the Gram sums); every later
    ``loss`` / ``loss_grad`` / ``lipschitz_max`` is one more pass, summed in block order.  The
    rest (units, penalty, curvature from the Gram matrix) is ``_dispatch.Problem``'s own.  No
    sample weights (``weights`` is None)."""

    def __init__(self, X, y, *, fit_intercept, with_gram, spec=LOSSES["squared"], eps=0.0, l2=0.0, l1=0.0,
                 n_outputs=1):  # fmt: skip
        self.X, self.y = X, y
        self.n, self.d = (int(s) for s in X.shape)
        self.fit_intercept = bool(fit_intercept)
        self.spec, self.weights, self.n_outputs = spec, None, n_outputs
        self.l2, self.l1 = l2, l1
        self.model = _clean_model((fit_intercept, spec.code, eps, l2, l1))
        self._square = _clean_model((fit_intercept, SQUARED, 0.0, 0.0, 0.0))
        offsets = np.concatenate(([0], np.cumsum(X.chunks[0])))
        pairs = zip(X.to_delayed().ravel(), y.to_delayed().ravel(), strict=True)
        self.blocks = [(xb, yb, k, int(offsets[k])) for k, (xb, yb) in enumerate(pairs) if X.chunks[0][k] > 0]
        self.sizes = np.array([X.chunks[0][k] for _, _, k, _ in self.blocks], dtype=np.int64)
        self.center = self.scale_inv = None
        self.gram = None
        self._lipschitz = self._mu = None
        self._sums = None
        self._first_pass(with_gram)

    def _first_pass(self, with_gram):
        import dask

        task = dask.delayed(_moments_task, pure=True)
        leaves = [task(xb, yb, k, offset, with_gram) for xb, yb, k, offset in self.blocks]
        (m,) = _compute(_tree(leaves, _merge_moments))
        if m["bad"] is not None:
            raise _nonfinite_error(*m["bad"], len(self.blocks))
        self.mean = m["mean"]
        self.std = np.sqrt(m["m2"] / self.n)
        self.y_mean, self.y_var = float(m["y_mean"]), float(m["y_m2"]) / self.n
        if with_gram:
            A, b, y_mean, yy = m["A"], m["b"], float(m["y_mean"]), float(m["y_m2"])
            if self.fit_intercept:
                self._sums = closed_form.Gram(A, b, self.mean.copy(), y_mean, yy, float(self.n))
            else:  # closed_form.gram's convention: nothing centered
                A = A + self.n * np.outer(self.mean, self.mean)
                b = b + self.n * self.mean * y_mean
                yy = yy + self.n * y_mean * y_mean
                self._sums = closed_form.Gram(A, b, np.zeros(self.d), 0.0, yy, float(self.n))

    @property
    def n_blocks(self):
        return len(self.blocks)

    @property
    def where(self):
        """(center, scale_inv): how the kernels read the features."""
        return self.center, self.scale_inv

    def gram_sums(self):
        """The ``closed_form.Gram`` sums of the squared loss, merged over the blocks (one more
        pass if the first pass did not form them)."""
        if self._sums is None:
            self._first_pass(with_gram=True)
        return self._sums

    def _gram_loss(self):
        return GramLoss(self, gram=self.gram_sums())

    def _pass(self, theta, with_grad, model=None, zero_y=False):
        """[loss sum, gradient sum (flattened)] over every block, summed here in block order."""
        import dask

        task = dask.delayed(_loss_task, pure=True)
        model = self.model if model is None else model
        graphs = [task(xb, yb, theta, self.where, model, with_grad, zero_y) for xb, yb, _, _ in self.blocks]
        total = np.zeros(theta.size + 1)
        for part in _compute(*graphs):  # O(K d) per block
            total += part
        return total

    def loss(self, theta, weights=False):
        if weights is not False:
            raise NotImplementedError("weighted losses (early stopping) are not available on Dask")
        return float(self._pass(theta, False)[0]) / self.n

    def loss_grad(self, theta, grad):
        if self.gram is not None:
            return self.gram.loss_grad(theta, grad)
        total = self._pass(theta, True)
        grad.reshape(-1)[:] = total[1:] / self.n
        return float(total[0]) / self.n

    def pass_loss_grad(self, theta, grad):
        """The loss and gradient by one more round of ``_loss_task`` over the blocks (the final
        measure), also on the Gram path."""
        total = self._pass(theta, True)
        grad.reshape(-1)[:] = total[1:] / self.n
        return float(total[0]) / self.n

    def lipschitz(self, max_iter=30, rtol=1e-3):
        """L from the small Gram matrix (d <= GRAM_MAX_FEATURES: the Gram sums cost no extra pass
        when the first pass formed them), else by power iteration with one pass per step; scaled
        by the loss's curvature as in memory."""
        if self._lipschitz is None and (self.gram is not None or self.d <= GRAM_MAX_FEATURES):
            self._lipschitz = (self.gram if self.gram is not None else self._gram_loss()).lipschitz()
        if self._lipschitz is None:
            v0 = start_vector(self.d + 1)
            if not self.fit_intercept:
                v0[0] = 0.0

            def hessian_times(w):
                return self._pass(w.reshape(1, -1), True, model=self._square, zero_y=True)[1:] / self.n

            self._lipschitz = power_iteration(hessian_times, v0, max_iter, rtol)
        return self._hessian_scale(self._lipschitz)

    def solve(self, method, ridge=None):
        """The closed forms as in memory (``closed_form.solve``) on ``DaskData``: the Gram
        sums merged over the blocks, R by tsqr, the compensated passes block by block."""
        solution = closed_form.solve(DaskData(self), method, ridge)
        note = ", XᵀX and Xᵀy summed block by block" if solution.method == "normal" else ", R by dask.array.linalg.tsqr"
        return solution._replace(message=solution.message + note)

    def epochs(self, theta, options, start_objective=None):
        """SGD / mini-batch epochs as rounds of local SGD over the blocks (``LocalEpochs``; the
        start objective always measured by the first round's tasks)."""
        return LocalEpochs(self, theta, options)

    def lipschitz_max(self):
        import dask

        task = dask.delayed(_max_norm_task, pure=True)
        norms = _compute(*[task(xb, self.center, self.scale_inv) for xb, _, _, _ in self.blocks])
        return self._hessian_scale(2.0 * (max(norms) + self.fit_intercept))


def _nonfinite_error(which, block, row, row_in_block, col, value, n_blocks):
    where = f"block {block} of {n_blocks} (row {row_in_block} of that block)"
    if which == "X":
        return ValueError(
            f"X contains {value} at row {row}, column {col}, in {where}; remove or impute it before fitting"
        )
    return ValueError(
        f"y contains {value} at index {row}, in {where} (after the cast to X's dtype); remove or impute it before "
        "fitting"
    )


# ----------------------------------------------------------------------------------------------
# fit
# ----------------------------------------------------------------------------------------------


def fit(X, y, sample_weight, keywords):
    """``fastgd.fit`` on Dask collections (called by it; see its docstring for the arguments).

    X: dask array (n, d) or (n,), or a dask DataFrame; y: dask array (n,) or (n, 1), or a dask
    Series, cut into the same row blocks as X (either may be an in-memory array, which is then
    cut like the other).  Every loss and penalty is available.  Differences from the in-memory
    fit: "sgd" and "minibatch" run as local SGD with averaging over the blocks (module
    docstring), so they do not give the serial iterates, and take plain steps only (``optimizer``
    applies to "batch", whose steps are taken on the client); ``average``, ``sample_weight``
    and ``early_stopping`` are not available yet (a ValueError, before any pass);
    ``record_path="update"`` is not available (there is no single sequence of updates);
    ``n_threads`` does not apply (the workers' threads run the blocks).  ``keywords``: the other
    arguments of ``fastgd.fit``, by name.
    """
    options = make_options(keywords, "dask", weighted=sample_weight is not None)
    X, y, notes = _row_blocks(X, y, labels=options.spec.classifier)
    spec, d = options.spec, int(X.shape[1])
    classes = None
    if spec.classifier:
        y, classes = _encode_labels(y, spec, X.dtype)
    n_outputs = classes.shape[0] if spec.task == "multiclass" else 1
    options = options.replace(init=v.check_init(options.init, d, options.fit_intercept, n_outputs))
    method, precompute = options.method, options.precompute
    gram_batch = (
        spec.name == "squared"
        and method == "batch"
        and (precompute is True or (precompute == "auto" and options.fit_intercept))
    )
    with_gram = d <= GRAM_MAX_FEATURES and (method in ("auto", "normal") or gram_batch or options.schedule == "auto")
    problem = DaskProblem(
        X, y, fit_intercept=options.fit_intercept, with_gram=with_gram, spec=spec, eps=options.eps, l2=options.l2,
        l1=options.l1, n_outputs=n_outputs,
    )  # fmt: skip
    result = engine.run(problem, options, dict(loss_name=spec.name, classes=classes))
    where = f"on Dask: {problem.n_blocks} row blocks"
    return dataclasses.replace(result, message="; ".join([result.message, where, *notes]))


class DaskData:
    """``closed_form.Dense``'s twin for a DaskProblem (no sample weights): the Gram sums merged
    over the blocks, the R of a tall-skinny QR (``dask.array.linalg.tsqr``) of the centered,
    equilibrated ``[1, X, y]``, and the compensated residual sums of each block (one task a
    block, (2, d + 1) numbers back), added on the client in block order."""

    def __init__(self, problem):
        self.problem = problem
        self.n, self.d = problem.n, problem.d
        self.fit_intercept = problem.fit_intercept
        self.weight = float(problem.n)
        #: the dtype θ is returned in, and its eps (``closed_form.Dense``)
        self.answer_dtype, self.answer_eps = problem.X.dtype.name, float(np.finfo(problem.X.dtype).eps)

    def gram(self):
        return self.problem.gram_sums()

    def weighted_mean(self):
        return self.problem.mean.copy()

    def qr(self, center, ridge_rows):
        """(R, scales, rows) as ``Dense.qr``: the column norms come from the first pass's M2."""
        import dask.array as da
        import scipy.linalg

        problem, first = self.problem, int(self.fit_intercept)
        X = problem.X.astype(np.float64)
        m2 = problem.std**2 * problem.n
        if center is None:
            m2 = m2 + problem.n * problem.mean**2  # the uncentered sums of squares
        else:
            m2 = m2 + problem.n * (problem.mean - center) ** 2
        if ridge_rows is not None:
            m2 = m2 + np.diag(ridge_rows) ** 2
        scales = np.sqrt(m2)
        scales[scales == 0] = 1.0
        Z = (X if center is None else X - center) / scales
        cols = [Z, problem.y.astype(np.float64)[:, None]]
        if first:
            cols.insert(0, da.full((problem.n, 1), 1.0 / math.sqrt(problem.n), chunks=(X.chunks[0], 1)))
        _, r = da.linalg.tsqr(da.concatenate(cols, axis=1).rechunk({1: -1}))
        (R,) = _compute(r)
        if ridge_rows is None:
            return np.array(R), scales, problem.n
        extra = np.zeros((self.d, R.shape[1]))
        extra[:, first : first + self.d] = ridge_rows / scales
        R = scipy.linalg.qr(np.vstack([R, extra]), mode="r", check_finite=False)[0]
        return R, scales, problem.n + self.d

    def sums(self, theta, theta_lo, center, zero_y=False):
        """The double-double sums [Σ r, Σ (x - center) r] over every block, in block order (y
        read as 0 with ``zero_y``)."""
        import dask

        task = dask.delayed(_sums_task, pure=True)
        graphs = [task(xb, yb, center, theta, theta_lo, zero_y) for xb, yb, _, _ in self.problem.blocks]
        total = np.zeros((2, self.d + 2))
        for part in _compute(*graphs):
            K.add_sums(total, part)
        return total


def _sums_task(Xb, yb, center, theta, theta_lo, zero_y=False):
    """``kernels.residual_gradient`` on one block: its (2, d + 2) double-double sums."""
    Xb = _contiguous(Xb)
    yb = np.zeros(Xb.shape[0], dtype=Xb.dtype) if zero_y else _contiguous(yb)
    out = np.zeros((2, theta.shape[0] + 1))
    work = np.zeros((K.n_chunks(Xb.shape[0]), 2, theta.shape[0] + 1))
    K.residual_gradient(Xb, yb, K.NO_WEIGHTS, center, theta, theta_lo, work, out)
    return out


def _block_seed(base, epoch, block):
    return int(np.random.SeedSequence([base, epoch, block]).generate_state(1, np.uint64)[0])


class LocalEpochs:
    """SGD or mini-batch GD as local SGD with averaging over the blocks, one round per epoch
    (``engine.stochastic``'s source for a DaskProblem): plain steps (with the penalty), any loss.
    Each round is one round trip: the blocks' epochs, their average and the loss at it are
    computed on the cluster; each block's state (SGD's cumulative L1 penalty) is kept across
    rounds, as each thread's in memory."""

    def __init__(self, problem, theta, options):
        self.problem, self.theta, self.shuffle = problem, theta, options.shuffle
        sgd = options.method == "sgd"
        self.batch_size = 0 if sgd else options.batch_size
        plain = plain_steps(problem.model, _plain_opt(), problem.n_outputs)
        per_block = problem.sizes if sgd else -(-problem.sizes // options.batch_size)
        self.per_round = int(per_block.max())  # updates of the largest block: each block counts its own
        self.per_epoch = int(per_block.sum())
        self.weights = problem.sizes / problem.n
        self.base = int(options.rng.integers(2**63))
        self.states = [None if plain else np.zeros((STATE_SLOTS, *problem.shape)) for _ in problem.blocks]
        self.plain = plain
        self.start_objective = None  # measured by the first round's tasks (no pass of its own)
        self._start_penalty = problem.penalty(theta)

    @property
    def current(self):
        return self.theta

    def run(self, epoch, schedule, path):
        """(status, the averaged θ, the objective there) after one round."""
        import dask

        problem = self.problem
        task = dask.delayed(_epoch_task, pure=True)
        average = dask.delayed(_average_task, pure=True)
        round_loss = dask.delayed(_round_loss_task, pure=True)
        take = dask.delayed(operator.itemgetter(3), pure=True)
        model, where = problem.model, problem.where
        t_run = (epoch - 1) * self.per_round
        per_round = self.per_round
        params = schedule.table(t_run, per_round) if isinstance(schedule, schedules.custom) else schedule.params
        order = np.random.default_rng([self.base, epoch]).permutation(problem.n_blocks)
        if not self.shuffle:
            order = np.arange(problem.n_blocks)
        first = self.start_objective is None
        tasks = []
        for (xb, yb, index, _), state in zip(problem.blocks, self.states, strict=True):
            seed = _block_seed(self.base, epoch, index)
            args = (seed, self.shuffle, self.batch_size, where, model, schedule.code, params, t_run, first)
            tasks.append(task(xb, yb, self.theta, state, *args))
        averaged = average(tasks, self.weights, order)
        losses = [round_loss(xb, yb, averaged, where, model) for xb, yb, _, _ in problem.blocks]
        kept = [] if self.plain else [take(t) for t in tasks]
        (status, theta, start), *rest = _compute(averaged, *losses, *kept)
        losses, self.states = rest[: len(losses)], rest[len(losses) :] or self.states
        if first:
            self.start_objective = start / problem.n + self._start_penalty
        if status != OK:
            return status, self.theta, None
        self.theta = theta
        loss = 0.0
        for part in losses:  # in block order
            loss += part
        return OK, theta, loss / problem.n + problem.penalty(theta)
