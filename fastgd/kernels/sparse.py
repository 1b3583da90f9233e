"""CSR twins of the kernels: the same loops over a ``scipy.sparse`` CSR matrix, never densified.

X arrives as its three CSR arrays ``(data, indices, indptr)``: data float32/float64 (nnz,),
indices int32/int64 column numbers (nnz,), indptr (n + 1,) of the same integer type; row i is
``data[indptr[i]:indptr[i + 1]]`` at the columns ``indices[...]``.  The indices need not be
sorted, but a column may appear at most once in a row (``fastgd.fit`` sums duplicates first).
Every other argument is as in the dense kernels (see ``fastgd.kernels``), except that there is
no ``center``: centering would make every zero non-zero, so sparse features are only scaled
(``scale_inv`` (d,) float64, or None to read X as is).

What each update costs, with nnz_i the stored entries of row i:

* per-sample SGD: O(nnz_i) for any loss, with or without an L2 penalty (plain steps).  The L2
  decay uses the scaled-weight trick (Shalev-Shwartz et al., Pegasos; Bottou's sparse SGD):
  the coefficients are held as ``a * v``, the decay multiplies the scalar ``a``, a sample's step
  changes ``v`` on the row's entries only, and ``v *= a`` is folded back when ``a`` falls below
  ``RESCALE`` and at the end of every call, unless the optimizer group carries a fourth member,
  ``scale`` (float64 (1,)): the call then starts from ``a = scale[0]`` and leaves its ``a`` there,
  θ's coefficients unfolded (``theta[:, 1:] * scale[0]`` the model's), so that an epoch run in
  several calls folds once, as one call would (``runner.EpochRunner``).  An L1 term (its proximal map touches every
  coordinate), an optimizer other than plain SGD (per-coordinate state) and averaging (the
  running mean of every coordinate) cost O(d) per step, as in the dense loop.
* mini-batch: O(nnz of the batch) for plain steps without L1 (the batch gradient is gathered in
  a dense (K, d + 1) scratch that is zero outside the batch's columns), else O(d) per batch
  (``optimizers.apply_step`` over every coordinate).
* full-batch loss and gradient: O(nnz) per pass plus O(K d) per block of ``CHUNK`` rows, in
  the same deterministic block order as ``gradient.py`` (bit-identical for any thread count).

The losses, optimizers, penalties and averaging are the dense loops' own helpers
(``losses.loss_dp``/``loss_value``/``softmax_of_scores``, ``optimizers.apply_step``/
``keep_average``, ``sgd.cumulative_l1``); only the row reads differ.
"""

import numpy as np
from numba import njit, prange
from numba.extending import overload

from ._config import CHUNK, HELPER, INLINE, KERNEL, PARALLEL
from ._rows import given, weight_at
from .codes import CENTERED_CSR, NEEDS_STATE, OK, SGD, SOFTMAX
from .gradient import combine_chunks, combine_into
from .losses import loss_dp, loss_value, softmax_of_scores, squared_dp
from .optimizers import all_finite, apply_step, as_rows, copy_rows, keep_average
from .schedules import learning_rate
from .sgd import cumulative_l1, is_plain

#: the scale ``a`` of the scaled weights ``theta = a * v`` below which it is folded into v
RESCALE = 1e-9


@njit(**INLINE)
def csr_predict_row(data, indices, start, stop, row, scale_inv, scale):
    """``row[0] + scale * sum_q row[indices[q] + 1] * z_q`` over the entries q in [start, stop)
    of one CSR row (float64); ``scale`` the factor of the scaled weights (1.0: none)."""
    s = 0.0
    if scale_inv is None:  # resolved at compile time (see _rows)
        for q in range(start, stop):
            s += row[indices[q] + 1] * data[q]
    else:
        for q in range(start, stop):
            j = indices[q]
            s += row[j + 1] * (data[q] * scale_inv[j])
    return row[0] + scale * s


