"""scikit-learn estimators on ``fastgd.fit``: ``GDRegressor`` and ``GDClassifier``.

They follow scikit-learn's conventions (``fit``/``predict``/``score``, ``get_params``/
``set_params``, ``coef_``/``intercept_``, ``partial_fit``, ``warm_start``) and pass its
estimator checks, so they work in ``Pipeline``, ``GridSearchCV`` and the like.  The parameters
are ``fastgd.fit``'s, with scikit-learn's defaults where the two differ in spirit:

- ``method="sgd"`` (as ``SGDRegressor``/``SGDClassifier``); "minibatch", "batch" and, for the
  regressor's squared loss, "normal"/"svd"/"auto" work too.  ``partial_fit`` exists only for
  "sgd" and "minibatch" (``hasattr(est, "partial_fit")`` is False otherwise).
- ``penalty="l2"``, ``alpha=1e-4``, ``l1_ratio=0.15``, ``epsilon=0.1`` (scikit-learn's SGD
  defaults); ``alpha`` is passed to ``fastgd.fit`` only with a penalty, ``l1_ratio`` only with
  "elasticnet", ``epsilon`` only with the losses that have one (otherwise they are ignored, as
  in scikit-learn).
- The fit starts from zeros (``fastgd.fit``'s default is a random θ), or from the previous
  ``coef_``/``intercept_`` with ``warm_start=True``.
- ``tol=1e-3`` (scikit-learn's value; ``fastgd.fit``'s is 1e-6), with ``fastgd.fit``'s
  meaning: the fit has converged when its optimality measure (``result_.optimality``: a bound
  on the relative excess loss, or the gradient norm in standardized coordinates) is <= tol;
  otherwise one ConvergenceWarning after ``max_epochs``.
- The other parameters keep ``fastgd.fit``'s names and defaults: ``max_epochs`` (scikit-learn's
  ``max_iter``), ``n_iter_no_change``, ``learning_rate`` (a float, a ``fastgd.schedules``
  schedule or "auto"), ...

``GDClassifier``'s default loss is "log" (logistic regression, so ``predict_proba`` is there);
with more than two classes "log" fits softmax regression (one multinomial model, not
scikit-learn's one-vs-rest).  The two-class losses "hinge", "squared_hinge" and
"modified_huber" refuse more than two classes with a clear error (no one-vs-rest).

X may be a ``scipy.sparse`` matrix or array in ``fit``, ``partial_fit`` and every prediction
method, as in ``fastgd.fit`` and ``fastgd.Stream``: CSR is read as is, other formats are
converted once (with a ``SparseConversionWarning``), X is never densified; predictions are
``X @ coef_.T + intercept_`` on X's own format.  What ``fastgd.fit`` refuses on a sparse X
(``method="normal"``/``"svd"``, local SGD with ``n_threads`` > 1) the estimators refuse with
its error; ``standardize=True`` then only scales the features (centering would fill in the
zeros), so a fit on sparse X follows another path than on the same X dense.

scikit-learn (>= 1.6) is an optional dependency: ``pip install fastgd[sklearn]``.
"""

import functools
import warnings

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.utils.metaestimators import available_if
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as exc:  # scikit-learn missing, or older than 1.6 (no public validate_data)
    raise ImportError(
        "fastgd.GDRegressor and fastgd.GDClassifier need scikit-learn >= 1.6: pip install fastgd[sklearn]"
    ) from exc

from ._transaction import transactional
from ._validation import (
    as_array,
    check_label_types,
    check_n_features,
    classes_of,
    is_dask,
    is_sparse,
    keyword_hint,
    refuse_dask_stream,
    seed_from,
    suggest_keywords,
)
from .api import fit as _fit
from .exceptions import EstimatorDeprecationWarning
from .losses import LOSSES
from .losses import names as loss_names
from .result import probabilities
from .stream import Stream

__all__ = ["GDClassifier", "GDRegressor"]

REGRESSION_LOSSES = loss_names("regression")
CLASSIFICATION_LOSSES = loss_names("binary")
#: losses with class probabilities (``predict_proba``)
PROBA_LOSSES = loss_names("binary", proba=True)
_DTYPES = [np.float64, np.float32]


