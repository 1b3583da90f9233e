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

__all__ = [
    "LOSSES",
    "Optimizer",
    "average",
    "batch_gd",
    "design",
    "general_loss_grad",
    "general_minibatch_epoch",
    "general_sgd_epoch",
    "loss_dp",
    "loss_grad",
    "loss_value",
    "minibatch_epoch",
    "penalty",
    "sample_terms",
    "schedule",
    "sgd_epoch",
    "softmax_terms",
    "splitmix64_corgi",
    "splitmix64_shuffle",
    "stationarity",
]


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


def splitmix64_corgi(n, block_rows, buffer_blocks, seed):
    """CorgiPile's order, as documented in fastgd.kernels.random.shuffle_corgi: the blocks of
    ``block_rows`` consecutive rows of 0 .. n - 1 shuffled (``splitmix64_shuffle``), taken
    ``buffer_blocks`` at a time, each group's rows (in its blocks' order) shuffled with the
    same generator.  Returns (order, the blocks' order, the generator's new state)."""
    blocks, state = splitmix64_shuffle(np.arange(-(-n // block_rows)), seed)
    order = []
    for g in range(0, len(blocks), buffer_blocks):
        rows = []
        for b in blocks[g : g + buffer_blocks]:
            rows.extend(range(b * block_rows, min((b + 1) * block_rows, n)))
        shuffled, state = splitmix64_shuffle(rows, state)
        order.extend(int(r) for r in shuffled)
    return np.array(order, dtype=np.int64), blocks, state


# --- every loss, penalties, optimizers, weights ------------------------------------------------
#
# Written from the tables in ``fastgd.kernels.codes`` (``Loss``, ``Optimizer``) and the module
# docstrings of ``fastgd.optimizers`` and ``fastgd.kernels.optimizers``.  Parameters are (K, d + 1)
# arrays, one row per output (K = 1 except for softmax).  A model is described by the same
# ``model = (fit_intercept, loss_code, eps, l2, l1)`` tuple as the kernels take, with the loss
# code as in ``codes.Loss`` (the codes are the names' numbers, nothing more is taken from fastgd).

#: loss code -> name, as in codes.Loss
LOSSES = {
    0: "squared",
    1: "huber",
    2: "epsilon_insensitive",
    3: "squared_epsilon_insensitive",
    4: "log",
    5: "hinge",
    6: "squared_hinge",
    7: "modified_huber",
    8: "softmax",
    9: "perceptron",
}


def loss_value(name, p, y, eps=0.0):
    """Loss of each sample (vectorized over p, y) of a scalar loss: regression losses of
    r = p - y, classification losses of z = y p (y in {-1, +1})."""
    p, y = np.asarray(p, dtype=np.float64), np.asarray(y, dtype=np.float64)
    r, z = p - y, y * p
    if name == "squared":
        return r**2
    if name == "huber":
        return np.where(np.abs(r) <= eps, r**2 / 2, eps * np.abs(r) - eps**2 / 2)
    if name == "epsilon_insensitive":
        return np.maximum(0.0, np.abs(r) - eps)
    if name == "squared_epsilon_insensitive":
        return np.maximum(0.0, np.abs(r) - eps) ** 2
    if name == "log":
        return np.logaddexp(0.0, -z)  # log(1 + exp(-z)) without overflow
    if name == "hinge":
        return np.maximum(0.0, 1.0 - z)
    if name == "squared_hinge":
        return np.maximum(0.0, 1.0 - z) ** 2
    if name == "modified_huber":
        return np.where(z >= -1.0, np.maximum(0.0, 1.0 - z) ** 2, -4.0 * z)
    if name == "perceptron":
        return np.maximum(0.0, -z)
    raise ValueError(f"unknown scalar loss {name!r}")


def loss_dp(name, p, y, eps=0.0):
    """d loss / d p of each sample, by differentiating ``loss_value``'s formulas (at a kink:
    scikit-learn's value, e.g. -y for the hinge at z = 1, 0 for the squared hinge there)."""
    p, y = np.asarray(p, dtype=np.float64), np.asarray(y, dtype=np.float64)
    r, z = p - y, y * p
    if name == "squared":
        return 2.0 * r
    if name == "huber":
        return np.clip(r, -eps, eps)
    if name == "epsilon_insensitive":
        return np.where(np.abs(r) > eps, np.sign(r), 0.0)
    if name == "squared_epsilon_insensitive":
        return np.where(np.abs(r) > eps, 2.0 * (r - eps * np.sign(r)), 0.0)
    if name == "log":
        return -y / (1.0 + np.exp(np.minimum(z, 700.0)))  # d/dz log(1 + e^-z) = -1 / (1 + e^z)
    if name == "hinge":
        return np.where(z <= 1.0, -y, 0.0)  # scikit-learn's -y at z = 1 too
    if name == "squared_hinge":
        return np.where(z < 1.0, -2.0 * y * (1.0 - z), 0.0)
    if name == "modified_huber":
        return np.where(z >= 1.0, 0.0, np.where(z >= -1.0, -2.0 * y * (1.0 - z), -4.0 * y))
    if name == "perceptron":
        return np.where(z <= 0.0, -y, 0.0)  # scikit-learn's -y at z = 0 too
    raise ValueError(f"unknown scalar loss {name!r}")


def softmax_terms(P, y):
    """Softmax cross-entropy of each row of the scores P (n, K) with class indices y:
    (loss ``logsumexp(P_i) - P_i,y_i`` (n,), d loss / d P ``softmax(P_i) - onehot(y_i)`` (n, K))."""
    P = np.asarray(P, dtype=np.float64)
    c = np.asarray(y).astype(np.int64)
    top = P.max(axis=1, keepdims=True)
    E = np.exp(P - top)
    total = E.sum(axis=1, keepdims=True)
    loss = (top + np.log(total))[:, 0] - P[np.arange(len(c)), c]
    D = E / total
    D[np.arange(len(c)), c] -= 1.0
    return loss, D


def sample_terms(model, X, y, theta, center=None, scale_inv=None):
    """Per-sample (loss (n,), gradient with respect to theta (n, K, d + 1)) of the model's loss,
    the gradient's intercept column 0 when the intercept is not fitted.  No weights, no penalty."""
    fit_intercept, code, eps = model[0], model[1], model[2]
    Xt = design(X, center, scale_inv)
    theta = np.atleast_2d(np.asarray(theta, dtype=np.float64))
    P = Xt @ theta.T  # (n, K)
    name = LOSSES[int(code)]
    if name == "softmax":
        loss, D = softmax_terms(P, y)
    else:
        y64 = np.asarray(y, dtype=np.float64)
        loss, D = loss_value(name, P[:, 0], y64, eps), loss_dp(name, P[:, 0], y64, eps)[:, None]
    G = D[:, :, None] * Xt[:, None, :]
    if not fit_intercept:
        G[:, :, 0] = 0.0
    return loss, G


def general_loss_grad(model, X, y, theta, weights=None, center=None, scale_inv=None):
    """(Σ w loss / Σ w, Σ w grad / Σ w (K, d + 1)): the weighted mean loss and gradient, no penalty."""
    loss, G = sample_terms(model, X, y, theta, center, scale_inv)
    w = np.ones(len(loss)) if weights is None else np.asarray(weights, dtype=np.float64)
    return float(w @ loss / w.sum()), np.tensordot(w, G, axes=1) / w.sum()


def penalty(theta, model):
    """``l2/2 ||w||² + l1 ||w||₁`` over the coefficients (column 0, the intercept, excluded)."""
    W = np.atleast_2d(theta)[:, 1:]
    return float(model[3] / 2 * np.sum(W * W) + model[4] * np.sum(np.abs(W)))


def soft_threshold(v, threshold):
    """The L1 proximal map ``sign(v) max(|v| - threshold, 0)``."""
    return np.sign(v) * np.maximum(np.abs(v) - threshold, 0.0)


def stationarity(theta, grad, model, eta):
    """Norm of the gradient mapping: g = grad + l2 w on the coefficients, with l1 > 0 replaced
    by ``(w - prox(w - eta g)) / eta``; the intercept's gradient counted only when fitted."""
    theta, grad = np.atleast_2d(theta), np.atleast_2d(grad)
    fit_intercept, l2, l1 = model[0], model[3], model[4]
    W = theta[:, 1:]
    G = grad[:, 1:] + l2 * W
    if l1 > 0:
        G = (W - soft_threshold(W - eta * G, eta * l1)) / eta
    total = np.sum(G * G) + (np.sum(grad[:, 0] ** 2) if fit_intercept else 0.0)
    return math.sqrt(total)


class Optimizer:
    """One optimizer of codes.Optimizer with its parameters (those of ``fastgd.optimizers``, in
    order) and its own state, stepping a (K, d + 1) theta:

    sgd       θ -= η g
    momentum  v = β v + g;  θ -= η v
    nesterov  v = β v + g;  θ -= η (g + β v)
    adagrad   s += g²;  θ -= η g / (√s + eps)
    rmsprop   s = ρ s + (1 - ρ) g²;  θ -= η g / (√s + eps)
    adam      m = β1 m + (1 - β1) g;  s = β2 s + (1 - β2) g²;
              θ -= η m̂ / (√ŝ + eps),  m̂ = m / (1 - β1^(t+1)),  ŝ = s / (1 - β2^(t+1))

    g is the data-loss gradient plus l2 w on the coefficients; then each coefficient is soft
    thresholded by its rate times l1, the rate being η for the first three and η / (√s + eps)
    (ŝ for adam) for the adaptive ones.  The intercept is never penalized, and not moved at all
    when it is not fitted (its state then stays 0).
    """

    NAMES = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")

    def __init__(self, code, params):
        self.name = self.NAMES[int(code)]
        self.params = [float(v) for v in params]
        self.v = self.s = None

    def step(self, theta, grad, model, eta, t):
        """θ after one update with the data-loss gradient ``grad`` at update count t (from 0)."""
        theta = np.array(np.atleast_2d(theta), dtype=np.float64)
        fit_intercept, l2, l1 = model[0], model[3], model[4]
        g = np.array(np.atleast_2d(grad), dtype=np.float64)
        g[:, 1:] += l2 * theta[:, 1:]
        if not fit_intercept:
            g[:, 0] = 0.0
        if self.v is None:
            self.v, self.s = np.zeros_like(theta), np.zeros_like(theta)
        name, p = self.name, self.params
        if name == "sgd":
            step, rate = eta * g, np.full_like(g, eta)
        elif name in ("momentum", "nesterov"):
            self.v = p[0] * self.v + g
            step = eta * self.v if name == "momentum" else eta * (g + p[0] * self.v)
            rate = np.full_like(g, eta)
        elif name == "adagrad":
            self.s = self.s + g * g
            rate = eta / (np.sqrt(self.s) + p[0])
            step = rate * g
        elif name == "rmsprop":
            self.s = p[0] * self.s + (1 - p[0]) * g * g
            rate = eta / (np.sqrt(self.s) + p[1])
            step = rate * g
        else:
            b1, b2, eps = p
            self.v = b1 * self.v + (1 - b1) * g
            self.s = b2 * self.s + (1 - b2) * g * g
            rate = eta / (np.sqrt(self.s / (1 - b2 ** (t + 1))) + eps)
            step = rate * self.v / (1 - b1 ** (t + 1))
        if not fit_intercept:
            step[:, 0] = 0.0
        theta = theta - step
        if l1 > 0:
            theta[:, 1:] = soft_threshold(theta[:, 1:], rate[:, 1:] * l1)
        return theta


def average(path, t_start, average_start):
    """The Polyak–Ruppert average after the last update of an epoch whose k-th update is at
    t_start + k: the mean of path[k] over the updates t >= average_start (theta itself when
    averaging has not started yet)."""
    first = max(average_start - t_start, 0)
    if first >= len(path):
        return path[-1]
    return np.mean(path[first:], axis=0)


def general_sgd_epoch(model, opt, X, y, theta, order, etas, t_start=0, weights=None, center=None, scale_inv=None):
    """SGD over ``order`` with any loss, penalty and optimizer: update k (at t = t_start + k) steps
    on w_i · (gradient of sample i's loss).  ``opt``: a reference ``Optimizer`` (its state
    carries over between calls).  Plain steps ("sgd") apply an L1 penalty cumulated
    (``cumulative_l1``), the other optimizers by soft thresholding.  Returns (θ, path
    (len(order), K, d + 1))."""
    theta = np.array(np.atleast_2d(theta), dtype=np.float64)
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=np.float64)
    path = np.empty((len(order), *theta.shape))
    cumulative = opt.name == "sgd" and model[4] > 0
    if cumulative and opt.v is None:  # plain SGD's L1 is cumulative: see cumulative_l1
        opt.v, opt.s = np.zeros_like(theta), 0.0
    for k, i in enumerate(order):
        _, G = sample_terms(model, X[i : i + 1], y[i : i + 1], theta, center, scale_inv)
        if cumulative:
            g = w[i] * G[0]
            g[:, 1:] += model[3] * theta[:, 1:]
            theta = theta - etas[k] * g
            opt.s = cumulative_l1(theta, opt.v, opt.s, etas[k] * model[4])
        else:
            theta = opt.step(theta, w[i] * G[0], model, etas[k], t_start + k)
        path[k] = theta
    return theta, path


def cumulative_l1(theta, applied, total, step):
    """Plain SGD's L1 penalty, cumulated (Tsuruoka, Tsujii & Ananiadou 2009): ``total`` + step is
    the penalty every coefficient should have received so far, ``applied`` (K, d + 1) what each
    did; each coefficient moves toward 0 by the difference, never across it.  Updates theta and
    applied in place; returns the new total."""
    u = total + step
    W, Q = theta[:, 1:], applied[:, 1:]
    before = W.copy()
    W[:] = np.where(
        before > 0, np.maximum(0.0, before - (u + Q)), np.where(before < 0, np.minimum(0.0, before + (u - Q)), 0.0)
    )
    Q += W - before
    return u


def general_minibatch_epoch(
    model, opt, X, y, theta, order, batch_size, etas, t_start=0, weights=None, center=None, scale_inv=None
):
    """Mini-batch GD with any loss, penalty and optimizer: batch b (at t = t_start + b) steps on
    the plain mean over its rows of w_i · (gradient of sample i's loss), θ read at the start of
    the batch.  Returns (θ, path (number of batches, K, d + 1))."""
    theta = np.array(np.atleast_2d(theta), dtype=np.float64)
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=np.float64)
    order = np.asarray(order)
    starts = range(0, len(order), batch_size)
    path = np.empty((len(starts), *theta.shape))
    for b, start in enumerate(starts):
        rows = order[start : start + batch_size]
        _, G = sample_terms(model, X[rows], y[rows], theta, center, scale_inv)
        theta = opt.step(theta, np.tensordot(w[rows], G, axes=1) / len(rows), model, etas[b], t_start + b)
        path[b] = theta
    return theta, path