@njit(**INLINE)
def csr_add_row(a, data, indices, start, stop, out, scale_inv):
    """``out[j + 1] += a * z_j`` for the entries of one CSR row (``out[0]`` untouched)."""
    if scale_inv is None:
        for q in range(start, stop):
            out[indices[q] + 1] += a * data[q]
    else:
        for q in range(start, stop):
            j = indices[q]
            out[j + 1] += a * (data[q] * scale_inv[j])


@njit(**INLINE)
def csr_sample_terms(code, eps, data, indices, start, stop, y, theta, scale_inv, scale, g):
    """``losses.sample_terms`` for one CSR row: the loss, its derivatives into g (K,)."""
    if code == SOFTMAX:
        for k in range(theta.shape[0]):
            g[k] = csr_predict_row(data, indices, start, stop, theta[k], scale_inv, scale)
        return softmax_of_scores(g, y)
    p = csr_predict_row(data, indices, start, stop, theta[0], scale_inv, scale)
    g[0] = loss_dp(code, eps, p, y)
    return loss_value(code, eps, p, y)


@njit(**INLINE)
def csr_sample_dp(code, eps, data, indices, start, stop, y, theta, scale_inv, scale, g):
    """``csr_sample_terms`` without the loss value (what an update needs)."""
    if code == SOFTMAX:
        for k in range(theta.shape[0]):
            g[k] = csr_predict_row(data, indices, start, stop, theta[k], scale_inv, scale)
        softmax_of_scores(g, y)
    else:
        g[0] = loss_dp(code, eps, csr_predict_row(data, indices, start, stop, theta[0], scale_inv, scale), y)


@njit(**INLINE)
def fold(theta, scale):
    """theta[:, 1:] *= scale (the scaled weights made plain again); returns the new scale, 1.0."""
    if scale != 1.0:
        for k in range(theta.shape[0]):
            for j in range(1, theta.shape[1]):
                theta[k, j] *= scale
    return 1.0


def optimizer_group(optimizer):
    """``(opt, state, avg, scale)`` of an optimizer group ``(opt, state, avg)`` or ``(opt, state,
    avg, scale)``: ``scale`` a float64 (1,) array carrying the scaled weights' factor from one
    call to the next, or None (njit only: resolved at compile time on the group's length)."""
    raise NotImplementedError("called from njit code only")


@overload(optimizer_group)
def _optimizer_group(optimizer):
    if len(optimizer) == 4:
        return lambda optimizer: optimizer
    return lambda optimizer: (optimizer[0], optimizer[1], optimizer[2], None)


@njit(**INLINE)
def start_scale(carry):
    """The scale of the scaled weights at the start of a call: ``carry[0]``, or 1.0 (carry None)."""
    if carry is None:
        return 1.0
    return carry[0]


@njit(**INLINE)
def end_scale(theta, scale, carry):
    """At the end of a call: fold the scale into theta (carry None), or hand it to the next call
    in ``carry[0]``, theta's coefficients left scaled (``theta[:, 1:] * carry[0]`` the model's)."""
    if carry is None:
        fold(theta, scale)
    else:
        carry[0] = scale


# --- full-batch loss and gradient ---------------------------------------------------------


@njit(**HELPER)
def _block(data, indices, indptr, y, weights, theta, scale_inv, model, grad, c, acc):
    """Block c's (weighted) loss and gradient sums into acc (as ``gradient._block``)."""
    loss_code, eps = model[1], model[2]
    n_out, d1 = theta.shape
    size = n_out * d1
    local = np.zeros(size + 2)
    g = np.empty(n_out)
    stop = min((c + 1) * CHUNK, indptr.shape[0] - 1)
    with_grad = given(grad)  # None or NO_GRAD: the loss alone (one compiled block for both passes)
    for i in range(c * CHUNK, stop):
        a0, a1 = indptr[i], indptr[i + 1]
        w = weight_at(weights, i)
        local[size] += w * csr_sample_terms(loss_code, eps, data, indices, a0, a1, y[i], theta, scale_inv, 1.0, g)
        local[size + 1] += w
        if with_grad:
            for k in range(n_out):
                a = w * g[k]
                local[k * d1] += a
                csr_add_row(a, data, indices, a0, a1, local[k * d1 : (k + 1) * d1], scale_inv)
    for k in range(size + 2):
        acc[k] = local[k]


