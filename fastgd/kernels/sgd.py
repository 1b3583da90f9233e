"""Stochastic gradient descent: one epoch of per-sample updates (Géron's ``learning_schedule``),
serial (``sgd_epoch``) or as local SGD on several threads (``sgd_epoch_local``)."""

import numpy as np
from numba import njit, prange

from ._config import HELPER, INLINE, KERNEL, PARALLEL
from ._prefetch import PREFETCH_ROWS, prefetch_row
from ._rows import add_row, given, predict_row, weight_at
from .codes import NEEDS_STATE, OK, SGD, SQUARED, TABLE
from .losses import sample_dp, squared_dp
from .optimizers import after_update, all_finite, apply_step, as_rows, copy_rows
from .schedules import learning_rate


@njit(**INLINE)
def cumulative_l1(row, applied, total, step):
    """The L1 penalty of plain SGD, cumulated (Tsuruoka, Tsujii & Ananiadou 2009, as scikit-learn):
    ``total[0]`` sums the penalty every coefficient should have received so far (plus ``step``
    now), ``applied[j]`` what coefficient j did receive; each coefficient is pulled toward 0 by
    the difference, clipped at 0.  Unlike a shrink by ``step`` alone, a coefficient that one
    noisy sample pushed off 0 is pulled back by the penalty it missed, so zeros stay exact."""
    total[0] += step
    u = total[0]
    for j in range(1, row.shape[0]):
        w = row[j]
        if w > 0.0:
            row[j] = max(0.0, w - (u + applied[j]))
        elif w < 0.0:
            row[j] = min(0.0, w + (u - applied[j]))
        applied[j] += row[j] - w


@njit(**HELPER)
def general_step(X, y, weights, theta, i, eta, t, center, scale_inv, model, opt, state, g, grad):
    """``sgd_step`` for any loss, penalty and optimizer (its fast path covers plain SGD on one
    output without a penalty).  Plain steps keep the cumulative L1 penalty in ``state``
    (``cumulative_l1``: state[0, k, j] the penalty applied to coefficient j, state[1, k, 0] the
    total); other optimizers shrink each coordinate by its own step (``optimizers.apply_step``)."""
    fit_intercept, loss_code, eps, l2, l1 = model
    x = X[i]
    sample_dp(loss_code, eps, x, y[i], theta, center, scale_inv, g)
    if not all_finite(g):
        return False
    w = weight_at(weights, i)
    for k in range(theta.shape[0]):
        a = w * g[k]
        if opt[0] != SGD:  # the dense gradient, for the optimizer to step on below
            grad[k, :] = 0.0
            grad[k, 0] = a
            add_row(a, x, grad[k], center, scale_inv)
            continue
        row = theta[k]
        step = eta * a
        if fit_intercept:
            row[0] -= step
        if l2 > 0.0:
            decay = 1.0 - eta * l2
            for j in range(1, row.shape[0]):
                row[j] *= decay
        add_row(-step, x, row, center, scale_inv)
        if l1 > 0.0:
            cumulative_l1(row, state[0, k], state[1, k], eta * l1)
    if opt[0] != SGD:
        apply_step(theta, grad, model, opt, state, eta, t)
    return True


@njit(**INLINE)
def is_plain(theta, model, opt):
    """Whether the fast loop (``state=None``) can run this fit: the squared loss on one output,
    plain SGD steps, no penalty (averaging is independent of it)."""
    return theta.shape[0] == 1 and model[1] == SQUARED and opt[0] == SGD and model[3] == 0.0 and model[4] == 0.0


@njit(**INLINE)
def sgd_step(X, y, weights, theta, i, eta, t, center, scale_inv, model, opt, state, g, grad):
    """theta (K, d + 1) <- one update on row i, at update count t; False (theta untouched)
    when a derivative is not finite.  ``state`` None (``is_plain``, resolved at compile time):
    the fast path for the squared loss, which touches theta through the row only; otherwise
    ``general_step`` (any loss, an O(d) decay for L2, a shrink for L1, every coordinate for an
    optimizer).  g: (K,) and grad:
    (K, d + 1) scratch."""
    if state is not None:
        return general_step(X, y, weights, theta, i, eta, t, center, scale_inv, model, opt, state, g, grad)
    x = X[i]
    row = theta[0]
    dp = squared_dp(predict_row(x, row, center, scale_inv), y[i])
    if not np.isfinite(dp):
        return False
    if given(weights):
        dp *= np.float64(weights[i])
    step = eta * dp
    if model[0]:
        row[0] -= step
    add_row(-step, x, row, center, scale_inv)
    return True


