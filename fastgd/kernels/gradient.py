"""Full-batch loss and gradient: one read of X, a deterministic parallel reduction.

Rows are split into blocks of ``CHUNK`` rows (a constant, not one block per thread); each
block is summed serially into its own row of ``work``, and the blocks are combined serially in
block order.  The result is therefore bit-identical for any number of threads, and the
serial twin ``loss_grad`` gives the very same bits as ``loss_grad_parallel``.
"""

import numpy as np
from numba import njit, prange

from ._config import CHUNK, INLINE, KERNEL, PARALLEL
from ._rows import add_row, predict_row
from .losses import loss_dp, loss_value


def n_chunks(n_rows):
    """Number of row blocks of a reduction over ``n_rows`` rows (rows of ``work``)."""
    return max(1, -(-n_rows // CHUNK))


@njit(**INLINE)
def _block(X, y, theta, center, scale_inv, loss_code, grad, c, acc):
    """Sum loss and gradient of rows ``c*CHUNK ...`` into ``acc`` = [grad (d+1), loss]."""
    d = X.shape[1]
    local = np.zeros(d + 2)  # a fresh array: LLVM knows it aliases neither X nor theta
    stop = min((c + 1) * CHUNK, X.shape[0])
    for i in range(c * CHUNK, stop):
        x = X[i]
        p = predict_row(x, theta, center, scale_inv)
        local[d + 1] += loss_value(loss_code, p, y[i])
        if grad is not None:  # resolved at compile time (see _rows)
            g = loss_dp(loss_code, p, y[i])
            local[0] += g
            add_row(g, x, local, center, scale_inv)
    acc[:] = local


@njit(**INLINE)
def _combine(work, n, fit_intercept, grad):
    """Add the blocks up in block order; mean loss returned, mean gradient into ``grad``."""
    d1 = work.shape[1] - 1
    total = 0.0
    for c in range(work.shape[0]):
        total += work[c, d1]
    if grad is not None:
        grad[:] = 0.0
        for c in range(work.shape[0]):
            for k in range(grad.shape[0]):
                grad[k] += work[c, k]
        for k in range(grad.shape[0]):
            grad[k] /= n
        if not fit_intercept:
            grad[0] = 0.0
    return total / n


@njit(**KERNEL)
def loss_grad(X, y, theta, center, scale_inv, fit_intercept, loss_code, grad, work):
    """Mean loss of the model ``theta`` over all rows of ``X``, and its gradient.

    X: (n, d) float32/float64, C-contiguous; y: (n,) same dtype; theta: (d + 1,) float64,
    ``theta[0]`` the intercept; center, scale_inv: (d,) float64 to standardize on the fly,
    or None; fit_intercept: bool (False zeroes ``grad[0]``); loss_code: ``codes.Loss``;
    grad: (d + 1,) float64, written with the mean gradient, or None for the loss alone;
    work: (n_chunks(n), d + 2) float64 scratch.  Returns the mean loss (float64).
    """
    for c in range(work.shape[0]):
        _block(X, y, theta, center, scale_inv, loss_code, grad, c, work[c])
    return _combine(work, X.shape[0], fit_intercept, grad)


@njit(**PARALLEL)
def loss_grad_parallel(X, y, theta, center, scale_inv, fit_intercept, loss_code, grad, work):
    """``loss_grad`` with the blocks summed in parallel: the same arguments, the same bits."""
    for c in prange(work.shape[0]):
        _block(X, y, theta, center, scale_inv, loss_code, grad, c, work[c])
    return _combine(work, X.shape[0], fit_intercept, grad)


__all__ = ["loss_grad", "loss_grad_parallel", "n_chunks"]
