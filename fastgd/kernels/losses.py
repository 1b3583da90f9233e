"""Per-sample losses, selected inside the loops by an integer code (see ``codes.Loss``).

Each scalar loss is a pair of tiny inlined functions of the prediction ``p``, the target ``y``
and the loss's parameter ``eps``: its value and its derivative with respect to ``p``.  A new
loss is one pair and one branch in each selector, never a new loop.  Softmax, whose model has
one score per class, is the one vector loss (``softmax_terms``); ``sample_terms`` reaches every
loss, scalar or not, from a row of X and the parameters ``theta`` (K, d + 1).
"""

import math

import numpy as np
from numba import njit

from ._config import INLINE
from ._rows import predict_row
from .codes import (
    EPSILON_INSENSITIVE,
    HINGE,
    HUBER,
    LOG,
    MODIFIED_HUBER,
    PERCEPTRON,
    SOFTMAX,
    SQUARED,
    SQUARED_EPSILON_INSENSITIVE,
    SQUARED_HINGE,
)


@njit(**INLINE)
def squared(p, y):
    r = p - y
    return r * r


@njit(**INLINE)
def squared_dp(p, y):
    return 2.0 * (p - y)


@njit(**INLINE)
def huber(p, y, eps):
    r = abs(p - y)
    return 0.5 * r * r if r <= eps else eps * r - 0.5 * eps * eps


@njit(**INLINE)
def huber_dp(p, y, eps):
    r = p - y
    if r > eps:
        return eps
    if r < -eps:
        return -eps
    return r


@njit(**INLINE)
def epsilon_insensitive(p, y, eps):
    return max(0.0, abs(p - y) - eps)


@njit(**INLINE)
def epsilon_insensitive_dp(p, y, eps):
    r = p - y
    if r > eps:
        return 1.0
    if r < -eps:
        return -1.0
    return 0.0


@njit(**INLINE)
def squared_epsilon_insensitive(p, y, eps):
    e = max(0.0, abs(p - y) - eps)
    return e * e


@njit(**INLINE)
def squared_epsilon_insensitive_dp(p, y, eps):
    r = p - y
    if r > eps:
        return 2.0 * (r - eps)
    if r < -eps:
        return 2.0 * (r + eps)
    return 0.0


@njit(**INLINE)
def log_loss(p, y):
    z = y * p
    if z > 0.0:  # log(1 + e^-z) without overflow for either sign of z
        return math.log1p(math.exp(-z))
    return math.log1p(math.exp(z)) - z


@njit(**INLINE)
def log_loss_dp(p, y):
    z = y * p
    if z > 0.0:
        e = math.exp(-z)
        return -y * e / (1.0 + e)
    return -y / (1.0 + math.exp(z))


@njit(**INLINE)
def hinge(p, y):
    return max(0.0, 1.0 - y * p)


@njit(**INLINE)
def hinge_dp(p, y):
    return -y if y * p <= 1.0 else 0.0  # at z = 1 too (as scikit-learn's Hinge)


@njit(**INLINE)
def squared_hinge(p, y):
    e = max(0.0, 1.0 - y * p)
    return e * e


@njit(**INLINE)
def squared_hinge_dp(p, y):
    z = y * p
    return -2.0 * y * (1.0 - z) if z < 1.0 else 0.0


@njit(**INLINE)
def modified_huber(p, y):
    z = y * p
    if z >= 1.0:
        return 0.0
    if z >= -1.0:
        return (1.0 - z) * (1.0 - z)
    return -4.0 * z


@njit(**INLINE)
def modified_huber_dp(p, y):
    z = y * p
    if z >= 1.0:
        return 0.0
    if z >= -1.0:
        return -2.0 * y * (1.0 - z)
    return -4.0 * y


@njit(**INLINE)
def perceptron(p, y):
    return max(0.0, -y * p)


@njit(**INLINE)
def perceptron_dp(p, y):
    return -y if y * p <= 0.0 else 0.0  # at z = 0 too (as scikit-learn): a zero θ still moves


