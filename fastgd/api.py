"""``fastgd.fit``: validate, choose a method and its kernel, run it, report a FitResult."""

import math
import warnings
from typing import NamedTuple

import numpy as np

from . import _validation as v
from . import closed_form, schedules
from . import kernels as K
from ._dispatch import GRAM_MAX_FEATURES, Problem, thread_count
from .exceptions import ConvergenceWarning, DivergenceError, FeatureScaleWarning
from .result import FitResult

#: a loss this many times the larger of the initial loss and var(y) counts as diverging
_BLOWUP = 1e8
#: batch GD steps per call of the compiled Gram loop (and per table of rates)
_STEPS = 4096
#: batch GD on a non-smooth loss waits this many times n_iter_no_change iterations for a new best
_SUBGRADIENT_PATIENCE = 10
#: rows per run of shuffle="blocks"
_BLOCK_ROWS = 64
#: features whose standard deviations differ by more than this make gradient descent crawl
_SCALE_RATIO = 100.0

_NAMES = {
    "batch": "batch gradient descent",
    "sgd": "stochastic gradient descent",
    "minibatch": "mini-batch gradient descent",
}


def fit(
    X,
    y,
    *,
    method="auto",
    loss="squared",
    epsilon=None,
    penalty=None,
    alpha=None,
    l1_ratio=None,
    optimizer="sgd",
    average=False,
    sample_weight=None,
    early_stopping=False,
    validation_fraction=0.1,
    learning_rate="auto",
    batch_size=32,
    max_epochs=1000,
    tol=1e-6,
    n_iter_no_change=5,
    init="random",
    fit_intercept=True,
    standardize=False,
    shuffle=True,
    record_path=False,
    random_state=None,
    n_threads=None,
    precompute="auto",
    callback=None,
    progress=False,
):
    """Fit a linear model ``p = intercept + X @ coef`` by minimizing the mean training loss plus
    a penalty: the textbook's linear regression (the MSE) by default; robust regression, linear
    SVMs, logistic and softmax regression with ``loss``.

    Parameters
    ----------
    X : array-like (n, d) or (n,)
        Features; float32 stays float32 (no copy when C-contiguous), float16 -> float32, other
        numbers -> float64.  A scipy.sparse matrix (CSR as is; other formats converted once, with a
        SparseConversionWarning) for the iterative methods, never densified: see README,
        "Sparse input" (standardize then only scales; "auto" is "batch").
    y : array-like (n,) or (n, 1)
        Targets; class labels for a classification loss (any two values for the binary
        losses, the larger in sorted order being the positive class; K >= 2 for softmax).
    method : {"auto", "normal", "svd", "batch", "sgd", "minibatch"}
        "normal": the normal equation (Cholesky); "svd": the pseudo-inverse (minimum-norm
        when X̃ᵀX̃ is singular); "batch": full-batch gradient descent; "sgd": one sample per
        update, a fresh random order each epoch; "minibatch": ``batch_size`` samples per update.
        "auto" takes the fastest route that always reaches the least-squares optimum: "svd"
        when n <= d (underdetermined: the minimum-norm solution), otherwise "normal" (one read
        of X and a d x d Cholesky), falling back to "svd" when XᵀX is singular; "batch" when
        the loss or the penalty has no closed form (any loss but "squared", an L1 term), or
        with ``early_stopping``.  The closed forms solve the squared loss with no penalty or L2
        (ridge) only.
    loss : str
        "squared" (default), "huber", "epsilon_insensitive", "squared_epsilon_insensitive",
        "log", "hinge", "squared_hinge", "modified_huber" or "softmax"; formulas in
        ``fastgd.losses``.  For "hinge" and "epsilon_insensitive" (not differentiable) batch
        GD stops on the loss plateau instead of the gradient norm (over 10 x n_iter_no_change
        iterations), and every method returns the θ of the lowest training objective seen
        (subgradient steps do not lower it every epoch).
    epsilon : float >= 0 or None
        ε of "huber", "epsilon_insensitive", "squared_epsilon_insensitive" (default 0.1); an
        error with any other loss.
    penalty : None, "l2", "l1" or "elasticnet"
        Adds ``alpha * ((1 - l1_ratio)/2 ||coef||² + l1_ratio ||coef||₁)`` to the objective
        (l1_ratio = 0 for "l2", 1 for "l1"); the intercept is never penalized.  L1 is applied by
        its proximal map (soft thresholding), so coefficients become exactly 0.  With
        ``standardize=True`` the penalty is on the coefficients of the standardized features
        (as with a StandardScaler in front), for every method.
    alpha : float >= 0 or None
        Strength of the penalty (default 1e-4); an error without a penalty.
    l1_ratio : float in [0, 1] or None
        The L1 share of "elasticnet" (default 0.15); an error with any other penalty.
    optimizer : str or ``fastgd.optimizers`` object
        "sgd" (plain steps, default), "momentum", "nesterov", "adagrad", "rmsprop", "adam";
        iterative methods only.  With learning_rate="auto", "adagrad", "rmsprop" and "adam"
        use a constant 0.01, 0.001 and 0.001 (their usual defaults); "momentum" and "nesterov"
        the plain rate in batch GD (1/L) and the plain rate times (1 - beta) in SGD and
        mini-batch (their steps accumulate about 1/(1 - beta) gradients).
    average : bool or int >= 1
        SGD and mini-batch: return the average of the iterates (Polyak–Ruppert) from the first
        update (True) or from update ``average`` on; the epoch losses are those of the average.
    sample_weight : array-like (n,) or None
        Non-negative weights: the objective's mean becomes ``Σ w loss / Σ w``, so a weight of k
        counts as k copies of the row, and rows of weight 0 are never visited (they do not
        advance the schedule).  Every method.
    early_stopping : bool
        Iterative methods: hold out ``validation_fraction`` of the rows (at random, from
        ``random_state``), score the mean loss on them after every epoch, stop when it has not
        improved by ``tol`` (relative) for ``n_iter_no_change`` epochs, and return the best θ
        seen.  Batch GD then runs without the Gram matrix (the split needs passes over X).
    validation_fraction : float in (0, 1)
        The held-out share for ``early_stopping``.
    learning_rate : float, schedule from ``fastgd.schedules``, @njit function of t, or "auto"
        A float is a constant rate.  "auto", from the data: batch GD uses ``1/L``, L the
        Lipschitz constant of the gradient (power iteration on X̃ᵀX̃); SGD and mini-batch use
        ``inverse_time``: ``eta(t) = eta0 / (1 + t / t1)`` with ``eta0 = 1/L_b``, where
        ``L_b = (n (b - 1) L + (n - b) L_max) / (b (n - 1))`` (b the batch size, 1 for SGD,
        ``L_max = 2 max_i ‖x̃_i‖²``), and ``t1 = min(L_b / μ, 10 epochs of updates)``, μ the
        strong convexity (smallest Hessian eigenvalue, by inverse iteration on the Gram
        matrix, for d <= 2048; when unknown or 0, t1 = one epoch): Bottou's ``1 / (μ t)``
        decay after a first stretch at ``1/L_b``.  The schedule used is in
        ``result.learning_rate``.
    batch_size : int >= 1
        Samples per update of "minibatch" (clipped to n, with a warning).
    max_epochs : int >= 1
        Passes over the data at most (for "batch": iterations).
    tol : float >= 0
        SGD and mini-batch stop when the training loss has not improved by more than ``tol``
        times the best loss so far for ``n_iter_no_change`` consecutive epochs; batch GD stops
        when the gradient norm falls below ``tol`` times its initial value (a loss plateau
        says little about the distance to the optimum of an ill-conditioned problem).  0
        disables both: exactly ``max_epochs`` epochs run, ``converged`` is False and no
        ConvergenceWarning is raised.
    n_iter_no_change : int >= 1
    init : "random", "zeros", or array
        "random": standard normal θ, as the textbook; an array is a warm start, either
        [intercept, *coef] (d + 1 values) or coef (d values), in the original units (softmax:
        (d + 1, K) or (d, K)).
    fit_intercept : bool
    standardize : bool
        Iterative methods read each feature as (x - mean) / std on the fly (no copy of X) and
        report coef in the original units.  Without an intercept features are only scaled.
    shuffle : True, "rows", "blocks" or False
        SGD / mini-batch: a fresh random order of the rows every epoch (True = "rows": exact
        SGD, random reads); "blocks": runs of 64 consecutive rows, the runs in a fresh random
        order (sequential reads, faster on data far larger than the caches, a less random
        visit); False: the rows' own order every epoch.
    record_path : False, "epoch", "update" or True (= "update")
        Keep θ after every update or epoch in ``result.path`` (memory: updates x (d + 1)).
    random_state : None, int, numpy SeedSequence or Generator
        Seeds the initial θ and the sample orders; the same value gives the same bits.
    n_threads : int or None
        Threads for the full-batch passes (None: numba's setting); their results do not depend
        on it.  SGD and mini-batch update serially and deterministically unless ``n_threads``
        is given explicitly > 1: then each epoch runs as local SGD with averaging on
        ``n_threads`` shards (see README, "Parallel SGD"): faster, reproducible for a given
        ``n_threads``, but not the same iterates as the serial run; plain steps only (no
        ``optimizer``, no ``average``).
    precompute : "auto", True or False
        Batch GD with the squared loss only: read X once to form the Gram matrix X̃ᵀX̃ (BLAS, in
        float64, centered),
        after which every step costs O(d²) instead of a pass over X; for a given learning rate
        the same iterates up to rounding (the "auto" rate is estimated more precisely on the
        Gram path), and the final loss is measured with a pass over X.  "auto": with an
        intercept, when n > d and d <= 2048.  Without an intercept the Gram matrix is not
        centered and ``history`` (not ``loss``) loses digits when the data's mean dwarfs the
        residuals.
    callback : callable ``f(epoch, state)`` or None
        Iterative methods: called after every epoch (batch GD: every iteration) with the epoch
        number (from 1) and a ``fastgd.FitState`` (epoch, theta in original units, objective,
        n_updates); a true return value stops the fit (``converged`` False, the message says
        so).  With a callback, batch GD on the Gram path runs one step per compiled call.
    progress : bool
        Show a tqdm progress bar over the epochs (``pip install fastgd[progress]``).

    Returns
    -------
    FitResult

    Raises
    ------
    TypeError, ValueError
        Bad input, naming the argument and the value.  Nothing passed in is modified.
    DivergenceError
        The learning rate is too large: the loss overflowed or exploded.
    SingularMatrixError
        method="normal" with a singular XᵀX (use "svd").

    Warns
    -----
    ConvergenceWarning
        max_epochs reached before the stopping rule was met.
    FeatureScaleWarning
        An iterative method on features whose scales differ by more than 100x.
    """
    if _is_dask(X) or _is_dask(y):  # dask.array / dask.dataframe: the same fit, block by block on Dask
        kwargs = {name: value for name, value in locals().items() if name not in ("X", "y")}
        from . import distributed

        return distributed.fit(X, y, **kwargs)
    method = v.check_choice("method", method, v.METHODS)
    spec = v.check_loss(loss)
    eps = v.check_epsilon(spec, epsilon)
    l2, l1 = v.check_penalty(penalty, alpha, l1_ratio)
    opt = v.check_optimizer(optimizer)
    average = v.check_average(average)
    early_stopping = v.check_bool("early_stopping", early_stopping)
    validation_fraction = v.check_fraction("validation_fraction", validation_fraction)
    max_epochs = v.check_int("max_epochs", max_epochs, 1)
    batch_size = v.check_int("batch_size", batch_size, 1)
    n_iter_no_change = v.check_int("n_iter_no_change", n_iter_no_change, 1)
    tol = v.check_real("tol", tol, 0.0)
    fit_intercept = v.check_bool("fit_intercept", fit_intercept)
    standardize = v.check_bool("standardize", standardize)
    shuffle = v.check_choice("shuffle", shuffle, v.SHUFFLE)
    shuffle = "rows" if shuffle is True else shuffle
    record_path = v.check_choice("record_path", record_path, v.RECORD_PATH)
    record_path = "update" if record_path is True else record_path
    schedule = _check_learning_rate(learning_rate)
    precompute = v.check_choice("precompute", precompute, ("auto", True, False))
    rng = v.check_random_state(random_state)
    explicit_threads = n_threads is not None
    n_threads = v.check_n_threads(n_threads)
    if method == "auto":
        closed = spec.name == "squared" and l1 == 0 and not early_stopping
        method = "auto" if closed else "batch"
    _check_combination(method, spec, l1, opt, average, early_stopping)
    progress = _check_observer(callback, progress, method)
    local_sgd = explicit_threads and n_threads > 1 and method in ("sgd", "minibatch")
    if local_sgd and record_path == "update":
        raise ValueError(
            f"record_path='update' needs serial updates: with n_threads={n_threads} {method} runs as local SGD; "
            "use record_path='epoch' or n_threads=1"
        )
    if local_sgd and (opt.code != K.codes.SGD or average >= 0):
        raise ValueError(
            f"optimizer={opt!r} and average={average >= 0} need serial updates: with n_threads={n_threads} {method} "
            "runs as local SGD with plain steps; pass n_threads=1 (or leave it None)"
        )

    X = v.check_X(X, accept_sparse=True)
    if v.is_sparse(X):
        method = _sparse_method(method, local_sgd, n_threads)
        _check_combination(method, spec, l1, opt, average, early_stopping)
    if spec.classifier:
        y, classes = v.encode_labels(y, X.shape[0], spec, X.dtype)
    else:
        y, classes = v.check_y(y, X.shape[0], X.dtype), None
    n_outputs = classes.shape[0] if spec.task == "multiclass" else 1
    weights = v.check_sample_weight(sample_weight, X.shape[0])
    theta0 = v.check_init(init, X.shape[1], fit_intercept, n_outputs)
    validation = None
    if early_stopping:
        weights, validation = _split(weights, X.shape[0], validation_fraction, rng)

    with thread_count(n_threads):
        problem = Problem(
            X, y, fit_intercept=fit_intercept, n_threads=n_threads, spec=spec, eps=eps, weights=_normalized(weights),
            l2=l2, l1=l1, n_outputs=n_outputs,
        )  # fmt: skip
        if problem.bad_row >= 0:
            raise v.report_nonfinite(X, problem.bad_row)
        if not np.isfinite(problem.std).all():
            col = int(np.flatnonzero(~np.isfinite(problem.std))[0])
            raise ValueError(
                f"X column {col} holds values too large to square in float64 (its variance overflows); rescale it"
            )
        if not np.isfinite(problem.y_var):
            raise ValueError("y holds values too large to square in float64 (its variance overflows); rescale it")
        if standardize:
            problem.standardize()
        labels = dict(loss_name=spec.name, classes=classes)
        if method == "auto":
            return _auto(problem, labels)
        if method in ("normal", "svd"):
            return _closed_form(problem, method, labels)
        if not standardize:
            _warn_scales(problem)
        gram_ok = spec.name == "squared" and not early_stopping
        if method == "batch" and gram_ok and (precompute is True or (precompute == "auto" and _gram_pays(problem))):
            problem.use_gram()
        rows = problem.rows
        if method == "minibatch" and batch_size > rows:
            warnings.warn(f"batch_size={batch_size} exceeds the {rows} samples; using {rows}", stacklevel=2)
            batch_size = rows
        if isinstance(theta0, str):
            theta = rng.standard_normal(problem.shape) if theta0 == "random" else np.zeros(problem.shape)
            theta[:, 0] *= fit_intercept
            if standardize and fit_intercept:  # a constant column reads as 0: its coefficient gets no gradient
                theta[:, 1:][:, problem.std == 0] = 0.0
        else:
            theta = problem.to_model(theta0)
        run = _batch if method == "batch" else _stochastic
        settings = _Settings(
            batch_size, max_epochs, tol, n_iter_no_change, shuffle, record_path, rng, n_threads if local_sgd else 0,
            (opt.code, opt.params, average), opt, validation, labels, _observer(callback, progress, method, max_epochs),
        )  # fmt: skip
        try:
            return run(problem, method, theta, schedule, settings)
        finally:
            if settings.observer is not None:
                settings.observer.close()


