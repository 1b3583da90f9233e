"""Per-sample losses, selected inside the loops by an integer code (see ``codes.Loss``).

Each loss is a pair of tiny inlined functions: its value and its derivative with respect
to the prediction.  A new loss is one pair and one branch in each selector, never a new loop.
"""

import numpy as np
from numba import njit

from ._config import INLINE
from .codes import SQUARED


@njit(**INLINE)
def squared(p, y):
    r = p - y
    return r * r


@njit(**INLINE)
def squared_dp(p, y):
    return 2.0 * (p - y)


@njit(**INLINE)
def loss_value(code, p, y):
    """Loss of one sample with prediction ``p`` and target ``y``."""
    if code == SQUARED:
        return squared(p, y)
    return np.nan  # unknown code: the Python layer never passes one


@njit(**INLINE)
def loss_dp(code, p, y):
    """Derivative of the loss with respect to the prediction ``p``."""
    if code == SQUARED:
        return squared_dp(p, y)
    return np.nan
