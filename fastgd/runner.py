"""The epoch runner: the only Python caller of the epoch kernels.

``EpochRunner`` holds what the kernels carry from one epoch (or chunk, or block, or slice) to the
next — the optimizer state, the running average, the scratch arrays, the local-SGD shards, the
CSR scaled weights' factor — cuts every epoch into kernel calls of bounded work (``SLICE_WORK``:
Python sees Ctrl-C between them; the same bits as one call), takes the
fast-path decision once, from the kernels' own definition (``kernels.sgd.is_plain``), and
maps every kernel status to its meaning: ``codes.OK``, or the position of a non-finite
derivative (a divergence, which the engine reports).  ``codes.NEEDS_STATE`` can only mean that
this module and the kernels disagree: an internal error, never a DivergenceError.

``Shuffler`` makes the visiting order of each epoch (``shuffle="rows"``, ``"blocks"``,
``"corgipile"`` or the rows' own order), skipping rows of weight 0.
"""

import numpy as np

from . import kernels as K
from . import schedules
from .kernels.codes import CENTERED_CSR, NEEDS_STATE, OK, SGD, STATE_SLOTS, TABLE
from .kernels.sgd import is_plain

__all__ = [
    "BLOCK_ROWS",
    "CORGI_BLOCK_BYTES",
    "CORGI_BUFFER_BYTES",
    "SLICE_WORK",
    "EpochRunner",
    "Epochs",
    "KernelMismatchError",
    "Shuffler",
    "corgi_layout",
    "plain_steps",
    "rows_per_call",
]

#: rows per run of shuffle="blocks"
BLOCK_ROWS = 64

#: shuffle="corgipile": the bytes of X in one block of consecutive rows (read in one run): a
#: page.  Measured (3-epoch SGD fits, 2-core EPYC, 1 MiB L2, loaded): blocks of 1, 4 and 16 KiB
#: ran at the same speed within noise (n=1e6 d=32 f64: 1.2x "rows"; n=4e6 d=8 f32: 1.5x), and
#: smaller blocks put more of them in a buffer, which mixes rows sorted by y better
CORGI_BLOCK_BYTES = 4 * 1024
#: ... and in one buffer, the blocks whose rows are shuffled among themselves: about the L2 cache
#: of one core (1 MiB here), so that a buffer's rows are few contiguous runs close in memory
#: (256, 1 MiB and 4 MiB buffers measured the same speed within noise at n=1e6 d=32)
CORGI_BUFFER_BYTES = 1024 * 1024

#: the work (multiply-adds: rows x K (d + 1), or stored entries for CSR) of one serial epoch
#: kernel call: an epoch is cut into slices of about this much (tens of ms), so that Python,
#: which sees a signal only between kernel calls, honours Ctrl-C within a fraction of a second
SLICE_WORK = 2**24
#: the work a row read counts for besides its multiply-adds (a read from a random place: ~90 ns
#: an SGD step on 20M x 8 float32 rows, ~60 multiply-adds)
ROW_WORK = 64
#: the work of one coordinate's step with an optimizer other than plain SGD (its state read and
#: written, a square root), in multiply-adds: SGD on n=200k, d=31 float32 measured, per
#: coordinate and row, plain steps 1.5 ns (squared loss), 1.0 (softmax), 6.0 (log), and up to
#: 9.5 ns more with an optimizer (Adam, squared loss), about 7x a plain step.  Not counted, with
#: the optimizers' loop before ``apply_step``'s rewrite (21-57 ns a coordinate), Ctrl-C during SGD
#: with Adam (softmax, 1M x 31, 40 classes) waited up to 0.65 s
OPTIMIZER_WORK = 8


class KernelMismatchError(RuntimeError):
    """The Python layer and a kernel disagree (a bug in fastgd, never a property of the data)."""


