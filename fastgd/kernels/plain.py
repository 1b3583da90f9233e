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
* ``span = (order, start, stop)``: the epoch visits ``order[start:stop]``; an epoch cut into
  calls over consecutive spans gives the bits of one call.

The optional parts are arrays and flags, never ``None`` arguments: one compiled loop per X
format and dtype (4 in all, not 32), and the same machine code whether or not a mask skips rows
(scikit-learn's tests compare a fit with validation rows masked to one on the rest, bit for
bit; two compiled variants may contract multiply-adds differently).

Returns the number of samples learnt from.  Nothing is checked inside (scikit-learn checks
finiteness once an epoch, as the caller does: ``weights_finite``).
"""

import math

import numpy as np
from numba import njit

from ._config import INLINE, KERNEL
from ._prefetch import PREFETCH_ROWS, prefetch_row, prefetch_span
from .losses import loss_dp, loss_value
from .optimizers import all_finite

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
def _dot(v, X, row, ind, a, b):
    """v . x, x the row: X[row, a:b] (dense: ind None, a:b every column; CSR: X the (1, nnz)
    values, row 0, ind[a:b] the columns).  Rows are read in place, never as array views: a view
    made in the loop costs reference counting (measured, hinge SGD on 200k x 32 dense rows in
    order: 18 ns a sample with the views, 10.6 without)."""
    p = 0.0
    if ind is None:
        for j in range(a, b):
            p += v[j] * X[row, j]
    else:
        for k in range(a, b):
            p += v[ind[k]] * X[row, k]
    return p


@njit(**INLINE)
def _add(v, X, row, ind, a, b, c, wscale):
    """w += c x (``WeightVector.add``); returns the squared and L1 norms of the coordinates it
    touched, as scikit-learn keeps them (every coordinate for dense X)."""
    step = c / wscale
    l2 = 0.0
    l1 = 0.0
    if ind is None:
        for j in range(a, b):
            w = v[j] + X[row, j] * step
            v[j] = w
            l2 += w * w
            l1 += abs(w)
    else:
        for k in range(a, b):
            j = ind[k]
            w = v[j] + X[row, k] * step
            v[j] = w
            l2 += w * w
            l1 += abs(w)
    return l2 * (wscale * wscale), l1 * wscale


@njit(**INLINE)
def _add_average(aw, X, row, ind, a, b, c, num_iter, wscale, average_a, average_b):
    """The lazily averaged weights after the step c x (``WeightVector.add_average``); returns
    the new (average_a, average_b)."""
    mu = 1.0 / num_iter
    f = average_a * (-c / wscale)
    if ind is None:
        for j in range(a, b):
            aw[j] += f * X[row, j]
    else:
        for k in range(a, b):
            aw[ind[k]] += f * X[row, k]
    if num_iter > 1:
        average_b /= 1.0 - mu
    return average_a + mu * average_b * wscale, average_b


@njit(**KERNEL)
def fold_scale(v, aw, wscale, average_a, average_b):
    """Fold wscale into v, and the average's factors into aw (``WeightVector.reset_wscale``; aw
    empty: no averaging); returns the factors' new values (average_a, average_b)."""
    if aw.shape[0] > 0:
        for j in range(v.shape[0]):
            aw[j] += average_a * v[j]
        b_inv = 1.0 / average_b
        for j in range(v.shape[0]):
            aw[j] *= b_inv
        average_a, average_b = 0.0, 1.0
    for j in range(v.shape[0]):
        v[j] *= wscale
    return average_a, average_b


@njit(**KERNEL)
def reset_scale(v, aw, s):
    """``fold_scale`` on the state s: w = v, wscale = 1."""
    s[S_AVERAGE_A], s[S_AVERAGE_B] = fold_scale(v, aw, s[S_WSCALE], s[S_AVERAGE_A], s[S_AVERAGE_B])
    s[S_WSCALE] = 1.0


@njit(**INLINE)
def _l1_penalty(v, q, ind, a, b, wscale, u):
    """The cumulated L1 penalty u on the row's coordinates (scikit-learn's ``l1penalty``)."""
    for k in range(a, b):
        j = k if ind is None else ind[k]
        z = v[j]
        if wscale * z > 0.0:
            v[j] = max(0.0, v[j] - (u + q[j]) / wscale)
        elif wscale * z < 0.0:
            v[j] = min(0.0, v[j] + (u - q[j]) / wscale)
        q[j] += wscale * (v[j] - z)


@njit(**INLINE)
def plain_rate(schedule, t, eta, alpha):
    """The learning rate at update t (``eta``: the constant or adaptive one), as scikit-learn's."""
    lr_code, eta0, power_t, optimal_init = schedule
    if lr_code == LR_OPTIMAL:
        return 1.0 / (alpha * (optimal_init + t - 1.0))
    if lr_code == LR_INVSCALING:
        return eta0 / t**power_t
    return eta