def _deprecated(method):
    """``method`` leaves the estimator as it was when it raises (no half-set fitted attribute);
    it warns that the GD estimators are deprecated."""

    transaction = transactional(method)

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        name = type(self).__name__
        warnings.warn(
            f"fastgd.{name} is deprecated and will be removed in fastgd 0.3: use fastgd.S{name}(method=...) "
            "(scikit-learn's parameter names: max_iter for max_epochs, loss='squared_error'/'log_loss', or "
            "'softmax' for the multinomial model; alpha as scikit-learn's), or fastgd.fit and fastgd.Stream",
            EstimatorDeprecationWarning,
            stacklevel=2,
        )
        return transaction(self, *args, **kwargs)

    return call


def _check_some_weight(sample_weight):
    """scikit-learn's wording for all-zero weights (fastgd checks everything else about them)."""
    if sample_weight is not None:
        weights = np.asarray(sample_weight)
        if weights.dtype.kind in "biuf" and weights.size and not weights.any():
            raise ValueError("sample_weight is zero for every sample: there is nothing to fit")


_NO_Y = object()  #: _validate's "X alone" (y=None must reach validate_data, which rejects it)


def _validate(estimator, X, y=_NO_Y, reset=True, **kwargs):
    """scikit-learn's validate_data; a scipy.sparse X is kept sparse, in its own format (``fastgd.fit``
    and ``Stream`` convert it to CSR, with their warning; predictions use it as is); Dask collections
    pass through untouched (never computed here: ``fastgd.fit`` runs them on the cluster), only their
    number of features recorded."""
    if not (is_dask(X) or is_dask(y)):
        kwargs["accept_sparse"] = True  # any format: never densified here
        for name, a in (("X", X), ("y", y)):  # before scikit-learn's numpy messages: a ragged nested list,
            if a is not _NO_Y and a is not None and not is_sparse(a):  # complex numbers in a list, named as such
                arr = as_array(a, name)
                if arr.dtype.kind == "c":  # scikit-learn's words (its checks match them), and the argument
                    raise ValueError(f"Complex data not supported: {name} holds complex numbers (dtype {arr.dtype})")
        # scikit-learn's finiteness test sums the data in its own dtype: float16 [inf, -inf] warns
        with np.errstate(invalid="ignore", over="ignore"):
            if y is _NO_Y:
                return validate_data(estimator, X, reset=reset, **kwargs)
            return validate_data(estimator, X, y, reset=reset, **kwargs)
    check_n_features(estimator, X, reset)
    return X if y is _NO_Y else (X, y)


def _stochastic(estimator):
    """``partial_fit`` exists for the methods that can take one pass at a time."""
    return estimator.method in ("sgd", "minibatch")