@njit(**INLINE)
def _run(X, y, weights, theta, order, start, stop, center, scale_inv, model, opt, state, avg, schedule, t_start, path):
    """Serial SGD over ``order[start:stop]``, the k-th update at ``t_start + k``: OK or k.
    schedule: (sched_code, sched_params).  center, scale_inv, weights and path stay arguments of
    their own: numba resolves ``is None`` on arguments only."""
    sched_code, sched_params = schedule
    g = np.empty(theta.shape[0])
    grad = np.empty(theta.shape)
    for k in range(stop - start):
        pos = start + k
        if pos + PREFETCH_ROWS < order.shape[0]:
            prefetch_row(X, order[pos + PREFETCH_ROWS])
        t = t_start + k
        eta = learning_rate(sched_code, sched_params, t, t_start)
        if not sgd_step(X, y, weights, theta, order[pos], eta, t, center, scale_inv, model, opt, state, g, grad):
            return k
        after_update(theta, opt, t, avg, path, k)
    return OK


@njit(**KERNEL)
def sgd_epoch(data, view, model, optimizer, schedule, theta, order, path):
    """Visit the rows ``order[0], order[1], ...`` once, updating ``theta`` in place after each:

        theta <- theta - eta(t) * w_i * loss'(x~ . theta, y_i) * x~   (+ penalty, optimizer),
        t = t_start + k

    (for the squared loss, ``loss' = 2 (x~ . theta - y_i)``: the textbook's per-sample gradient).
    The arguments are grouped as in every epoch kernel (``fastgd.kernels``): data = (X, y,
    weights), view = (center, scale_inv), model, optimizer = (opt, state, avg), schedule =
    (sched_code, sched_params, t_start); theta; order: int row indices; path: (len(order),
    *theta.shape) float64 to receive theta after every update, or None.  ``state`` None runs the
    fast loop, plain SGD on the squared loss of one output without a penalty (``is_plain``;
    ``codes.NEEDS_STATE`` is returned for any other model); ``avg`` (theta's shape) receives the
    running average of the iterates from update ``opt[2]`` on, or is None.  Returns
    ``codes.OK``, or the position k of the first update whose derivative was not finite; theta
    then holds the result of update k - 1, which may itself have overflowed (only the scalar
    derivatives are checked, to keep the loop lean: the caller discards theta).
    """
    (X, y, weights), (center, scale_inv), (opt, state, avg), (code, params, t_start) = data, view, optimizer, schedule
    return sgd_loop(X, y, weights, theta, order, center, scale_inv, model, opt, state, avg, code, params, t_start, path)


@njit(**KERNEL)
def sgd_loop(
    X, y, weights, theta, order, center, scale_inv, model, opt, state, avg, sched_code, sched_params, t_start, path
):
    """``sgd_epoch``'s loop, its argument groups unpacked: compiled as a function of its own, whose
    arguments numba's dead-branch pruning can see (``is None`` resolves on arguments only, never on
    a member of a tuple; see ``kernels._rows``).
    """
    schedule = (sched_code, sched_params)
    rows, n = as_rows(theta), order.shape[0]
    if state is None and not is_plain(rows, model, opt):
        return NEEDS_STATE
    return _run(X, y, weights, rows, order, 0, n, center, scale_inv, model, opt, state, avg, schedule, t_start, path)


@njit(**INLINE)
def shard(n, n_shards, s):
    """Positions [start, stop) of shard s when n items are split into n_shards contiguous
    shards whose sizes differ by at most one (the first ``n % n_shards`` are one longer)."""
    q, r = n // n_shards, n % n_shards
    start = s * q + min(s, r)
    return start, start + q + (1 if s < r else 0)


@njit(**INLINE)
def average_shards(theta, thetas, n, n_shards):
    """theta = the shard-size-weighted mean of thetas[s] (each of theta's shape)."""
    flat = theta.reshape(theta.size)
    flat[:] = 0.0
    for s in range(n_shards):
        start, stop = shard(n, n_shards, s)
        weight = (stop - start) / n
        src = thetas[s].reshape(flat.size)
        for j in range(flat.size):
            flat[j] += weight * src[j]


@njit(**INLINE)
def first_failure(status):
    """The earliest global update offset ``k K + s`` among the shards' failures, or OK."""
    n_shards = status.shape[0]
    first = OK
    for s in range(n_shards):
        if status[s] != OK:
            offset = status[s] * n_shards + s
            if first == OK or offset < first:
                first = offset
    return first


@njit(**INLINE)
def shard_start(theta, thetas, s):
    """Shard s's copy of theta, set to theta."""
    local = as_rows(thetas[s])
    copy_rows(local, as_rows(theta))
    return local


@njit(**INLINE)
def shards_done(theta, thetas, status, count):
    """After the shards ran: theta = their mean weighted by their shares of ``count`` items
    (unless one failed); returns ``first_failure``."""
    first = first_failure(status)
    if first == OK:
        average_shards(theta, thetas, count, thetas.shape[0])
    return first