def _sparse_method(method, local_sgd, n_threads):
    """The method for a sparse X: "auto" -> "batch"; the closed forms and local SGD refused."""
    if method in ("normal", "svd"):
        raise ValueError(
            f"method={method!r} needs a dense X (it factors XᵀX or X itself); for a scipy.sparse X use "
            "method='batch', 'sgd' or 'minibatch' (or pass X.toarray() if it fits in memory)"
        )
    if local_sgd:
        raise ValueError(
            f"n_threads={n_threads} runs {method} as local SGD, which has no sparse kernel; pass n_threads=1 "
            "(or leave it None) for serial updates on a scipy.sparse X"
        )
    return "batch" if method == "auto" else method


def _check_combination(method, spec, l1, opt, average, early_stopping):
    """Errors for arguments that the chosen method cannot honour (before any work)."""
    if method in ("normal", "svd"):
        if spec.name != "squared" or l1 > 0:
            what = f"loss={spec.name!r}" if spec.name != "squared" else "an L1 penalty"
            raise ValueError(
                f"method={method!r} solves least squares (loss='squared', penalty None or 'l2') in closed form; "
                f"{what} has no closed form: use method='batch', 'sgd' or 'minibatch'"
            )
        for name, used in (("optimizer", opt.code != K.codes.SGD), ("average", average >= 0),
                           ("early_stopping", early_stopping)):  # fmt: skip
            if used:
                raise ValueError(f"{name} applies to the iterative methods (batch, sgd, minibatch), not {method!r}")
    if method == "batch" and average >= 0:
        raise ValueError("average applies to 'sgd' and 'minibatch': batch GD's iterates do not jitter")