class _GDModel:
    """What GDRegressor and GDClassifier share: the mapping to ``fastgd.fit`` and ``Stream``, the
    fitted attributes, ``partial_fit``'s stream."""

    _losses = ()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # scipy.sparse X: fastgd.fit's and Stream's CSR kernels
        return tags

    def _loss(self, n_classes=None):
        """The loss ``fastgd`` minimizes (checked against the estimator's kind)."""
        if not isinstance(self.loss, str) or self.loss not in self._losses:
            raise ValueError(f"{type(self).__name__} takes loss in {self._losses}, got loss={self.loss!r}")
        return self.loss

    def set_params(self, **params):
        """scikit-learn's ``set_params``; an unknown parameter's ValueError names the closest one."""
        valid = self._get_param_names()
        for key in params:
            name = key.partition("__")[0]
            if name not in valid:
                raise ValueError(
                    f"Invalid parameter {name!r} for estimator {type(self).__name__}(){keyword_hint(name, valid)} "
                    f"(valid parameters are: {valid!r})"
                )
        return super().set_params(**params)

    def _model_args(self, loss):
        """The model's arguments, common to ``fastgd.fit`` and ``fastgd.Stream``."""
        args = dict(
            method=self.method,
            loss=loss,
            optimizer=self.optimizer,
            average=self.average,
            learning_rate=self.learning_rate,
            batch_size=self.batch_size,
            fit_intercept=self.fit_intercept,
            shuffle=self.shuffle,
            random_state=seed_from(self.random_state),
        )
        if LOSSES[loss].has_epsilon:
            args["epsilon"] = self.epsilon
        if self.penalty is not None:
            args.update(penalty=self.penalty, alpha=self.alpha)
            if self.penalty == "elasticnet":
                args["l1_ratio"] = self.l1_ratio
        return args

    def _run(self, X, y, loss, init, sample_weight):
        _check_some_weight(sample_weight)
        result = _fit(
            X,
            y,
            init=init,
            sample_weight=sample_weight,
            max_epochs=self.max_epochs,
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            early_stopping=self.early_stopping,
            validation_fraction=self.validation_fraction,
            standardize=self.standardize,
            n_threads=self.n_threads,
            **self._model_args(loss),
        )
        self._stream = None
        self._store(result)
        return self

    def _stream_pass(self, X, y, loss, init, sample_weight, classes=None):
        """One pass of ``partial_fit`` over (X, y), on the stream started by the first call."""
        _check_some_weight(sample_weight)
        stream = getattr(self, "_stream", None)
        if stream is None:
            if self.standardize:
                raise ValueError(
                    "partial_fit cannot standardize (a stream has no global means and deviations): scale the "
                    "features upstream, e.g. with a StandardScaler fitted on a sample, and pass standardize=False"
                )
            stream = Stream(init=init, classes=classes, **self._model_args(loss))
        stream.partial_fit(X, y, sample_weight=sample_weight)
        self._stream = stream  # kept once a pass succeeded
        self._store(stream.result())
        return self

    def _store(self, result):
        """The fitted attributes from a FitResult."""
        self.result_ = result
        self.coef_, self.intercept_ = self._shape(result)
        self.n_iter_ = int(result.n_epochs)
        self.t_ = int(result.n_updates)
        self.loss_curve_ = np.asarray(result.history)

    def _theta(self):
        """The previous fit as ``init`` for ``fastgd`` ([intercept, *coef], or (d + 1, K))."""
        coef = self.coef_.T if self.coef_.ndim == 2 else self.coef_[:, None]
        theta = np.vstack([np.reshape(self.intercept_, (1, -1)), coef]) if self.fit_intercept else coef
        return theta if theta.shape[1] > 1 else theta[:, 0]

    def _fitted(self):
        return hasattr(self, "coef_")

    def _decision(self, X):
        check_is_fitted(self)
        X = _validate(self, X, dtype=_DTYPES, reset=False)
        return X @ self.coef_.T + self.intercept_  # an ndarray for a scipy.sparse X; a lazy Dask array for Dask


