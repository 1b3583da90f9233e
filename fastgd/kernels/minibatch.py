"""Mini-batch gradient descent: one epoch of updates, each on a batch of consecutive entries of
a shuffled order; serial (``minibatch_epoch``) or as local SGD (``minibatch_epoch_local``)."""

import numpy as np
from numba import njit, prange

from ._config import HELPER, INLINE, KERNEL, PARALLEL
from ._prefetch import PREFETCH_ROWS, prefetch_row
from ._rows import add_row, given, predict_row, weight_at
from .codes import NEEDS_STATE, OK, SGD
from .losses import sample_dp, squared_dp
from .optimizers import after_update, all_finite, apply_step, as_rows
from .schedules import learning_rate
from .sgd import first_failure, is_plain, part_schedule, shard, shard_part, shard_start, shards_done


@njit(**HELPER)
def batch_gradient(X, y, weights, theta, order, start, stop, center, scale_inv, model, g, grad):
    """grad (K, d + 1) <- the mean over order[start:stop] of ``w_i loss'(x~ . theta, y_i) x~``,
    any loss; False when a derivative is not finite.  g: (K,) scratch."""
    loss_code, eps = model[1], model[2]
    grad[:, :] = 0.0
    for k in range(start, stop):
        if k + PREFETCH_ROWS < order.shape[0]:
            prefetch_row(X, order[k + PREFETCH_ROWS])
        i = order[k]
        x = X[i]
        sample_dp(loss_code, eps, x, y[i], theta, center, scale_inv, g)
        if not all_finite(g):
            return False
        w = weight_at(weights, i)
        for o in range(theta.shape[0]):
            a = w * g[o]
            grad[o, 0] += a
            add_row(a, x, grad[o], center, scale_inv)
    scale = 1.0 / (stop - start)
    for o in range(theta.shape[0]):
        for j in range(theta.shape[1]):
            grad[o, j] *= scale
    return True


@njit(**INLINE)
def minibatch_step(X, y, weights, theta, order, start, stop, eta, t, center, scale_inv, model, opt, state, g, grad):
    """theta (K, d + 1) <- one optimizer step with the mean over order[start:stop] of
    ``w_i loss'(x~ . theta, y_i) x~``; False (theta untouched) when a derivative is not finite.
    ``state`` None (``sgd.is_plain``, resolved at compile time): the fast path, a plain step on
    the squared loss of one output without a penalty; otherwise ``batch_gradient`` (any loss)
    and ``optimizers.apply_step``.
    g: (K,) and grad: (K, d + 1) scratch."""
    if state is not None:
        if not batch_gradient(X, y, weights, theta, order, start, stop, center, scale_inv, model, g, grad):
            return False
        apply_step(theta, grad, model, opt, state, eta, t)
        return True
    row, total = theta[0], grad[0]
    total[:] = 0.0
    for k in range(start, stop):
        if k + PREFETCH_ROWS < order.shape[0]:
            prefetch_row(X, order[k + PREFETCH_ROWS])
        i = order[k]
        x = X[i]
        dp = squared_dp(predict_row(x, row, center, scale_inv), y[i])
        if not np.isfinite(dp):
            return False
        if given(weights):
            dp *= np.float64(weights[i])
        total[0] += dp
        add_row(dp, x, total, center, scale_inv)
    scale = eta / (stop - start)
    if model[0]:
        row[0] -= scale * total[0]
    for j in range(1, row.shape[0]):
        row[j] -= scale * total[j]
    return True


@njit(**INLINE)
def _run(
    X, y, weights, theta, order, batch_size, first, stop_batch, center, scale_inv, model, opt, state, avg, schedule,
    t_start, grad, path,
):  # fmt: skip
    """Serial mini-batch GD over batches ``first .. stop_batch - 1`` of ``order``, the b-th of
    them at ``t_start + b``: OK or b.  schedule: (sched_code, sched_params).  center, scale_inv,
    weights and path stay arguments of their own: numba resolves ``is None`` on arguments only."""
    sched_code, sched_params = schedule
    n = order.shape[0]
    g = np.empty(theta.shape[0])
    for b in range(stop_batch - first):
        start = (first + b) * batch_size
        stop = min(start + batch_size, n)
        t = t_start + b
        eta = learning_rate(sched_code, sched_params, t, t_start)
        if not minibatch_step(
            X, y, weights, theta, order, start, stop, eta, t, center, scale_inv, model, opt, state, g, grad
        ):
            return b
        after_update(theta, opt, t, avg, path, b)
    return OK


