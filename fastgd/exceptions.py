"""Errors and warnings fastgd raises."""

import functools
import sys

import numpy as np


class DivergenceError(ArithmeticError):
    """The iterates blew up: the learning rate is too large for this data.

    Attributes: ``method``, ``epoch`` (1-based epoch in which it happened), ``last_loss``
    (last finite training loss, or None), ``learning_rate`` (the rate in use then) and
    ``safe_learning_rate`` (a rate that is stable on this data, from the Lipschitz constant).
    """

    def __init__(self, message, *, method, epoch, last_loss, learning_rate, safe_learning_rate):
        super().__init__(message)
        self.method = method
        self.epoch = epoch
        self.last_loss = last_loss
        self.learning_rate = learning_rate
        self.safe_learning_rate = safe_learning_rate


class SingularMatrixError(np.linalg.LinAlgError):
    """XᵀX is singular (or numerically so): the normal equation has no unique solution."""


class IllConditionedWarning(UserWarning):
    """The normal equation's estimated condition number makes its answer doubtful (fewer than
    half the digits of float64 left): method="auto" or "svd" factor X itself and refine."""


class RankDeficientWarning(UserWarning):
    """X is rank-deficient: the least-squares solution is not unique; the minimum-norm one is returned."""


class ConvergenceWarning(UserWarning):
    """The fit stopped at ``max_epochs`` before meeting its tolerance.

    When scikit-learn's ``sklearn.exceptions`` is imported (as it is wherever a warning filter
    names its ConvergenceWarning), fastgd warns with a subclass of both this class and
    scikit-learn's (``convergence_warning()``), so filters on either catch it; ``import fastgd``
    never imports scikit-learn itself."""


def convergence_warning():
    """The category fastgd warns with: ConvergenceWarning, or its subclass that is also
    scikit-learn's ConvergenceWarning when ``sklearn.exceptions`` is imported."""
    sklearn_exceptions = sys.modules.get("sklearn.exceptions")
    if sklearn_exceptions is None:
        return ConvergenceWarning
    return _with_base(sklearn_exceptions.ConvergenceWarning)


@functools.cache
def _with_base(base):
    return type(
        "ConvergenceWarning",
        (ConvergenceWarning, base),
        {"__module__": __name__, "__doc__": ConvergenceWarning.__doc__},
    )


class EstimatorDeprecationWarning(FutureWarning):
    """GDRegressor and GDClassifier are deprecated: SGDRegressor and SGDClassifier (with a fastgd
    ``method``) are fastgd's one family of scikit-learn estimators."""


class FeatureScaleWarning(UserWarning):
    """Features differ in scale by orders of magnitude: gradient descent will crawl."""


class SparseConversionWarning(UserWarning):
    """A sparse X not in CSR format was converted to CSR (a copy of X): pass CSR to avoid it."""