@njit(**KERNEL)
def plain_loop(X, indices, indptr, y, sample_weight, mask, v, aw, q, s, order, start, stop, model, schedule):
    """``plain_epoch``'s loop, its groups unpacked (``is None`` resolves on arguments only):
    ``indices``/``indptr`` None for dense X; for CSR X, X is the stored values as one row (1, nnz),
    so that the dense branch, which numba types though it never runs, types too.  The scalar
    state lives in locals for the call (in s, every write to v could alias it: it was reloaded
    and stored at each use) and goes back to s at the end."""
    loss_code, eps, half, penalty, alpha, l1_ratio, fit_intercept = model[:7]
    weight_pos, weight_neg, intercept_decay, average, track = model[7:]
    has_l1 = penalty == PENALTY_L1 or penalty == PENALTY_ELASTICNET
    shrink = (1.0 - l1_ratio) * alpha
    wscale, intercept, average_a, average_b = s[S_WSCALE], s[S_INTERCEPT], s[S_AVERAGE_A], s[S_AVERAGE_B]
    average_intercept, sq_norm, l1_norm, u = s[S_AVERAGE_INTERCEPT], s[S_SQ_NORM], s[S_L1_NORM], s[S_U]
    t, eta, sumloss, objective = s[S_T], s[S_ETA], s[S_SUMLOSS], s[S_OBJECTIVE]
    values = X[0]  # CSR: every stored value (dense: unused)
    count = 0
    for pos in range(start, stop):
        ahead = pos + PREFETCH_ROWS
        if ahead < stop:  # the row a few visits ahead, while this one computes (random rows miss the caches)
            if indices is None:
                prefetch_row(X, order[ahead])
            else:
                r = order[ahead]
                prefetch_span(values, indptr[r], indptr[r + 1])
                prefetch_span(indices, indptr[r], indptr[r + 1])
                if ahead + PREFETCH_ROWS < stop:
                    prefetch_span(indptr, order[ahead + PREFETCH_ROWS], order[ahead + PREFETCH_ROWS] + 2)
        i = order[pos]
        if mask[i]:
            continue
        if indices is None:
            row, a, b = i, 0, X.shape[1]
        else:
            row, a, b = 0, indptr[i], indptr[i + 1]
        p = _dot(v, X, row, indices, a, b) * wscale + intercept
        rate = plain_rate(schedule, t, eta, alpha)
        yi = y[i]
        if track:
            loss = half * loss_value(loss_code, eps, p, yi)
            sumloss += loss
            objective += loss
            if penalty != PENALTY_NONE:
                norm = math.sqrt(sq_norm)
                objective += alpha * ((1.0 - l1_ratio) * 0.5 * norm * norm + l1_ratio * l1_norm)
        class_weight = weight_pos if yi > 0.0 else weight_neg
        dloss = half * loss_dp(loss_code, eps, p, yi)
        dloss = min(MAX_DLOSS, max(-MAX_DLOSS, dloss))
        update = -rate * dloss * (class_weight * sample_weight[i])
        if penalty >= PENALTY_L2:  # w *= c (``WeightVector.scale``): O(1), folded into v once small
            c = max(0.0, 1.0 - shrink * rate)
            wscale *= c
            sq_norm *= c * c
            l1_norm *= abs(c)
            if wscale < WSCALE_THRESHOLD:
                average_a, average_b = fold_scale(v, aw, wscale, average_a, average_b)
                wscale = 1.0
        if update != 0.0:
            sq_norm, l1_norm = _add(v, X, row, indices, a, b, update, wscale)
            if fit_intercept:
                intercept += update * intercept_decay
        if 0 < average <= t:
            num_iter = t - average + 1.0
            average_a, average_b = _add_average(
                aw, X, row, indices, a, b, update, num_iter, wscale, average_a, average_b
            )
            average_intercept += (intercept - average_intercept) / num_iter
        if has_l1:
            u += l1_ratio * rate * alpha
            _l1_penalty(v, q, indices, a, b, wscale, u)
        t += 1.0
        count += 1
    s[S_WSCALE], s[S_INTERCEPT], s[S_AVERAGE_A], s[S_AVERAGE_B] = wscale, intercept, average_a, average_b
    s[S_AVERAGE_INTERCEPT], s[S_SQ_NORM], s[S_L1_NORM], s[S_U] = average_intercept, sq_norm, l1_norm, u
    s[S_T], s[S_SUMLOSS], s[S_OBJECTIVE] = t, sumloss, objective
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
    X = values.reshape(1, values.shape[0])
    return plain_loop(X, indices, indptr, y, sample_weight, mask, v, aw, q, s, order, start, stop, model, schedule)


@njit(**KERNEL)
def sklearn_shuffle(index, state, start, stop):
    """Swaps start .. stop - 1 of scikit-learn's ``SequentialDataset.shuffle(seed)`` on ``index``,
    in place: a Fisher-Yates shuffle driven by its 32-bit xorshift ``our_rand_r``, whose state
    (int64[1], the seed at swap 0) is carried in ``state``, so calls over consecutive ranges of
    0 .. n - 2 give the bits of one (scikit-learn shuffles the previous epoch's order again, every
    epoch, from the same seed)."""
    n = index.shape[0]
    s = state[0] & 0xFFFFFFFF
    for i in range(start, stop):
        if s == 0:
            s = 1
        s ^= (s << 13) & 0xFFFFFFFF
        s ^= s >> 17
        s ^= (s << 5) & 0xFFFFFFFF
        r = s % 2147483648
        j = i + r % (n - i)
        index[i], index[j] = index[j], index[i]
    state[0] = s


@njit(**KERNEL)
def loss_derivative(loss_code, eps, half, p, y):
    """The loss derivative as the kernels take it (``half * kernels.losses.loss_dp``): for
    scikit-learn's "optimal" schedule's start, ``loss'(p=-typw, y=1)``."""
    return half * loss_dp(loss_code, eps, p, y)


@njit(**KERNEL)
def weights_finite(v, s):
    """Whether the weights and the intercept are finite (scikit-learn's end-of-epoch check)."""
    return np.isfinite(s[S_INTERCEPT]) and all_finite(v)
