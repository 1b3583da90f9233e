"""scikit-learn's plain SGD rule (``sklearn.linear_model._sgd_fast._plain_sgd``), one epoch a call.

``fastgd.SGDRegressor`` and ``fastgd.SGDClassifier`` run these kernels: the update of
scikit-learn's ``SGDRegressor``/``SGDClassifier``, step for step, so that the same data and
parameters give the same coefficients (to rounding), faster.  For each visited sample i:

    p      = w . x_i + b
    eta    = eta0 (constant, adaptive) | 1 / (alpha (t0 + t - 1)) (optimal) | eta0 / t**power_t (invscaling)
    update = -eta * clip(loss'(p, y_i), -1e12, 1e12) * class_weight(y_i) * sample_weight_i
    w     *= max(0, 1 - (1 - l1_ratio) eta alpha)            (l2, elasticnet)
    w     += update x_i;   b += update * intercept_decay     (0.01 for CSR X, as scikit-learn)
    average: the running mean of w and b from update ``average`` on
    l1, elasticnet: the cumulated L1 penalty of Tsuruoka et al. (2009), clipped at 0

with scikit-learn's representation of w as ``wscale * v`` (a scale is O(1), not O(d)), its
lazily averaged weights (``aw`` with ``average_a``/``average_b``), its running squared and L1
norms (of the coordinates the last step touched, as scikit-learn keeps them) for the objective
of the stopping rule.  The parameters are float64 for float32 X too (scikit-learn keeps float32
ones): float32 data gives float32 ``coef_`` rounded from float64 arithmetic.

The loss is one of ``kernels.losses`` by its code, times ``half`` (0.5 for scikit-learn's
``squared_error``, r²/2, whose derivative is r; 1 otherwise: the other losses are the same
functions in both libraries, classification labels in {-1, +1}).

Arguments, grouped as in every epoch kernel of fastgd (``fastgd.kernels``):

* ``data = (X, y, sample_weight, mask)``: X dense (n, d) or CSR ``(data, indices, indptr)``;
  y (n,) float64; sample_weight (n,) float64; mask (n,) bool: rows to skip (the validation
  rows of early stopping: visited in the order, never learnt from).
* ``model = (loss_code, eps, half, penalty, alpha, l1_ratio, fit_intercept, weight_pos,
  weight_neg, intercept_decay, average, track)``: penalty a ``PENALTY_*`` code (l1_ratio
  already 0 for l2, 1 for l1), weight_pos/neg the class weights of y > 0 and y <= 0, average
  the update from which w is averaged (0: never), track whether the epoch's loss and objective
  are summed (scikit-learn: unless early stopping).
* ``schedule = (lr_code, eta0, power_t, optimal_init)``: an ``LR_*`` code.
* ``weights = (v, aw, q, s)``: v (d,) float64 with w = s[WSCALE] v; aw (d,) the averaged
  weights (read only when model's average > 0); q (d,) the L1 penalty each coordinate
  received (read only with an L1 penalty); s the scalar state (``STATE_SIZE`` float64: the
  ``S_*`` slots below), carried from call to call.

The optional parts are arrays and flags, never ``None`` arguments: one compiled loop per X
format and dtype (4 in all, not 32), and the same machine code whether or not a mask skips rows
(scikit-learn's tests compare a fit with validation rows masked to one on the rest, bit for
bit; two compiled variants may contract multiply-adds differently).
* ``span = (order, start, stop)``: the epoch visits ``order[start:stop]``; an epoch cut into
  calls over consecutive spans gives the bits of one call.

Returns the number of samples learnt from.  Nothing is checked inside (scikit-learn checks
finiteness once an epoch, as the caller does: ``all_finite``).
"""

import math

import numpy as np
from numba import njit

from ._config import INLINE, KERNEL
from .losses import loss_dp, loss_value

#: penalty codes (scikit-learn's PENALTY_TYPES)
PENALTY_NONE, PENALTY_L1, PENALTY_L2, PENALTY_ELASTICNET = 0, 1, 2, 3
#: learning-rate codes (scikit-learn's LEARNING_RATE_TYPES)
LR_CONSTANT, LR_OPTIMAL, LR_INVSCALING, LR_ADAPTIVE = 1, 2, 3, 4
#: scikit-learn's bound on a loss derivative (``MAX_DLOSS``)
MAX_DLOSS = 1e12
#: below this scale, w = wscale v is folded into v (scikit-learn's float64 threshold)
WSCALE_THRESHOLD = 1e-9

#: the slots of the scalar state s
S_WSCALE, S_INTERCEPT, S_AVERAGE_A, S_AVERAGE_B, S_AVERAGE_INTERCEPT = 0, 1, 2, 3, 4
S_SQ_NORM, S_L1_NORM, S_U, S_T, S_ETA, S_SUMLOSS, S_OBJECTIVE = 5, 6, 7, 8, 9, 10, 11
STATE_SIZE = 12