class GDRegressor(RegressorMixin, _GDModel, BaseEstimator):
    """A linear model fitted by ``fastgd.fit`` (gradient descent), with scikit-learn's API.

    Parameters are those of ``fastgd.fit`` (see its docstring and the module docstring of
    ``fastgd.estimators`` for the defaults that differ), plus ``warm_start``.

    Parameters
    ----------
    method : "sgd" (default), "minibatch", "batch", "auto", "normal" or "svd"
    loss : "squared" (default, ``r²``), "huber", "epsilon_insensitive",
        "squared_epsilon_insensitive"
    epsilon : float, default 0.1 (used by the last three losses only)
    penalty : None, "l2" (default), "l1" or "elasticnet"
    alpha : float, default 1e-4 (used with a penalty only)
    l1_ratio : float, default 0.15 (used with "elasticnet" only)
    tol : float, default 1e-3 (the optimality measure, as ``fastgd.fit``; its default is 1e-6)
    optimizer, average, learning_rate, batch_size, max_epochs, n_iter_no_change,
    early_stopping, validation_fraction, fit_intercept, standardize, shuffle, random_state,
    n_threads : as ``fastgd.fit``
    warm_start : bool, default False
        ``fit`` starts from the previous ``coef_``/``intercept_`` instead of zeros (the
        learning-rate schedule starts again).

    Attributes
    ----------
    coef_ : ndarray (n_features,)
    intercept_ : ndarray (1,)
    n_iter_ : int
        Epochs run by ``fit``; passes made by ``partial_fit`` since its stream started.
    t_ : int
        Parameter updates (the schedule's t).
    loss_curve_ : ndarray (n_iter_,)
        The objective (mean loss + penalty) after every epoch (``partial_fit``: on each chunk).
    result_ : fastgd.FitResult
        Everything ``fastgd.fit`` (or the stream) reported.
    n_features_in_, feature_names_in_ : as scikit-learn
    """

    _losses = REGRESSION_LOSSES

    @suggest_keywords  # a typo: a TypeError naming the closest parameter (the signature stays explicit)
    def __init__(
        self,
        *,
        method="sgd",
        loss="squared",
        epsilon=0.1,
        penalty="l2",
        alpha=1e-4,
        l1_ratio=0.15,
        optimizer="sgd",
        average=False,
        learning_rate="auto",
        batch_size=32,
        max_epochs=1000,
        tol=1e-3,
        n_iter_no_change=5,
        early_stopping=False,
        validation_fraction=0.1,
        fit_intercept=True,
        standardize=False,
        shuffle=True,
        random_state=None,
        warm_start=False,
        n_threads=None,
    ):
        self.method = method
        self.loss = loss
        self.epsilon = epsilon
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.optimizer = optimizer
        self.average = average
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.fit_intercept = fit_intercept
        self.standardize = standardize
        self.shuffle = shuffle
        self.random_state = random_state
        self.warm_start = warm_start
        self.n_threads = n_threads

    @_deprecated
    def fit(self, X, y, sample_weight=None):
        """Fit on (X, y) with ``fastgd.fit``; from the previous coefficients with ``warm_start``."""
        warm = self.warm_start and self._fitted()
        X, y = _validate(self, X, y, dtype=_DTYPES, y_numeric=True, reset=not warm)
        init = self._theta() if warm else "zeros"
        return self._run(X, y, self._loss(), init, sample_weight)

    @available_if(_stochastic)
    @_deprecated
    def partial_fit(self, X, y, sample_weight=None):
        """One pass of SGD (or mini-batch) over (X, y), continuing from the previous call: θ, the
        update count t (so the learning-rate schedule goes on), the optimizer state: k calls
        over the same data with ``shuffle=False`` are ``fit`` with ``max_epochs=k``.  After
        ``fit``, the first call starts from the fitted coefficients (t from 0).  No stopping
        rule, no ConvergenceWarning: ``max_epochs``, ``tol``, ``n_iter_no_change``,
        ``early_stopping`` and ``n_threads`` do not apply, nor does ``standardize`` (an error).
        The model's parameters are read when the stream starts (the first call after
        construction or ``fit``).  Sample weights scale each sample's step as given (``fit``
        normalizes them to mean 1; a stream's total weight is unknown)."""
        refuse_dask_stream(X, y)
        first = getattr(self, "_stream", None) is None
        X, y = _validate(self, X, y, dtype=_DTYPES, y_numeric=True, reset=first and not self._fitted())
        init = self._theta() if first and self._fitted() else "zeros"
        return self._stream_pass(X, y, self._loss(), init, sample_weight)

    def predict(self, X):
        """``X @ coef_ + intercept_``."""
        return self._decision(X)

    def _shape(self, result):
        return np.asarray(result.coef), np.reshape(np.asarray(result.intercept), (1,))


def _has_proba(estimator):
    if estimator.loss not in PROBA_LOSSES:
        raise AttributeError(
            f"predict_proba needs loss in {PROBA_LOSSES}; this GDClassifier has loss={estimator.loss!r}"
        )
    return True