def _split(weights, n, fraction, rng):
    """(training weights, validation weights) for early stopping: a random share of the rows
    held out (their training weight set to 0)."""
    held = max(1, round(fraction * n))
    if held >= n:
        raise ValueError(f"validation_fraction={fraction!r} of {n} samples leaves none to train on")
    mask = np.zeros(n, dtype=bool)
    mask[rng.permutation(n)[:held]] = True
    base = np.ones(n) if weights is None else weights
    train, validation = np.where(mask, 0.0, base), np.where(mask, base, 0.0)
    if not train.any() or not validation.any():
        raise ValueError("early_stopping: the random split left all the sample weight on one side; use more data")
    return train, validation


def _normalized(weights):
    """Weights scaled to mean 1 over the rows that count (those > 0), or None."""
    if weights is None:
        return None
    return weights * (np.count_nonzero(weights) / weights.sum())


def _is_dask(a):
    """Whether ``a`` is a Dask collection (told by its type's module: dask is never imported here)."""
    return type(a).__module__.partition(".")[0] in ("dask", "dask_expr")


class _Settings(NamedTuple):
    """How an iterative fit runs (validated arguments of ``fit``)."""

    batch_size: int
    max_epochs: int
    tol: float
    patience: int
    shuffle: object  # "rows", "blocks" or False
    record_path: object  # False, "epoch" or "update"
    rng: np.random.Generator
    shards: int  # local SGD on this many threads; 0: serial updates
    opt: tuple  # (optimizer code, its parameters, first averaged update or -1): the kernels' ``opt``
    optimizer: object  # the fastgd.optimizers object
    validation: object  # early stopping: the validation split's weights, else None
    labels: dict  # loss_name and classes, for the result
    observer: object  # _Observer (callback, progress bar) or None


