"""Full-batch loss and gradient: one read of X, a deterministic parallel reduction.

Rows are split into blocks of ``CHUNK`` rows (a constant, not one block per thread); each
block is summed serially into its own row of ``work``, and the blocks are combined serially in
block order.  The result is therefore bit-identical for any number of threads, and the
serial twin ``loss_grad`` gives the very same bits as ``loss_grad_parallel``.
"""

import numpy as np
from numba import njit, prange

from ._config import CHUNK, HELPER, INLINE, KERNEL, PARALLEL
from ._rows import add_row, given, predict_row, weight_at
from .codes import SQUARED
from .losses import loss_dp, loss_value, sample_loss, sample_terms
from .optimizers import as_rows


def n_chunks(n_rows):
    """Number of row blocks of a reduction over ``n_rows`` rows (rows of ``work``)."""
    return max(1, -(-n_rows // CHUNK))


def work_shape(n_rows, n_params):
    """Shape of the ``work`` scratch of ``loss_grad`` for n_rows rows and n_params = K (d + 1)."""
    return (n_chunks(n_rows), n_params + 2)


@njit(**INLINE)
def _squared_branch(theta, model):
    """Whether ``_block`` takes its squared-loss branch: one output (θ (1, d + 1)) and the squared loss."""
    return theta.shape[0] == 1 and model[1] == SQUARED


@njit(**INLINE)
def _block(X, y, weights, theta, center, scale_inv, model, grad, c, acc):
    """Sum the (weighted) loss and gradient of rows ``c*CHUNK ...`` into
    ``acc`` = [gradient (K (d + 1), row-major), loss, weight sum]."""
    if _squared_branch(theta, model):  # the loss a constant: no selector in this loop
        _block_scalar(X, y, weights, theta[0], center, scale_inv, SQUARED, model[2], grad, c, acc)
    else:  # every other loss, in a function of its own (compiled once, apart from the hot loop)
        _block_general(X, y, weights, theta, center, scale_inv, model, given(grad), c, acc)


@njit(**INLINE)
def _block_scalar(X, y, weights, row, center, scale_inv, loss_code, eps, grad, c, acc):
    """``_block`` for one output: the parameters ``row`` (d + 1,); the gradient summed unless
    ``grad`` is None or empty (``kernels.NO_GRAD``).  The flag is tested once a block, each case
    a loop of its own: one compiled function serves the loss pass and the gradient pass."""
    d1 = row.shape[0]
    local = np.zeros(d1 + 2)  # a fresh array: LLVM knows it aliases neither X nor theta
    weighted = given(weights)
    stop = min((c + 1) * CHUNK, X.shape[0])
    if given(grad):
        for i in range(c * CHUNK, stop):
            x = X[i]
            w = weight_at(weights, i)
            p = predict_row(x, row, center, scale_inv)
            local[d1] += w * loss_value(loss_code, eps, p, y[i])
            if weighted:
                local[d1 + 1] += w
            a = w * loss_dp(loss_code, eps, p, y[i])
            local[0] += a
            add_row(a, x, local, center, scale_inv)
    else:
        for i in range(c * CHUNK, stop):
            x = X[i]
            w = weight_at(weights, i)
            p = predict_row(x, row, center, scale_inv)
            local[d1] += w * loss_value(loss_code, eps, p, y[i])
            if weighted:
                local[d1 + 1] += w
    if not weighted:
        local[d1 + 1] = stop - c * CHUNK
    for k in range(d1 + 2):
        acc[k] = local[k]


@njit(**HELPER)
def _block_general(X, y, weights, theta, center, scale_inv, model, with_grad, c, acc):
    """``_block`` for any loss and K outputs (softmax); the gradient summed if ``with_grad``.  A
    run-time flag, not a None, tested once a block: one compiled function serves the loss pass
    and the gradient pass (compiled for each, it cost about 1.4 s more of a cold first fit)."""
    loss_code, eps = model[1], model[2]
    n_out, d1 = theta.shape
    size = n_out * d1
    local = np.zeros(size + 2)
    g = np.empty(n_out)
    stop = min((c + 1) * CHUNK, X.shape[0])
    if with_grad:
        for i in range(c * CHUNK, stop):
            x = X[i]
            w = weight_at(weights, i)
            local[size] += w * sample_terms(loss_code, eps, x, y[i], theta, center, scale_inv, g)
            local[size + 1] += w
            for k in range(n_out):
                a = w * g[k]
                local[k * d1] += a
                add_row(a, x, local[k * d1 : (k + 1) * d1], center, scale_inv)
    else:  # the loss alone: no derivative computed (it costs as much as the loss for these losses)
        for i in range(c * CHUNK, stop):
            x = X[i]
            w = weight_at(weights, i)
            local[size] += w * sample_loss(loss_code, eps, x, y[i], theta, center, scale_inv, g)
            local[size + 1] += w
    for k in range(size + 2):
        acc[k] = local[k]


@njit(**INLINE)
def combine_chunks(work, fit_intercept, grad):
    """Add the blocks up in block order; the weighted mean loss returned, the weighted mean
    gradient into ``grad`` (K, d + 1)."""
    size = work.shape[1] - 2
    total = 0.0
    weight = 0.0
    for c in range(work.shape[0]):
        total += work[c, size]
        weight += work[c, size + 1]
    if grad is not None:
        flat = grad.reshape(size)
        flat[:] = 0.0
        for c in range(work.shape[0]):
            for k in range(size):
                flat[k] += work[c, k]
        for k in range(size):
            flat[k] /= weight
        if not fit_intercept:
            grad[:, 0] = 0.0
    return total / weight


@njit(**INLINE)
def combine_into(work, fit_intercept, grad):
    """``combine_chunks`` for a ``grad`` given as an array: empty (``NO_GRAD``: the loss alone, in
    the gradient pass's compiled code) or θ's shape."""
    if grad.size == 0:
        return combine_chunks(work, fit_intercept, None)
    return combine_chunks(work, fit_intercept, as_rows(grad))


@njit(**KERNEL)
def combine_blocks(work, fit_intercept, grad):
    """``loss_grad``'s last step alone, over a ``work`` its block rows were written into by
    calls on row ranges of whole blocks (``work[c0:c1]`` with the rows ``c0*CHUNK ...``): the
    weighted mean loss returned, the mean gradient into ``grad`` (theta's shape) unless None —
    the very bits one ``loss_grad`` call over all rows gives."""
    if grad is None:  # resolved at compile time
        return combine_chunks(work, fit_intercept, None)
    return combine_into(work, fit_intercept, grad)


@njit(**KERNEL)
def loss_grad(X, y, weights, theta, center, scale_inv, model, grad, work):
    """Mean loss of the model ``theta`` over all rows of ``X``, and its gradient.

    X: (n, d) float32/float64, C-contiguous; y: (n,) same dtype (classification: ±1, softmax:
    the class index); weights: (n,) float64 sample weights (the mean is ``Σ w loss / Σ w``) or
    None; theta: (d + 1,) or (K, d + 1) float64, ``theta[..., 0]`` the intercept; center,
    scale_inv: (d,) float64 to standardize on the fly, or None; model: ``(fit_intercept,
    loss_code, eps, l2, l1)`` (the penalty is not included here: see ``penalty``); grad: theta's
    shape, float64, written with the mean gradient (0 for the intercept unless fitted), or None
    for the loss alone; work: ``work_shape(n, theta.size)`` float64 scratch.  Returns the mean
    loss (float64).
    """
    rows = as_rows(theta)
    for c in range(work.shape[0]):
        _block(X, y, weights, rows, center, scale_inv, model, grad, c, work[c])
    if grad is None:  # resolved at compile time
        return combine_chunks(work, model[0], None)
    return combine_into(work, model[0], grad)


@njit(**PARALLEL)
def loss_grad_parallel(X, y, weights, theta, center, scale_inv, model, grad, work):
    """``loss_grad`` with the blocks summed in parallel: the same arguments, the same bits."""
    rows = as_rows(theta)
    for c in prange(work.shape[0]):
        _block(X, y, weights, rows, center, scale_inv, model, grad, c, work[c])
    if grad is None:  # resolved at compile time
        return combine_chunks(work, model[0], None)
    return combine_into(work, model[0], grad)


# The library's passes: ``loss_grad``'s two branches as kernels of their own, chosen in Python by
# the same test (``is_squared_pass``), so that a squared-loss fit never compiles the other losses
# (measured, a fresh cache: the squared pass alone 3.4-4.5 s to compile, ``loss_grad`` 9.8-10.6 s).
# ``grad`` is an array here (``NO_GRAD`` for the loss alone), never None.


def is_squared_pass(model, theta):
    """Whether ``loss_grad`` takes its squared-loss branch for this model and θ (K, d + 1):
    ``_block``'s own test, run as Python (``py_func``: nothing to compile)."""
    return _squared_branch.py_func(theta, model)


@njit(**KERNEL)
def squared_loss_grad(X, y, weights, theta, center, scale_inv, model, grad, work):
    """``loss_grad`` of the squared loss and one output (θ (1, d + 1)): its bits, no other loss compiled."""
    row = theta[0]
    for c in range(work.shape[0]):
        _block_scalar(X, y, weights, row, center, scale_inv, SQUARED, model[2], grad, c, work[c])
    return combine_into(work, model[0], grad)


@njit(**PARALLEL)
def squared_loss_grad_parallel(X, y, weights, theta, center, scale_inv, model, grad, work):
    """``squared_loss_grad`` with the blocks summed in parallel: the same bits."""
    row = theta[0]
    for c in prange(work.shape[0]):
        _block_scalar(X, y, weights, row, center, scale_inv, SQUARED, model[2], grad, c, work[c])
    return combine_into(work, model[0], grad)


@njit(**KERNEL)
def general_loss_grad(X, y, weights, theta, center, scale_inv, model, grad, work):
    """``loss_grad`` of every other model (θ (K, d + 1)): its bits, the squared branch not compiled."""
    for c in range(work.shape[0]):
        _block_general(X, y, weights, theta, center, scale_inv, model, given(grad), c, work[c])
    return combine_into(work, model[0], grad)


@njit(**PARALLEL)
def general_loss_grad_parallel(X, y, weights, theta, center, scale_inv, model, grad, work):
    """``general_loss_grad`` with the blocks summed in parallel: the same bits."""
    for c in prange(work.shape[0]):
        _block_general(X, y, weights, theta, center, scale_inv, model, given(grad), c, work[c])
    return combine_into(work, model[0], grad)


__all__ = [
    "combine_blocks",
    "general_loss_grad",
    "general_loss_grad_parallel",
    "is_squared_pass",
    "loss_grad",
    "loss_grad_parallel",
    "n_chunks",
    "squared_loss_grad",
    "squared_loss_grad_parallel",
    "work_shape",
]
