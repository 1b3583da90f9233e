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
def gram_descent(M, h, delta, y_mean, s_yy, fit_intercept, theta, etas, grad_tol, limit, grad, history, path):
    """``theta <- theta - etas[k] * grad`` for k = 0, 1, ... (``grad`` holds the gradient at
    ``theta`` on entry), each step followed by the new loss (into ``history[k]``) and gradient;
    ``path[k]`` receives theta after step k unless ``path`` is None.  Stops after ``len(etas)``
    steps (MAX_EPOCHS), when ‖grad‖ <= grad_tol (CONVERGED) or when the loss is NaN or above
    ``limit`` (DIVERGED).  Returns (steps taken, status)."""
    for k in range(etas.shape[0]):
        for j in range(theta.shape[0]):
            theta[j] -= etas[k] * grad[j]
        loss = gram_loss_grad(M, h, delta, y_mean, s_yy, fit_intercept, theta, grad)
        history[k] = loss
        if not loss <= limit:
            return k + 1, DIVERGED
        if path is not None:
            path[k, :] = theta
        if np.sqrt(np.sum(grad * grad)) <= grad_tol:
            return k + 1, CONVERGED
    return etas.shape[0], MAX_EPOCHS