@njit(**KERNEL)
def csr_loss_grad(data, indices, indptr, y, weights, theta, scale_inv, model, grad, work):
    """``gradient.loss_grad`` for a CSR X: mean loss of theta, its gradient into grad (or None);
    work: ``work_shape(n, theta.size)``.  O(nnz + n_blocks K d)."""
    rows = as_rows(theta)
    for c in range(work.shape[0]):
        _block(data, indices, indptr, y, weights, rows, scale_inv, model, grad, c, work[c])
    if grad is None:  # resolved at compile time
        return combine_chunks(work, model[0], None)
    return combine_into(work, model[0], grad)


@njit(**PARALLEL)
def csr_loss_grad_parallel(data, indices, indptr, y, weights, theta, scale_inv, model, grad, work):
    """``csr_loss_grad`` with the blocks summed in parallel: the same arguments, the same bits."""
    rows = as_rows(theta)
    for c in prange(work.shape[0]):
        _block(data, indices, indptr, y, weights, rows, scale_inv, model, grad, c, work[c])
    if grad is None:  # resolved at compile time
        return combine_chunks(work, model[0], None)
    return combine_into(work, model[0], grad)


# --- statistics ----------------------------------------------------------------------------


@njit(**KERNEL)
def csr_column_stats(data, indices, indptr, mean, m2):
    """Column means into ``mean`` and sums of squared deviations into ``m2`` ((d,) float64, zero
    on entry), the implicit zeros counted; two passes over the entries, O(nnz + d).  Returns
    the position q in ``data`` of the first NaN or inf (its row: the i with
    ``indptr[i] <= q < indptr[i + 1]``, its column ``indices[q]``), or -1.  The same in calls
    over ranges of entries: ``csr_column_sums`` over every range, ``csr_column_means``, then
    ``csr_column_squares`` over every range and ``csr_column_m2`` (the same bits)."""
    n = indptr.shape[0] - 1
    count = np.zeros(mean.shape[0])
    bad = csr_column_sums(data, indices, indptr[0], indptr[n], mean, count)
    if bad >= 0:
        return bad
    csr_column_means(mean, n)
    csr_column_squares(data, indices, indptr[0], indptr[n], mean, m2)
    csr_column_m2(mean, m2, count, n)
    return -1


@njit(**KERNEL)
def csr_column_sums(data, indices, lo, hi, sums, count):
    """Entries lo .. hi - 1 added to their columns' ``sums`` and ``count``; the first non-finite
    one's position (the scan stops there), or -1."""
    for q in range(lo, hi):
        v = np.float64(data[q])
        if not np.isfinite(v):
            return q
        sums[indices[q]] += v
        count[indices[q]] += 1.0
    return -1


@njit(**KERNEL)
def csr_column_means(sums, n):
    """The column sums over n rows into their means, in place."""
    for j in range(sums.shape[0]):
        sums[j] /= n
    return 0


@njit(**KERNEL)
def csr_column_squares(data, indices, lo, hi, mean, m2):
    """The squared deviations of entries lo .. hi - 1 from their columns' means added to ``m2``."""
    for q in range(lo, hi):
        dev = np.float64(data[q]) - mean[indices[q]]
        m2[indices[q]] += dev * dev
    return 0


@njit(**KERNEL)
def csr_column_m2(mean, m2, count, n):
    """The implicit zeros' squared deviations added to ``m2`` (``count``: the stored entries of
    each column, of n rows)."""
    for j in range(mean.shape[0]):
        m2[j] += (n - count[j]) * mean[j] * mean[j]
    return 0


@njit(**KERNEL)
def csr_max_row_norm2(data, indices, indptr, scale_inv):
    """``max_i sum_j z_ij**2`` over the rows of a CSR X (``stats.max_row_norm2``), O(nnz)."""
    best = 0.0
    for i in range(indptr.shape[0] - 1):
        s = 0.0
        for q in range(indptr[i], indptr[i + 1]):
            z = np.float64(data[q]) if scale_inv is None else data[q] * scale_inv[indices[q]]
            s += z * z
        best = max(best, s)
    return best