class FitState(NamedTuple):
    """What a ``callback`` sees after an epoch."""

    epoch: int  #: epochs (batch GD: iterations) done, from 1
    theta: np.ndarray  #: [intercept, *coef] in original units (a copy; (d + 1, K) for softmax)
    objective: float  #: mean training loss + penalty
    n_updates: int  #: parameter updates so far


class _Observer:
    """The per-epoch hooks of a fit: a user's callback and a progress bar; None when neither is
    asked for, so an unobserved fit pays one ``is None`` test per epoch."""

    def __init__(self, callback, bar):
        self.callback, self.bar, self.stopped = callback, bar, None

    def __call__(self, problem, epoch, theta, objective, n_updates, steps=1):
        """True when the callback asks to stop after ``epoch``."""
        if self.bar is not None:
            self.bar.update(steps)
            self.bar.set_postfix(objective=f"{objective:.6g}", refresh=False)
        if self.callback is None:
            return False
        original = problem.to_original(theta)
        original = original[0] if problem.n_outputs == 1 else original.T
        if self.callback(epoch, FitState(epoch, original, float(objective), int(n_updates))):
            self.stopped = f"stopped by the callback after epoch {epoch}"
            return True
        return False

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _check_observer(callback, progress, method):
    """Errors for a bad callback or progress (before any work); progress as a bool."""
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be a function f(epoch, state) or None, got {callback!r}")
    progress = v.check_bool("progress", progress)
    if (callback is not None or progress) and method not in v.ITERATIVE:
        raise ValueError(f"callback and progress apply to the iterative methods, not method={method!r}")
    return progress


