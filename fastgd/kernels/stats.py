"""One read of X before a fit: finiteness, column means and variances, largest row norm.

The data are read shifted by the first row (so a mean that dwarfs the spread costs no
digits); per-block means and sums of squared deviations are combined in block order with
Chan's pairwise formula, so the result is the same for any number of threads.
"""

import numpy as np
from numba import njit, prange

from ._config import CHUNK, INLINE, KERNEL, ORDERED_INLINE, ORDERED_KERNEL, ORDERED_PARALLEL, PARALLEL


@njit(**INLINE)
def _block(X, c, acc):
    """acc = [means (d), M2 (d), first non-finite row or -1, rows]: block c's statistics of
    X - X[0] (shifted by the first row, so that a huge mean costs no digits)."""
    n, d = X.shape
    start = c * CHUNK
    stop = min(start + CHUNK, n)
    rows = stop - start
    shift = X[0]
    # the sums in fresh arrays, which LLVM knows alias neither X, ``acc`` (a row of the caller's
    # work) nor each other: the loops over a row vectorize (through ``acc`` they compiled to scalar
    # code); each column still sums its rows in order, so vectorizing changes no bit
    sums, squares = np.zeros(d), np.zeros(d)
    for i in range(start, stop):
        x = X[i]
        for j in range(d):
            sums[j] += np.float64(x[j]) - np.float64(shift[j])
    acc[:] = 0.0
    acc[2 * d] = -1.0
    acc[2 * d + 1] = rows
    # A NaN or inf anywhere makes its column's sum non-finite; only then look for it, element
    # by element (a branch per element in the loop above would stop its vectorization).  A
    # non-finite sum of finite values (overflow) finds nothing here and is reported by the
    # caller as a variance that overflows.
    for j in range(d):
        if not np.isfinite(sums[j]):
            for i in range(start, stop):
                for jj in range(d):
                    if not np.isfinite(X[i, jj]):
                        acc[2 * d] = i
                        return
            break
    for j in range(d):
        sums[j] /= rows
    for i in range(start, stop):
        x = X[i]
        for j in range(d):
            dev = (np.float64(x[j]) - np.float64(shift[j])) - sums[j]
            squares[j] += dev * dev
    acc[:d] = sums
    acc[d : 2 * d] = squares


@njit(**INLINE)
def _combine(X, work, mean, m2):
    """Blocks combined in block order (Chan et al.'s pairwise update); the shift added back."""
    d = X.shape[1]
    for c in range(work.shape[0]):
        if work[c, 2 * d] >= 0:
            return int(work[c, 2 * d])
    count = 0.0
    for c in range(work.shape[0]):
        nb = work[c, 2 * d + 1]
        total = count + nb
        for j in range(d):
            delta = work[c, j] - mean[j]
            mean[j] += delta * nb / total
            m2[j] += work[c, d + j] + delta * delta * count * nb / total
        count = total
    for j in range(d):
        mean[j] += np.float64(X[0, j])
    return -1


@njit(**KERNEL)
def column_stats(X, mean, m2, work):
    """Column means into ``mean`` and sums of squared deviations into ``m2`` ((d,) float64,
    zero on entry); work: (n_chunks(n), 2 d + 2) float64.  Returns the first row holding a
    NaN or inf, or -1 when X is finite (mean and m2 are then meaningless)."""
    for c in range(work.shape[0]):
        _block(X, c, work[c])
    return _combine(X, work, mean, m2)


@njit(**PARALLEL)
def column_stats_parallel(X, mean, m2, work):
    """``column_stats`` with blocks in parallel: the same arguments, the same bits."""
    for c in prange(work.shape[0]):
        _block(X, c, work[c])
    return _combine(X, work, mean, m2)


@njit(**KERNEL)
def column_blocks(X, work, first):
    """``column_stats``'s blocks first, first + 1, ... into the rows of ``work`` (one a block,
    each shifted by X[0], the first row of the whole array): its work cut into calls of a few
    blocks, which ``combine_column_blocks`` then combines into the bits of one call."""
    for k in range(work.shape[0]):
        _block(X, first + k, work[k])
    return 0


