"""The losses ``fastgd.fit`` minimizes (``loss=``), and what each needs and allows.

The objective is ``Σ w_i loss(p_i, y_i) / Σ w_i + alpha R(coef)`` (w = 1 without sample
weights), p_i = intercept + x_i · coef the prediction and R the penalty (see ``fastgd.fit``).

=================================  ===============================================  ====================
name                               loss of one sample (r = p - y, z = y p)           task
=================================  ===============================================  ====================
``"squared"``                      ``r²`` (the textbook's MSE)                       regression
``"huber"``                        ``r²/2`` if ``|r| <= ε``, else ``ε|r| - ε²/2``       regression
``"epsilon_insensitive"``          ``max(0, |r| - ε)``                               regression
``"squared_epsilon_insensitive"``  ``max(0, |r| - ε)²``                              regression
``"log"``                          ``log(1 + exp(-z))``: logistic regression          two classes
``"hinge"``                        ``max(0, 1 - z)``: a linear SVM                    two classes
``"squared_hinge"``                ``max(0, 1 - z)²``                                two classes
``"modified_huber"``               ``max(0, 1 - z)²`` if ``z >= -1``, else ``-4z``    two classes
``"perceptron"``                   ``max(0, -z)``: the perceptron                     two classes
``"softmax"``                      ``log Σ_k exp(p_k) - p_y``: softmax regression     K >= 2 classes
=================================  ===============================================  ====================

For two classes the labels may be any two values (0/1, -1/1, strings ...): the larger (in
sorted order) is the positive class, read as y = +1, the other as -1.  Softmax has one score
``p_k = intercept_k + x · coef[:, k]`` per class.  The squared and the two epsilon losses
match scikit-learn's ``SGDRegressor`` except that scikit-learn's squared error is ``r²/2``.
"""

from dataclasses import dataclass

from .kernels.codes import Loss as _Code

__all__ = ["LOSSES", "LossSpec", "names"]


@dataclass(frozen=True)
class LossSpec:
    """What fastgd needs to know of a loss."""

    name: str
    code: int
    task: str  #: "regression", "binary" or "multiclass"
    curvature: float  #: sup of the second derivative in p (a bound on the Hessian per unit ‖x̃‖²)
    smooth: bool  #: differentiable with a Lipschitz derivative (else: subgradients)
    has_epsilon: bool  #: takes ``epsilon``
    proba: bool  #: ``predict_proba`` makes sense
    multiclass: str = None  #: the loss that fits more than two classes with this one ("softmax" for "log")

    @property
    def classifier(self):
        return self.task != "regression"


def names(task, proba=False):
    """The names of the losses of ``task`` ("regression", "binary", "multiclass"), in the table's
    order; with ``proba``, only those with probabilities."""
    return tuple(name for name, spec in LOSSES.items() if spec.task == task and (spec.proba or not proba))


LOSSES = {
    spec.name: spec
    for spec in (
        LossSpec("squared", _Code.SQUARED, "regression", 2.0, True, False, False),
        LossSpec("huber", _Code.HUBER, "regression", 1.0, True, True, False),
        LossSpec("epsilon_insensitive", _Code.EPSILON_INSENSITIVE, "regression", 1.0, False, True, False),
        LossSpec(
            "squared_epsilon_insensitive", _Code.SQUARED_EPSILON_INSENSITIVE, "regression", 2.0, True, True, False
        ),
        LossSpec("log", _Code.LOG, "binary", 0.25, True, False, True, multiclass="softmax"),
        LossSpec("hinge", _Code.HINGE, "binary", 1.0, False, False, False),
        LossSpec("squared_hinge", _Code.SQUARED_HINGE, "binary", 2.0, True, False, False),
        LossSpec("modified_huber", _Code.MODIFIED_HUBER, "binary", 2.0, True, False, True),
        LossSpec("perceptron", _Code.PERCEPTRON, "binary", 1.0, False, False, False),
        LossSpec("softmax", _Code.SOFTMAX, "multiclass", 0.5, True, False, True, multiclass="softmax"),
    )
}
