"""Learning-rate schedules evaluated inside the loops, selected by ``codes.Schedule``."""

import math

from numba import njit

from ._config import INLINE, KERNEL
from .codes import CONSTANT, COSINE, EXPONENTIAL, INVERSE_SCALING, INVERSE_TIME, STEP, TABLE


@njit(**INLINE)
def learning_rate(code, params, t, t_start):
    """Learning rate ``eta(t)`` after ``t`` updates.

    ``code`` is a ``codes.Schedule`` value and ``params`` (float64, 1-D) its parameters; for
    ``TABLE``, ``params`` holds the rates of updates ``t_start, t_start + 1, ...``.
    """
    if code == CONSTANT:
        return params[0]
    if code == INVERSE_TIME:
        return params[0] / (t + params[1])
    if code == INVERSE_SCALING:
        return params[0] / (t + 1.0) ** params[1]
    if code == EXPONENTIAL:
        return params[0] * math.exp(-params[1] * t)
    if code == STEP:
        return params[0] * params[1] ** math.floor(t / params[2])
    if code == COSINE:
        phase = (t % params[2]) / params[2]
        return params[1] + (params[0] - params[1]) * 0.5 * (1.0 + math.cos(math.pi * phase))
    if code == TABLE:
        return params[t - t_start]
    return math.nan


@njit(**KERNEL)
def learning_rates(code, params, t, out):
    """Fill ``out[k]`` with ``eta(t[k])`` (t: int64 array of update counts) and return it."""
    for k in range(t.shape[0]):
        out[k] = learning_rate(code, params, t[k], 0)
    return out


@njit(nogil=True)  # takes a user's function: numba cannot cache it (DESIGN.md)
def tabulate(func, t_start, out):
    """Fill ``out[k]`` with ``func(t_start + k)`` for a user's own ``@njit`` schedule."""
    for k in range(out.shape[0]):
        out[k] = func(t_start + k)
    return out
