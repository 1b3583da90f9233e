"""``fastgd.SGDRegressor`` and ``fastgd.SGDClassifier``: scikit-learn's SGD estimators on fastgd's kernels.

Change one import (``from fastgd import SGDClassifier``) and keep everything else: every
parameter of scikit-learn's classes with its name, meaning, default and validation, the same
fitted attributes (``coef_``, ``intercept_``, ``n_iter_``, ``t_``, ``classes_``, ...), the same
methods (``fit`` with ``coef_init``/``intercept_init``/``sample_weight``, ``partial_fit``,
``predict``, ``decision_function``, ``predict_proba``/``predict_log_proba``, ``score``,
``sparsify``, ``densify``), dense and CSR X, one-vs-all multi-class with ``n_jobs`` threads
(the kernels release the GIL).  The update rule is scikit-learn's (``fastgd.plain``), and so is
the visiting order: the same data, parameters and ``random_state`` give the same coefficients,
to rounding, shuffled or not.  fastgd's extras (``method``, ``optimizer``, ``standardize``, ...)
are keywords beyond scikit-learn's; with a fastgd ``method`` the fit is ``fastgd.fit``'s.

Built on scikit-learn's public API only (``BaseEstimator``, ``validate_data``,
``compute_class_weight``, its splitters and metrics); scikit-learn (>= 1.6) is an optional
dependency: ``pip install fastgd[sklearn]``.  What differs, on purpose (README, "Coming from
scikit-learn"): float32 X is fitted with float64 weights, sample and class weights (``coef_`` is
returned in float32); the early-stopping score uses the scaled weights ``wscale v`` (scikit-learn
scores ``v``) and labels in the fitted encoding (±1 for every loss); with ``average``, repeated
``partial_fit`` keeps the plain and the averaged intercepts apart (scikit-learn 1.9 writes the plain
ones into the averaged ones, or never updates the plain one); a weight overflow raises
``fastgd.plain.OverflowDivergenceError`` (a ``ValueError`` with scikit-learn's message, and a
``fastgd.DivergenceError``).
"""

import copy
import threading
import warnings
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone, is_classifier
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit
    from sklearn.utils import check_array, check_random_state, compute_class_weight
    from sklearn.utils.extmath import safe_sparse_dot
    from sklearn.utils.metaestimators import available_if
    from sklearn.utils.multiclass import check_classification_targets, unique_labels
    from sklearn.utils.parallel import Parallel, delayed
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as exc:  # scikit-learn missing, or older than 1.6 (no public validate_data)
    raise ImportError(
        "fastgd.SGDRegressor and fastgd.SGDClassifier need scikit-learn >= 1.6: pip install fastgd[sklearn]"
    ) from exc

from . import schedules
from ._transaction import transactional
from ._validation import check_n_features, classes_of, is_dask, refuse_dask_stream, seed_from
from .api import fit as fastgd_fit
from .exceptions import convergence_warning
from .plain import LEARNING_RATES, LOSSES, PENALTIES, PlainModel, optimal_init, plain_sgd
from .result import probabilities
from .stream import Stream

__all__ = ["SGDClassifier", "SGDRegressor"]

#: scikit-learn's MAX_INT: seeds are drawn below it
MAX_INT = np.iinfo(np.int32).max
#: the intercept's step factor on CSR X (scikit-learn's SPARSE_INTERCEPT_DECAY)
SPARSE_INTERCEPT_DECAY = 0.01
DEFAULT_EPSILON = 0.1
_DTYPES = [np.float64, np.float32]
#: fastgd's own methods, the values of the extra ``method`` keyword (None: scikit-learn's rule)
FASTGD_METHODS = ("sgd", "minibatch", "batch", "auto", "normal", "svd")
#: fastgd's extra keywords and their defaults, which leave scikit-learn's behaviour unchanged
EXTRAS = {"method": None, "optimizer": "sgd", "standardize": False, "batch_size": 32, "n_threads": None,
          "progress": False, "callback": None}  # fmt: skip
#: scikit-learn's loss names that fastgd spells otherwise
_FASTGD_LOSS = {"squared_error": "squared", "log_loss": "log", "softmax": "softmax"}
#: what a fit sets (and a fresh fit clears): the parameters and the running averages
_FITTED = ("coef_", "intercept_", "_average_coef", "_average_intercept", "_standard_coef", "_standard_intercept")
_REGRESSION_LOSSES = ("squared_error", "huber", "epsilon_insensitive", "squared_epsilon_insensitive")
_CLASSIFICATION_LOSSES = ("hinge", "squared_hinge", "perceptron", "log_loss", "modified_huber", *_REGRESSION_LOSSES)


def _bad(estimator, name, what, value):
    return ValueError(f"The {name!r} parameter of {type(estimator).__name__} must be {what}. Got {value!r} instead.")


def _is_bool(value):
    return isinstance(value, (bool, np.bool_))


def _is_int(value):
    return isinstance(value, Integral) and not _is_bool(value)


def _is_real(value):
    return isinstance(value, Real) and not _is_bool(value)


def _loss_table(names):
    """scikit-learn's ``loss_functions`` class attribute: name -> (name, default epsilon if it has one)."""
    return {name: (name,) + ((DEFAULT_EPSILON,) if LOSSES[name][2] else ()) for name in names}


def _theta(coef, intercept, fit_intercept):
    """fastgd's ``init`` θ = [intercept, *coef] (coef without an intercept)."""
    coef = np.asarray(coef, dtype=np.float64).ravel()
    return np.concatenate([[float(np.ravel(intercept)[0])], coef]) if fit_intercept else coef


def _check_sample_weight(sample_weight, X, allow_all_zero):
    """sample_weight as float64 (n,): None is ones; a number, that weight for every sample."""
    n = X.shape[0]
    if sample_weight is None:
        return np.ones(n)
    if _is_real(sample_weight):
        return np.full(n, float(sample_weight))
    weights = check_array(sample_weight, ensure_2d=False, dtype=np.float64, order="C", input_name="sample_weight")
    if weights.ndim != 1:
        raise ValueError(f"Sample weights must be 1D array or scalar, got {weights.ndim}D array")
    if weights.shape != (n,):
        raise ValueError(f"sample_weight.shape == {weights.shape}, expected {(n,)}!")
    if not allow_all_zero and not weights.any():
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return weights


def _streaming(estimator):
    """``partial_fit`` exists for scikit-learn's rule and fastgd's "sgd" and "minibatch"."""
    if estimator.method not in (None, "sgd", "minibatch"):
        raise AttributeError(f"partial_fit needs method None, 'sgd' or 'minibatch', not method={estimator.method!r}")
    return True