@njit(**PARALLEL)
def column_blocks_parallel(X, work, first):
    """``column_blocks`` with blocks in parallel: the same arguments, the same bits."""
    for k in prange(work.shape[0]):
        _block(X, first + k, work[k])
    return 0


@njit(**KERNEL)
def combine_column_blocks(X, work, mean, m2):
    """``column_stats``'s result from a ``work`` filled by ``column_blocks`` calls: its arguments
    and return value."""
    return _combine(X, work, mean, m2)


@njit(**ORDERED_INLINE)
def _vector_block(y, c, acc):
    """``_block`` of the one column y (n,): acc = [mean, M2, first non-finite row or -1, rows].
    The sums run in a register, in row order (``ORDERED``: no reassociation), the sums of ``_block``
    on ``y.reshape(-1, 1)`` (to an ulp: LLVM may contract or fold ``_block``'s differently), whose
    one-column loop through memory ran about 10x slower (half the time of the X pass at d = 20)."""
    start = c * CHUNK
    stop = min(start + CHUNK, y.shape[0])
    rows = stop - start
    shift = np.float64(y[0])
    acc[2] = -1.0
    acc[3] = rows
    total = 0.0
    for i in range(start, stop):
        total += np.float64(y[i]) - shift
    if not np.isfinite(total):  # a NaN or inf, or (none found) an overflow: reported as _block does
        for i in range(start, stop):
            if not np.isfinite(y[i]):
                acc[0] = acc[1] = 0.0
                acc[2] = i
                return
    mean = total / rows
    squares = 0.0
    for i in range(start, stop):
        dev = (np.float64(y[i]) - shift) - mean
        squares += dev * dev
    acc[0] = mean
    acc[1] = squares


@njit(**ORDERED_KERNEL)
def vector_stats(y, mean, m2, work):
    """``column_stats`` of a vector y (n,) (float32/float64): mean and m2 (1,) float64, zero on entry;
    work: (n_chunks(n), 4) float64.  ``column_stats(y.reshape(-1, 1), ...)`` to an ulp, 10x faster."""
    for c in range(work.shape[0]):
        _vector_block(y, c, work[c])
    return _combine(y.reshape(-1, 1), work, mean, m2)


@njit(**ORDERED_PARALLEL)
def vector_stats_parallel(y, mean, m2, work):
    """``vector_stats`` with blocks in parallel: the same arguments, the same bits."""
    for c in prange(work.shape[0]):
        _vector_block(y, c, work[c])
    return _combine(y.reshape(-1, 1), work, mean, m2)


@njit(**INLINE)
def _max_norm2_block(X, c, center, scale_inv):
    """The largest squared row norm in block c of X (rows as the model sees them)."""
    best = 0.0
    for i in range(c * CHUNK, min((c + 1) * CHUNK, X.shape[0])):
        s = 0.0
        for j in range(X.shape[1]):
            z = np.float64(X[i, j]) if center is None else (X[i, j] - center[j]) * scale_inv[j]
            s += z * z
        best = max(best, s)
    return best


@njit(**KERNEL)
def max_row_norm2(X, center, scale_inv):
    """``max_i sum_j z_ij**2``, z the rows as the model sees them (see ``_rows``); serial."""
    best = 0.0
    for c in range(max(1, (X.shape[0] + CHUNK - 1) // CHUNK)):
        best = max(best, _max_norm2_block(X, c, center, scale_inv))
    return best


@njit(**PARALLEL)
def max_row_norm2_parallel(X, center, scale_inv):
    """``max_row_norm2`` with blocks in parallel (worth it above one block: a parallel region
    costs thread start-up and barriers, tens of ms on a loaded 2-core machine)."""
    n_blocks = max(1, (X.shape[0] + CHUNK - 1) // CHUNK)
    best = np.zeros(n_blocks)
    for c in prange(n_blocks):
        best[c] = _max_norm2_block(X, c, center, scale_inv)
    return best.max()
