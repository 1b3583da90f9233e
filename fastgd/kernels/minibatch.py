"""Mini-batch gradient descent: one epoch of updates, each on a batch of consecutive entries of
a shuffled order; serial (``minibatch_epoch``) or as local SGD (``minibatch_epoch_local``)."""

import numpy as np
from numba import njit, prange

from ._config import INLINE, KERNEL, PARALLEL
from ._prefetch import PREFETCH_ROWS, prefetch_row
from ._rows import add_row, predict_row
from .codes import OK
from .losses import loss_dp
from .schedules import learning_rate
from .sgd import average_shards, first_failure, shard


@njit(**INLINE)
def minibatch_step(X, y, theta, order, start, stop, eta, grad, center, scale_inv, fit_intercept, loss_code):
    """``theta <- theta - eta * mean over order[start:stop] of loss'(x~ . theta, y) x~``;
    False (theta untouched) when a derivative is not finite.  grad: (d + 1,) scratch."""
    grad[:] = 0.0
    for k in range(start, stop):
        if k + PREFETCH_ROWS < order.shape[0]:
            prefetch_row(X, order[k + PREFETCH_ROWS])
        i = order[k]
        x = X[i]
        g = loss_dp(loss_code, predict_row(x, theta, center, scale_inv), y[i])
        if not np.isfinite(g):
            return False
        grad[0] += g
        add_row(g, x, grad, center, scale_inv)
    scale = eta / (stop - start)
    if fit_intercept:
        theta[0] -= scale * grad[0]
    for j in range(1, theta.shape[0]):
        theta[j] -= scale * grad[j]
    return True


@njit(**INLINE)
def _run(X, y, theta, order, batch_size, first, stop_batch, center, scale_inv, fit, schedule, t_start, grad, path):
    """Serial mini-batch GD over batches ``first .. stop_batch - 1`` of ``order``, the b-th of
    them at ``t_start + b``: OK or b.  fit: (fit_intercept, loss_code); schedule:
    (sched_code, sched_params).  center and scale_inv stay arguments of their own: numba
    resolves ``is None`` on arguments only."""
    fit_intercept, loss_code = fit
    sched_code, sched_params = schedule
    n = order.shape[0]
    for b in range(stop_batch - first):
        start = (first + b) * batch_size
        stop = min(start + batch_size, n)
        eta = learning_rate(sched_code, sched_params, t_start + b, t_start)
        if not minibatch_step(X, y, theta, order, start, stop, eta, grad, center, scale_inv, fit_intercept, loss_code):
            return b
        if path is not None:
            path[b, :] = theta
    return OK


@njit(**KERNEL)
def minibatch_epoch(
    X,
    y,
    theta,
    order,
    batch_size,
    center,
    scale_inv,
    fit_intercept,
    loss_code,
    sched_code,
    sched_params,
    t_start,
    grad,
    path,
):
    """One update per batch ``order[b*batch_size : (b+1)*batch_size]`` (the last may be shorter):

        theta <- theta - eta(t) * mean over the batch of loss'(x~ . theta, y_i) * x~

    with ``t = t_start + b``, theta read at the start of the batch.  Arguments as in
    ``sgd_epoch``, plus batch_size (int >= 1) and grad, a (d + 1,) float64 scratch vector.
    path: (number of batches, d + 1) float64, or None.  Returns ``codes.OK`` or the
    index of the first batch whose gradient was not finite (theta then holds the result of
    the batch before, which may itself have overflowed; the caller discards it).
    """
    n_batches = (order.shape[0] + batch_size - 1) // batch_size
    fit, schedule = (fit_intercept, loss_code), (sched_code, sched_params)
    return _run(X, y, theta, order, batch_size, 0, n_batches, center, scale_inv, fit, schedule, t_start, grad, path)


@njit(**PARALLEL)
def minibatch_epoch_local(
    X,
    y,
    theta,
    order,
    batch_size,
    center,
    scale_inv,
    fit_intercept,
    loss_code,
    sched_code,
    sched_params,
    t_start,
    thetas,
    grads,
    status,
):
    """Local mini-batch SGD with averaging, as ``sgd.sgd_epoch_local`` with batches for
    samples: the epoch's batches are cut into ``K = thetas.shape[0]`` contiguous shards, shard
    s updates its copy ``thetas[s]`` with its b-th batch at ``t = t_start + b`` (its own count),
    and ``theta`` becomes the mean weighted by the shards' batch counts.  grads: (K, d + 1)
    scratch; status (K,) int64.  Returns ``codes.OK`` or the first failing batch offset."""
    n_batches = (order.shape[0] + batch_size - 1) // batch_size
    n_shards = thetas.shape[0]
    fit, schedule = (fit_intercept, loss_code), (sched_code, sched_params)
    for shard_index in prange(n_shards):
        s = np.int64(shard_index)  # prange indices can be unsigned: keep the arithmetic integral
        first, stop_batch = shard(n_batches, n_shards, s)
        local = thetas[s]
        local[:] = theta
        status[s] = _run(
            X, y, local, order, batch_size, first, stop_batch, center, scale_inv, fit, schedule, t_start, grads[s], None
        )
    first = first_failure(status)
    if first == OK:
        average_shards(theta, thetas, n_batches, n_shards)
    return first