class _BaseSGD(BaseEstimator):
    """What SGDRegressor and SGDClassifier share: parameter checks, the parameters' memory,
    the validation split, sparsify/densify, the linear decision function."""

    _losses = ()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # ---- parameters -------------------------------------------------------------------------
    def _check_params(self, for_partial_fit=False):
        """scikit-learn's parameter constraints and its ``_more_validate_params``, same messages;
        with a fastgd method, fastgd's values too (softmax, shuffle strategies, the "auto" rate)."""
        fastgd = self.method is not None
        losses = (*self._losses, "softmax") if fastgd and is_classifier(self) else self._losses
        rates = (*LEARNING_RATES, "auto") if fastgd else tuple(LEARNING_RATES)
        # fastgd's visiting orders; with scikit-learn's rule too, but for "rows" (True: scikit-learn's own)
        orders = ("rows", "blocks", "corgipile") if fastgd else ("blocks", "corgipile")
        checks = [
            ("loss", isinstance(self.loss, str) and self.loss in losses, f"a str among {set(self._losses)}"),
            (
                "penalty",
                self.penalty is None or (isinstance(self.penalty, str) and self.penalty in PENALTIES),
                "a str among {'l2', 'l1', 'elasticnet'} or None",
            ),
            ("alpha", _is_real(self.alpha) and self.alpha >= 0, "a float in the range [0.0, inf)"),
            (
                "l1_ratio",
                self.l1_ratio is None or (_is_real(self.l1_ratio) and 0 <= self.l1_ratio <= 1),
                "a float in the range [0.0, 1.0] or None",
            ),
            ("fit_intercept", _is_bool(self.fit_intercept), "an instance of 'bool'"),
            ("max_iter", _is_int(self.max_iter) and self.max_iter >= 1, "an int in the range [1, inf)"),
            (
                "tol",
                self.tol is None or (_is_real(self.tol) and self.tol >= 0),
                "a float in the range [0.0, inf) or None",
            ),
            (
                "shuffle",
                _is_bool(self.shuffle) or (isinstance(self.shuffle, str) and self.shuffle in orders),
                "an instance of 'bool'",
            ),
            ("verbose", _is_int(self.verbose) or _is_bool(self.verbose), "an int or a bool"),
            ("epsilon", _is_real(self.epsilon) and self.epsilon >= 0, "a float in the range [0.0, inf)"),
            (
                "learning_rate",
                isinstance(self.learning_rate, str) and self.learning_rate in rates,
                f"a str among {set(LEARNING_RATES)}",
            ),
            ("eta0", _is_real(self.eta0) and self.eta0 > 0, "a float in the range (0.0, inf)"),
            ("power_t", _is_real(self.power_t), "a float in the range (-inf, inf)"),
            ("early_stopping", _is_bool(self.early_stopping), "an instance of 'bool'"),
            (
                "validation_fraction",
                _is_real(self.validation_fraction) and 0 < self.validation_fraction < 1,
                "a float in the range (0.0, 1.0)",
            ),
            (
                "n_iter_no_change",
                _is_int(self.n_iter_no_change) and self.n_iter_no_change >= 1,
                "an int in the range [1, inf)",
            ),
            ("warm_start", _is_bool(self.warm_start), "an instance of 'bool'"),
            (
                "average",
                _is_bool(self.average) or (_is_int(self.average) and self.average > 0),
                "an int in the range (0, inf) or an instance of 'bool'",
            ),
        ]
        checks += self._more_checks()
        if self.learning_rate in ("pa1", "pa2"):
            raise ValueError(
                f"learning_rate={self.learning_rate!r} (passive-aggressive) is not implemented by fastgd: use "
                "sklearn.linear_model.PassiveAggressiveClassifier/Regressor, or another rate"
            )
        for name, ok, what in checks:
            if not ok:
                raise _bad(self, name, what, getattr(self, name))
        self._check_extras()
        check_random_state(self.random_state)
        if self.early_stopping and for_partial_fit:
            raise ValueError("early_stopping should be False with partial_fit")
        if self.learning_rate == "optimal" and self.alpha == 0:
            raise ValueError(
                "alpha must be > 0 since learning_rate is 'optimal'. alpha is used to compute the optimal "
                "learning rate."
            )
        if self.penalty == "elasticnet" and self.l1_ratio is None:
            raise ValueError("l1_ratio must be set when penalty is 'elasticnet'")

    def _more_checks(self):
        return []

    def _check_extras(self):
        """fastgd's extra keywords: with method=None (scikit-learn's rule) each keeps its default."""
        if self.method is not None and self.method not in FASTGD_METHODS:
            raise _bad(self, "method", f"None or a str among {set(FASTGD_METHODS)}", self.method)
        if self.method is None:
            for name, default in EXTRAS.items():
                if getattr(self, name) is not default and getattr(self, name) != default:
                    raise ValueError(
                        f"{name}={getattr(self, name)!r} is one of fastgd's extras, for fastgd's methods: pass "
                        f"method='sgd' (or one of {FASTGD_METHODS[1:]}); method=None runs scikit-learn's SGD rule"
                    )
            return
        if self.learning_rate == "adaptive":
            raise ValueError(
                "learning_rate='adaptive' is scikit-learn's rule (method=None); with a fastgd method use "
                "'constant', 'invscaling', 'optimal' or fastgd's 'auto'"
            )
        if is_classifier(self) and self.loss in _REGRESSION_LOSSES:
            raise ValueError(f"loss={self.loss!r} on a classifier is scikit-learn's rule only (method=None)")

    # ---- fastgd's methods ---------------------------------------------------------------------
    def _fastgd_rate(self, weight_mean=1.0):
        """scikit-learn's schedule as fastgd's (fastgd's squared loss is r², twice scikit-learn's:
        half the rate gives the same steps; ``fastgd.fit`` divides the weights by their mean, so
        the rate is multiplied by it), or fastgd's "auto"."""
        half = (0.5 if self.loss == "squared_error" else 1.0) * weight_mean
        if self.learning_rate == "auto":
            return "auto"
        if self.learning_rate == "constant":
            return half * float(self.eta0)
        if self.learning_rate == "invscaling":
            return schedules.inverse_scaling(half * float(self.eta0), float(self.power_t))
        loss = "log_loss" if self.loss == "softmax" else self.loss  # the same first derivative bound
        t1 = optimal_init(loss, float(self.epsilon), float(self.alpha))  # "optimal": 1 / (alpha (t0 + t - 1))
        return schedules.inverse_time(t0=half / float(self.alpha), t1=t1)

    def _fastgd_args(self, weight_mean=1.0, seed=None):
        """``fastgd.fit``'s (and ``Stream``'s) keywords for this estimator's model: the same
        minimizer as scikit-learn's ``mean(w loss) + alpha R``: alpha doubled for the squared loss
        (fastgd's form is r²), divided by the weights' mean (``fastgd.fit`` normalizes the weights
        to mean 1; a ``Stream`` does not: ``weight_mean=1``).  ``seed``: the problem's own."""
        loss = _FASTGD_LOSS.get(self.loss, self.loss)
        if loss == "softmax" and len(getattr(self, "classes_", ())) == 2:
            loss = "log"  # two classes: the same model, as one binary problem
        args = dict(
            method=self.method, loss=loss, optimizer=self.optimizer, average=self.average,
            learning_rate=self._fastgd_rate(weight_mean), batch_size=self.batch_size,
            fit_intercept=self.fit_intercept, shuffle=self.shuffle,
            random_state=seed_from(self.random_state) if seed is None else seed,
        )  # fmt: skip
        if self.loss in LOSSES and LOSSES[self.loss][2]:
            args["epsilon"] = float(self.epsilon)
        if self.penalty is not None:
            alpha = float(self.alpha) * (2.0 if loss == "squared" else 1.0) / weight_mean
            args.update(penalty=self.penalty, alpha=alpha)
            if self.penalty == "elasticnet":
                args["l1_ratio"] = float(self.l1_ratio)
        return args

    def _fastgd_fit(self, X, y, sample_weight, init, seed=None):
        """One problem by ``fastgd.fit`` (``tol`` is fastgd's: the optimality measure; None: 0).
        Weights all 1 go as None (the faster kernels; and the Dask backend takes no weights)."""
        if is_dask(sample_weight):
            weight_mean = float(sample_weight.mean().compute())
        elif sample_weight is not None and np.all(sample_weight == 1.0):
            sample_weight, weight_mean = None, 1.0
        else:
            weight_mean = 1.0 if sample_weight is None else float(sample_weight.mean())
        return fastgd_fit(
            X, y, sample_weight=sample_weight, init=init, max_epochs=self.max_iter,
            tol=0.0 if self.tol is None else float(self.tol), n_iter_no_change=self.n_iter_no_change,
            early_stopping=self.early_stopping, validation_fraction=self.validation_fraction,
            standardize=self.standardize, n_threads=self.n_threads, progress=self.progress,
            callback=self.callback, **self._fastgd_args(weight_mean, seed),
        )  # fmt: skip

    def _fastgd_stream(self, init, classes=None):
        if self.standardize:
            raise ValueError("partial_fit cannot standardize (a stream has no global means): scale X upstream")
        return Stream(init=init, classes=classes, **self._fastgd_args())

    def _model(self, max_iter):
        return PlainModel(
            loss=self.loss,
            epsilon=float(self.epsilon),
            penalty=self.penalty,
            alpha=float(self.alpha),
            l1_ratio=0.0 if self.l1_ratio is None else float(self.l1_ratio),
            learning_rate=self.learning_rate,
            eta0=float(self.eta0),
            power_t=float(self.power_t),
            fit_intercept=self.fit_intercept,
            average=int(self.average),
            max_iter=int(max_iter),
            tol=self.tol,
            n_iter_no_change=int(self.n_iter_no_change),
            early_stopping=self.early_stopping,
            shuffle=self.shuffle,
            verbose=int(self.verbose),
        )

    def _after_fit_warnings(self):
        if self.tol is not None and self.n_iter_ == self.max_iter:
            warnings.warn(
                "Maximum number of iteration reached before convergence. Consider increasing max_iter to "
                "improve the fit.",
                convergence_warning(),
                stacklevel=3,
            )
        if self.power_t < 0:
            warnings.warn(
                "Negative values for `power_t` are deprecated in version 1.8 and will raise an error in 1.10. "
                "Use values in the range [0.0, inf) instead.",
                FutureWarning,
                stacklevel=3,
            )

    # ---- parameters' memory -----------------------------------------------------------------
    def _allocate(self, n_classes, n_features, dtype, coef_init=None, intercept_init=None):
        """coef_/intercept_ (from the inits, checked), and the averaging buffers."""
        if n_classes > 2:
            shape, intercept_shapes = (n_classes, n_features), [(n_classes,)]
        else:
            shape, intercept_shapes = (n_features,), [(1,), ()]
        if coef_init is not None:
            coef = np.array(coef_init, dtype=dtype, order="C")
            coef = coef.ravel() if n_classes <= 2 else coef
            if coef.shape != shape:
                raise ValueError(
                    f"Provided coef_init does not match dataset: shape {np.shape(coef_init)}, expected {shape}."
                )
        else:
            coef = np.zeros(shape, dtype=dtype)
        if intercept_init is not None:
            intercept = np.array(intercept_init, dtype=dtype)
            if intercept.shape not in intercept_shapes:
                raise ValueError(
                    f"Provided intercept_init does not match dataset: shape {intercept.shape}, expected "
                    f"{intercept_shapes[0]}."
                )
            intercept = intercept.reshape(intercept_shapes[0])
        else:
            intercept = np.zeros(intercept_shapes[0], dtype=dtype)
        self.coef_, self.intercept_ = coef, intercept
        if self.average > 0:
            self._standard_coef, self._standard_intercept = coef, intercept
            self._average_coef = np.zeros(coef.shape, dtype=dtype)
            self._average_intercept = np.zeros(intercept.shape, dtype=dtype)

    def _validation_split(self, y, sample_mask):
        """The validation rows of early stopping (scikit-learn's split, from ``random_state``)."""
        n = y.shape[0]
        mask = np.zeros(n, dtype=np.bool_)
        if not self.early_stopping:
            return mask
        splitter = StratifiedShuffleSplit if is_classifier(self) else ShuffleSplit
        cv = splitter(test_size=self.validation_fraction, random_state=self.random_state)
        train, validation = next(cv.split(np.zeros((n, 1)), y))
        if not np.any(sample_mask[validation]):
            raise ValueError(
                "The sample weights for validation set are all zero, consider using a different random state."
            )
        if train.shape[0] == 0 or validation.shape[0] == 0:
            raise ValueError(
                f"Splitting {n} samples into a train set and a validation set with validation_fraction="
                f"{self.validation_fraction!r} led to an empty set ({train.shape[0]} and {validation.shape[0]} "
                "samples). Please either change validation_fraction, increase number of samples, or disable "
                "early_stopping."
            )
        mask[validation] = True
        return mask

    def _score_function(self, mask, X, y, sample_weight):
        """score(coef, intercept) on the validation rows: accuracy (labels ±1) or R²."""
        if not self.early_stopping:
            return None
        X_val, y_val, w_val = X[mask], y[mask], sample_weight[mask]
        classify = is_classifier(self)

        def score(coef, intercept):
            pred = np.asarray(safe_sparse_dot(X_val, coef, dense_output=True)).ravel() + intercept
            if classify:
                return accuracy_score(y_val, np.where(pred > 0, 1.0, -1.0), sample_weight=w_val)
            return r2_score(y_val, pred, sample_weight=w_val)

        return score

    def _run(self, i, X, y, sample_weight, max_iter, *, weights=(1.0, 1.0), mask, seed, cancel=None):
        """One binary (or the regression) problem from the current parameters of output i (None:
        the only one); returns plain_sgd's (coef, intercept, average coef, average intercept, n_iter)."""
        averaging = self.average > 0
        state = [self._standard_coef, self._standard_intercept] if averaging else [self.coef_, self.intercept_]
        if averaging:
            state += [self._average_coef, self._average_intercept]
        state = [np.asarray(a).ravel() if i is None else np.asarray(a)[i] for a in state]
        state[1] = float(np.ravel(state[1])[0])
        if averaging:
            state[3] = float(np.ravel(state[3])[0])
        coef, intercept, avg_coef, avg_intercept = state if averaging else (*state, None, 0.0)
        return plain_sgd(
            self._model(max_iter), X, y, sample_weight, coef, intercept, avg_coef, avg_intercept,
            validation_mask=mask, score=self._score_function(mask, X, y, sample_weight), seed=seed,
            weight_pos=weights[0], weight_neg=weights[1], t=self.t_,
            intercept_decay=SPARSE_INTERCEPT_DECAY if sp.issparse(X) else 1.0, cancel=cancel,
        )  # fmt: skip

    def _fastgd_start(self, X, y, n_classes, coef_init, intercept_init, sample_weight):
        """Checked (X, y, weights) and the start θ of each problem for fastgd's methods (from the
        inits, the previous fit with warm_start, or zeros)."""
        if self.warm_start and getattr(self, "coef_", None) is not None:
            coef_init = self._dense_coef() if coef_init is None else coef_init
            intercept_init = self.intercept_ if intercept_init is None else intercept_init
        if not (is_dask(y) or is_dask(sample_weight)):  # y in memory: weights as an array of its length
            sample_weight = _check_sample_weight(sample_weight, np.empty((len(y), 0)), allow_all_zero=False)
        given = coef_init is not None or intercept_init is not None
        self._allocate(n_classes, X.shape[1], _dtype(X), coef_init, intercept_init)
        for name in _FITTED[2:]:  # fastgd's methods keep no running average of their own
            vars(self).pop(name, None)
        coef, intercept = np.atleast_2d(self.coef_), np.reshape(self.intercept_, (-1,))
        inits = [_theta(c, b, self.fit_intercept) if given else "zeros" for c, b in zip(coef, intercept, strict=True)]
        return sample_weight, inits

    def _store_plain(self, coef, intercept, average_coef, average_intercept, dtype, shape):
        """coef_/intercept_ (``shape``) from scikit-learn's rule, in X's dtype: with ``average``, the
        averaged ones once ``average`` updates were made (t_ after them), the plain ones kept apart."""
        coef, intercept = np.asarray(coef, dtype=dtype), np.atleast_1d(np.asarray(intercept, dtype=dtype))
        if self.average > 0:
            self._standard_coef, self._standard_intercept = coef, intercept
            self._average_coef = np.asarray(average_coef, dtype=dtype)
            self._average_intercept = np.atleast_1d(np.asarray(average_intercept, dtype=dtype))
            if self.average <= self.t_ - 1.0:
                coef, intercept = self._average_coef, self._average_intercept
        self.coef_, self.intercept_ = coef.reshape(shape), intercept

    def _store_fastgd(self, results, dtype, shape):
        """coef_, intercept_, n_iter_, t_, result_ (a FitResult; a list of them for one-vs-all); one
        multinomial result (coef (d, K)) gives coef_ (K, d)."""
        if np.ndim(results[0].coef) == 2:
            self.coef_ = np.ascontiguousarray(np.asarray(results[0].coef).T, dtype=dtype)
            self.intercept_ = np.asarray(results[0].intercept, dtype=dtype)
        else:
            coef = np.array([np.ravel(r.coef) for r in results], dtype=dtype)
            self.coef_ = coef.reshape(shape)
            self.intercept_ = np.array([float(r.intercept) for r in results], dtype=dtype)
        self.n_iter_ = max(int(r.n_epochs) for r in results)
        self.t_ = 1.0 + max(int(r.n_updates) for r in results)
        self.result_ = results[0] if len(results) == 1 else list(results)

    def _validate_Xy(self, X, y, reset=True):
        """X as the kernels take it (C-contiguous float32/float64, or CSR with int32 indices) and y;
        Dask collections pass through untouched for fastgd's methods (``fastgd.fit`` runs them on
        the cluster; nothing is computed here), their number of features recorded."""
        if is_dask(X) or is_dask(y):
            if self.method is None:
                raise ValueError(
                    "scikit-learn's rule (method=None) runs in memory: pass method='sgd' (or another of fastgd's "
                    "methods) to fit Dask collections on the cluster"
                )
            check_n_features(self, X, reset)
            return X, y
        return validate_data(
            self, X, y, accept_sparse="csr", dtype=_DTYPES, order="C", accept_large_sparse=False, reset=reset
        )

    def _check_previous_features(self, X):
        if X.shape[1] != self.coef_.shape[-1]:
            raise ValueError(f"Number of features {X.shape[1]} does not match previous data {self.coef_.shape[-1]}.")

    def _dense_coef(self):
        return self.coef_.toarray() if sp.issparse(self.coef_) else self.coef_

    # ---- predictions ------------------------------------------------------------------------
    def _decision(self, X):
        check_is_fitted(self)
        if is_dask(X):  # lazily, block by block on the cluster
            check_n_features(self, X, reset=False)
            X = X.to_dask_array(lengths=True) if hasattr(X, "to_dask_array") else X  # a DataFrame's rows
            return X @ self._dense_coef().T + self.intercept_
        X = validate_data(self, X, accept_sparse="csr", reset=False)
        return safe_sparse_dot(X, self.coef_.T, dense_output=True) + self.intercept_

    def sparsify(self):
        """Store ``coef_`` as a scipy.sparse CSR matrix (worth it when most coefficients are 0,
        e.g. with an L1 penalty); returns self.  Predictions work as before; ``fit`` densifies."""
        check_is_fitted(self, "coef_")
        self.coef_ = sp.csr_matrix(self.coef_)
        return self

    def densify(self):
        """Store ``coef_`` as a numpy array again (the default); returns self."""
        check_is_fitted(self, "coef_")
        if sp.issparse(self.coef_):
            self.coef_ = self.coef_.toarray()
        return self