def rows_per_call(work_per_row):
    """Rows (or swaps, work 0) of one kernel call of about SLICE_WORK: Python sees Ctrl-C between calls."""
    return max(1, int(SLICE_WORK // (work_per_row + ROW_WORK)))


def plain_steps(model, opt, n_outputs):
    """Whether the kernels' fast loop runs this model: ``is_plain``'s own Python source, run as
    Python (``py_func``: the same definition, and nothing to compile on a first run)."""
    return bool(is_plain.py_func(np.empty((n_outputs, 1)), model, opt))


def index_dtype(n):
    return np.int32 if n < 2**31 else np.int64


def corgi_layout(row_bytes):
    """(rows per block, blocks per buffer) of shuffle="corgipile" for rows of ``row_bytes``
    bytes each (dense: d x itemsize; CSR: the stored entries' and their column indices' bytes
    per row): blocks of about CORGI_BLOCK_BYTES, buffers of about CORGI_BUFFER_BYTES.  Rows
    larger than a block are blocks of one row (the order is then a full shuffle of the rows);
    larger than a buffer, buffers of one block."""
    row_bytes = max(1, int(row_bytes))
    block_rows = max(1, CORGI_BLOCK_BYTES // row_bytes)
    return block_rows, max(1, CORGI_BUFFER_BYTES // (block_rows * row_bytes))


def row_bytes(xs, n):
    """The bytes of one row of X given as a Problem's ``xs``: ``(X,)`` or CSR's
    ``(data, indices, indptr)`` (on average: stored entries and their indices)."""
    if len(xs) == 1:
        return xs[0].shape[1] * xs[0].itemsize if xs[0].ndim == 2 else xs[0].itemsize
    return (xs[0].nbytes + xs[1].nbytes) / max(1, n)


class Shuffler:
    """The order in which an epoch visits the rows: those of weight > 0 (all without weights),
    shuffled by ``kernels.shuffle`` ("rows"), in shuffled runs of BLOCK_ROWS consecutive rows
    (``kernels.shuffle_blocks``, "blocks"), by CorgiPile's blocks and buffers
    (``kernels.shuffle_corgi``, "corgipile": ``corgi_layout(row_bytes)``; ``row_bytes``: the
    bytes of one row of X, needed for it alone), or in their own order (False).  ``state``: the
    splitmix64 state (uint64[1]), advanced in place; a Stream shares one across chunks."""

    def __init__(self, n, weights, shuffle, state, row_bytes=None):
        index = index_dtype(n)
        order = np.arange(n, dtype=index) if weights is None else np.flatnonzero(weights).astype(index)
        self.order, self.shuffle, self.state = order, shuffle, state
        self.rows = order.shape[0]
        self._runs = None
        if shuffle in ("blocks", "corgipile"):
            if shuffle == "blocks":
                self.layout = (BLOCK_ROWS, 1)
            elif row_bytes is None:
                raise TypeError('Shuffler: shuffle="corgipile" needs row_bytes, the bytes of one row of X')
            else:
                self.layout = corgi_layout(row_bytes)
            self._runs = np.empty(-(-self.rows // self.layout[0]), dtype=index)
            self._base = order.copy() if weights is not None else None  # the rows visited
            self._positions = order if weights is None else np.empty(self.rows, dtype=index)

    def next(self):
        """The order of the next epoch (the same array, refilled)."""
        if self.shuffle == "rows":
            _steps(self.order, self.state)
        elif self.shuffle == "blocks":
            K.shuffle_blocks(self._positions, self._runs, BLOCK_ROWS, self.state)
        elif self.shuffle == "corgipile":  # kernels.shuffle_corgi, in calls of about SLICE_WORK / ROW_WORK rows
            runs, (block_rows, buffer_blocks) = self._runs, self.layout
            runs[:] = np.arange(runs.shape[0], dtype=runs.dtype)
            _steps(runs, self.state)
            groups = -(-runs.shape[0] // buffer_blocks)
            step, k = max(1, SLICE_WORK // ROW_WORK // (block_rows * buffer_blocks)), 0
            for first in range(0, groups, step):
                last = min(groups, first + step)
                k = K.shuffle_groups(self._positions, runs, block_rows, buffer_blocks, self.state, first, last, k)
        if self._runs is not None and self._base is not None:
            np.take(self._base, self._positions, out=self.order)
        return self.order


def _steps(order, state):
    """``kernels.shuffle(order, state)`` in calls of SLICE_WORK / ROW_WORK swaps: Ctrl-C between them."""
    step, high = rows_per_call(0), order.shape[0] - 1
    while high > 0:
        low = max(0, high - step)
        K.shuffle_steps(order, state, high, low)
        high = low


class EpochRunner:
    """One model's epochs: ``run(data, order, schedule, t_start)`` updates ``theta`` in place.

    model, opt: the kernels' tuples (``kernels`` docstring); ``batch_size`` 0 for SGD (one row
    an update); ``shards`` > 0: local SGD on that many threads (plain steps only); ``states``:
    an optimizer state to continue from (the Dask blocks keep theirs across rounds), else zeros.
    ``data`` is a Problem's ``(xs, y, weights, where)``: X as ``(X,)`` or CSR's
    ``(data, indices, indptr)``, and ``where`` its view, (center, scale_inv) or (scale_inv,)."""

    def __init__(self, theta, model, opt, batch_size=0, shards=0, sparse=False, state=None):
        self.theta, self.model, self.opt = theta, model, opt
        self.batch_size, self.shards, self.sparse = batch_size, shards, sparse
        shape = theta.shape
        self.plain = plain_steps(model, opt, shape[0])
        if shards:
            self.thetas = np.empty((shards, *shape))
            self.status = np.empty(shards, np.int64)
            self.state = None if self.plain else np.zeros((shards, STATE_SLOTS, *shape))
        else:
            self.state = None if self.plain else (np.zeros((STATE_SLOTS, *shape)) if state is None else state)
        self.avg = theta.copy() if opt[2] >= 0 else None
        #: CSR: the scaled weights' factor carried from slice to slice, folded into θ after the last
        #: (always there: a Stream's chunks may switch between dense and CSR, ``sparse`` with them)
        self.carry = np.ones(1)

    @property
    def current(self):
        """The θ the epoch ended with: the running average with averaging, else theta."""
        return self.theta if self.avg is None else self.avg

    def updates(self, rows):
        """Updates an epoch over ``rows`` rows makes (those of the longest shard in local SGD, which
        each shard counts with its own t)."""
        per_epoch = rows if not self.batch_size else -(-rows // self.batch_size)
        return -(-per_epoch // self.shards) if self.shards else per_epoch

    def run(self, data, order, schedule, t_start, path=None):
        """One epoch over ``order``; ``path``: (updates, *theta.shape) to receive θ after each,
        or None.  Returns ``codes.OK`` or the position of the first non-finite derivative."""
        n = self.updates(order.shape[0])
        params = schedule.table(t_start, n) if isinstance(schedule, schedules.custom) else schedule.params
        return self.run_coded(data, order, schedule.code, params, t_start, path)

    def run_coded(self, data, order, code, params, t_start, path=None):
        """``run`` with the schedule as the kernels take it: its code and float64 parameters (a
        custom schedule's table of rates from ``t_start`` on)."""
        xs, y, w, where = data
        groups = (xs[0] if len(xs) == 1 else xs, y, w), where if len(where) == 2 else (None, *where)
        status = OK
        if self.shards:  # every call runs the same part of each shard, on the whole order
            for part in self._parts(order.shape[0]):
                status = self._call(*groups, order, code, params, t_start, None, part)
                if status != OK:  # a code, or the epoch's offset k K + s already
                    break
        else:
            if self.sparse:  # nothing pending, also after an interrupted epoch
                self.carry[0] = 1.0
            for a, b, u in self._slices(xs, order, path):  # u: the updates before position a
                p = params[u:] if code == TABLE else params
                part = None if path is None else path[u : u + self.updates(b - a)]
                status = self._call(*groups, order[a:b], code, p, t_start + u, part)
                if status != OK:
                    status = status if status < 0 else u + status  # a code, or the failed update's position
                    break
            if self.sparse:  # the kernels' own fold (``sparse.fold``: one multiplication, the same bits)
                rows = self.theta.reshape(-1, self.theta.shape[-1])
                if self.carry[0] != 1.0:
                    rows[:, 1:] *= self.carry[0]
                self.carry[0] = 1.0
        if status == NEEDS_STATE:
            raise KernelMismatchError(
                f"internal error in fastgd: the epoch kernel refused the fast loop for model={self.model!r}, "
                f"opt={self.opt[0]!r} (runner.plain_steps and kernels.sgd.is_plain disagree); please report it"
            )
        if status == CENTERED_CSR:
            raise KernelMismatchError(
                "internal error in fastgd: a CSR epoch kernel was given a center; please report it"
            )
        return status

    def _slices(self, xs, order, path):
        """The positions [a, b) of the slices of ``order`` the kernel is called on, with the updates
        made before a: bounded work for serial epochs (``SLICE_WORK``; mini-batch slices end at
        batch boundaries).  A slice runs the same arithmetic as the whole epoch, bit for bit: the
        state and the average are the runner's arrays, and CSR plain L2 steps, which keep the
        coefficients as scaled weights ``a * v`` (``kernels.sparse``), hand ``a`` from one slice to
        the next in ``carry`` (the optimizer group's fourth member), folded into θ after the last."""
        n = order.shape[0]
        width = self.theta.size  # K (d + 1): the work of an update on a dense row
        if self.sparse:  # the stored entries of a row on average, O(d) more where a step touches every coordinate
            indptr = xs[2]
            per_row = (int(indptr[-1]) / max(1, indptr.shape[0] - 1)) * self.theta.shape[0] + 1
            per_row += 0 if self._sparse_steps() and self.avg is None and path is None else width
        else:
            per_row = width
        b = self.batch_size
        if self.opt[0] != SGD:  # every update steps every coordinate through the optimizer's state
            per_row += width * OPTIMIZER_WORK / max(1, b)
        step = rows_per_call(per_row)
        if b:
            step = max(b, step - step % b)
        for a in range(0, n, step):
            yield a, min(a + step, n), a if not b else a // b
        if n == 0:
            yield 0, 0, 0

    def _parts(self, n):
        """The parts (a, b) of a local-SGD epoch over n rows: every shard's updates (batches) a .. b - 1
        a call (``kernels.sgd_epoch_local``'s part: the copies start from θ in the first, θ becomes
        their mean in the last; the same bits as one call), about ``SLICE_WORK`` in each shard: the
        shards run side by side, so a call takes about a serial slice's time.  Each call ends by
        waiting for its slowest thread: plain SGD on 20M x 8 float32 rows, 2 shards, 2 cores, 2
        epochs a fit, measured 2.19-2.41 s a fit whole and 1.82-2.37 s in these parts (alternating
        processes): within noise."""
        longest = self.updates(n)
        rows = rows_per_call(self.theta.size)  # rows of a shard a call
        step = max(1, rows // max(1, self.batch_size))
        for a in range(0, longest, step):
            yield a, min(a + step, longest)
        if longest == 0:
            yield 0, 0

    def _sparse_steps(self):
        """Whether CSR steps touch the row's entries only: plain SGD steps without L1 (an L2 decay
        goes into the scaled weights' factor: ``sparse._general_step`` and ``_sparse_batch_step``)."""
        return self.opt[0] == SGD and self.model[4] == 0.0

    def _call(self, data, view, order, code, params, t, path, part=None):
        """One kernel call; data = (X, y, weights) and view = (center, scale_inv) as the kernels
        take them, part = (a, b) local SGD's part of every shard."""
        schedule, b = (code, params, t), self.batch_size
        if self.shards:
            shards = (self.thetas, self.state, self.status)
            if not b:
                return K.sgd_epoch_local(data, view, self.model, schedule, self.theta, order, shards, part)
            return K.minibatch_epoch_local(data, view, self.model, schedule, self.theta, (order, b), shards, part)
        optimizer = (self.opt, self.state, self.avg, self.carry) if self.sparse else (self.opt, self.state, self.avg)
        if not b:
            sgd_epoch = K.csr_sgd_epoch if self.sparse else K.sgd_epoch
            return sgd_epoch(data, view, self.model, optimizer, schedule, self.theta, order, path)
        minibatch_epoch = K.csr_minibatch_epoch if self.sparse else K.minibatch_epoch
        return minibatch_epoch(data, view, self.model, optimizer, schedule, self.theta, (order, b), path)


class Epochs:
    """The epochs of an in-memory fit (``engine.stochastic``'s source for a ``_dispatch.Problem``):
    a fresh order from the Shuffler, then one kernel call."""

    def __init__(self, problem, theta, options, start_objective=None):
        self.start_objective = problem.objective(theta) if start_objective is None else start_objective
        b = options.batch_size if options.method == "minibatch" else 0
        self.runner = EpochRunner(theta, problem.model, options.opt, b, options.shards, problem.sparse)
        state = np.array([options.rng.integers(2**63)], dtype=np.uint64)
        self.shuffler = Shuffler(problem.n, problem.weights, options.shuffle, state, row_bytes(problem.xs, problem.n))
        self.data = (problem.xs, problem.y, problem.weights, problem.where)
        rows = self.shuffler.rows
        self.per_epoch = rows if not b else -(-rows // b)  #: updates an epoch makes
        self.per_shard = self.runner.updates(rows)  #: of which one shard makes (local SGD), counted by its t

    @property
    def current(self):
        return self.runner.current

    def run(self, epoch, schedule, path):
        """(status, θ at the end of the epoch, None: the engine measures the objective)."""
        order = self.shuffler.next()
        status = self.runner.run(self.data, order, schedule, (epoch - 1) * self.per_shard, path)
        return status, self.runner.current, None
