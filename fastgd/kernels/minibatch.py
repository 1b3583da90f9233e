"""Mini-batch gradient descent: one epoch of updates, each on a batch of consecutive rows of
a shuffled order."""

import numpy as np
from numba import njit

from ._config import KERNEL
from ._prefetch import PREFETCH_ROWS, prefetch_row
from ._rows import add_row, predict_row
from .codes import OK
from .losses import loss_dp
from .schedules import learning_rate


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
    n_batches = (n + batch_size - 1) // batch_size
    for b in range(n_batches):
        start = b * batch_size
        stop = min(start + batch_size, n)
        grad[:] = 0.0
        for k in range(start, stop):
            if k + PREFETCH_ROWS < n:
                prefetch_row(X, order[k + PREFETCH_ROWS])
            i = order[k]
            x = X[i]
            g = loss_dp(loss_code, predict_row(x, theta, center, scale_inv), y[i])
            if not np.isfinite(g):
                return b
            grad[0] += g
            add_row(g, x, grad, center, scale_inv)
        scale = learning_rate(sched_code, sched_params, t_start + b, t_start) / (stop - start)
        if fit_intercept:
            theta[0] -= scale * grad[0]
        for j in range(1, theta.shape[0]):
            theta[j] -= scale * grad[j]
        if path is not None:
            path[b, :] = theta
    return OK
