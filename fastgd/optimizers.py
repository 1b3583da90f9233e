"""Optimizers: how a gradient g becomes a step, for batch GD, SGD and mini-batch alike.

Each is evaluated inside the kernels from an integer code and its float parameters, with a
state per coordinate (zero at the start of a fit).  ``eta`` is the learning rate of the
schedule, ``t`` the update count (from 0).  Pass an object from here, or its name for the
default parameters (``fit(..., optimizer="adam")``).

================================================  ============================================================
``sgd()``                                         ``theta -= eta g`` (the textbook's plain step; the default)
``momentum(beta=0.9)``                            ``v = beta v + g;  theta -= eta v``
``nesterov(beta=0.9)``                            ``v = beta v + g;  theta -= eta (g + beta v)`` (Sutskever et al. 2013)
``adagrad(eps=1e-8)``                             ``s += g²;  theta -= eta g / (sqrt(s) + eps)`` (Duchi et al. 2011)
``rmsprop(rho=0.9, eps=1e-8)``                    ``s = rho s + (1 - rho) g²;  theta -= eta g / (sqrt(s) + eps)``
``adam(beta_1=0.9, beta_2=0.999, eps=1e-8)``      bias-corrected moments m, s: ``theta -= eta m̂ / (sqrt(ŝ) + eps)``
================================================  ============================================================

An L1 penalty is applied after the step by soft thresholding with each coordinate's own step
size (``eta`` for the first three, ``eta / (sqrt(s) + eps)`` for the adaptive ones).

``learning_rate="auto"`` reads each optimizer's ``auto_rate`` and ``damping``: the first three
take the rate from the curvature (``1/L`` in batch GD, Bottou's decaying rate in SGD and
mini-batch, times ``damping``); the adaptive ones move each coordinate by about ``eta`` a step
whatever the gradient's size, so their ``eta`` is a length: the distance estimate
``D = ‖∇F(θ0)‖ / L`` (a lower bound on ``‖θ0 - θ*‖``), decayed as their ``AutoRate`` says.
"""

from typing import NamedTuple

import numpy as np

from ._validation import check_number
from .kernels.codes import Optimizer as _Code

__all__ = ["AutoRate", "Optimizer", "adagrad", "adam", "momentum", "nesterov", "rmsprop", "sgd"]


class AutoRate(NamedTuple):
    """``learning_rate="auto"`` for an adaptive optimizer, whose steps are about ``eta`` per
    coordinate: ``eta0 = D = ‖∇F(θ0)‖ / L`` (model units), then

    - batch GD: ``inverse_scaling(D, batch_power)`` (0: ``constant(D)``);
    - SGD and mini-batch: ``exponential(D, 1 / (decay_epochs * updates per epoch))``: the rate
      falls by e every ``decay_epochs`` epochs, below the gradient noise, where a constant or a
      1/t rate leaves the iterates jumping about the optimum (a stream, with no epochs to count:
      ``inverse_scaling(D, 0.5)``, a rate that never vanishes)."""

    batch_power: float = 0.5
    decay_epochs: float = 20.0


class Optimizer:
    """An optimizer: its code, its parameters (float64, in the kernels' order) and a name, and
    what ``learning_rate="auto"`` makes of it: ``auto_rate``, an ``AutoRate`` (a rate from the
    distance to travel: the adaptive optimizers) or None (the rate from the curvature), and
    ``damping``, the factor on that rate for SGD and mini-batch (momentum's steps add up about
    1/(1 - beta) gradients)."""

    def __init__(self, name, code, *, auto_rate=None, damping=1.0, **params):
        self.name = name
        self.code = int(code)
        self.auto_rate, self.damping = auto_rate, damping
        self._params = params
        self.params = np.array(list(params.values()) or [0.0], dtype=np.float64)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._params.items())
        return f"{self.name}({args})"

    def __eq__(self, other):
        return isinstance(other, Optimizer) and repr(self) == repr(other)

    __hash__ = None


def sgd():
    """Plain gradient steps."""
    return Optimizer("sgd", _Code.SGD)


def momentum(beta=0.9):
    """Heavy-ball momentum, 0 <= beta < 1."""
    beta = check_number("beta", beta, low=0, high=1, high_open=True)
    return Optimizer("momentum", _Code.MOMENTUM, damping=1.0 - beta, beta=beta)


def nesterov(beta=0.9):
    """Nesterov's accelerated gradient in its momentum form, 0 <= beta < 1."""
    beta = check_number("beta", beta, low=0, high=1, high_open=True)
    return Optimizer("nesterov", _Code.NESTEROV, damping=1.0 - beta, beta=beta)


def adagrad(eps=1e-8):
    """AdaGrad: per-coordinate rates shrinking with the sum of squared gradients, eps > 0."""
    return Optimizer(
        "adagrad",
        _Code.ADAGRAD,
        auto_rate=AutoRate(batch_power=0.0),  # its steps shrink by themselves in batch GD
        eps=check_number("eps", eps, low=0, low_open=True),
    )


def rmsprop(rho=0.9, eps=1e-8):
    """RMSProp: per-coordinate rates from a moving average of squared gradients, 0 <= rho < 1, eps > 0."""
    return Optimizer(
        "rmsprop",
        _Code.RMSPROP,
        auto_rate=AutoRate(batch_power=0.75, decay_epochs=40.0),  # its short memory of g²: noisier
        rho=check_number("rho", rho, low=0, high=1, high_open=True),
        eps=check_number("eps", eps, low=0, low_open=True),
    )


def adam(beta_1=0.9, beta_2=0.999, eps=1e-8):
    """Adam (Kingma & Ba 2015), 0 <= beta_1, beta_2 < 1, eps > 0."""
    return Optimizer(
        "adam",
        _Code.ADAM,
        auto_rate=AutoRate(),
        beta_1=check_number("beta_1", beta_1, low=0, high=1, high_open=True),
        beta_2=check_number("beta_2", beta_2, low=0, high=1, high_open=True),
        eps=check_number("eps", eps, low=0, low_open=True),
    )


#: the optimizers by name, with their default parameters
BY_NAME = {"sgd": sgd, "momentum": momentum, "nesterov": nesterov, "adagrad": adagrad, "rmsprop": rmsprop, "adam": adam}