def new_state(v, intercept, t, eta0):
    """The scalar state at the start of a call of scikit-learn's ``_plain_sgd``: w = v, the
    norms of v, the average's scale factors at their start, the update count t, eta = eta0."""
    s = np.zeros(STATE_SIZE)
    s[S_WSCALE] = 1.0
    s[S_INTERCEPT] = intercept
    s[S_AVERAGE_B] = 1.0
    s[S_SQ_NORM] = float(np.dot(v, v))
    s[S_L1_NORM] = float(np.abs(v).sum())
    s[S_T] = t
    s[S_ETA] = eta0
    return s


@njit(**INLINE)
def _dot(v, x, ind):
    p = 0.0
    if ind is None:
        for j in range(x.shape[0]):
            p += v[j] * x[j]
    else:
        for k in range(x.shape[0]):
            p += v[ind[k]] * x[k]
    return p


@njit(**INLINE)
def _add(v, x, ind, c, s):
    """w += c x (``WeightVector.add``): the norms of the touched coordinates, as scikit-learn's."""
    wscale = s[S_WSCALE]
    step = c / wscale
    l2 = 0.0
    l1 = 0.0
    if ind is None:
        for j in range(x.shape[0]):
            v[j] += x[j] * step
            l2 += v[j] * v[j]
            l1 += abs(v[j])
    else:
        for k in range(x.shape[0]):
            j = ind[k]
            v[j] += x[k] * step
            l2 += v[j] * v[j]
            l1 += abs(v[j])
    s[S_SQ_NORM] = l2 * (wscale * wscale)
    s[S_L1_NORM] = l1 * wscale


@njit(**INLINE)
def _add_average(aw, x, ind, c, num_iter, s):
    """The lazily averaged weights after the step c x (``WeightVector.add_average``)."""
    mu = 1.0 / num_iter
    a = s[S_AVERAGE_A] * (-c / s[S_WSCALE])
    if ind is None:
        for j in range(x.shape[0]):
            aw[j] += a * x[j]
    else:
        for k in range(x.shape[0]):
            aw[ind[k]] += a * x[k]
    if num_iter > 1:
        s[S_AVERAGE_B] /= 1.0 - mu
    s[S_AVERAGE_A] += mu * s[S_AVERAGE_B] * s[S_WSCALE]


@njit(**KERNEL)
def reset_scale(v, aw, s):
    """Fold wscale into v, and the average's factors into aw (``WeightVector.reset_wscale``;
    aw empty: no averaging)."""
    if aw.shape[0] > 0:  # averaging (else aw is empty)
        a = s[S_AVERAGE_A]
        for j in range(v.shape[0]):
            aw[j] += a * v[j]
        b_inv = 1.0 / s[S_AVERAGE_B]
        for j in range(v.shape[0]):
            aw[j] *= b_inv
        s[S_AVERAGE_A] = 0.0
        s[S_AVERAGE_B] = 1.0
    wscale = s[S_WSCALE]
    for j in range(v.shape[0]):
        v[j] *= wscale
    s[S_WSCALE] = 1.0


@njit(**INLINE)
def _scale(v, aw, c, s):
    """w *= c (``WeightVector.scale``): O(1), folded into v once the scale gets small."""
    s[S_WSCALE] *= c
    s[S_SQ_NORM] *= c * c
    s[S_L1_NORM] *= abs(c)
    if s[S_WSCALE] < WSCALE_THRESHOLD:
        reset_scale(v, aw, s)


@njit(**INLINE)
def _l1_penalty(v, q, x, ind, s):
    """The cumulated L1 penalty on the coordinates of x (scikit-learn's ``l1penalty``)."""
    wscale = s[S_WSCALE]
    u = s[S_U]
    n = x.shape[0]
    for k in range(n):
        j = k if ind is None else ind[k]
        z = v[j]
        if wscale * z > 0.0:
            v[j] = max(0.0, v[j] - (u + q[j]) / wscale)
        elif wscale * z < 0.0:
            v[j] = min(0.0, v[j] + (u - q[j]) / wscale)
        q[j] += wscale * (v[j] - z)


@njit(**INLINE)
def _rate(schedule, t, eta, alpha):
    lr_code, eta0, power_t, optimal_init = schedule
    if lr_code == LR_OPTIMAL:
        return 1.0 / (alpha * (optimal_init + t - 1.0))
    if lr_code == LR_INVSCALING:
        return eta0 / t**power_t
    return eta


@njit(**INLINE)
def _penalty_value(model, s):
    penalty, alpha, l1_ratio = model[3], model[4], model[5]
    if penalty == PENALTY_NONE:
        return 0.0
    norm = math.sqrt(s[S_SQ_NORM])
    return alpha * ((1.0 - l1_ratio) * 0.5 * norm * norm + l1_ratio * s[S_L1_NORM])