def _observer(callback, progress, method, max_epochs):
    """The _Observer of a fit, or None when there is nothing to observe."""
    if callback is None and not progress:
        return None
    bar = None
    if progress:
        try:
            from tqdm.auto import tqdm
        except ImportError:
            raise ImportError("progress=True needs tqdm: pip install fastgd[progress]") from None
        bar = tqdm(total=max_epochs, desc=_NAMES[method], unit="epoch")
    return _Observer(callback, bar)


def _gram_pays(problem):
    """precompute="auto": the Gram path when the d x d matrix is small and X is tall, and an
    intercept is fitted (the Gram matrix is then centered; uncentered, the loss it expands
    loses digits when the data's mean dwarfs the residuals)."""
    dense = not problem.sparse  # sparse X: streaming passes (O(nnz)) unless precompute=True
    return dense and problem.fit_intercept and problem.n > problem.d and problem.d <= GRAM_MAX_FEATURES


def _check_learning_rate(learning_rate):
    if isinstance(learning_rate, str):
        return v.check_choice("learning_rate", learning_rate, ("auto",))
    if isinstance(learning_rate, schedules.LearningRateSchedule):
        return learning_rate
    if callable(learning_rate):
        return schedules.custom(learning_rate)
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float, np.integer, np.floating)):
        raise TypeError(
            f"learning_rate must be a positive number, a fastgd.schedules schedule, an @njit function of t, "
            f"or 'auto'; got {learning_rate!r}"
        )
    if not (math.isfinite(learning_rate) and learning_rate > 0):
        raise ValueError(f"learning_rate must be > 0 and finite, got {float(learning_rate)!r}")
    return schedules.constant(float(learning_rate))


def _warn_scales(problem):
    """One FeatureScaleWarning when feature scales differ by more than _SCALE_RATIO."""
    varying = np.flatnonzero(problem.std > 0)
    if varying.size < 2:
        return
    hi = varying[np.argmax(problem.std[varying])]
    lo = varying[np.argmin(problem.std[varying])]
    ratio = problem.std[hi] / problem.std[lo]
    if ratio > _SCALE_RATIO:
        warnings.warn(
            f"feature scales differ by {ratio:.3g}x (std of column {hi} is {problem.std[hi]:.3g}, of column {lo} "
            f"{problem.std[lo]:.3g}): gradient descent will crawl along a long, flat valley of the cost. "
            "Pass standardize=True.",
            FeatureScaleWarning,
            stacklevel=3,
        )


def _result(problem, method, theta, labels, **fields):
    """A FitResult from θ (n_outputs, d + 1) in original units (float64), cast to X's dtype."""
    dtype = problem.X.dtype
    if problem.n_outputs == 1:
        intercept, coef = dtype.type(theta[0, 0]), theta[0, 1:].astype(dtype)
    else:
        intercept, coef = theta[:, 0].astype(dtype), np.ascontiguousarray(theta[:, 1:].T, dtype=dtype)
    return FitResult(method=method, intercept=intercept, coef=coef, **labels, **fields)


def _closed_form(problem, method, labels):
    ridge = (problem.l2, problem.penalty_scales()) if problem.l2 > 0 else None
    solve = closed_form.normal_equation if method == "normal" else closed_form.svd
    if method == "normal":
        theta, message = solve(problem.X, problem.y, problem.mean, problem.fit_intercept, problem.weights, ridge)
    else:
        theta, message = solve(problem.X, problem.y, problem.fit_intercept, problem.weights, ridge)
    theta = theta[None, :]
    loss = problem.loss(problem.to_model(theta))
    return _result(
        problem,
        method,
        theta,
        labels,
        loss=loss,
        objective=loss + problem.penalty(problem.to_model(theta)),
        history=np.empty(0),
        n_epochs=0,
        n_updates=0,
        converged=True,
        message=message,
    )


def _auto(problem, labels):
    if problem.n <= problem.d:
        return _closed_form(problem, "svd", labels)
    try:
        return _closed_form(problem, "normal", labels)
    except closed_form.SingularMatrixError:
        return _closed_form(problem, "svd", labels)