@njit(**INLINE)
def shard_part(start, stop, part):
    """Positions [lo, hi) of a shard [start, stop) that ``part = (a, b)`` covers: the shard's
    updates a .. b - 1, clipped to its length."""
    a, b = part
    return min(start + a, stop), min(start + b, stop)


@njit(**INLINE)
def part_schedule(sched_code, sched_params, t_start, a):
    """(schedule, t) for a part starting at each shard's update a: the update counts from
    ``t_start + a`` on, a ``TABLE``'s rates from its a-th on."""
    if sched_code == TABLE:
        return (sched_code, sched_params[a:]), t_start + a
    return (sched_code, sched_params), t_start + a


@njit(**KERNEL)
def sgd_epoch_local(data, view, model, schedule, theta, order, shards, part):
    """Local SGD on threads (``sgd_local_loop``), the arguments grouped as in ``sgd_epoch``, with
    shards = (thetas, states, status) and part = (a, b): every shard runs its updates a .. b - 1
    only ((0, len(order)) for the whole epoch), so that an epoch can run in several short calls."""
    (X, y, weights), (center, scale_inv), (code, params, t_start) = data, view, schedule
    thetas, states, status = shards
    a, b = part
    return sgd_local_loop(
        X, y, weights, theta, order, center, scale_inv, model, code, params, t_start, thetas, states, status, a, b
    )


@njit(**PARALLEL)
def sgd_local_loop(
    X, y, weights, theta, order, center, scale_inv, model, sched_code, sched_params, t_start, thetas, states, status,
    part_start, part_stop,
):  # fmt: skip
    """Local SGD with averaging (parameter mixing, Zinkevich et al. 2010; Mann et al. 2009):
    ``order`` is cut into ``K = thetas.shape[0]`` contiguous shards; shard s runs serial SGD (plain
    steps, with the penalty of ``model``) from the current ``theta`` on its own copy
    ``thetas[s]``, its k-th update at ``t = t_start + k``: each shard is a serial SGD on its 1/K
    of the data with its own update count (so ``t_start`` is the number of updates one shard
    made in earlier epochs: the serial count / K), which keeps a ``1/(mu t)`` schedule's constant
    intact; then ``theta`` becomes the shard-size-weighted mean, whose variance is K times
    smaller than a shard's.  Each shard is serial and the shards are fixed, so the result
    depends on K but not on how threads are scheduled.  thetas: (K, *theta.shape); states: None
    for the fast loop (``is_plain`` models only, else ``codes.NEEDS_STATE``) or (K, 2, *rows)
    zeros at the start of a fit, each shard's state (the cumulative L1 penalty) kept across
    epochs; ``status`` (K,) int64 receives ``codes.OK`` or the position in the shard whose
    derivative was not finite; the return value is ``codes.OK`` or the earliest such offset
    ``k K + s``.

    A call runs every shard's updates ``part_start .. part_stop - 1`` only (clipped to the
    shard's length; a ``TABLE`` schedule still holds the rates from ``t_start``): the copies
    start from ``theta`` when ``part_start`` is 0, and ``theta`` becomes their mean when
    ``part_stop`` reaches the longest shard; calls over consecutive parts run the same
    arithmetic as one call over the whole epoch, and return the same offsets.
    """
    n = order.shape[0]
    n_shards = thetas.shape[0]
    opt = (SGD, np.zeros(1), -1)
    if states is None and not is_plain(as_rows(theta), model, opt):
        return NEEDS_STATE
    schedule, t_part = part_schedule(sched_code, sched_params, t_start, part_start)
    part = (part_start, part_stop)
    for shard_index in prange(n_shards):
        s = np.int64(shard_index)  # prange indices can be unsigned: keep the arithmetic integral
        start, stop = shard(n, n_shards, s)
        lo, hi = shard_part(start, stop, part)
        local = shard_start(theta, thetas, s) if part_start == 0 else as_rows(thetas[s])  # carried on
        # a literal None, resolved at compile time (a None returned by a call would not be)
        if states is None:
            k = _run(
                X, y, weights, local, order, lo, hi, center, scale_inv, model, opt, None, None, schedule, t_part, None,
            )  # fmt: skip
        else:
            k = _run(
                X, y, weights, local, order, lo, hi, center, scale_inv, model, opt, states[s], None, schedule, t_part,
                None,
            )  # fmt: skip
        status[s] = OK if k == OK else part_start + k
    if part_stop < shard(n, n_shards, 0)[1]:  # shard 0 is a longest one
        return first_failure(status)
    return shards_done(theta, thetas, status, n)
