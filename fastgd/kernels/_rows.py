"""Row helpers shared by every loop: the model's prediction for one row, and adding a
multiple of one (optionally standardized) row to a parameter-shaped vector.

Standardization is folded in here: with ``center``/``scale_inv`` arrays of length d, feature j
is read as ``(x[j] - center[j]) * scale_inv[j]``; with ``None`` it is read as is.  X is never
copied or rescaled in memory.  ``None`` is a type of its own to numba, so the test below is
resolved at compile time: each case gets its own machine code, and the plain loops stay
simple enough for LLVM to vectorize (a run-time test inside the row loop made the float32
gradient pass ~3x slower, measured).
"""

import numpy as np
from numba import njit

from ._config import INLINE


@njit(**INLINE)
def predict_row(x, theta, center, scale_inv):
    """``theta[0] + sum_j theta[j + 1] * z_j`` (float64), ``z`` the row as the model sees it."""
    p = theta[0]
    if center is None:
        for j in range(x.shape[0]):
            p += theta[j + 1] * x[j]
    else:
        for j in range(x.shape[0]):
            p += theta[j + 1] * ((x[j] - center[j]) * scale_inv[j])
    return p


@njit(**INLINE)
def add_row(a, x, out, center, scale_inv):
    """``out[j + 1] += a * z_j`` for every feature j (``out[0]``, the intercept, is untouched)."""
    if center is None:
        for j in range(x.shape[0]):
            out[j + 1] += a * x[j]
    else:
        for j in range(x.shape[0]):
            out[j + 1] += a * ((x[j] - center[j]) * scale_inv[j])


@njit(**INLINE)
def given(a):
    """Whether an optional array argument is given: not None and not empty.  An empty array of
    the argument's own type (``kernels.NO_WEIGHTS``) shares the compiled code of a given one,
    where a None is a type of its own to numba, compiled apart (and resolved at compile time)."""
    if a is None:
        return False
    return a.size > 0


@njit(**INLINE)
def weight_at(weights, i):
    """w_i as float64: 1 without weights (``given``)."""
    if weights is None:  # resolved at compile time
        return 1.0
    if weights.shape[0] == 0:
        return 1.0
    return np.float64(weights[i])