class _Stopper:
    """The one plateau rule: the watched value has not improved by more than ``tol`` times the
    best so far for ``patience`` consecutive epochs.  ``improved`` says whether the last call
    set a new best (early stopping keeps that θ)."""

    def __init__(self, tol, patience):
        self.tol, self.patience = tol, patience
        self.best, self.stale, self.improved = math.inf, 0, False

    def __call__(self, value):
        self.improved = value < self.best
        if value < self.best - self.tol * abs(self.best) or self.best == math.inf:
            self.stale = 0
        else:
            self.stale += 1
        self.best = min(self.best, value)
        return self.tol > 0 and self.stale >= self.patience


class _Watch:
    """What decides when an iterative fit stops, besides max_epochs: the training objective's
    plateau, or with early stopping the validation loss's plateau (keeping the best θ).  For a
    non-smooth loss (hinge, epsilon_insensitive), whose subgradient steps do not lower the
    objective every epoch, the θ of the lowest training objective seen is kept and returned."""

    def __init__(self, problem, settings, patience=None):
        self.problem, self.validation = problem, settings.validation
        self.stop = _Stopper(settings.tol, settings.patience if patience is None else patience)
        self.scores, self.best = [], None

    def __call__(self, theta, objective):
        """True to stop after this epoch (theta in model units)."""
        if self.validation is None:
            done = self.stop(objective)
            if not self.problem.spec.smooth and self.stop.improved:  # subgradient steps: keep the best
                self.best = theta.copy()
            return done
        score = self.problem.loss(theta, weights=self.validation)
        self.scores.append(score)
        done = self.stop(score)
        if self.stop.improved:
            self.best = theta.copy()
        return done

    def reason(self):
        tol, patience = self.stop.tol, self.stop.patience
        what = "the validation loss" if self.validation is not None else "the loss"
        return f"converged: {what} improved by less than tol={tol:g} (relative) for {patience} consecutive epochs"

    def final(self, theta):
        """The θ to return: the best on the validation split with early stopping."""
        return theta if self.best is None else self.best

    def fields(self):
        return {"validation": np.asarray(self.scores) if self.validation is not None else None}


