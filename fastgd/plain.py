"""scikit-learn's plain SGD, epoch by epoch: the driver of ``kernels.plain`` behind
``fastgd.SGDRegressor`` and ``fastgd.SGDClassifier``.

``plain_sgd`` takes what scikit-learn's ``_plain_sgd`` takes and returns what it returns: the
same visiting order (scikit-learn's own shuffle, ``kernels.plain.sklearn_shuffle``, from the
same seed), the same updates, the same stopping rule (``n_iter_no_change`` epochs without an
improvement of ``tol`` in the objective, or in the validation score with early stopping; the
adaptive rate divided by 5 instead of stopping while it is above 1e-6), the same end-of-epoch
finiteness check.  Each epoch is cut into kernel calls of bounded work (``runner.SLICE_WORK``),
so Ctrl-C is honoured within a fraction of a second; the cuts do not change a bit.

``shuffle="blocks"`` or ``"corgipile"`` (fastgd's extras, ``runner.Shuffler``) keeps the update
rule and changes the visiting order only: runs of consecutive rows in a random order, read
nearly sequentially (a random row costs a cache miss; scikit-learn's order pays one a row), so
the coefficients differ from scikit-learn's as two shuffles' do.

Where this departs from scikit-learn 1.9, on purpose: the weights are float64 for float32 X as
well (scikit-learn keeps float32 ones); the early-stopping score is computed with the true
weights ``wscale * v`` (scikit-learn passes ``v`` alone, without its scale).
"""

import math
from dataclasses import dataclass

import numpy as np

from .exceptions import DivergenceError
from .kernels import codes
from .kernels import plain as K
from .runner import Shuffler, index_dtype, row_bytes, rows_per_call

__all__ = ["LOSSES", "Cancelled", "OverflowDivergenceError", "PlainModel", "optimal_init", "plain_sgd"]

#: scikit-learn's loss names -> (kernels' loss code, factor of the kernels' loss, has epsilon)
LOSSES = {
    "squared_error": (codes.SQUARED, 0.5, False),  # r**2 / 2: half fastgd's "squared"
    "huber": (codes.HUBER, 1.0, True),
    "epsilon_insensitive": (codes.EPSILON_INSENSITIVE, 1.0, True),
    "squared_epsilon_insensitive": (codes.SQUARED_EPSILON_INSENSITIVE, 1.0, True),
    "log_loss": (codes.LOG, 1.0, False),
    "hinge": (codes.HINGE, 1.0, False),
    "perceptron": (codes.PERCEPTRON, 1.0, False),
    "squared_hinge": (codes.SQUARED_HINGE, 1.0, False),
    "modified_huber": (codes.MODIFIED_HUBER, 1.0, False),
}
PENALTIES = {None: K.PENALTY_NONE, "l1": K.PENALTY_L1, "l2": K.PENALTY_L2, "elasticnet": K.PENALTY_ELASTICNET}
LEARNING_RATES = {
    "constant": K.LR_CONSTANT,
    "optimal": K.LR_OPTIMAL,
    "invscaling": K.LR_INVSCALING,
    "adaptive": K.LR_ADAPTIVE,
}


class Cancelled(Exception):
    """A fit stopped by its ``cancel`` event: the caller raises the reason (e.g. a Ctrl-C)."""


class OverflowDivergenceError(DivergenceError, ValueError):
    """The weights overflowed (scikit-learn's "Floating-point under-/overflow" ValueError, which
    this is too, so ``except ValueError`` catches it as it catches scikit-learn's)."""