# --- SGD -----------------------------------------------------------------------------------


@njit(**INLINE)
def _plain_step(data, indices, indptr, y, weights, row, i, eta, scale_inv, fit_intercept):
    """The fast path (``sgd.is_plain``): a plain step on the squared loss, O(nnz_i)."""
    a0, a1 = indptr[i], indptr[i + 1]
    dp = squared_dp(csr_predict_row(data, indices, a0, a1, row, scale_inv, 1.0), y[i])
    if not np.isfinite(dp):
        return False
    if given(weights):
        dp *= np.float64(weights[i])
    step = eta * dp
    if fit_intercept:
        row[0] -= step
    csr_add_row(-step, data, indices, a0, a1, row, scale_inv)
    return True


@njit(**HELPER)
def _general_step(data, indices, indptr, y, weights, theta, i, eta, t, scale_inv, model, opt, state, g, grad, scale):
    """``sgd.general_step`` for a CSR row: (ok, the new scale of the scaled weights).  Plain steps
    without L1 touch the row's entries only (the L2 decay goes into the scale); with L1 or an
    optimizer every coordinate (the scale is then always 1)."""
    fit_intercept, loss_code, eps, l2, l1 = model
    a0, a1 = indptr[i], indptr[i + 1]
    csr_sample_dp(loss_code, eps, data, indices, a0, a1, y[i], theta, scale_inv, scale, g)
    if not all_finite(g):
        return False, scale
    w = weight_at(weights, i)
    if opt[0] != SGD:  # the dense gradient, for the optimizer: O(d)
        for k in range(theta.shape[0]):
            for j in range(theta.shape[1]):
                grad[k, j] = 0.0
            grad[k, 0] = w * g[k]
            csr_add_row(w * g[k], data, indices, a0, a1, grad[k], scale_inv)
        apply_step(theta, grad, model, opt, state, eta, t)
        return True, scale
    decay = 1.0 - eta * l2
    if l1 > 0.0:  # the cumulative L1 touches every coordinate anyway: O(d), no scaled weights
        for k in range(theta.shape[0]):
            row = theta[k]
            step = eta * w * g[k]
            if fit_intercept:
                row[0] -= step
            if l2 > 0.0:
                for j in range(1, row.shape[0]):
                    row[j] *= decay
            csr_add_row(-step, data, indices, a0, a1, row, scale_inv)
            cumulative_l1(row, state[0, k], state[1, k], eta * l1)  # as the dense loop
        return True, scale
    if l2 > 0.0:  # theta = scale * v: the decay is one multiplication
        scale *= decay
        if scale < RESCALE:  # also a decay <= 0 (a huge rate): fold it in, as the dense loop would
            scale = fold(theta, scale)
    for k in range(theta.shape[0]):
        step = eta * w * g[k]
        if fit_intercept:
            theta[k, 0] -= step
        csr_add_row(-step / scale, data, indices, a0, a1, theta[k], scale_inv)
    return True, scale


@njit(**KERNEL)
def csr_sgd_epoch(data, view, model, optimizer, schedule, theta, order, path):
    """``sgd.sgd_epoch`` for a CSR X: the same arguments with ``(data, indices, indptr)`` for X
    in ``data`` and a view ``(None, scale_inv)`` (CSR rows are never centered: a center returns
    ``codes.CENTERED_CSR``); the same status codes.  O(nnz_i) a step for plain steps without L1
    or averaging (any loss, L2 included), O(d) a step otherwise (see the module's docstring)."""
    ((values, indices, indptr), y, weights), (center, scale_inv) = data, view
    (opt, state, avg, carry), (code, params, t_start) = optimizer_group(optimizer), schedule
    if center is not None:
        return CENTERED_CSR
    return csr_sgd_loop(
        values, indices, indptr, y, weights, theta, order, scale_inv, model, opt, state, avg, code, params, t_start,
        path, carry,
    )  # fmt: skip


