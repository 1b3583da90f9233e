"""Stochastic gradient descent: one epoch of per-sample updates (Géron's ``learning_schedule``)."""

import numpy as np
from numba import njit

from ._config import KERNEL
from ._prefetch import PREFETCH_ROWS, prefetch_row
from ._rows import add_row, predict_row
from .codes import OK
from .losses import loss_dp
from .schedules import learning_rate


@njit(**KERNEL)
def sgd_epoch(X, y, theta, order, center, scale_inv, fit_intercept, loss_code, sched_code, sched_params, t_start, path):
    """Visit the rows ``order[0], order[1], ...`` once, updating ``theta`` in place after each:

        theta <- theta - eta(t) * loss'(x~ . theta, y_i) * x~,    t = t_start + k

    (for the squared loss, ``loss' = 2 (x~ . theta - y_i)``: the textbook's per-sample gradient).
    X, y, theta, center, scale_inv, fit_intercept, loss_code as in ``loss_grad``; order: int64
    row indices; sched_code, sched_params: the schedule (``schedules.learning_rate``);
    path: (len(order), d + 1) float64 to receive theta after every update, or None.
    Returns ``codes.OK``, or the position k of the first update whose gradient was not
    finite; theta then holds the result of update k - 1, which may itself have overflowed
    (only the scalar derivative is checked, to keep the loop lean: the caller discards theta).
    """
    n = order.shape[0]
    for k in range(n):
        if k + PREFETCH_ROWS < n:
            prefetch_row(X, order[k + PREFETCH_ROWS])
        i = order[k]
        x = X[i]
        g = loss_dp(loss_code, predict_row(x, theta, center, scale_inv), y[i])
        if not np.isfinite(g):
            return k
        step = learning_rate(sched_code, sched_params, t_start + k, t_start) * g
        if fit_intercept:
            theta[0] -= step
        add_row(-step, x, theta, center, scale_inv)
        if path is not None:
            path[k, :] = theta
    return OK
