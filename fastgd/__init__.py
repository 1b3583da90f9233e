"""fastgd: linear models by the five methods of the textbook, on numba-compiled kernels.

>>> import fastgd
>>> X, y = fastgd.make_linear()                       # y = 4 + 3x + noise, m = 100
>>> res = fastgd.fit(X, y, method="sgd", random_state=42)
>>> res.theta                                          # [intercept, *coef]
"""

import importlib

from . import kernels, losses, optimizers, schedules
from ._warmup import warmup
from .api import FitState, fit
from .datasets import make_linear
from .exceptions import (
    ConvergenceWarning,
    DivergenceError,
    EstimatorDeprecationWarning,
    FeatureScaleWarning,
    IllConditionedWarning,
    RankDeficientWarning,
    SingularMatrixError,
    SparseConversionWarning,
)
from .result import FitResult
from .stream import Stream, fit_stream

__all__ = [
    "ConvergenceWarning",
    "DivergenceError",
    "EstimatorDeprecationWarning",
    "FeatureScaleWarning",
    "FitResult",
    "FitState",
    "IllConditionedWarning",
    "RankDeficientWarning",
    "SingularMatrixError",
    "SparseConversionWarning",
    "Stream",
    "fit",
    "fit_stream",
    "kernels",
    "losses",
    "make_linear",
    "optimizers",
    "schedules",
    "warmup",
]

__version__ = "0.1.0"

_ESTIMATORS = {
    "GDClassifier": "estimators",
    "GDRegressor": "estimators",
    "SGDClassifier": "sgd_estimators",
    "SGDRegressor": "sgd_estimators",
}


def __getattr__(name):
    """The scikit-learn estimators (``fastgd.SGDRegressor``, ``fastgd.SGDClassifier``,
    ``fastgd.GDRegressor``, ``fastgd.GDClassifier``), imported on first use, so that ``import
    fastgd`` never imports scikit-learn (an optional dependency)."""
    if name in _ESTIMATORS:  # ImportError "pip install fastgd[sklearn]" without scikit-learn
        module = importlib.import_module(f".{_ESTIMATORS[name]}", __name__)
        return getattr(module, name)
    raise AttributeError(f"module 'fastgd' has no attribute {name!r}")