@njit(**KERNEL)
def csr_sgd_loop(
    data, indices, indptr, y, weights, theta, order, scale_inv, model, opt, state, avg, sched_code, sched_params,
    t_start, path, carry,
):  # fmt: skip
    """``csr_sgd_epoch``'s loop, its argument groups unpacked (see ``sgd.sgd_loop``); carry: the
    scaled weights' factor across calls (``end_scale``), or None."""
    rows = as_rows(theta)
    if state is None and not is_plain(rows, model, opt):
        return NEEDS_STATE
    g = np.empty(rows.shape[0])
    grad = np.empty(rows.shape)
    scale = start_scale(carry)
    status = OK
    for k in range(order.shape[0]):
        t = t_start + k
        eta = learning_rate(sched_code, sched_params, t, t_start)
        i = order[k]
        if state is None:  # resolved at compile time
            ok = _plain_step(data, indices, indptr, y, weights, rows[0], i, eta, scale_inv, model[0])
        else:
            ok, scale = _general_step(
                data, indices, indptr, y, weights, rows, i, eta, t, scale_inv, model, opt, state, g, grad, scale
            )
        if not ok:
            status = k
            break
        if avg is not None:  # resolved at compile time: the mean of every coordinate, O(d)
            scale = fold(rows, scale)
            keep_average(avg, rows, opt, t)
        if path is not None:
            scale = fold(rows, scale)
            copy_rows(as_rows(path[k]), rows)
    end_scale(rows, scale, carry)
    return status


# --- mini-batch ----------------------------------------------------------------------------


@njit(**HELPER)
def _sparse_batch_step(data, indices, indptr, y, weights, theta, order, start, stop, eta, scale_inv, model, g, grad,
                       scale):  # fmt: skip
    """A plain step (no L1) on the mean gradient of order[start:stop], touching only the
    batch's columns: grad (K, d + 1) is zero on entry and left zero.  (ok, new scale)."""
    fit_intercept, loss_code, eps, l2, _ = model
    for pos in range(start, stop):
        i = order[pos]
        a0, a1 = indptr[i], indptr[i + 1]
        csr_sample_dp(loss_code, eps, data, indices, a0, a1, y[i], theta, scale_inv, scale, g)
        if not all_finite(g):
            return False, scale  # grad is left dirty: the kernel stops here, its caller discards theta
        w = weight_at(weights, i)
        for k in range(theta.shape[0]):
            a = w * g[k]
            grad[k, 0] += a
            csr_add_row(a, data, indices, a0, a1, grad[k], scale_inv)
    rate = eta / (stop - start)
    if l2 > 0.0:
        scale *= 1.0 - eta * l2
        if scale < RESCALE:
            scale = fold(theta, scale)
    for k in range(theta.shape[0]):
        if fit_intercept:
            theta[k, 0] -= rate * grad[k, 0]
        grad[k, 0] = 0.0
    step = rate / scale
    for pos in range(start, stop):  # a column seen twice is applied once: its sum is then zero
        i = order[pos]
        for q in range(indptr[i], indptr[i + 1]):
            j = indices[q] + 1
            for k in range(theta.shape[0]):
                if grad[k, j] != 0.0:
                    theta[k, j] -= step * grad[k, j]
                    grad[k, j] = 0.0
    return True, scale


@njit(**HELPER)
def _dense_batch_step(data, indices, indptr, y, weights, theta, order, start, stop, eta, t, scale_inv, model, opt,
                      state, g, grad):  # fmt: skip
    """``minibatch.batch_gradient`` + ``optimizers.apply_step`` for CSR rows: O(d) a batch."""
    loss_code, eps = model[1], model[2]
    for k in range(theta.shape[0]):
        for j in range(theta.shape[1]):
            grad[k, j] = 0.0
    for pos in range(start, stop):
        i = order[pos]
        a0, a1 = indptr[i], indptr[i + 1]
        csr_sample_dp(loss_code, eps, data, indices, a0, a1, y[i], theta, scale_inv, 1.0, g)
        if not all_finite(g):
            return False
        w = weight_at(weights, i)
        for k in range(theta.shape[0]):
            a = w * g[k]
            grad[k, 0] += a
            csr_add_row(a, data, indices, a0, a1, grad[k], scale_inv)
    inv = 1.0 / (stop - start)
    for k in range(theta.shape[0]):
        for j in range(theta.shape[1]):
            grad[k, j] *= inv
    apply_step(theta, grad, model, opt, state, eta, t)
    return True