@njit(**INLINE)
def loss_value(code, eps, p, y):
    """Loss of one sample with prediction ``p`` and target ``y`` (scalar losses)."""
    if code == SQUARED:
        return squared(p, y)
    if code == HUBER:
        return huber(p, y, eps)
    if code == EPSILON_INSENSITIVE:
        return epsilon_insensitive(p, y, eps)
    if code == SQUARED_EPSILON_INSENSITIVE:
        return squared_epsilon_insensitive(p, y, eps)
    if code == LOG:
        return log_loss(p, y)
    if code == HINGE:
        return hinge(p, y)
    if code == SQUARED_HINGE:
        return squared_hinge(p, y)
    if code == MODIFIED_HUBER:
        return modified_huber(p, y)
    if code == PERCEPTRON:
        return perceptron(p, y)
    return np.nan  # unknown code: the Python layer never passes one


@njit(**INLINE)
def loss_dp(code, eps, p, y):
    """Derivative of the loss with respect to the prediction ``p`` (a subgradient where the
    loss has a kink: the one-sided value used by scikit-learn)."""
    if code == SQUARED:
        return squared_dp(p, y)
    if code == HUBER:
        return huber_dp(p, y, eps)
    if code == EPSILON_INSENSITIVE:
        return epsilon_insensitive_dp(p, y, eps)
    if code == SQUARED_EPSILON_INSENSITIVE:
        return squared_epsilon_insensitive_dp(p, y, eps)
    if code == LOG:
        return log_loss_dp(p, y)
    if code == HINGE:
        return hinge_dp(p, y)
    if code == SQUARED_HINGE:
        return squared_hinge_dp(p, y)
    if code == MODIFIED_HUBER:
        return modified_huber_dp(p, y)
    if code == PERCEPTRON:
        return perceptron_dp(p, y)
    return np.nan


@njit(**INLINE)
def softmax_of_scores(g, y):
    """Softmax cross-entropy from the class scores ``g`` (K,), overwritten with its derivative
    ``softmax(p)_k - [k == y]``; returns ``logsumexp(p) - p_y``.  Shared by the dense and the
    CSR rows (``kernels.sparse``): only the way the scores are computed differs."""
    c = int(y)
    top = -np.inf
    for k in range(g.shape[0]):
        top = max(top, g[k])
    p_c = g[c]
    total = 0.0
    for k in range(g.shape[0]):
        g[k] = math.exp(g[k] - top)
        total += g[k]
    for k in range(g.shape[0]):
        g[k] /= total
    g[c] -= 1.0
    return top + math.log(total) - p_c


@njit(**INLINE)
def softmax_terms(x, y, theta, center, scale_inv, g):
    """Softmax cross-entropy of one row: ``g[k] = softmax(p)_k - [k == y]`` (the derivative with
    respect to the class scores ``p_k = theta[k] . x~``); returns ``logsumexp(p) - p_y``."""
    for k in range(theta.shape[0]):
        g[k] = predict_row(x, theta[k], center, scale_inv)
    return softmax_of_scores(g, y)


@njit(**INLINE)
def sample_terms(code, eps, x, y, theta, center, scale_inv, g):
    """The loss of row ``x`` with target ``y`` under ``theta`` (K, d + 1), and its derivatives
    with respect to the K predictions into ``g`` (K,); K = 1 except for softmax."""
    if code == SOFTMAX:
        return softmax_terms(x, y, theta, center, scale_inv, g)
    p = predict_row(x, theta[0], center, scale_inv)
    g[0] = loss_dp(code, eps, p, y)
    return loss_value(code, eps, p, y)


@njit(**INLINE)
def sample_loss(code, eps, x, y, theta, center, scale_inv, g):
    """``sample_terms``'s loss alone (g: (K,) scratch, meaningful for softmax only)."""
    if code == SOFTMAX:
        return softmax_terms(x, y, theta, center, scale_inv, g)
    return loss_value(code, eps, predict_row(x, theta[0], center, scale_inv), y)


@njit(**INLINE)
def sample_dp(code, eps, x, y, theta, center, scale_inv, g):
    """``sample_terms`` without the loss value (what an update needs)."""
    if code == SOFTMAX:
        softmax_terms(x, y, theta, center, scale_inv, g)
    else:
        g[0] = loss_dp(code, eps, predict_row(x, theta[0], center, scale_inv), y)
