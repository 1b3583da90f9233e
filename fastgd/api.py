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
):
    """Fit a linear regression ``y ≈ intercept + X @ coef`` by minimizing the training MSE.

    Parameters
    ----------
    X : array-like (n, d) or (n,)
        Features; float32 stays float32 (no copy when C-contiguous), float16 -> float32, other
        numbers -> float64.
    y : array-like (n,) or (n, 1)
        Targets.
    method : {"auto", "normal", "svd", "batch", "sgd", "minibatch"}
        "normal": the normal equation (Cholesky); "svd": the pseudo-inverse (minimum-norm
        when X̃ᵀX̃ is singular); "batch": full-batch gradient descent; "sgd": one sample per
        update, a fresh random order each epoch; "minibatch": ``batch_size`` samples per update.
        "auto" takes the fastest route that always reaches the least-squares optimum: "svd"
        when n <= d (underdetermined: the minimum-norm solution), otherwise "normal" (one read
        of X and a d x d Cholesky), falling back to "svd" when XᵀX is singular.
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
        [intercept, *coef] (d + 1 values) or coef (d values), in the original units.
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
        ``n_threads``, but not the same iterates as the serial run.
    precompute : "auto", True or False
        Batch GD only: read X once to form the Gram matrix X̃ᵀX̃ (BLAS, in float64, centered),
        after which every step costs O(d²) instead of a pass over X; for a given learning rate
        the same iterates up to rounding (the "auto" rate is estimated more precisely on the
        Gram path), and the final loss is measured with a pass over X.  "auto": with an
        intercept, when n > d and d <= 2048.  Without an intercept the Gram matrix is not
        centered and ``history`` (not ``loss``) loses digits when the data's mean dwarfs the
        residuals.

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
    local_sgd = explicit_threads and n_threads > 1 and method in ("sgd", "minibatch")
    if local_sgd and record_path == "update":
        raise ValueError(
            f"record_path='update' needs serial updates: with n_threads={n_threads} {method} runs as local SGD; "
            "use record_path='epoch' or n_threads=1"
        )

    X = v.check_X(X)
    y = v.check_y(y, X.shape[0], X.dtype)
    theta0 = v.check_init(init, X.shape[1], fit_intercept)

    with thread_count(n_threads):
        problem = Problem(X, y, fit_intercept=fit_intercept, n_threads=n_threads)
        if problem.bad_row >= 0:
            raise v.report_nonfinite(X, problem.bad_row)
        if not np.isfinite(problem.std).all():
            col = int(np.flatnonzero(~np.isfinite(problem.std))[0])
            raise ValueError(
                f"X column {col} holds values too large to square in float64 (its variance overflows); rescale it"
            )
        if not np.isfinite(problem.y_var):
            raise ValueError("y holds values too large to square in float64 (its variance overflows); rescale it")
        if method == "auto":
            return _auto(problem)
        if method in ("normal", "svd"):
            return _closed_form(problem, method)
        if standardize:
            problem.standardize()
        else:
            _warn_scales(problem)
        if method == "batch" and (precompute is True or (precompute == "auto" and _gram_pays(problem))):
            problem.use_gram()
        if method == "minibatch" and batch_size > problem.n:
            warnings.warn(f"batch_size={batch_size} exceeds the {problem.n} samples; using {problem.n}", stacklevel=2)
            batch_size = problem.n
        if isinstance(theta0, str):
            theta = rng.standard_normal(problem.d + 1) if theta0 == "random" else np.zeros(problem.d + 1)
            theta[0] *= fit_intercept
            if standardize and fit_intercept:  # a constant column reads as 0: its coefficient gets no gradient
                theta[1:][problem.std == 0] = 0.0
        else:
            theta = problem.to_model(theta0)
        run = _batch if method == "batch" else _stochastic
        settings = _Settings(
            batch_size, max_epochs, tol, n_iter_no_change, shuffle, record_path, rng, n_threads if local_sgd else 0
        )
        return run(problem, method, theta, schedule, settings)


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


def _gram_pays(problem):
    """precompute="auto": the Gram path when the d x d matrix is small and X is tall, and an
    intercept is fitted (the Gram matrix is then centered; uncentered, the loss it expands
    loses digits when the data's mean dwarfs the residuals)."""
    return problem.fit_intercept and problem.n > problem.d and problem.d <= GRAM_MAX_FEATURES


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


def _result(problem, method, theta, **fields):
    """A FitResult from θ in original units (float64), cast to X's dtype."""
    dtype = problem.X.dtype
    return FitResult(method=method, intercept=dtype.type(theta[0]), coef=theta[1:].astype(dtype), **fields)


def _closed_form(problem, method):
    if method == "normal":
        theta, message = closed_form.normal_equation(problem.X, problem.y, problem.mean, problem.fit_intercept)
    else:
        theta, message = closed_form.svd(problem.X, problem.y, problem.fit_intercept)
    return _result(
        problem,
        method,
        theta,
        loss=problem.loss(theta),
        history=np.empty(0),
        n_epochs=0,
        n_updates=0,
        converged=True,
        message=message,
    )


def _auto(problem):
    if problem.n <= problem.d:
        return _closed_form(problem, "svd")
    try:
        return _closed_form(problem, "normal")
    except closed_form.SingularMatrixError:
        return _closed_form(problem, "svd")


class _Stopper:
    """The one stopping rule: the loss has not improved by more than ``tol`` times the best
    loss so far for ``patience`` consecutive epochs."""

    def __init__(self, tol, patience):
        self.tol, self.patience = tol, patience
        self.best, self.stale = math.inf, 0

    def __call__(self, loss):
        if loss < self.best - self.tol * abs(self.best) or self.best == math.inf:
            self.stale = 0
        else:
            self.stale += 1
        self.best = min(self.best, loss)
        return self.tol > 0 and self.stale >= self.patience


def _auto_schedule(problem, method, batch_size):
    """The documented "auto" learning rate (see ``fit``)."""
    if method == "batch":
        return schedules.constant(1.0 / max(problem.lipschitz(), 1e-300))
    b = 1 if method == "sgd" else batch_size
    mu = problem.strong_convexity()
    l_b = max(_safe_lipschitz(problem, b), 1e-300)
    per_epoch = -(-problem.n // b)
    t1 = min(l_b / mu, 10 * per_epoch) if mu > 0 else per_epoch
    return schedules.inverse_time(t0=t1 / l_b, t1=t1)


def _safe_lipschitz(problem, b):
    """L_b: the expected smoothness of a b-sample gradient (Gower et al., 2019), from L and L_max."""
    n = problem.n
    if b >= n:
        return problem.lipschitz()
    l_max = problem.lipschitz_max()
    if b == 1:
        return l_max
    return (n * (b - 1) * problem.lipschitz() + (n - b) * l_max) / (b * (n - 1))


def _diverged(problem, method, epoch, schedule, history, batch_size, loss=None):
    """The DivergenceError for a fit that blew up in ``epoch``."""
    last = next((h for h in reversed(history) if math.isfinite(h)), None)
    b = {"batch": problem.n, "sgd": 1}.get(method, batch_size)
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


def _finish(problem, method, theta, schedule, history, n_updates, reason, tol, max_epochs, path):
    converged = reason is not None
    if not converged and tol == 0:
        reason = f"ran max_epochs={max_epochs} epochs (tol=0: no stopping rule)"
    elif not converged:
        rule = "the gradient norm fell below tol" if method == "batch" else "the loss stopped improving by tol"
        reason = (
            f"stopped at max_epochs={max_epochs} before {rule}={tol:g}: raise max_epochs or the learning rate, "
            "or pass standardize=True (centered, scaled features make a rounder valley)"
        )
        warnings.warn(f"{_NAMES[method]} {reason}", ConvergenceWarning, stacklevel=4)
    history = np.asarray(history, dtype=np.float64)
    loss = float(history[-1]) if problem.gram is None else problem.loss(theta)  # measured, not expanded
    return _result(
        problem,
        method,
        problem.to_original(theta),
        loss=loss,
        history=history,
        n_epochs=history.shape[0],
        n_updates=n_updates,
        converged=converged,
        message=reason,
        learning_rate=schedule,
        path=None if path is None else problem.to_original(np.vstack(path)),
    )


def _batch(problem, method, theta, schedule, settings):
    """Batch GD: θ ← θ − η(t) ∇MSE(θ), one full pass (fused loss + gradient) per iteration,
    or O(d²) per iteration on the Gram path, whose loop runs compiled, _STEPS steps a call.
    Rates are tabulated _STEPS at a time: nothing is sized by max_epochs."""
    tol, max_epochs = settings.tol, settings.max_epochs
    if schedule == "auto":
        schedule = _auto_schedule(problem, method, settings.batch_size)
    grad = np.zeros(problem.d + 1)
    loss = problem.loss_grad(theta, grad)
    limit = _blowup_threshold(problem, loss)
    grad_tol = tol * np.linalg.norm(grad) if tol > 0 else -1.0  # tol=0: never "converged"
    history, path, reason, done = [], [theta.copy()] if settings.record_path else None, None, 0
    while done < max_epochs and reason is None:
        etas = schedule.table(done, min(_STEPS, max_epochs - done))
        if problem.gram is not None:
            steps = np.empty((etas.shape[0], problem.d + 1)) if path is not None else None
            losses = np.empty(etas.shape[0])
            n, status = K.gram_descent(*problem.gram.pieces, theta, etas, grad_tol, limit, grad, losses, steps)
            history.extend(losses[:n])
            if path is not None:
                path.append(steps[: n - (status == K.gram.DIVERGED)])
        else:
            n, status = _streaming_steps(problem, theta, etas, grad_tol, limit, grad, history, path)
        done += n
        if status == K.gram.DIVERGED:
            raise _diverged(problem, method, done, schedule, history[:-1], settings.batch_size, history[-1])
        if status == K.gram.CONVERGED:
            reason = _gradient_converged(tol)
    return _finish(problem, method, theta, schedule, history, done, reason, tol, max_epochs, path)


def _streaming_steps(problem, theta, etas, grad_tol, limit, grad, history, path):
    """``kernels.gram_descent``'s loop with a pass over X for each loss and gradient."""
    for k, eta in enumerate(etas):
        theta -= eta * grad
        loss = problem.loss_grad(theta, grad)
        history.append(loss)
        if not loss <= limit:  # also catches NaN
            return k + 1, K.gram.DIVERGED
        if path is not None:
            path.append(theta.copy())
        if np.linalg.norm(grad) <= grad_tol:
            return k + 1, K.gram.CONVERGED
    return len(etas), K.gram.MAX_EPOCHS


def _gradient_converged(tol):
    return f"converged: the gradient norm fell below tol={tol:g} times its initial value"


def _plateau(tol, patience):
    return f"converged: the loss improved by less than tol={tol:g} (relative) for {patience} consecutive epochs"


def _stochastic(problem, method, theta, schedule, settings):
    """SGD (one sample per update) or mini-batch GD: one kernel call per epoch, then the
    exact training loss of the epoch's θ."""
    b, record_path = settings.batch_size, settings.record_path
    if schedule == "auto":
        schedule = _auto_schedule(problem, method, b)
    sgd = method == "sgd"
    per_epoch = problem.n if sgd else -(-problem.n // b)
    order = np.arange(problem.n, dtype=np.int32 if problem.n < 2**31 else np.int64)  # O(n): the only big scratch
    blocks = np.empty(-(-problem.n // _BLOCK_ROWS), dtype=order.dtype) if settings.shuffle == "blocks" else None
    state = np.array([settings.rng.integers(2**63)], dtype=np.uint64)
    X, y = problem.X, problem.y
    model = (problem.center, problem.scale_inv, problem.fit_intercept, problem.loss_code, schedule.code)
    k = settings.shards
    if k:  # local SGD: a θ, a gradient and a status per shard
        thetas, grads, status = np.empty((k, problem.d + 1)), np.empty((k, problem.d + 1)), np.empty(k, np.int64)
    else:
        grad = np.empty(problem.d + 1)
    per_shard = -(-per_epoch // k) if k else per_epoch  # updates of the longest shard in an epoch

    def run_epoch(params, t, buf):
        if sgd and k:
            return K.sgd_epoch_local(X, y, theta, order, *model, params, t, thetas, status)
        if sgd:
            return K.sgd_epoch(X, y, theta, order, *model, params, t, buf)
        if k:
            return K.minibatch_epoch_local(X, y, theta, order, b, *model, params, t, thetas, grads, status)
        return K.minibatch_epoch(X, y, theta, order, b, *model, params, t, grad, buf)

    limit = _blowup_threshold(problem, problem.loss(theta))
    stop = _Stopper(settings.tol, settings.patience)
    history, path, reason = [], [theta.copy()] if record_path else None, None
    for epoch in range(1, settings.max_epochs + 1):
        if settings.shuffle == "rows":
            K.shuffle(order, state)
        elif settings.shuffle == "blocks":
            K.shuffle_blocks(order, blocks, _BLOCK_ROWS, state)
        t_run = (epoch - 1) * per_shard  # local SGD: each shard counts its own updates
        params = schedule.table(t_run, per_shard) if isinstance(schedule, schedules.custom) else schedule.params
        buf = np.empty((per_epoch, problem.d + 1)) if record_path == "update" else None
        if run_epoch(params, t_run, buf) != K.codes.OK:
            raise _diverged(problem, method, epoch, schedule, history, b)
        loss = problem.loss(theta)
        if not loss <= limit:
            raise _diverged(problem, method, epoch, schedule, history, b, loss)
        history.append(loss)
        if path is not None:
            path.append(buf if record_path == "update" else theta.copy())
        if stop(loss):
            reason = _plateau(settings.tol, settings.patience)
            break
    n_updates = len(history) * per_epoch
    return _finish(
        problem, method, theta, schedule, history, n_updates, reason, settings.tol, settings.max_epochs, path
    )
