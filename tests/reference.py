"""Slow, obviously-correct numpy versions of fastgd's update rules, for the tests to compare with.

Everything here is float64 and written from the formulas (docstrings of ``fastgd.schedules``
and ``fastgd.kernels``), not from the kernels' code: the model reads the rows of

    X̃ = [1, Z],   Z = X  or  (X - center) * scale_inv,

and the per-sample squared loss ``(x̃·θ − y)²`` has the gradient ``2 (x̃·θ − y) x̃``.  With
``fit_intercept=False`` the intercept θ[0] is never updated (its gradient is taken as 0).

The stochastic versions are driven by the same sample ``order`` and the same per-update rates
``etas`` as the kernels, so the two can be compared update by update.
"""

import math

import numpy as np

__all__ = ["batch_gd", "design", "loss_grad", "minibatch_epoch", "schedule", "sgd_epoch", "splitmix64_shuffle"]


def design(X, center=None, scale_inv=None):
    """X̃ = [1, Z] as a float64 (n, d + 1) array (Z standardized when center is given)."""
    Z = np.asarray(X, dtype=np.float64)
    if Z.ndim != 2:
        raise ValueError("X must be 2-D")
    if center is not None and len(center) > 0:
        Z = (Z - np.asarray(center, dtype=np.float64)) * np.asarray(scale_inv, dtype=np.float64)
    return np.hstack([np.ones((Z.shape[0], 1)), Z])


def loss_grad(X, y, theta, center=None, scale_inv=None, fit_intercept=True):
    """(mean squared loss, mean gradient 2/n X̃ᵀ(X̃θ − y)), float64; gradient[0] = 0 without
    an intercept."""
    Xt = design(X, center, scale_inv)
    y = np.asarray(y, dtype=np.float64)
    theta = np.asarray(theta, dtype=np.float64)
    r = Xt @ theta - y
    loss = float(np.mean(r * r))
    grad = 2.0 / Xt.shape[0] * (Xt.T @ r)
    if not fit_intercept:
        grad[0] = 0.0
    return loss, grad


def sgd_epoch(X, y, theta, order, etas, center=None, scale_inv=None, fit_intercept=True):
    """One SGD epoch: for k, i = enumerate(order): θ ← θ − etas[k] · 2(x̃_i·θ − y_i) x̃_i.

    Returns (θ after the epoch, (len(order), d + 1) array of θ after every update).  The input
    theta is not modified."""
    Xt = design(X, center, scale_inv)
    y = np.asarray(y, dtype=np.float64)
    theta = np.array(theta, dtype=np.float64)
    path = np.empty((len(order), theta.shape[0]))
    for k, i in enumerate(order):
        xt = Xt[i]
        g = 2.0 * (xt @ theta - y[i]) * xt
        if not fit_intercept:
            g[0] = 0.0
        theta = theta - etas[k] * g
        path[k] = theta
    return theta, path


def minibatch_epoch(X, y, theta, order, batch_size, etas, center=None, scale_inv=None, fit_intercept=True):
    """One mini-batch epoch: batch b is ``order[b*batch_size : (b+1)*batch_size]`` (the last one
    may be shorter); θ ← θ − etas[b] · mean over the batch of 2(x̃_i·θ − y_i) x̃_i, θ read at
    the start of the batch.

    Returns (θ after the epoch, (number of batches, d + 1) array of θ after every update)."""
    Xt = design(X, center, scale_inv)
    y = np.asarray(y, dtype=np.float64)
    theta = np.array(theta, dtype=np.float64)
    order = np.asarray(order)
    starts = range(0, len(order), batch_size)
    path = np.empty((len(starts), theta.shape[0]))
    for b, start in enumerate(starts):
        rows = order[start : start + batch_size]
        Xb = Xt[rows]
        g = 2.0 * (Xb.T @ (Xb @ theta - y[rows])) / len(rows)
        if not fit_intercept:
            g[0] = 0.0
        theta = theta - etas[b] * g
        path[b] = theta
    return theta, path


def batch_gd(X, y, theta, etas, center=None, scale_inv=None, fit_intercept=True):
    """Textbook batch gradient descent: for each eta in etas, θ ← θ − η · 2/m X̃ᵀ(X̃θ − y).

    Returns (θ after len(etas) steps, array of θ after every step)."""
    theta = np.array(theta, dtype=np.float64)
    path = np.empty((len(etas), theta.shape[0]))
    for k, eta in enumerate(etas):
        _, g = loss_grad(X, y, theta, center, scale_inv, fit_intercept)
        theta = theta - eta * g
        path[k] = theta
    return theta, path


def _one_rate(name, p, t):
    """eta(t) for an int t >= 0, from the table in the docstring of fastgd.schedules."""
    t = int(t)
    if name == "constant":
        (eta,) = p
        return eta
    if name == "inverse_time":
        t0, t1 = p
        return t0 / (t + t1)
    if name == "inverse_scaling":
        eta0, power_t = p
        return eta0 / (t + 1) ** power_t
    if name == "exponential":
        eta0, decay = p
        return eta0 * math.exp(-decay * t)
    if name == "step":
        eta0, drop, every = p
        return eta0 * drop ** (t // int(every))  # floor(t / every), in exact integer arithmetic
    if name == "cosine":
        eta0, eta_min, period = p
        phase = (t % int(period)) / period
        return eta_min + (eta0 - eta_min) * (1.0 + math.cos(math.pi * phase)) / 2.0
    raise ValueError(f"unknown schedule {name!r}")


def schedule(name, params, t):
    """Learning rate eta(t) of the built-in schedule ``name`` (e.g. "inverse_time").

    params: the constructor's parameters in its order (a sequence, or a dict by name); t: an int
    or an array of ints >= 0.  Returns a float, or a float64 array shaped like t."""
    p = [float(v) for v in (params.values() if isinstance(params, dict) else params)]
    if np.ndim(t) == 0:
        return float(_one_rate(name, p, t))
    t = np.asarray(t)
    return np.array([_one_rate(name, p, tk) for tk in t.ravel()], dtype=np.float64).reshape(t.shape)


_MASK = (1 << 64) - 1


def splitmix64_shuffle(order, seed):
    """Fisher–Yates shuffle driven by splitmix64 (pure Python integers), as documented in
    fastgd.kernels.random: returns (shuffled copy of order, the generator's new state)."""
    out = list(order)
    state = int(seed)
    for i in range(len(out) - 1, 0, -1):
        state = (state + 0x9E3779B97F4A7C15) & _MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        z ^= z >> 31
        j = int((z >> 11) * 2.0**-53 * (i + 1))  # a 53-bit uniform in [0, 1) times i + 1
        out[i], out[j] = out[j], out[i]
    return np.array(out, dtype=np.int64), state
