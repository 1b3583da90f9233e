"""Learning-rate schedules: ``eta(t)`` as a function of ``t``, the number of updates so far.

``t`` counts updates as the textbook does: for SGD the update on the i-th sample of epoch e
has ``t = e * m + i``; for mini-batch, one per batch; for batch GD, one per epoch.  Every
built-in schedule is evaluated inside the kernels from an integer code and three floats, so
it costs nothing and the kernels stay cached.  Your own ``@numba.njit`` function of ``t``
works too (``custom``); it is tabulated once per epoch by a small uncached kernel.

======================================  =====================================================
``constant(eta)``                       ``eta``
``inverse_time(t0, t1)``                ``t0 / (t + t1)`` (Géron's ``learning_schedule``)
``inverse_scaling(eta0, power_t)``      ``eta0 / (t + 1) ** power_t``
``exponential(eta0, decay)``            ``eta0 * exp(-decay * t)``
``step(eta0, drop, every)``             ``eta0 * drop ** floor(t / every)``
``cosine(eta0, eta_min, period)``       ``eta_min + (eta0 - eta_min) (1 + cos(pi (t mod period) / period)) / 2``
``custom(func)``                        ``func(t)``, ``func`` an ``@njit`` function
======================================  =====================================================
"""

import numpy as np

from ._validation import check_number
from .kernels.codes import Schedule as _Code

__all__ = [
    "LearningRateSchedule",
    "constant",
    "cosine",
    "custom",
    "exponential",
    "inverse_scaling",
    "inverse_time",
    "step",
]


def _update_counts(t):
    """t as an int64 array of update counts >= 0."""
    arr = np.asarray(t)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"update counts t must be integers, got dtype {arr.dtype}")
    if np.any(arr < 0):
        raise ValueError("update counts t must be >= 0")
    return arr.astype(np.int64)


class LearningRateSchedule:
    """A schedule: its formula's code, its parameters, and ``sched(t)`` to evaluate it here."""

    def __init__(self, name, code, **params):
        self.name = name
        self.code = int(code)
        self._params = params
        self.params = np.array(list(params.values()), dtype=np.float64)

    def __call__(self, t):
        """``eta(t)`` for an int or an array of update counts (float64)."""
        from .kernels import learning_rates

        t = _update_counts(t)
        out = learning_rates(self.code, self.params, t.ravel(), np.empty(t.size))  # the kernels' own code
        return out.reshape(t.shape) if t.ndim else float(out[0])

    def table(self, t_start, count):
        """The rates of updates ``t_start ... t_start + count - 1`` (float64 array)."""
        return self(np.arange(t_start, t_start + count))

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._params.items())
        return f"{self.name}({args})"

    def __eq__(self, other):
        return isinstance(other, LearningRateSchedule) and repr(self) == repr(other)

    __hash__ = None


def constant(eta):
    """``eta(t) = eta``, eta > 0."""
    return LearningRateSchedule("constant", _Code.CONSTANT, eta=check_number("eta", eta, low=0, low_open=True))


def inverse_time(t0=5.0, t1=50.0):
    """``eta(t) = t0 / (t + t1)``, t0 > 0, t1 > 0: the textbook's schedule (t0=5, t1=50)."""
    return LearningRateSchedule(
        "inverse_time",
        _Code.INVERSE_TIME,
        t0=check_number("t0", t0, low=0, low_open=True),
        t1=check_number("t1", t1, low=0, low_open=True),
    )


def inverse_scaling(eta0=0.01, power_t=0.25):
    """``eta(t) = eta0 / (t + 1) ** power_t``, eta0 > 0, power_t >= 0."""
    return LearningRateSchedule(
        "inverse_scaling",
        _Code.INVERSE_SCALING,
        eta0=check_number("eta0", eta0, low=0, low_open=True),
        power_t=check_number("power_t", power_t, low=0),
    )


def exponential(eta0, decay):
    """``eta(t) = eta0 * exp(-decay * t)``, eta0 > 0, decay >= 0 (per update)."""
    return LearningRateSchedule(
        "exponential",
        _Code.EXPONENTIAL,
        eta0=check_number("eta0", eta0, low=0, low_open=True),
        decay=check_number("decay", decay, low=0),
    )


def step(eta0, drop=0.5, every=1000):
    """``eta(t) = eta0 * drop ** floor(t / every)``, eta0 > 0, 0 < drop <= 1, every >= 1 updates."""
    return LearningRateSchedule(
        "step",
        _Code.STEP,
        eta0=check_number("eta0", eta0, low=0, low_open=True),
        drop=check_number("drop", drop, low=0, low_open=True, high=1),
        every=check_number("every", every, low=1, integer=True),
    )


def cosine(eta0, eta_min=0.0, period=1000):
    """Cosine annealing from eta0 to eta_min over ``period`` updates, restarting each period
    (SGDR): ``eta_min + (eta0 - eta_min) (1 + cos(pi (t mod period) / period)) / 2``;
    0 <= eta_min < eta0.  Choose eta_min > 0 if the rate must never reach 0."""
    eta0 = check_number("eta0", eta0, low=0, low_open=True)
    eta_min = check_number("eta_min", eta_min, low=0)
    if eta_min >= eta0:
        raise ValueError(f"eta_min must be below eta0, got eta_min={eta_min!r} >= eta0={eta0!r}")
    return LearningRateSchedule(
        "cosine", _Code.COSINE, eta0=eta0, eta_min=eta_min, period=check_number("period", period, low=1, integer=True)
    )


class custom(LearningRateSchedule):
    """Your own schedule: ``func`` an ``@numba.njit`` function of the update count t (int64)
    returning the rate (float).  Rates are tabulated once per epoch by an uncached kernel, so
    the first fit in a process pays about a second of compilation; every rate must be > 0 and
    finite (checked)."""

    def __init__(self, func):
        from numba.core.registry import CPUDispatcher

        if not isinstance(func, CPUDispatcher):
            raise TypeError(
                f"a learning-rate function must be a numba @njit function of t, got {func!r}; "
                "decorate it with @numba.njit, or use one of fastgd.schedules"
            )
        super().__init__("custom", _Code.TABLE)
        self.func = func

    def table(self, t_start, count):
        """The rates of updates ``t_start ... t_start + count - 1``, checked (float64 array)."""
        from numba.core.errors import TypingError

        from .kernels.schedules import tabulate

        try:
            out = tabulate(self.func, t_start, np.empty(count))
        except TypingError:
            raise TypeError(
                f"learning_rate function {self.func.__name__} must take one integer t and return a number"
            ) from None
        bad = np.flatnonzero(~(np.isfinite(out) & (out > 0)))
        if bad.size:
            t = t_start + int(bad[0])
            raise ValueError(
                f"learning_rate function {self.func.__name__} returned {float(out[bad[0]])!r} at t={t}; "
                "rates must be > 0 and finite"
            )
        return out

    def __call__(self, t):
        t = _update_counts(t)
        out = np.array([float(self.func(int(tk))) for tk in t.ravel()])
        return out.reshape(t.shape) if t.ndim else float(out[0])

    def __eq__(self, other):
        return isinstance(other, custom) and other.func is self.func

    def __repr__(self):
        return f"custom({getattr(self.func, '__name__', self.func)!r})"
