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
    n = order.shape[0]
    for b in range((n + batch_size - 1) // batch_size):
        start = b * batch_size
        eta = learning_rate(sched_code, sched_params, t_start + b, t_start)
        stop = min(start + batch_size, n)
        if not minibatch_step(X, y, theta, order, start, stop, eta, grad, center, scale_inv, fit_intercept, loss_code):
            return b
        if path is not None:
            path[b, :] = theta
    return OK


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
    n = order.shape[0]
    n_batches = (n + batch_size - 1) // batch_size
    n_shards = thetas.shape[0]
    for shard_index in prange(n_shards):
        s = np.int64(shard_index)  # prange indices can be unsigned: keep the arithmetic integral
        first_batch, stop_batch = shard(n_batches, n_shards, s)
        local = thetas[s]
        local[:] = theta
        status[s] = OK
        for b in range(stop_batch - first_batch):
            start = (first_batch + b) * batch_size
            stop = min(start + batch_size, n)
            eta = learning_rate(sched_code, sched_params, t_start + b, t_start)
            if not minibatch_step(
                X, y, local, order, start, stop, eta, grads[s], center, scale_inv, fit_intercept, loss_code
            ):
                status[s] = b
                break
    first = first_failure(status)
    if first == OK:
        average_shards(theta, thetas, n_batches, n_shards)
    return first