@njit(**KERNEL)
def plain_loop(X, indices, indptr, y, sample_weight, mask, v, aw, q, s, order, start, stop, model, schedule):
    """``plain_epoch``'s loop, its groups unpacked (``is None`` resolves on arguments only):
    ``indices``/``indptr`` None for dense X; for CSR X, X is the stored values as one row (1, nnz),
    so that the dense branch, which numba types though it never runs, types too."""
    loss_code, eps, half, penalty, alpha, l1_ratio, fit_intercept = model[:7]
    weight_pos, weight_neg, intercept_decay, average, track = model[7:]
    count = 0
    for pos in range(start, stop):
        i = order[pos]
        if mask[i]:
            continue
        if indices is None:
            x = X[i]
            ind = None
            p = _dot(v, x, ind) * s[S_WSCALE] + s[S_INTERCEPT]
        else:
            a, b = indptr[i], indptr[i + 1]
            x = X[0, a:b]
            ind = indices[a:b]
            p = _dot(v, x, ind) * s[S_WSCALE] + s[S_INTERCEPT]
        t = s[S_T]
        eta = _rate(schedule, t, s[S_ETA], alpha)
        yi = y[i]
        if track:
            loss = half * loss_value(loss_code, eps, p, yi)
            s[S_SUMLOSS] += loss
            s[S_OBJECTIVE] += loss + _penalty_value(model, s)
        class_weight = weight_pos if yi > 0.0 else weight_neg
        dloss = half * loss_dp(loss_code, eps, p, yi)
        dloss = min(MAX_DLOSS, max(-MAX_DLOSS, dloss))
        update = -eta * dloss * (class_weight * sample_weight[i])
        if penalty >= PENALTY_L2:
            _scale(v, aw, max(0.0, 1.0 - (1.0 - l1_ratio) * eta * alpha), s)
        if update != 0.0:
            if indices is None:
                _add(v, x, None, update, s)
            else:
                _add(v, x, ind, update, s)
        if fit_intercept and update != 0.0:
            s[S_INTERCEPT] += update * intercept_decay
        if 0 < average <= t:
            num_iter = t - average + 1.0
            if indices is None:
                _add_average(aw, x, None, update, num_iter, s)
            else:
                _add_average(aw, x, ind, update, num_iter, s)
            s[S_AVERAGE_INTERCEPT] += (s[S_INTERCEPT] - s[S_AVERAGE_INTERCEPT]) / num_iter
        if penalty == PENALTY_L1 or penalty == PENALTY_ELASTICNET:
            s[S_U] += l1_ratio * eta * alpha
            if indices is None:
                _l1_penalty(v, q, x, None, s)
            else:
                _l1_penalty(v, q, x, ind, s)
        s[S_T] = t + 1.0
        count += 1
    return count


@njit(**KERNEL)
def plain_epoch(data, model, schedule, weights, span):
    """Visit ``order[start:stop]`` with scikit-learn's plain SGD rule, dense X (see the module
    docstring for the groups); returns the number of samples learnt from."""
    (X, y, sample_weight, mask), (v, aw, q, s), (order, start, stop) = data, weights, span
    return plain_loop(X, None, None, y, sample_weight, mask, v, aw, q, s, order, start, stop, model, schedule)


@njit(**KERNEL)
def csr_plain_epoch(data, model, schedule, weights, span):
    """``plain_epoch`` for CSR X: ``data = ((values, indices, indptr), y, sample_weight, mask)``."""
    ((values, indices, indptr), y, sample_weight, mask), (v, aw, q, s), (order, start, stop) = data, weights, span
    return plain_loop(
        values.reshape(1, values.shape[0]),
        indices,
        indptr,
        y,
        sample_weight,
        mask,
        v,
        aw,
        q,
        s,
        order,
        start,
        stop,
        model,
        schedule,
    )


@njit(**KERNEL)
def sklearn_shuffle(index, seed):
    """Permute ``index`` in place as scikit-learn's ``SequentialDataset.shuffle(seed)``: a
    Fisher-Yates shuffle driven by its 32-bit xorshift ``our_rand_r`` (each call restarts from
    ``seed``; scikit-learn shuffles the previous epoch's order again, every epoch)."""
    state = np.int64(seed) & 0xFFFFFFFF
    n = index.shape[0]
    for i in range(n - 1):
        if state == 0:
            state = 1
        state ^= (state << 13) & 0xFFFFFFFF
        state ^= state >> 17
        state ^= (state << 5) & 0xFFFFFFFF
        r = state % 2147483648
        j = i + r % (n - i)
        index[i], index[j] = index[j], index[i]


@njit(**KERNEL)
def loss_derivative(loss_code, eps, half, p, y):
    """The loss derivative as the kernels take it (``half * kernels.losses.loss_dp``): for
    scikit-learn's "optimal" schedule's start, ``loss'(p=-typw, y=1)``."""
    return half * loss_dp(loss_code, eps, p, y)


@njit(**KERNEL)
def all_finite(v, s):
    """Whether the weights and the intercept are finite (scikit-learn's end-of-epoch check)."""
    if not np.isfinite(s[S_INTERCEPT]):
        return False
    for j in range(v.shape[0]):
        if not np.isfinite(v[j]):
            return False
    return True
