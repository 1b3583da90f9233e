"""Batch gradient descent on the Gram matrix: after one read of X (``fastgd._dispatch.GramLoss``
forms the pieces), every step costs O(d²), so the whole descent runs in one compiled loop.

In model units, with ``M = S A S / n`` (A the centered XᵀX), ``h = S b / n``, ``delta`` the
offset of the model's features from the centered ones, ``y_mean`` and ``s_yy = Σ(y - ȳ)²/n``
(no centering without an intercept):

    MSE(θ) = e² + θᵀMθ - 2hᵀθ + s_yy,   e = θ0 + deltaᵀθ - ȳ;   ∇θ0 = 2e,   ∇θ = 2e·delta + 2(Mθ - h)
"""

import numpy as np
from numba import njit

from ._config import KERNEL
from .optimizers import apply_step, as_rows, copy_rows, penalty_of, stationarity_of

#: statuses of ``gram_descent``
MAX_EPOCHS, CONVERGED, DIVERGED = 0, 1, 2


@njit(**KERNEL)
def gram_loss_grad(M, h, delta, y_mean, s_yy, fit_intercept, theta, grad):
    """Mean squared loss at ``theta`` and its gradient (into ``grad``) from the Gram pieces."""
    d = M.shape[0]
    e = 0.0
    if fit_intercept:
        e = theta[0] - y_mean
        for j in range(d):
            e += delta[j] * theta[j + 1]
    loss = e * e + s_yy
    grad[0] = 2.0 * e
    for i in range(d):
        mw = 0.0
        for j in range(d):
            mw += M[i, j] * theta[j + 1]
        loss += theta[i + 1] * (mw - 2.0 * h[i])
        grad[i + 1] = 2.0 * e * delta[i] + 2.0 * (mw - h[i])
    return loss


@njit(**KERNEL)
def gram_descent(
    M, h, delta, y_mean, s_yy, model, opt, state, theta, etas, t_start, grad_tol, limit, grad, history, path
):
    """Optimizer steps (``optimizers.apply_step``: the penalty and the optimizer of ``model`` and
    ``opt``; with ``state=None`` plain steps without a penalty, the fast loop) with the rates
    ``etas[k]`` at update counts ``t_start + k`` on theta (d + 1,) or (1, d + 1); ``grad``
    (theta's shape) holds the squared loss's gradient at ``theta`` on entry.  Each step is
    followed by the new objective (mean loss + penalty, into ``history[k]``) and gradient;
    ``path[k]`` receives theta after step k unless ``path`` is None.  Stops after ``len(etas)``
    steps (MAX_EPOCHS), when the stationarity measure (``optimizers.stationarity``) is <=
    grad_tol (CONVERGED) or when the objective is NaN or above ``limit`` (DIVERGED).  Returns
    (steps taken, status)."""
    rows, g = as_rows(theta), as_rows(grad)
    row, gradient = rows[0], g[0]
    for k in range(etas.shape[0]):
        if state is None:  # resolved at compile time: plain steps, no penalty
            for j in range(row.shape[0]):
                row[j] -= etas[k] * gradient[j]
        else:
            apply_step(rows, g, model, opt, state, etas[k], t_start + k)
        loss = gram_loss_grad(M, h, delta, y_mean, s_yy, model[0], row, gradient)
        if state is not None:
            loss += penalty_of(rows, model)
        history[k] = loss
        if not loss <= limit:
            return k + 1, DIVERGED
        if path is not None:
            copy_rows(as_rows(path[k]), rows)
        if state is None:
            measure = np.sqrt(np.sum(gradient * gradient))
        else:
            measure = stationarity_of(rows, g, model, etas[k])
        if measure <= grad_tol:
            return k + 1, CONVERGED
    return etas.shape[0], MAX_EPOCHS