@njit(**KERNEL)
def minibatch_epoch(data, view, model, optimizer, schedule, theta, batches, path):
    """One update per batch ``order[b*batch_size : (b+1)*batch_size]`` (the last may be shorter):

        theta <- theta - eta(t) * mean over the batch of w_i loss'(x~ . theta, y_i) x~
                 (+ penalty, optimizer)

    with ``t = t_start + b``, theta read at the start of the batch.  Arguments as in
    ``sgd.sgd_epoch`` (state None: the fast loop), with batches = (order, batch_size), batch_size
    an int >= 1; path: (number of batches, *theta.shape) float64, or None.  Returns ``codes.OK``
    or the index of the first batch whose gradient was not finite (theta then holds the result
    of the batch before, which may itself have overflowed; the caller discards it).
    """
    (X, y, weights), (center, scale_inv), (opt, state, avg), (code, params, t_start) = data, view, optimizer, schedule
    order, batch_size = batches
    grad = np.empty_like(theta)
    return minibatch_loop(
        X, y, weights, theta, order, batch_size, center, scale_inv, model, opt, state, avg, code, params, t_start,
        grad, path,
    )  # fmt: skip


@njit(**KERNEL)
def minibatch_loop(
    X,
    y,
    weights,
    theta,
    order,
    batch_size,
    center,
    scale_inv,
    model,
    opt,
    state,
    avg,
    sched_code,
    sched_params,
    t_start,
    grad,
    path,
):
    """``minibatch_epoch``'s loop, its argument groups unpacked (see ``sgd.sgd_loop``); grad: a
    float64 scratch of theta's shape."""
    n_batches = (order.shape[0] + batch_size - 1) // batch_size
    schedule = (sched_code, sched_params)
    rows, scratch = as_rows(theta), as_rows(grad)
    if state is None and not is_plain(rows, model, opt):
        return NEEDS_STATE
    return _run(
        X, y, weights, rows, order, batch_size, 0, n_batches, center, scale_inv, model, opt, state, avg, schedule,
        t_start, scratch, path,
    )  # fmt: skip


@njit(**KERNEL)
def minibatch_epoch_local(data, view, model, schedule, theta, batches, shards, part):
    """Local mini-batch SGD on threads (``minibatch_local_loop``), the arguments grouped as in
    ``minibatch_epoch``, with shards = (thetas, states, status) and part = (a, b) as in
    ``sgd.sgd_epoch_local``, counted in batches."""
    (X, y, weights), (center, scale_inv), (code, params, t_start) = data, view, schedule
    (order, batch_size), (thetas, states, status), (a, b) = batches, shards, part
    grads = np.empty_like(thetas)
    return minibatch_local_loop(
        X, y, weights, theta, order, batch_size, center, scale_inv, model, code, params, t_start, thetas, states,
        grads, status, a, b,
    )  # fmt: skip


@njit(**PARALLEL)
def minibatch_local_loop(
    X,
    y,
    weights,
    theta,
    order,
    batch_size,
    center,
    scale_inv,
    model,
    sched_code,
    sched_params,
    t_start,
    thetas,
    states,
    grads,
    status,
    part_start,
    part_stop,
):
    """Local mini-batch SGD with averaging, as ``sgd.sgd_epoch_local`` with batches for
    samples: the epoch's batches are cut into ``K = thetas.shape[0]`` contiguous shards, shard
    s updates its copy ``thetas[s]`` by plain steps (with the penalty of ``model``) with its b-th
    batch at ``t = t_start + b`` (its own count), and ``theta`` becomes the mean weighted by the
    shards' batch counts.  states as in ``sgd_epoch_local``; grads: thetas' shape, scratch;
    status (K,) int64.  A call runs every shard's batches ``part_start .. part_stop - 1`` only
    (as ``sgd.sgd_local_loop``'s parts).  Returns ``codes.OK`` or the first failing batch offset."""
    n_batches = (order.shape[0] + batch_size - 1) // batch_size
    n_shards = thetas.shape[0]
    opt = (SGD, np.zeros(1), -1)
    if states is None and not is_plain(as_rows(theta), model, opt):
        return NEEDS_STATE
    schedule, t_part = part_schedule(sched_code, sched_params, t_start, part_start)
    part = (part_start, part_stop)
    for shard_index in prange(n_shards):
        s = np.int64(shard_index)  # prange indices can be unsigned: keep the arithmetic integral
        first, stop_batch = shard(n_batches, n_shards, s)
        lo, hi = shard_part(first, stop_batch, part)
        local = shard_start(theta, thetas, s) if part_start == 0 else as_rows(thetas[s])  # carried on
        scratch = as_rows(grads[s])
        # a literal None, resolved at compile time (a None returned by a call would not be)
        if states is None:
            k = _run(
                X, y, weights, local, order, batch_size, lo, hi, center, scale_inv, model, opt, None, None,
                schedule, t_part, scratch, None,
            )  # fmt: skip
        else:
            k = _run(
                X, y, weights, local, order, batch_size, lo, hi, center, scale_inv, model, opt, states[s], None,
                schedule, t_part, scratch, None,
            )  # fmt: skip
        status[s] = OK if k == OK else part_start + k
    if part_stop < shard(n_batches, n_shards, 0)[1]:  # shard 0 is a longest one
        return first_failure(status)
    return shards_done(theta, thetas, status, n_batches)
