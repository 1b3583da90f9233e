"""Integer codes by which the Python layer selects a loss and a schedule inside the one loop.

Defined once here and imported by both the dispatch (``fastgd._dispatch``) and the kernels,
so the two can never drift apart.  A kernel compares its ``*_code`` argument against these
module constants (numba freezes them at compile time, which is safe: they never change).
"""

from enum import IntEnum


class Loss(IntEnum):
    """Loss of one sample as a function of the prediction ``p`` and the target ``y``."""

    SQUARED = 0  #: ``(p - y)**2``: the MSE of the textbook


class Schedule(IntEnum):
    """Learning-rate schedule ``eta(t)``, ``t`` the number of updates made so far."""

    CONSTANT = 0  #: ``params[0]``
    INVERSE_TIME = 1  #: ``params[0] / (t + params[1])``
    INVERSE_SCALING = 2  #: ``params[0] / (t + 1) ** params[1]``
    EXPONENTIAL = 3  #: ``params[0] * exp(-params[1] * t)``
    STEP = 4  #: ``params[0] * params[1] ** floor(t / params[2])``
    COSINE = 5  #: ``params[1] + (params[0] - params[1]) * (1 + cos(pi * (t % params[2]) / params[2])) / 2``
    TABLE = 6  #: ``params[t - t_start]``: values precomputed for this epoch (a user's own function)


# Plain ints for use inside kernels.
SQUARED = int(Loss.SQUARED)
CONSTANT = int(Schedule.CONSTANT)
INVERSE_TIME = int(Schedule.INVERSE_TIME)
INVERSE_SCALING = int(Schedule.INVERSE_SCALING)
EXPONENTIAL = int(Schedule.EXPONENTIAL)
STEP = int(Schedule.STEP)
COSINE = int(Schedule.COSINE)
TABLE = int(Schedule.TABLE)

#: status a kernel returns when it finished without meeting a non-finite value
OK = -1
