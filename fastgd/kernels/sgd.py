"""Stochastic gradient descent: one epoch of per-sample updates (Géron's ``learning_schedule``),
serial (``sgd_epoch``) or as local SGD on several threads (``sgd_epoch_local``)."""

import numpy as np
from numba import njit, prange

from ._config import INLINE, KERNEL, PARALLEL
from ._prefetch import PREFETCH_ROWS, prefetch_row
from ._rows import add_row, predict_row
from .codes import OK
from .losses import loss_dp
from .schedules import learning_rate


@njit(**INLINE)
def sgd_step(X, y, theta, i, eta, center, scale_inv, fit_intercept, loss_code):
    """``theta <- theta - eta * loss'(x~_i . theta, y_i) * x~_i``; False (theta untouched)
    when the derivative is not finite."""
    x = X[i]
    g = loss_dp(loss_code, predict_row(x, theta, center, scale_inv), y[i])
    if not np.isfinite(g):
        return False
    step = eta * g
    if fit_intercept:
        theta[0] -= step
    add_row(-step, x, theta, center, scale_inv)
    return True


@njit(**INLINE)
def _run(X, y, theta, order, start, stop, center, scale_inv, fit, schedule, t_start, path):
    """Serial SGD over ``order[start:stop]``, the k-th update at ``t_start + k``: OK or k.
    fit: (fit_intercept, loss_code); schedule: (sched_code, sched_params).  center and
    scale_inv stay arguments of their own: numba resolves ``is None`` on arguments only."""
    fit_intercept, loss_code = fit
    sched_code, sched_params = schedule
    for k in range(stop - start):
        pos = start + k
        if pos + PREFETCH_ROWS < order.shape[0]:
            prefetch_row(X, order[pos + PREFETCH_ROWS])
        eta = learning_rate(sched_code, sched_params, t_start + k, t_start)
        if not sgd_step(X, y, theta, order[pos], eta, center, scale_inv, fit_intercept, loss_code):
            return k
        if path is not None:
            path[k, :] = theta
    return OK


@njit(**KERNEL)
def sgd_epoch(X, y, theta, order, center, scale_inv, fit_intercept, loss_code, sched_code, sched_params, t_start, path):
    """Visit the rows ``order[0], order[1], ...`` once, updating ``theta`` in place after each:

        theta <- theta - eta(t) * loss'(x~ . theta, y_i) * x~,    t = t_start + k

    (for the squared loss, ``loss' = 2 (x~ . theta - y_i)``: the textbook's per-sample gradient).
    X, y, theta, center, scale_inv, fit_intercept, loss_code as in ``loss_grad``; order: int
    row indices; sched_code, sched_params: the schedule (``schedules.learning_rate``);
    path: (len(order), d + 1) float64 to receive theta after every update, or None.
    Returns ``codes.OK``, or the position k of the first update whose gradient was not
    finite; theta then holds the result of update k - 1, which may itself have overflowed
    (only the scalar derivative is checked, to keep the loop lean: the caller discards theta).
    """
    fit, schedule = (fit_intercept, loss_code), (sched_code, sched_params)
    return _run(X, y, theta, order, 0, order.shape[0], center, scale_inv, fit, schedule, t_start, path)


@njit(**INLINE)
def shard(n, n_shards, s):
    """Positions [start, stop) of shard s when n items are split into n_shards contiguous
    shards whose sizes differ by at most one (the first ``n % n_shards`` are one longer)."""
    q, r = n // n_shards, n % n_shards
    start = s * q + min(s, r)
    return start, start + q + (1 if s < r else 0)


@njit(**INLINE)
def average_shards(theta, thetas, n, n_shards):
    """theta = the shard-size-weighted mean of the rows of thetas."""
    theta[:] = 0.0
    for s in range(n_shards):
        start, stop = shard(n, n_shards, s)
        weight = (stop - start) / n
        for j in range(theta.shape[0]):
            theta[j] += weight * thetas[s, j]


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


@njit(**PARALLEL)
def sgd_epoch_local(
    X, y, theta, order, center, scale_inv, fit_intercept, loss_code, sched_code, sched_params, t_start, thetas, status
):
    """Local SGD with averaging (parameter mixing, Zinkevich et al. 2010; Mann et al. 2009):
    ``order`` is cut into ``K = thetas.shape[0]`` contiguous shards; shard s runs serial SGD
    from the current ``theta`` on its own copy ``thetas[s]``, its k-th update at
    ``t = t_start + k``: each shard is a serial SGD on its 1/K of the data with its own update
    count (so ``t_start`` is the number of updates one shard made in earlier epochs: the
    serial count / K), which keeps a ``1/(mu t)`` schedule's constant intact; then ``theta``
    becomes the shard-size-weighted mean, whose variance is K times smaller than a shard's.
    Each shard is serial and the shards are fixed, so the result depends on K but not on how
    threads are scheduled.  ``status`` (K,) int64 receives ``codes.OK`` or the position in the
    shard whose gradient was not finite; the return value is ``codes.OK`` or the earliest
    such offset ``k K + s``.
    """
    n = order.shape[0]
    n_shards = thetas.shape[0]
    fit, schedule = (fit_intercept, loss_code), (sched_code, sched_params)
    for shard_index in prange(n_shards):
        s = np.int64(shard_index)  # prange indices can be unsigned: keep the arithmetic integral
        start, stop = shard(n, n_shards, s)
        thetas[s, :] = theta
        status[s] = _run(X, y, thetas[s], order, start, stop, center, scale_inv, fit, schedule, t_start, None)
    first = first_failure(status)
    if first == OK:
        average_shards(theta, thetas, n, n_shards)
    return first