class SGDRegressor(RegressorMixin, _BaseSGD):
    """A linear model fitted by SGD, with scikit-learn's ``SGDRegressor``'s parameters and update rule.

    The parameters, attributes and methods are those of ``sklearn.linear_model.SGDRegressor``
    (see its documentation): ``loss`` (default "squared_error", r²/2), ``penalty``, ``alpha``,
    ``l1_ratio``, ``fit_intercept``, ``max_iter``, ``tol``, ``shuffle``, ``verbose``, ``epsilon``,
    ``random_state``, ``learning_rate`` (default "invscaling": ``eta0 / t**power_t``), ``eta0``,
    ``power_t``, ``early_stopping``, ``validation_fraction``, ``n_iter_no_change``,
    ``warm_start``, ``average``.  The fit runs on fastgd's kernels (``fastgd.plain``); the same
    data and parameters give scikit-learn's coefficients to rounding.

    fastgd's extras, additional keywords whose defaults leave scikit-learn's behaviour as it is:
    ``method`` (None: scikit-learn's rule; "sgd", "minibatch", "batch", "auto", "normal", "svd":
    ``fastgd.fit`` with that method, scikit-learn's objective, and fastgd's stopping rule, ``tol``
    then bounding its optimality measure), and for those methods ``optimizer``, ``standardize``,
    ``batch_size``, ``n_threads``, ``progress``, ``callback``, ``shuffle="rows"|"blocks"|
    "corgipile"`` and ``learning_rate="auto"`` (``fastgd.fit``'s meanings); X and y may then be Dask
    collections, fitted on the cluster (predictions lazy).  Fitted then: ``result_`` too (the
    ``FitResult``; a list of them for one-vs-all).  ``shuffle="blocks"|"corgipile"`` with
    method=None: scikit-learn's rule in a cache-friendly order (runs of consecutive rows), faster
    on large X, not scikit-learn's coefficients (another shuffle's).

    Attributes: ``coef_`` (n_features,), ``intercept_`` (1,), ``n_iter_``, ``t_``,
    ``n_features_in_``, ``feature_names_in_``.
    """

    _losses = _REGRESSION_LOSSES
    loss_functions: ClassVar[dict] = _loss_table(_losses)

    def __init__(
        self,
        loss="squared_error",
        *,
        penalty="l2",
        alpha=0.0001,
        l1_ratio=0.15,
        fit_intercept=True,
        max_iter=1000,
        tol=1e-3,
        shuffle=True,
        verbose=0,
        epsilon=DEFAULT_EPSILON,
        random_state=None,
        learning_rate="invscaling",
        eta0=0.01,
        power_t=0.25,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=5,
        warm_start=False,
        average=False,
        method=None,
        optimizer="sgd",
        standardize=False,
        batch_size=32,
        n_threads=None,
        progress=False,
        callback=None,
    ):
        self.method = method
        self.optimizer = optimizer
        self.standardize = standardize
        self.batch_size = batch_size
        self.n_threads = n_threads
        self.progress = progress
        self.callback = callback
        self.loss = loss
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.shuffle = shuffle
        self.verbose = verbose
        self.epsilon = epsilon
        self.random_state = random_state
        self.learning_rate = learning_rate
        self.eta0 = eta0
        self.power_t = power_t
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.warm_start = warm_start
        self.average = average

    @transactional
    def fit(self, X, y, coef_init=None, intercept_init=None, sample_weight=None):
        """Fit by SGD for ``max_iter`` epochs at most (scikit-learn's stopping rule); from
        ``coef_init``/``intercept_init``, or the previous fit with ``warm_start``.  With a fastgd
        ``method``: ``fastgd.fit`` with that method and its stopping rule (``tol``: its optimality)."""
        self._check_params()
        if self.method is not None:
            return self._fit_fastgd(X, y, coef_init, intercept_init, sample_weight)
        vars(self).pop("_streams", None)
        if not (self.warm_start and getattr(self, "coef_", None) is not None):
            for name in _FITTED:
                vars(self).pop(name, None)
        # else, as scikit-learn's regressor: on from coef_ (and the averages), the inits unused
        self.t_ = 1.0
        self._partial_fit(X, y, self.max_iter, sample_weight, coef_init, intercept_init)
        self._after_fit_warnings()
        return self

    @available_if(_streaming)
    @transactional
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch of SGD over (X, y), continuing from the previous call (or fit): θ and t_.
        With method "sgd" or "minibatch": one pass of fastgd's ``Stream``, built at the first call
        (from the fitted coefficients after ``fit``; its schedule then starts anew) with the
        parameters of that moment; ``n_threads``, ``progress`` and ``callback`` do not apply."""
        self._check_params(for_partial_fit=getattr(self, "coef_", None) is None)
        if self.method is not None:
            return self._partial_fit_fastgd(X, y, sample_weight)
        return self._partial_fit(X, y, 1, sample_weight, None, None)

    def _validate_regression(self, X, y, reset):
        X, y = self._validate_Xy(X, y, reset=reset)
        if is_dask(X) or is_dask(y):
            return X, y
        y = np.asarray(y, dtype=X.dtype)
        if y.ndim != 1:
            raise ValueError(f"y should be a 1d array, got an array of shape {y.shape} instead.")
        return X, y

    def _fit_fastgd(self, X, y, coef_init, intercept_init, sample_weight):
        X, y = self._validate_regression(X, y, reset=True)
        sample_weight, inits = self._fastgd_start(X, y, 1, coef_init, intercept_init, sample_weight)
        self._store_fastgd([self._fastgd_fit(X, y, sample_weight, inits[0])], _dtype(X), (X.shape[1],))
        vars(self).pop("_streams", None)
        return self

    def _partial_fit_fastgd(self, X, y, sample_weight):
        refuse_dask_stream(X, y)
        streams = getattr(self, "_streams", None)
        fitted = getattr(self, "coef_", None) is not None
        X, y = self._validate_regression(X, y, reset=streams is None and not fitted)
        if fitted:
            self._check_previous_features(X)
        sample_weight = _check_sample_weight(sample_weight, X, allow_all_zero=False)
        if streams is None:
            streams = [self._fastgd_stream(_theta(self._dense_coef(), self.intercept_, self.fit_intercept)
                                           if fitted else "zeros")]  # fmt: skip
        streams[0].partial_fit(X, y, sample_weight=sample_weight)
        self._streams = streams
        self._store_fastgd([streams[0].result()], X.dtype, (X.shape[1],))
        self.n_iter_ = 1  # one pass a call, as scikit-learn's partial_fit
        return self

    def _partial_fit(self, X, y, max_iter, sample_weight, coef_init, intercept_init):
        first_call = getattr(self, "coef_", None) is None
        X, y = self._validate_regression(X, y, reset=first_call)
        sample_weight = _check_sample_weight(sample_weight, X, allow_all_zero=False)
        if first_call:
            self._allocate(1, X.shape[1], X.dtype, coef_init, intercept_init)
        else:
            self._check_previous_features(X)
            self.coef_ = self._dense_coef()
        if self.average > 0 and getattr(self, "_average_coef", None) is None:
            self._average_coef = np.zeros(X.shape[1], dtype=X.dtype)
            self._average_intercept = np.zeros(1, dtype=X.dtype)
        if not hasattr(self, "t_"):
            self.t_ = 1.0
        mask = self._validation_split(y, sample_mask=sample_weight > 0)
        random_state = check_random_state(self.random_state)
        seed = random_state.randint(0, MAX_INT)
        random_state.randint(1, MAX_INT)  # scikit-learn's dataset draws its own seed (unused for shuffling)
        coef, intercept, avg_coef, avg_intercept, n_iter = self._run(
            None, X, y, sample_weight, max_iter, mask=mask, seed=seed
        )
        self.n_iter_ = n_iter
        self.t_ += n_iter * X.shape[0]
        self._store_plain(coef, intercept, avg_coef, avg_intercept, X.dtype, (X.shape[1],))
        return self

    def predict(self, X):
        """``X @ coef_ + intercept_`` (a lazy Dask array for a Dask X)."""
        scores = self._decision(X)
        return scores if is_dask(scores) else np.asarray(scores).ravel()


def _dtype(X):
    """X's float dtype: float32 stays, anything else (a Dask DataFrame's columns) float64."""
    dtype = getattr(X, "dtype", None)
    return np.float32 if dtype == np.float32 else np.float64


def _proba(estimator):
    if estimator.loss not in ("log_loss", "modified_huber", "softmax"):
        raise AttributeError(f"probability estimates are not available for loss={estimator.loss!r}")
    return True


class SGDClassifier(ClassifierMixin, _BaseSGD):
    """Linear classifiers (SVM, logistic regression, ...) fitted by SGD, with scikit-learn's
    ``SGDClassifier``'s parameters and update rule.

    The parameters, attributes and methods are those of ``sklearn.linear_model.SGDClassifier``
    (see its documentation): ``loss`` (default "hinge"), ``penalty``, ``alpha``, ``l1_ratio``,
    ``fit_intercept``, ``max_iter``, ``tol``, ``shuffle``, ``verbose``, ``epsilon``, ``n_jobs``
    (threads for the one-vs-all problems), ``random_state``, ``learning_rate`` (default
    "optimal"), ``eta0``, ``power_t``, ``early_stopping``, ``validation_fraction``,
    ``n_iter_no_change``, ``class_weight`` (a dict or "balanced"), ``warm_start``, ``average``.
    More than two classes: one binary problem per class against the rest (one-vs-all).

    fastgd's extras, additional keywords whose defaults leave scikit-learn's behaviour as it is:
    ``method`` (None: scikit-learn's rule; "sgd", "minibatch", "batch", "auto", "normal", "svd":
    ``fastgd.fit`` with that method, scikit-learn's objective, and fastgd's stopping rule, ``tol``
    then bounding its optimality measure), and for those methods ``optimizer``, ``standardize``,
    ``batch_size``, ``n_threads``, ``progress``, ``callback``, ``shuffle="rows"|"blocks"|
    "corgipile"`` and ``learning_rate="auto"`` (``fastgd.fit``'s meanings), for the classifier
    ``loss="softmax"`` (one multinomial model, not one-vs-all); X and y may then be Dask
    collections, fitted on the cluster (predictions lazy).  Fitted then: ``result_`` too (the
    ``FitResult``; a list of them for one-vs-all).  ``shuffle="blocks"|"corgipile"`` with
    method=None: scikit-learn's rule in a cache-friendly order (runs of consecutive rows), faster
    on large X, not scikit-learn's coefficients (another shuffle's).

    Attributes: ``coef_`` (1, n_features) or (n_classes, n_features), ``intercept_``,
    ``n_iter_`` (the most epochs of the one-vs-all problems), ``t_``, ``classes_``,
    ``n_features_in_``, ``feature_names_in_``.
    """

    _losses = _CLASSIFICATION_LOSSES
    loss_functions: ClassVar[dict] = _loss_table(_losses)

    def __init__(
        self,
        loss="hinge",
        *,
        penalty="l2",
        alpha=0.0001,
        l1_ratio=0.15,
        fit_intercept=True,
        max_iter=1000,
        tol=1e-3,
        shuffle=True,
        verbose=0,
        epsilon=DEFAULT_EPSILON,
        n_jobs=None,
        random_state=None,
        learning_rate="optimal",
        eta0=0.01,
        power_t=0.5,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=5,
        class_weight=None,
        warm_start=False,
        average=False,
        method=None,
        optimizer="sgd",
        standardize=False,
        batch_size=32,
        n_threads=None,
        progress=False,
        callback=None,
    ):
        self.method = method
        self.optimizer = optimizer
        self.standardize = standardize
        self.batch_size = batch_size
        self.n_threads = n_threads
        self.progress = progress
        self.callback = callback
        self.loss = loss
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.shuffle = shuffle
        self.verbose = verbose
        self.epsilon = epsilon
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.learning_rate = learning_rate
        self.eta0 = eta0
        self.power_t = power_t
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.class_weight = class_weight
        self.warm_start = warm_start
        self.average = average

    def _more_checks(self):
        return [
            ("n_jobs", self.n_jobs is None or _is_int(self.n_jobs), "an int or None"),
            (
                "class_weight",
                self.class_weight is None
                or isinstance(self.class_weight, dict)
                or (isinstance(self.class_weight, str) and self.class_weight == "balanced"),
                "a str among {'balanced'}, an instance of 'dict' or None",
            ),
        ]

    @transactional
    def fit(self, X, y, coef_init=None, intercept_init=None, sample_weight=None):
        """Fit by SGD (one-vs-all for more than two classes) for ``max_iter`` epochs at most;
        from ``coef_init``/``intercept_init``, or the previous fit with ``warm_start``.  With a
        fastgd ``method``: one ``fastgd.fit`` a binary problem (``tol``: its optimality)."""
        self._check_params()
        if self.method is not None:
            return self._fit_fastgd(X, y, coef_init, intercept_init, sample_weight)
        vars(self).pop("classes_", None)
        vars(self).pop("_streams", None)
        y = validate_data(self, y=y)
        classes = np.unique(y)
        if self.warm_start and getattr(self, "coef_", None) is not None:
            coef_init = self._dense_coef() if coef_init is None else coef_init
            intercept_init = self.intercept_ if intercept_init is None else intercept_init
        for name in _FITTED:
            vars(self).pop(name, None)
        self.t_ = 1.0
        self._partial_fit(X, y, self.max_iter, classes, sample_weight, coef_init, intercept_init)
        self._after_fit_warnings()
        return self

    @available_if(_streaming)
    @transactional
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch of SGD over (X, y), continuing from the previous call (or fit); ``classes``
        (every label of the stream) is required on the first call."""
        self._check_params(for_partial_fit=not hasattr(self, "classes_"))
        if not hasattr(self, "classes_"):
            if isinstance(self.class_weight, str) and self.class_weight == "balanced":
                raise ValueError(
                    "class_weight 'balanced' is not supported for partial_fit. In order to use 'balanced' weights, "
                    "use compute_class_weight('balanced', classes=classes, y=y). In place of y you can use a large "
                    "enough sample of the full training set target to properly estimate the class frequency "
                    "distributions. Pass the resulting weights as the class_weight parameter."
                )
        if self.method is not None:
            return self._partial_fit_fastgd(X, y, classes, sample_weight)
        return self._partial_fit(X, y, 1, classes, sample_weight, None, None)

    def _partial_fit_classes(self, classes):
        """classes_ from the first call's ``classes``; a later ``classes`` must be the same."""
        if not hasattr(self, "classes_"):
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
            self.classes_ = unique_labels(classes)
        elif classes is not None and not np.array_equal(self.classes_, unique_labels(classes)):
            raise ValueError(
                f"`classes={classes!r}` is not the same as on last call to partial_fit, was: {self.classes_!r}"
            )
        self._check_two_classes()

    def _check_two_classes(self):
        if self.classes_.shape[0] < 2:
            raise ValueError(f"The number of classes has to be greater than one; got {self.classes_.shape[0]} class")

    def _problems(self, y, sample_weight):
        """The binary problems (labels ±1, weights times the class weights): one for two classes
        (classes_[1] positive), one a class against the rest for more."""
        lazy = is_dask(y)
        if lazy:
            self._refuse_lazy_class_weight()
        class_weight = (
            np.ones(len(self.classes_)) if lazy else compute_class_weight(self.class_weight, classes=self.classes_, y=y)
        )
        if self.classes_.shape[0] == 2:
            targets = [(self.classes_[1], class_weight[1], class_weight[0])]
        else:
            targets = [(c, class_weight[i], 1.0) for i, c in enumerate(self.classes_)]
        problems = []
        for label, pos, neg in targets:
            y_i = (y == label) * 2.0 - 1.0  # ±1; lazy for a Dask y (array or Series)
            weights = sample_weight if lazy else sample_weight * np.where(y_i > 0, pos, neg)
            problems.append((y_i, weights))
        return problems

    def _fit_fastgd(self, X, y, coef_init, intercept_init, sample_weight):
        X, y = self._validate_Xy(X, y, reset=True)
        self.classes_ = classes_of(y)
        self._check_two_classes()
        n_classes = self.classes_.shape[0]
        sample_weight, inits = self._fastgd_start(X, y, n_classes, coef_init, intercept_init, sample_weight)
        if self.loss == "softmax" and n_classes > 2:
            return self._fit_multinomial(X, y, sample_weight, inits)
        problems = self._problems(y, sample_weight)
        if len(problems) == 1:
            results = [self._fastgd_fit(X, problems[0][0], problems[0][1], inits[0])]
        else:
            results = self._one_vs_all(X, problems, inits)
        self._store_fastgd(results, _dtype(X), (len(results), X.shape[1]))
        vars(self).pop("_streams", None)
        return self

    def _fit_multinomial(self, X, y, sample_weight, inits):
        """loss="softmax" (fastgd's): one multinomial model of every class, not one-vs-all."""
        if is_dask(y):
            self._refuse_lazy_class_weight()
        else:
            sample_weight = self._class_weighted(y, sample_weight)
        init = "zeros" if isinstance(inits[0], str) else np.array(inits).T  # (d + 1, K)
        self._store_fastgd([self._fastgd_fit(X, y, sample_weight, init)], _dtype(X), None)
        vars(self).pop("_streams", None)
        return self

    def _partial_fit_multinomial(self, X, y, sample_weight, streams, fitted):
        unknown = np.setdiff1d(np.unique(y), self.classes_)
        if unknown.size:
            raise ValueError(f"y has labels {unknown.tolist()!r} not in classes_ {self.classes_.tolist()!r}")
        sample_weight = self._class_weighted(y, sample_weight)
        if streams is None:
            init = np.vstack([np.reshape(self.intercept_, (1, -1)), self._dense_coef().T]) if fitted else "zeros"
            streams = [self._fastgd_stream(init if self.fit_intercept or not fitted else init[1:], self.classes_)]
        streams[0].partial_fit(X, y, sample_weight=sample_weight)  # a raise leaves it as it was (Stream's rule)
        self._streams = streams
        self._store_fastgd([streams[0].result()], X.dtype, None)
        self.n_iter_ = 1  # one pass a call, as scikit-learn's partial_fit
        return self

    def _refuse_lazy_class_weight(self):
        if self.class_weight is not None:
            raise ValueError("class_weight needs y in memory; pass the weights as sample_weight for Dask data")

    def _class_weighted(self, y, sample_weight):
        """The weights times each sample's class weight (the multinomial model's)."""
        class_weight = compute_class_weight(self.class_weight, classes=self.classes_, y=y)
        return sample_weight * class_weight[np.searchsorted(self.classes_, y)]

    def _one_vs_all(self, X, problems, inits):
        """The problems on n_jobs threads; an interrupted fit stops its workers after their epoch."""
        cancel = threading.Event()
        user = self.callback

        def callback(epoch, state):
            return cancel.is_set() or bool(user is not None and user(epoch, state))

        estimator = clone(self).set_params(callback=callback) if self.n_jobs not in (None, 1) else self
        seeds = [seed_from(self.random_state) for _ in problems]  # drawn here, in the classes' order
        return self._threads(
            cancel,
            (
                delayed(estimator._fastgd_fit)(X, y_i, w_i, init, seed)
                for (y_i, w_i), init, seed in zip(problems, inits, seeds, strict=True)
            ),
        )

    def _threads(self, cancel, tasks):
        """The one-vs-all tasks on ``n_jobs`` threads; ``cancel`` set if this thread is interrupted
        (the workers stop at their next kernel call, or epoch)."""
        try:
            return Parallel(n_jobs=self.n_jobs, verbose=self.verbose, require="sharedmem")(tasks)
        except BaseException:
            cancel.set()
            raise

    def _partial_fit_fastgd(self, X, y, classes, sample_weight):
        refuse_dask_stream(X, y)
        streams = getattr(self, "_streams", None)
        fitted = getattr(self, "coef_", None) is not None
        X, y = self._validate_Xy(X, y, reset=streams is None and not fitted)
        check_classification_targets(y)
        self._partial_fit_classes(classes)
        if fitted:
            self._check_previous_features(X)
        sample_weight = _check_sample_weight(sample_weight, X, allow_all_zero=False)
        if self.loss == "softmax" and self.classes_.shape[0] > 2:
            return self._partial_fit_multinomial(X, y, sample_weight, streams, fitted)
        problems = self._problems(y, sample_weight)
        if streams is None:
            rows = zip(np.atleast_2d(self._dense_coef()), np.ravel(self.intercept_), strict=True) if fitted else None
            inits = [_theta(c, b, self.fit_intercept) for c, b in rows] if fitted else ["zeros"] * len(problems)
            streams = [self._fastgd_stream(init, classes=np.array([-1.0, 1.0])) for init in inits]
        updated = [copy.deepcopy(stream) for stream in streams]  # all or none: a raise leaves the streams as they were
        for stream, (y_i, w_i) in zip(updated, problems, strict=True):
            stream.partial_fit(X, y_i, sample_weight=w_i)
        self._streams = updated
        self._store_fastgd([stream.result() for stream in updated], X.dtype, (len(updated), X.shape[1]))
        self.n_iter_ = 1  # one pass a call, as scikit-learn's partial_fit
        return self

    def _partial_fit(self, X, y, max_iter, classes, sample_weight, coef_init, intercept_init):
        first_call = not hasattr(self, "classes_")
        X, y = self._validate_Xy(X, y, reset=first_call)
        check_classification_targets(y)
        self._partial_fit_classes(classes)
        n_classes = self.classes_.shape[0]
        class_weight = compute_class_weight(self.class_weight, classes=self.classes_, y=y)
        sample_weight = _check_sample_weight(sample_weight, X, allow_all_zero=self.early_stopping)
        if getattr(self, "coef_", None) is None or coef_init is not None:
            self._allocate(n_classes, X.shape[1], X.dtype, coef_init, intercept_init)
        else:
            self._check_previous_features(X)
            self.coef_ = self._dense_coef()
        if not hasattr(self, "t_"):
            self.t_ = 1.0
        if n_classes > 2:
            self._fit_multiclass(X, y, max_iter, class_weight, sample_weight)
        else:
            self._fit_binary(X, y, max_iter, class_weight, sample_weight)
        return self

    def _binary(self, i, X, y, max_iter, weights, sample_weight, mask, random_state, cancel=None):
        """Class i against the rest (i = 1 of two classes): labels ±1, as scikit-learn's fit_binary."""
        y_i = np.where(y == self.classes_[i], 1.0, -1.0)
        random_state = check_random_state(random_state)
        random_state.randint(1, MAX_INT)  # scikit-learn's dataset draws its own seed (unused for shuffling)
        if mask is None:
            mask = self._validation_split(y_i, sample_mask=sample_weight > 0)
        seed = random_state.randint(MAX_INT)
        return self._run(None if self.classes_.shape[0] == 2 else i, X, y_i, sample_weight, max_iter,
                         weights=weights, mask=mask, seed=seed, cancel=cancel)  # fmt: skip

    def _fit_binary(self, X, y, max_iter, class_weight, sample_weight):
        coef, intercept, avg_coef, avg_intercept, n_iter = self._binary(
            1, X, y, max_iter, (class_weight[1], class_weight[0]), sample_weight, None, self.random_state
        )
        self.t_ += n_iter * X.shape[0]
        self.n_iter_ = n_iter
        self._store_plain(coef, intercept, avg_coef, avg_intercept, X.dtype, (1, X.shape[1]))

    def _fit_multiclass(self, X, y, max_iter, class_weight, sample_weight):
        """One-vs-all: the classes' problems on ``n_jobs`` threads (the kernels release the GIL)."""
        mask = self._validation_split(y, sample_mask=sample_weight > 0)
        seeds = check_random_state(self.random_state).randint(MAX_INT, size=len(self.classes_))
        cancel = threading.Event()
        results = self._threads(
            cancel,
            (
                delayed(self._binary)(i, X, y, max_iter, (class_weight[i], 1.0), sample_weight, mask, seed, cancel)
                for i, seed in enumerate(seeds)
            ),
        )
        coef, intercept, avg_coef, avg_intercept, n_iters = zip(*results, strict=True)
        self.t_ += max(n_iters) * X.shape[0]
        self.n_iter_ = max(n_iters)
        averages = (np.array(avg_coef), np.array(avg_intercept)) if self.average > 0 else (None, None)
        self._store_plain(np.array(coef), np.array(intercept), *averages, X.dtype, (len(coef), X.shape[1]))

    def decision_function(self, X):
        """Scores ``X @ coef_.T + intercept_``: (n,) for two classes (> 0: ``classes_[1]``),
        (n, n_classes) for more."""
        scores = self._decision(X)
        scores = scores if is_dask(scores) else np.asarray(scores)
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def predict(self, X):
        """The class of the highest score (lazily, block by block, for a Dask X)."""
        scores = self.decision_function(X)
        if is_dask(scores):
            return scores.map_blocks(self._labels, drop_axis=list(range(1, scores.ndim)), dtype=self.classes_.dtype)
        return self._labels(scores)

    def _labels(self, scores):
        index = (scores > 0).astype(np.intp) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[index]

    @available_if(_proba)
    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_``: the logistic function of
        the scores for "log_loss" (one-vs-all scores normalized to sum 1), ``(clip(score, -1, 1)
        + 1) / 2`` for "modified_huber" (normalized likewise; uniform where all are 0), as
        scikit-learn."""
        scores = self.decision_function(X)
        if self.loss == "softmax":  # two classes: one binary logistic model
            return probabilities("softmax" if scores.ndim == 2 else "log", scores)
        if self.loss == "log_loss":
            prob = 1.0 / (1.0 + np.exp(-np.clip(scores, -500.0, 500.0)))
        else:
            prob = (np.clip(scores, -1.0, 1.0) + 1.0) / 2.0
        if prob.ndim == 1:
            return np.column_stack([1.0 - prob, prob])
        total = prob.sum(axis=1)
        zero = total == 0
        prob[zero, :] = 1.0
        total[zero] = prob.shape[1]
        return prob / total[:, None]

    @available_if(_proba)
    def predict_log_proba(self, X):
        """``log(predict_proba(X))``."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))