@njit(**KERNEL)
def csr_minibatch_epoch(data, view, model, optimizer, schedule, theta, batches, path):
    """``minibatch.minibatch_epoch`` for a CSR X: the same arguments with ``(data, indices,
    indptr)`` for X and the view ``(None, scale_inv)``, as ``csr_sgd_epoch``; the same status
    codes.  O(nnz of the batch) a batch for plain steps without L1 or averaging, else O(d) a
    batch."""
    ((values, indices, indptr), y, weights), (center, scale_inv) = data, view
    (opt, state, avg, carry), (code, params, t_start) = optimizer_group(optimizer), schedule
    order, batch_size = batches
    if center is not None:
        return CENTERED_CSR
    grad = np.empty_like(theta)
    return csr_minibatch_loop(
        values, indices, indptr, y, weights, theta, order, batch_size, scale_inv, model, opt, state, avg, code,
        params, t_start, grad, path, carry,
    )  # fmt: skip


@njit(**KERNEL)
def csr_minibatch_loop(
    data, indices, indptr, y, weights, theta, order, batch_size, scale_inv, model, opt, state, avg, sched_code,
    sched_params, t_start, grad, path, carry,
):  # fmt: skip
    """``csr_minibatch_epoch``'s loop, its argument groups unpacked (see ``sgd.sgd_loop``); grad
    a float64 scratch of theta's shape; carry as in ``csr_sgd_loop``."""
    rows, scratch = as_rows(theta), as_rows(grad)
    if state is None and not is_plain(rows, model, opt):
        return NEEDS_STATE
    n = order.shape[0]
    n_batches = (n + batch_size - 1) // batch_size
    sparse_steps = opt[0] == SGD and model[4] == 0.0
    for k in range(scratch.shape[0]):
        for j in range(scratch.shape[1]):
            scratch[k, j] = 0.0
    g = np.empty(rows.shape[0])
    scale = start_scale(carry)
    status = OK
    for b in range(n_batches):
        start = b * batch_size
        stop = min(start + batch_size, n)
        t = t_start + b
        eta = learning_rate(sched_code, sched_params, t, t_start)
        if state is None:  # resolved at compile time
            ok, scale = _sparse_batch_step(
                data, indices, indptr, y, weights, rows, order, start, stop, eta, scale_inv, model, g, scratch, scale
            )
        elif sparse_steps:
            ok, scale = _sparse_batch_step(
                data, indices, indptr, y, weights, rows, order, start, stop, eta, scale_inv, model, g, scratch, scale
            )
        else:
            ok = _dense_batch_step(
                data, indices, indptr, y, weights, rows, order, start, stop, eta, t, scale_inv, model, opt, state, g,
                scratch,
            )  # fmt: skip
        if not ok:
            status = b
            break
        if avg is not None:  # resolved at compile time
            scale = fold(rows, scale)
            keep_average(avg, rows, opt, t)
        if path is not None:
            scale = fold(rows, scale)
            copy_rows(as_rows(path[b]), rows)
    end_scale(rows, scale, carry)
    return status


__all__ = [
    "RESCALE",
    "csr_column_m2",
    "csr_column_means",
    "csr_column_squares",
    "csr_column_stats",
    "csr_column_sums",
    "csr_loss_grad",
    "csr_loss_grad_parallel",
    "csr_max_row_norm2",
    "csr_minibatch_epoch",
    "csr_predict_row",
    "csr_sgd_epoch",
]