@dataclass(frozen=True)
class PlainModel:
    """What one binary (or regression) problem's SGD is: the loss, penalty, schedule and the
    stopping rule, in scikit-learn's terms (``alpha``, ``l1_ratio``, ``eta0``, ...)."""

    loss: str
    epsilon: float
    penalty: str | None
    alpha: float
    l1_ratio: float
    learning_rate: str
    eta0: float
    power_t: float
    fit_intercept: bool
    average: int
    max_iter: int
    tol: float | None
    n_iter_no_change: int
    early_stopping: bool
    shuffle: bool | str  #: True: scikit-learn's order; "blocks", "corgipile": fastgd's (``runner.Shuffler``)
    verbose: int

    def kernel_model(self, weight_pos, weight_neg, intercept_decay):
        code, half, has_eps = LOSSES[self.loss]
        penalty = PENALTIES[self.penalty]
        l1_ratio = {K.PENALTY_L2: 0.0, K.PENALTY_L1: 1.0}.get(penalty, float(self.l1_ratio))
        track = bool(self.verbose) or not self.early_stopping
        eps = float(self.epsilon) if has_eps else 0.0
        return (code, eps, half, penalty, float(self.alpha), l1_ratio, bool(self.fit_intercept),
                float(weight_pos), float(weight_neg), float(intercept_decay), int(self.average), track)  # fmt: skip

    def schedule(self):
        code = LEARNING_RATES[self.learning_rate]
        start = optimal_init(self.loss, self.epsilon, self.alpha) if code == K.LR_OPTIMAL else 0.0
        return (code, float(self.eta0), float(self.power_t), start)


def optimal_init(loss, epsilon, alpha):
    """t0 of the "optimal" schedule ``eta = 1 / (alpha (t0 + t - 1))`` (Bottou's heuristic, as
    scikit-learn): the first rate is ``typw / max(1, loss'(-typw, 1))``, ``typw = alpha**-0.25``."""
    code, half, has_eps = LOSSES[loss]
    typw = math.sqrt(1.0 / math.sqrt(alpha))
    eta0 = typw / max(1.0, K.loss_derivative(code, float(epsilon) if has_eps else 0.0, half, -typw, 1.0))
    return 1.0 / (eta0 * alpha)


def _rows_per_call(X):
    """Rows of one kernel call: about SLICE_WORK multiply-adds (and row reads)."""
    return rows_per_call(X.nnz / max(1, X.shape[0]) if hasattr(X, "indptr") else X.shape[1])


def _xs(X):
    """X as ``runner.row_bytes`` and the CSR kernel take it: ``(data, indices, indptr)``, or ``(X,)``."""
    return (X.data, X.indices, X.indptr) if hasattr(X, "indptr") else (X,)


def _shuffle(order, seed):
    """scikit-learn's shuffle of ``order`` from ``seed``, in calls of bounded work (Ctrl-C)."""
    state, swaps = np.array([seed], dtype=np.int64), order.shape[0] - 1
    step = rows_per_call(0)
    for start in range(0, swaps, step):
        K.sklearn_shuffle(order, state, start, min(swaps, start + step))


