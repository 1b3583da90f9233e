"""Integer codes by which the Python layer selects a loss, an optimizer and a schedule inside
the one loop of each method.

Defined once here and imported by both the dispatch (``fastgd._dispatch``) and the kernels,
so the two can never drift apart.  A kernel compares its ``*_code`` argument against these
module constants (numba freezes them at compile time, which is safe: they never change).
"""

from enum import IntEnum


class Loss(IntEnum):
    """Loss of one sample as a function of the prediction ``p`` and the target ``y`` (classification
    losses: ``y`` in {-1, +1}, ``z = y p``; softmax: ``y`` the class index, ``p`` one score a class).
    ``eps`` is the loss's parameter (``epsilon`` of ``fastgd.fit``)."""

    SQUARED = 0  #: ``(p - y)**2``: the MSE of the textbook
    HUBER = 1  #: ``r**2 / 2`` if ``|r| <= eps`` else ``eps |r| - eps**2 / 2``, ``r = p - y``
    EPSILON_INSENSITIVE = 2  #: ``max(0, |p - y| - eps)``
    SQUARED_EPSILON_INSENSITIVE = 3  #: ``max(0, |p - y| - eps)**2``
    LOG = 4  #: ``log(1 + exp(-z))``: logistic regression
    HINGE = 5  #: ``max(0, 1 - z)``: a linear SVM
    SQUARED_HINGE = 6  #: ``max(0, 1 - z)**2``
    MODIFIED_HUBER = 7  #: ``max(0, 1 - z)**2`` if ``z >= -1`` else ``-4 z``
    SOFTMAX = 8  #: ``log(sum_k exp(p_k)) - p_y``: multinomial logistic (softmax) regression
    PERCEPTRON = 9  #: ``max(0, -z)``: the perceptron (derivative ``-y`` for ``z <= 0``, as scikit-learn)


class Optimizer(IntEnum):
    """How a gradient g becomes a step (``params`` of ``fastgd.optimizers``; state per coordinate)."""

    SGD = 0  #: ``theta -= eta g``
    MOMENTUM = 1  #: ``v = beta v + g; theta -= eta v``
    NESTEROV = 2  #: ``v = beta v + g; theta -= eta (g + beta v)``
    ADAGRAD = 3  #: ``s += g**2; theta -= eta g / (sqrt(s) + eps)``
    RMSPROP = 4  #: ``s = rho s + (1 - rho) g**2; theta -= eta g / (sqrt(s) + eps)``
    ADAM = 5  #: Kingma & Ba: bias-corrected first and second moments


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
HUBER = int(Loss.HUBER)
EPSILON_INSENSITIVE = int(Loss.EPSILON_INSENSITIVE)
SQUARED_EPSILON_INSENSITIVE = int(Loss.SQUARED_EPSILON_INSENSITIVE)
LOG = int(Loss.LOG)
HINGE = int(Loss.HINGE)
SQUARED_HINGE = int(Loss.SQUARED_HINGE)
MODIFIED_HUBER = int(Loss.MODIFIED_HUBER)
SOFTMAX = int(Loss.SOFTMAX)
PERCEPTRON = int(Loss.PERCEPTRON)

SGD = int(Optimizer.SGD)
MOMENTUM = int(Optimizer.MOMENTUM)
NESTEROV = int(Optimizer.NESTEROV)
ADAGRAD = int(Optimizer.ADAGRAD)
RMSPROP = int(Optimizer.RMSPROP)
ADAM = int(Optimizer.ADAM)

CONSTANT = int(Schedule.CONSTANT)
INVERSE_TIME = int(Schedule.INVERSE_TIME)
INVERSE_SCALING = int(Schedule.INVERSE_SCALING)
EXPONENTIAL = int(Schedule.EXPONENTIAL)
STEP = int(Schedule.STEP)
COSINE = int(Schedule.COSINE)
TABLE = int(Schedule.TABLE)

#: status a kernel returns when it finished without meeting a non-finite value
OK = -1
#: status of an epoch kernel given ``state=None`` (the fast loop) for a model that needs the general one
NEEDS_STATE = -2
#: status of a CSR epoch kernel given a view with a center (CSR rows are never centered)
CENTERED_CSR = -3
#: slots of optimizer state per coordinate: the kernels' ``state`` is (STATE_SLOTS, K, d + 1)
#: (momentum and Nesterov use the first, AdaGrad and RMSProp the second, Adam both; plain SGD's
#: cumulative L1 penalty both)
STATE_SLOTS = 2