def _auto_schedule(problem, method, settings):
    """The documented "auto" learning rate (see ``fit``)."""
    optimizer = settings.optimizer
    fixed = {"adagrad": 0.01, "rmsprop": 0.001, "adam": 0.001}.get(optimizer.name)
    if fixed is not None:
        return schedules.constant(fixed)
    if method == "batch":  # momentum and nesterov with 1/L too: the step of Nesterov's method
        eta0 = 1.0 / max(problem.lipschitz(), 1e-300)
        if problem.spec.smooth:
            return schedules.constant(eta0)
        return schedules.inverse_scaling(eta0=eta0, power_t=0.5)  # subgradients: a decaying rate
    b = 1 if method == "sgd" else settings.batch_size
    damping = 1.0 - optimizer.params[0] if optimizer.name in ("momentum", "nesterov") else 1.0  # their steps add up
    mu = problem.strong_convexity()
    l_b = max(_safe_lipschitz(problem, b), 1e-300)
    per_epoch = -(-problem.rows // b)
    t1 = min(l_b / mu, 10 * per_epoch) if mu > 0 else per_epoch
    return schedules.inverse_time(t0=damping * t1 / l_b, t1=t1)


def _safe_lipschitz(problem, b):
    """L_b: the expected smoothness of a b-sample gradient (Gower et al., 2019), from L and L_max,
    over the rows that count (weight > 0)."""
    n = problem.rows
    if b >= n:
        return problem.lipschitz()
    l_max = problem.lipschitz_max()
    if b == 1:
        return l_max
    return (n * (b - 1) * problem.lipschitz() + (n - b) * l_max) / (b * (n - 1))


def _diverged(problem, method, epoch, schedule, history, batch_size, loss=None):
    """The DivergenceError for a fit that blew up in ``epoch``."""
    last = next((h for h in reversed(history) if math.isfinite(h)), None)
    b = {"batch": problem.rows, "sgd": 1}.get(method, batch_size)
    safe = 1.0 / max(_safe_lipschitz(problem, b), 1e-300)
    what = f"the loss reached {loss:.3g}" if loss is not None and math.isfinite(loss) else "the iterates overflowed"
    last_text = f"the last finite loss was {last:.6g}" if last is not None else "no epoch finished with a finite loss"
    return DivergenceError(
        f"{_NAMES[method]} diverged in epoch {epoch}: {what}; {last_text}. The learning rate {schedule!r} is too "
        f"large for this data: a rate of at most {safe:.3g} is safe here (1/L from the gradient's Lipschitz "
        "constant). Lower learning_rate (or use learning_rate='auto'); if features or the target are on large "
        "scales, pass standardize=True or rescale them.",
        method=method,
        epoch=epoch,
        last_loss=last,
        learning_rate=schedule,
        safe_learning_rate=safe,
    )


def _blowup_threshold(problem, initial_loss):
    return _BLOWUP * max(initial_loss, problem.y_var, np.finfo(np.float64).tiny)


def _finish(problem, method, theta, schedule, history, n_updates, reason, settings, path, watch):
    tol, max_epochs = settings.tol, settings.max_epochs
    converged = reason is not None
    stopped = settings.observer.stopped if settings.observer is not None else None
    if stopped is not None:
        converged, reason = False, stopped
    elif not converged and tol == 0:
        reason = f"ran max_epochs={max_epochs} epochs (tol=0: no stopping rule)"
    elif not converged:
        gradient_rule = method == "batch" and problem.spec.smooth and settings.validation is None
        rule = "the gradient norm fell below tol" if gradient_rule else "the loss stopped improving by tol"
        reason = (
            f"stopped at max_epochs={max_epochs} before {rule}={tol:g}: raise max_epochs or the learning rate, "
            "or pass standardize=True (centered, scaled features make a rounder valley)"
        )
        warnings.warn(f"{_NAMES[method]} {reason}", ConvergenceWarning, stacklevel=4)
    history = np.asarray(history, dtype=np.float64)
    theta = watch.final(theta)
    loss = problem.loss(theta)  # measured with a pass, not expanded from the Gram matrix
    if path is not None:
        path = problem.to_original(np.concatenate([np.reshape(p, (-1, *problem.shape)) for p in path]))
        path = path[:, 0, :] if problem.n_outputs == 1 else np.ascontiguousarray(path.transpose(0, 2, 1))
    return _result(
        problem,
        method,
        problem.to_original(theta),
        settings.labels,
        loss=loss,
        objective=loss + problem.penalty(theta),
        history=history,
        n_epochs=history.shape[0],
        n_updates=n_updates,
        converged=converged,
        message=reason,
        learning_rate=schedule,
        path=path,
        **watch.fields(),
    )


def _batch(problem, method, theta, schedule, settings):
    """Batch GD: θ ← step(θ, ∇(θ), η(t)) with the optimizer and the penalty, one full pass (fused
    loss + gradient) per iteration, or O(d²) per iteration on the Gram path, whose loop runs
    compiled, _STEPS steps a call.  Rates are tabulated _STEPS at a time: nothing is sized by
    max_epochs.  Stops on the stationarity measure (gradient norm, or the proximal gradient
    mapping's with L1) below tol times its initial value; for a non-smooth loss or with early
    stopping, on a plateau (``_Watch``)."""
    tol, max_epochs = settings.tol, settings.max_epochs
    if schedule == "auto":
        schedule = _auto_schedule(problem, method, settings)
    grad = np.zeros(problem.shape)
    state = np.zeros((2, *problem.shape))
    objective = problem.loss_grad(theta, grad) + problem.penalty(theta)
    limit = _blowup_threshold(problem, objective)
    # a subgradient step does not lower the objective every time: give the plateau rule longer
    patience = settings.patience * (1 if problem.spec.smooth else _SUBGRADIENT_PATIENCE)
    watch = _Watch(problem, settings, patience)
    by_gradient = problem.spec.smooth and settings.validation is None
    eta0 = float(schedule.table(0, 1)[0])
    grad_tol = tol * K.stationarity(theta, grad, problem.model, eta0) if tol > 0 and by_gradient else -1.0
    history, path, reason, done = [], [theta.copy()] if settings.record_path else None, None, 0
    observer = settings.observer
    per_call = 1 if observer is not None and observer.callback is not None else _STEPS
    while done < max_epochs and reason is None and (observer is None or observer.stopped is None):
        etas = schedule.table(done, min(per_call, max_epochs - done))
        if problem.gram is not None:
            steps = np.empty((etas.shape[0], *problem.shape)) if path is not None else None
            losses = np.empty(etas.shape[0])
            plain = settings.opt[0] == K.codes.SGD and problem.l2 == problem.l1 == 0  # the fast loop
            n, status = K.gram_descent(
                *problem.gram.pieces, problem.model, settings.opt, None if plain else state, theta, etas, done,
                grad_tol, limit, grad, losses, steps,
            )  # fmt: skip
            history.extend(losses[:n])
            if path is not None:
                path.append(steps[: n - (status == K.gram.DIVERGED)])
        else:
            n, status = _streaming_steps(
                problem, theta, etas, done, (grad_tol, limit), (grad, state), settings.opt, history, path,
                None if by_gradient else watch, observer,
            )  # fmt: skip
        done += n
        if problem.gram is not None and observer is not None and status != K.gram.DIVERGED:
            if observer(problem, done, theta, history[-1], done, steps=n):
                break
        if status == K.gram.DIVERGED:
            raise _diverged(problem, method, done, schedule, history[:-1], settings.batch_size, history[-1])
        if status == K.gram.CONVERGED:
            reason = _gradient_converged(tol) if by_gradient else watch.reason()
    return _finish(problem, method, theta, schedule, history, done, reason, settings, path, watch)


def _streaming_steps(problem, theta, etas, t_start, limits, scratch, opt, history, path, watch, observer):
    """``kernels.gram_descent``'s loop with a pass over X for each loss and gradient; with a
    ``watch``, its plateau rule instead of the stationarity test; the observer after each step
    (MAX_EPOCHS, i.e. no verdict, when it stops the fit)."""
    grad_tol, limit = limits
    grad, state = scratch
    for k, eta in enumerate(etas):
        K.update(theta, grad, problem.model, opt, state, eta, t_start + k)
        objective = problem.loss_grad(theta, grad) + problem.penalty(theta)
        history.append(objective)
        if not objective <= limit:  # also catches NaN
            return k + 1, K.gram.DIVERGED
        if path is not None:
            path.append(theta.copy())
        if observer is not None and observer(problem, t_start + k + 1, theta, objective, t_start + k + 1):
            return k + 1, K.gram.MAX_EPOCHS
        if watch is not None:
            if watch(theta, objective):
                return k + 1, K.gram.CONVERGED
        elif K.stationarity(theta, grad, problem.model, eta) <= grad_tol:
            return k + 1, K.gram.CONVERGED
    return len(etas), K.gram.MAX_EPOCHS


def _gradient_converged(tol):
    return f"converged: the gradient norm fell below tol={tol:g} times its initial value"


def _stochastic(problem, method, theta, schedule, settings):
    """SGD (one sample per update) or mini-batch GD: one kernel call per epoch, then the
    exact training objective of the epoch's θ (of the average of the iterates with ``average``)."""
    b, record_path = settings.batch_size, settings.record_path
    if schedule == "auto":
        schedule = _auto_schedule(problem, method, settings)
    sgd = method == "sgd"
    index = np.int32 if problem.n < 2**31 else np.int64
    if problem.weights is None:  # O(n): the only big scratch
        order = np.arange(problem.n, dtype=index)
    else:  # rows of weight 0 are never visited
        order = np.flatnonzero(problem.weights).astype(index)
    rows = order.shape[0]
    blocks = np.empty(-(-rows // _BLOCK_ROWS), dtype=index) if settings.shuffle == "blocks" else None
    base = order.copy() if blocks is not None and problem.weights is not None else None  # the rows visited
    positions = order if base is None else np.empty(rows, dtype=index)  # runs of positions in ``base``
    per_epoch = rows if sgd else -(-rows // b)
    state = np.array([settings.rng.integers(2**63)], dtype=np.uint64)
    xs, y, w = problem.xs, problem.y, problem.weights  # xs: (X,), or (data, indices, indptr) of a CSR X
    sgd_epoch = K.csr_sgd_epoch if problem.sparse else K.sgd_epoch
    minibatch_epoch = K.csr_minibatch_epoch if problem.sparse else K.minibatch_epoch
    plain = problem.n_outputs == 1 and problem.spec.name == "squared" and settings.opt[0] == K.codes.SGD
    plain = plain and problem.l2 == 0 and problem.l1 == 0
    opt_state = None if plain else np.zeros((2, *problem.shape))  # None: the kernels' fast loop
    avg = theta.copy() if settings.opt[2] >= 0 else None
    model, opt = problem.model, settings.opt
    k = settings.shards
    if k:  # local SGD: a θ, a gradient, an optimizer state and a status per shard
        thetas, grads, status = np.empty((k, *problem.shape)), np.empty((k, *problem.shape)), np.empty(k, np.int64)
        states = None if plain else np.zeros((k, 2, *problem.shape))
    else:
        grad = np.empty(problem.shape)
    per_shard = -(-per_epoch // k) if k else per_epoch  # updates of the longest shard in an epoch
    where = problem.where

    def run_epoch(params, t, buf):
        code = schedule.code
        if sgd and k:
            return K.sgd_epoch_local(*xs, y, w, theta, order, *where, model, code, params, t, thetas, states, status)
        if sgd:
            return sgd_epoch(*xs, y, w, theta, order, *where, model, opt, opt_state, avg, code, params, t, buf)
        if k:
            return K.minibatch_epoch_local(
                *xs, y, w, theta, order, b, *where, model, code, params, t, thetas, states, grads, status
            )
        return minibatch_epoch(
            *xs, y, w, theta, order, b, *where, model, opt, opt_state, avg, code, params, t, grad, buf
        )

    limit = _blowup_threshold(problem, problem.objective(theta))
    watch = _Watch(problem, settings)
    history, path, reason = [], [theta.copy()] if record_path else None, None
    for epoch in range(1, settings.max_epochs + 1):
        if settings.shuffle == "rows":
            K.shuffle(order, state)
        elif settings.shuffle == "blocks":
            K.shuffle_blocks(positions, blocks, _BLOCK_ROWS, state)
            if base is not None:
                np.take(base, positions, out=order)
        t_run = (epoch - 1) * per_shard  # local SGD: each shard counts its own updates
        params = schedule.table(t_run, per_shard) if isinstance(schedule, schedules.custom) else schedule.params
        buf = np.empty((per_epoch, *problem.shape)) if record_path == "update" else None
        if run_epoch(params, t_run, buf) != K.codes.OK:
            raise _diverged(problem, method, epoch, schedule, history, b)
        current = theta if avg is None else avg
        objective = problem.objective(current)
        if not objective <= limit:
            raise _diverged(problem, method, epoch, schedule, history, b, objective)
        history.append(objective)
        if path is not None:
            path.append(buf if record_path == "update" else current.copy())
        if settings.observer is not None and settings.observer(problem, epoch, current, objective, epoch * per_epoch):
            break
        if watch(current, objective):
            reason = watch.reason()
            break
    n_updates = len(history) * per_epoch
    final = theta if avg is None else avg
    return _finish(problem, method, final, schedule, history, n_updates, reason, settings, path, watch)