def plain_sgd(model, X, y, sample_weight, coef, intercept, average_coef, average_intercept, *,
              validation_mask, score, seed, weight_pos, weight_neg, t, intercept_decay, cancel=None):  # fmt: skip
    """scikit-learn's ``_plain_sgd`` on X (C-contiguous ndarray or CSR with int32 indices), y
    (labels in {-1, +1} for classification) and sample_weight, from ``coef``/``intercept`` (and
    the running average ``average_coef``/``average_intercept`` when ``model.average``), update
    count ``t`` (1-based, as scikit-learn's ``t_``).  ``score(coef, intercept)``: the validation
    score (higher is better) with early stopping, else None.  Returns (coef, intercept,
    average_coef or None, average_intercept, epochs run) as float64; the inputs are not touched.
    Raises ``OverflowDivergenceError`` when the weights are no longer finite after an epoch.
    ``cancel``: a ``threading.Event``; once set, the fit raises ``Cancelled`` at its next kernel
    call (the one-vs-all problems on worker threads stop so when the main thread is interrupted)."""
    n = X.shape[0]
    v = np.array(coef, dtype=np.float64)
    aw = np.array(average_coef, dtype=np.float64) if model.average else np.zeros(0)
    q = np.zeros(v.shape[0] if model.penalty in ("l1", "elasticnet") else 0)
    s = K.new_state(v, float(intercept), float(t), float(model.eta0))
    s[K.S_AVERAGE_INTERCEPT] = float(average_intercept)
    mask = np.ascontiguousarray(validation_mask, dtype=np.bool_)
    train_count = n - int(mask.sum())
    y = np.ascontiguousarray(y, dtype=np.float64)
    sample_weight = np.ascontiguousarray(sample_weight, dtype=np.float64)
    kernel, xs = (K.csr_plain_epoch, _xs(X)) if hasattr(X, "indptr") else (K.plain_epoch, X)
    data, weights = (xs, y, sample_weight, mask), (v, aw, q, s)
    kernel_model = model.kernel_model(weight_pos, weight_neg, intercept_decay)
    schedule = model.schedule()
    order = np.arange(n, dtype=index_dtype(n))
    shuffler = None
    if model.shuffle in ("blocks", "corgipile"):  # every row, zero weights too, as scikit-learn visits them
        shuffler = Shuffler(n, None, model.shuffle, np.array([seed], dtype=np.uint64), row_bytes(_xs(X), n))
    step = _rows_per_call(X)
    tol = -np.inf if model.tol is None else float(model.tol)
    best_objective, best_score, no_improvement = np.inf, -np.inf, 0
    epoch = 0
    for epoch in range(model.max_iter):
        s[K.S_SUMLOSS] = s[K.S_OBJECTIVE] = 0.0
        if model.verbose:
            print(f"-- Epoch {epoch + 1}")
        if shuffler is not None:
            order = shuffler.next()
        elif model.shuffle:
            _shuffle(order, seed)
        for start in range(0, n, step):
            if cancel is not None and cancel.is_set():
                raise Cancelled("the fit was cancelled (another problem of the same fit raised)")
            kernel(data, kernel_model, schedule, weights, (order, start, min(n, start + step)))
        if not K.weights_finite(v, s):
            raise _overflow(model, schedule, s, epoch + 1)
        if model.early_stopping:
            value = score(v * s[K.S_WSCALE], s[K.S_INTERCEPT])
            improved = not (tol > -np.inf and value < best_score + tol)
            best_score = max(best_score, value)
        else:
            value = s[K.S_OBJECTIVE] / train_count
            improved = not (tol > -np.inf and value > best_objective - tol)
            best_objective = min(best_objective, value)
        if model.verbose:
            _report(v, s, train_count, value if model.early_stopping else None)
        no_improvement = 0 if improved else no_improvement + 1
        if no_improvement >= model.n_iter_no_change:
            if model.learning_rate == "adaptive" and s[K.S_ETA] > 1e-6:
                s[K.S_ETA] /= 5.0
                no_improvement = 0
            else:
                if model.verbose:
                    print(f"Convergence after {epoch + 1} epochs")
                break
    K.reset_scale(v, aw, s)
    return v, float(s[K.S_INTERCEPT]), aw if model.average else None, float(s[K.S_AVERAGE_INTERCEPT]), epoch + 1


def _overflow(model, schedule, s, epoch):
    """scikit-learn's overflow ValueError, with the rate in use at the end and what lowers it."""
    rate = K.plain_rate.py_func(schedule, s[K.S_T], s[K.S_ETA], model.alpha)  # the kernel's own formula, as Python
    fix = "raise alpha (the 'optimal' rate is 1 / (alpha (t0 + t)))" if schedule[0] == K.LR_OPTIMAL else "lower eta0"
    return OverflowDivergenceError(
        f"Floating-point under-/overflow occurred at epoch #{epoch}. Scaling input data with StandardScaler or "
        f"MinMaxScaler might help (or {fix}; the learning rate was {rate:.3g}).",
        method="sgd",
        epoch=epoch,
        last_loss=None,
        learning_rate=float(rate),
        safe_learning_rate=None,
    )


def _report(v, s, train_count, validation_score):
    """scikit-learn's verbose line of an epoch."""
    w = v * s[K.S_WSCALE]
    line = (
        f"Norm: {np.linalg.norm(w):.2f}, NNZs: {np.count_nonzero(w)}, Bias: {s[K.S_INTERCEPT]:.6f}, "
        f"T: {int(s[K.S_T]) - 1}, Avg. loss: {s[K.S_SUMLOSS] / train_count:f}, "
        f"Objective: {s[K.S_OBJECTIVE] / train_count:f}"
    )
    print(line if validation_score is None else f"{line}, Validation score: {validation_score:f}")