class GDClassifier(ClassifierMixin, _GDModel, BaseEstimator):
    """A linear classifier fitted by ``fastgd.fit`` (gradient descent), with scikit-learn's API.

    Parameters are those of ``GDRegressor`` but for ``loss`` and ``epsilon``:

    loss : "log" (default: logistic regression; softmax regression for more than two classes),
        "hinge" (linear SVM), "squared_hinge", "modified_huber".  The last three take two
        classes only.  ``predict_proba`` exists for "log" and "modified_huber".

    Attributes
    ----------
    classes_ : ndarray (n_classes,)
    coef_ : ndarray (1, n_features) for two classes, (n_classes, n_features) for more
    intercept_ : ndarray (1,) or (n_classes,)
    n_iter_, t_, loss_curve_, result_, n_features_in_, feature_names_in_ : as GDRegressor
    """

    _losses = CLASSIFICATION_LOSSES

    @suggest_keywords  # a typo: a TypeError naming the closest parameter (the signature stays explicit)
    def __init__(
        self,
        *,
        method="sgd",
        loss="log",
        penalty="l2",
        alpha=1e-4,
        l1_ratio=0.15,
        optimizer="sgd",
        average=False,
        learning_rate="auto",
        batch_size=32,
        max_epochs=1000,
        tol=1e-3,
        n_iter_no_change=5,
        early_stopping=False,
        validation_fraction=0.1,
        fit_intercept=True,
        standardize=False,
        shuffle=True,
        random_state=None,
        warm_start=False,
        n_threads=None,
    ):
        self.method = method
        self.loss = loss
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.optimizer = optimizer
        self.average = average
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.fit_intercept = fit_intercept
        self.standardize = standardize
        self.shuffle = shuffle
        self.random_state = random_state
        self.warm_start = warm_start
        self.n_threads = n_threads

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        spec = LOSSES.get(self.loss) if isinstance(self.loss, str) else None  # a bad loss: named by fit
        tags.classifier_tags.multi_class = spec is None or spec.multiclass is not None
        return tags

    def _loss(self, n_classes=None):
        loss = super()._loss()
        if n_classes is None:
            return loss
        if n_classes < 2:
            raise ValueError(f"GDClassifier needs at least two classes in y, got {n_classes} class")
        multiclass = LOSSES[loss].multiclass
        if n_classes > 2 and multiclass is None:
            raise ValueError(
                f"Only binary classification is supported with loss={loss!r} (a two-class loss), and y has "
                f"{n_classes} classes: use loss='log' (softmax regression), or wrap the classifier in "
                "sklearn.multiclass.OneVsRestClassifier"
            )
        return multiclass if n_classes > 2 else loss

    @_deprecated
    def fit(self, X, y, sample_weight=None):
        """Fit on (X, y) with ``fastgd.fit``; from the previous coefficients with ``warm_start``
        (the classes must be the same)."""
        warm = self.warm_start and self._fitted()
        check_label_types(y)
        X, y = _validate(self, X, y, dtype=_DTYPES, reset=not warm)
        classes = classes_of(y)
        if warm and not np.array_equal(classes, self.classes_):
            raise ValueError(
                f"warm_start: y's classes {classes.tolist()!r} differ from those of the previous fit "
                f"{self.classes_.tolist()!r}; set warm_start=False to start afresh"
            )
        loss = self._loss(classes.shape[0])
        init = self._theta() if warm else "zeros"
        self._run(X, y, loss, init, sample_weight)
        self.classes_ = classes
        return self

    @available_if(_stochastic)
    @_deprecated
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One pass of SGD (or mini-batch) over (X, y), continuing from the previous call (see
        ``GDRegressor.partial_fit``).  ``classes`` (every label the stream will see) is required
        on the first call, unless ``fit`` ran before."""
        refuse_dask_stream(X, y)
        first = getattr(self, "_stream", None) is None
        check_label_types(y)
        X, y = _validate(self, X, y, dtype=_DTYPES, reset=first and not self._fitted())
        with np.errstate(invalid="ignore", over="ignore"):  # as in _classes_of
            check_classification_targets(y)
        if classes is not None:
            classes = np.unique(classes)
            if self._fitted() and not np.array_equal(classes, self.classes_):
                raise ValueError(
                    f"classes={classes.tolist()!r} differs from the classes seen before {self.classes_.tolist()!r}"
                )
        elif not self._fitted():
            raise ValueError("classes must be passed on the first call to partial_fit (every label of the stream)")
        else:
            classes = self.classes_
        loss = self._loss(classes.shape[0])
        init = self._theta() if first and self._fitted() else "zeros"
        self._stream_pass(X, y, loss, init, sample_weight, classes=classes)
        self.classes_ = classes
        return self

    def decision_function(self, X):
        """Scores ``X @ coef_.T + intercept_``: (n,) for two classes (> 0: ``classes_[1]``),
        (n, n_classes) for more."""
        scores = self._decision(X)
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def predict(self, X):
        """The class with the highest score."""
        scores = self.decision_function(X)
        if is_dask(scores):  # lazily, block by block on the cluster
            return scores.map_blocks(self._labels, drop_axis=list(range(1, scores.ndim)), dtype=self.classes_.dtype)
        return self._labels(scores)

    def _labels(self, scores):
        index = (scores > 0).astype(np.intp) if scores.ndim == 1 else np.argmax(scores, axis=1)
        return self.classes_[index]

    @available_if(_has_proba)
    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_``: the logistic function of
        the score for "log" (softmax for more than two classes), ``(clip(score, -1, 1) + 1) / 2``
        for "modified_huber" (as scikit-learn)."""
        return probabilities(self.loss, self.decision_function(X))

    @available_if(_has_proba)
    def predict_log_proba(self, X):
        """``log(predict_proba(X))``."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def _shape(self, result):
        coef = np.asarray(result.coef)
        if coef.ndim == 2:  # softmax: (d, K) -> (K, d)
            return np.ascontiguousarray(coef.T), np.asarray(result.intercept)
        return coef[None, :], np.reshape(np.asarray(result.intercept), (1,))
