"""The engine: one fit from a problem and its options to a FitResult.

``run(problem, options, labels)`` is what ``fastgd.fit`` and the Dask backend call (``Stream``
uses its parts): it checks the problem's statistics, standardizes, solves in closed form or
picks the iterative driver, initializes θ, runs it with the stopping rules, divergence checks,
callback and progress bar, and assembles the result.  The problem is the data source: a
``_dispatch.Problem`` (dense or CSR X in memory) or a ``distributed.DaskProblem`` (row blocks
on Dask), each with the same methods (passes for the loss and gradient, the closed forms,
``epochs`` for SGD and mini-batch).
"""

import math
import os
import sys
import warnings
from typing import NamedTuple

import numpy as np

from . import kernels as K
from . import schedules
from ._dispatch import EXCESS_BOUND, GRAM_MAX_FEATURES, STD_GRADIENT
from ._validation import report_nonfinite
from .exceptions import DivergenceError, FeatureScaleWarning, convergence_warning
from .result import FitResult
from .runner import SLICE_WORK

__all__ = ["FitState", "auto_schedule", "distance_schedule", "diverged", "make_result", "run", "warn", "warn_scales"]

#: a loss this many times the larger of the initial loss and var(y) counts as diverging
BLOWUP = 1e8
#: batch GD steps per call of the compiled Gram loop (and per table of rates)
STEPS = 4096
#: batch GD on a non-smooth loss waits this many times n_iter_no_change iterations for a new best
SUBGRADIENT_PATIENCE = 10
#: SGD / mini-batch at a constant rate stop (not converged) when this many optimality measures in
#: a row, taken at plateaus, did not lower the best one by STALL_GAIN: at a fixed rate the iterates
#: hover around the optimum at a distance set by the rate, and more epochs do not shrink it
STALL_CHECKS, STALL_GAIN = 3, 0.1
#: features whose standard deviations differ by more than this make gradient descent crawl
SCALE_RATIO = 100.0

#: the plateau measures (not certificates): a non-smooth loss's objective, early stopping's validation loss
OBJECTIVE_PLATEAU = "objective_plateau"
VALIDATION_PLATEAU = "validation_plateau"
#: what each optimality measure is, for messages
MEASURES = {
    EXCESS_BOUND: "the bound on the relative excess objective (F - F*)/F",
    STD_GRADIENT: "the gradient norm in standardized coordinates",
    OBJECTIVE_PLATEAU: "the objective's relative improvement over the last n_iter_no_change epochs",
    VALIDATION_PLATEAU: "the validation loss's relative improvement over the last n_iter_no_change epochs",
}

NAMES = {
    "batch": "batch gradient descent",
    "sgd": "stochastic gradient descent",
    "minibatch": "mini-batch gradient descent",
}

_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def warn(message, category):
    """``warnings.warn`` pointing at the first caller outside fastgd (the user's line)."""
    level, frame = 2, sys._getframe(1)  # stacklevel 2: the caller of this function
    while frame is not None and os.path.dirname(os.path.abspath(frame.f_code.co_filename)).startswith(_PACKAGE):
        level, frame = level + 1, frame.f_back
    warnings.warn(message, category, stacklevel=level)


# ----------------------------------------------------------------------------------------------
# The fit
# ----------------------------------------------------------------------------------------------


def run(problem, options, labels, validation=None):
    """Fit ``problem`` (θ's shape known; its statistics measured here unless they already are)
    with ``options``; ``labels``: the result's loss_name and classes; ``validation``: early
    stopping's held-out weights."""
    method = options.method
    rng_state = options.rng.bit_generator.state
    try:  # until the driver starts: a call that raises leaves a caller's Generator as it was
        if problem.pending and folds_statistics(problem, options):
            theta, start = first_pass(problem, options)
        else:
            theta = start = None
            if problem.pending:
                problem.measure()
                check_finite(problem)
            check_statistics(problem)
            if options.standardize:
                problem.standardize()
            if method in ("auto", "normal", "svd"):
                return closed_form(problem, method, labels)
            check_target_scale(problem, method)
            if not options.standardize:
                warn_scales(problem)
        if uses_gram(problem, options):
            problem.use_gram()
        rows = problem.rows
        if method == "minibatch" and options.batch_size > rows:
            warn(f"batch_size={options.batch_size} exceeds the {rows} samples; using {rows}", UserWarning)
            options = options.replace(batch_size=rows)
        if theta is None:
            theta = initial_theta(problem, options)
    except BaseException:
        options.rng.bit_generator.state = rng_state
        raise
    fit = Fit(problem, options, labels, validation, make_observer(options))
    try:
        return batch(fit, theta, start) if method == "batch" else stochastic(fit, theta, start)
    finally:
        if fit.observer is not None:
            fit.observer.close()


def first_pass(problem, options):
    """θ0 and the start of a fit whose first pass also reads X's statistics (``folds_statistics``):
    one read of X for the statistics and the loss at θ0, with its gradient for batch GD
    (``Problem.measure_with_pass``), then ``run``'s checks of the data.  Returns (θ0, (loss,
    gradient or None)); ``run`` puts the random generator back when the checks raise."""
    theta = initial_theta(problem, options)
    grad = np.zeros(problem.shape) if options.method == "batch" else None
    loss = problem.measure_with_pass(theta, K.NO_GRAD if grad is None else grad)
    check_finite(problem)
    check_statistics(problem)
    check_target_scale(problem, options.method)
    warn_scales(problem)
    return theta, (loss, grad)


def uses_gram(problem, options):
    """Whether batch GD runs on the Gram matrix (``precompute``; the squared loss, no early stopping)."""
    if options.method != "batch" or problem.spec.name != "squared" or options.early_stopping:
        return False
    return options.precompute is True or (options.precompute == "auto" and gram_pays(problem))


def folds_statistics(problem, options):
    """Whether the first pass of the fit can also read X's statistics: an iterative method on dense
    X read as is (no standardization), whose θ0 and the loss (and gradient) there need none of
    them, and whose first read of X is that pass: batch GD streaming (not the Gram path; K steps
    then read X K + 1 times), SGD and mini-batch (the start's objective)."""
    iterative = options.method in ("batch", "sgd", "minibatch") and not uses_gram(problem, options)
    return iterative and not options.standardize and not problem.sparse


def check_finite(problem):
    """The error for a NaN or inf in X, found by the problem's first read."""
    if problem.bad_row >= 0:
        raise report_nonfinite(problem.X, problem.bad_row)


class Fit(NamedTuple):
    """An iterative fit in progress: what the drivers share."""

    problem: object
    options: object
    labels: dict  #: loss_name and classes, for the result
    validation: object  #: early stopping: the held-out rows' weights, else None
    observer: object  #: Observer (callback, progress bar) or None

    @property
    def method(self):
        return self.options.method


def check_statistics(problem):
    """Errors for data whose variance overflows float64 (measured by the problem's first pass)."""
    if not np.isfinite(problem.std).all():
        col = int(np.flatnonzero(~np.isfinite(problem.std))[0])
        raise ValueError(
            f"X column {col} holds values too large to square in float64 (its variance overflows); rescale it"
        )
    if not np.isfinite(problem.y_var):
        raise ValueError("y holds values too large to square in float64 (its variance overflows); rescale it")


#: the losses that square the residual: their value at θ = 0 is y², which overflows beyond ~1.3e154
SQUARING = ("squared", "squared_epsilon_insensitive")


def check_target_scale(problem, method, target=True):
    """Gradient descent on raw features reads their uncentered second moments: an error for an X column whose mean
    square overflows float64 (its curvature would), and, on a squaring loss, for a y whose mean
    square does (the loss near θ = 0 is about mean(y²): the fit could only report inf)."""
    with np.errstate(over="ignore"):
        squares = problem.mean * problem.mean + problem.std * problem.std
    if not problem.standardized and not np.all(squares <= np.finfo(np.float64).max):  # standardized: read centered
        col = int(np.flatnonzero(~(squares <= np.finfo(np.float64).max))[0])
        raise ValueError(
            f"X column {col} holds values too large to square in float64 (its mean is {problem.mean[col]:.3g}): "
            f"{NAMES[method]} cannot take it; rescale the column"
        )
    if not target or problem.spec.name not in SQUARING:  # a stream reports such a chunk as its divergence
        return
    mean_square = problem.y_mean * problem.y_mean + problem.y_var  # Python floats: inf, never an exception
    if not mean_square <= np.finfo(np.float64).max:
        raise ValueError(
            f"y is too large for {NAMES[method]} on the {problem.spec.name} loss: its mean is {problem.y_mean:.3g}, "
            "and the loss of a prediction that far off (its square) overflows float64. Scale y (e.g. divide it by "
            f"{abs(problem.y_mean):.0e} and multiply the fitted intercept and coef back), or use method='auto' "
            "(a closed form: the squared loss without L1 or early stopping)"
        )


def initial_theta(problem, options):
    """θ0 in model units: standard normal ("random", from the fit's generator), zeros, or the
    warm start given in original units."""
    init = options.init  # checked against the data by the caller (``_validation.check_init``)
    if not isinstance(init, str):
        return problem.to_model(init)
    theta = options.rng.standard_normal(problem.shape) if init == "random" else np.zeros(problem.shape)
    theta[:, 0] *= problem.fit_intercept
    if problem.standardized and problem.fit_intercept:  # a constant column reads as 0: it gets no gradient
        theta[:, 1:][:, problem.std == 0] = 0.0
    return theta


def gram_pays(problem):
    """precompute="auto": the Gram path when the d x d matrix is small and X is tall, and an
    intercept is fitted (the Gram matrix is then centered; uncentered, the loss it expands
    loses digits when the data's mean dwarfs the residuals)."""
    dense = not problem.sparse  # sparse X: streaming passes (O(nnz)) unless precompute=True
    return dense and problem.fit_intercept and problem.n > problem.d and problem.d <= GRAM_MAX_FEATURES


def warn_scales(problem):
    """One FeatureScaleWarning when feature scales differ by more than SCALE_RATIO."""
    varying = np.flatnonzero(problem.std > 0)
    if varying.size < 2:
        return
    hi = varying[np.argmax(problem.std[varying])]
    lo = varying[np.argmin(problem.std[varying])]
    ratio = problem.std[hi] / problem.std[lo]
    if ratio > SCALE_RATIO:
        warn(
            f"feature scales differ by {ratio:.3g}x (std of column {hi} is {problem.std[hi]:.3g}, of column {lo} "
            f"{problem.std[lo]:.3g}): gradient descent will crawl along a long, flat valley of the cost. "
            "Pass standardize=True.",
            FeatureScaleWarning,
        )


# ----------------------------------------------------------------------------------------------
# Results
# ----------------------------------------------------------------------------------------------


def make_result(dtype, method, theta, labels, **fields):
    """A FitResult from θ (n_outputs, d + 1) in original units (float64), cast to ``dtype`` (X's)."""
    dtype = np.dtype(dtype)
    closed = method in ("normal", "svd")  # the closed forms solve exactly: their measure is 0
    fields.setdefault("optimality", 0.0 if closed else math.nan)
    fields.setdefault("optimality_measure", "closed_form" if closed else "none")
    if dtype != np.float64 and np.isfinite(theta).all() and np.abs(theta).max(initial=0.0) > np.finfo(dtype).max:
        raise ValueError(
            f"the fitted coefficients reach {np.abs(theta).max():.3g}, beyond X's dtype {dtype} (at most "
            f"{np.finfo(dtype).max:.3g}): pass X as float64, or rescale X or y"
        )
    if theta.shape[0] == 1:
        intercept, coef = dtype.type(theta[0, 0]), theta[0, 1:].astype(dtype)
    else:
        intercept, coef = theta[:, 0].astype(dtype), np.ascontiguousarray(theta[:, 1:].T, dtype=dtype)
    return FitResult(method=method, intercept=intercept, coef=coef, **labels, **fields)


def closed_form(problem, method, labels):
    """The normal equation, QR + SVD or "auto" (``problem.solve``: ``fastgd.closed_form``), with
    the penalty's ridge term; the solution's warnings raised at the caller's line."""
    ridge = (problem.l2, problem.penalty_scales()) if problem.l2 > 0 else None
    solution = problem.solve(method, ridge)
    for category, text in solution.warnings:
        warn(text, category)
    theta = solution.theta[None, :]
    model_theta = problem.to_model(theta)
    # the refined forms' loss comes from their compensated residuals: a plain pass would lose it
    # to cancellation where θ is large (an ill-conditioned X); else it is measured with a pass
    loss = problem.loss(model_theta) if solution.loss is None else solution.loss
    if not math.isfinite(loss):
        raise ValueError(
            f"the {solution.method} solution's mean squared residual overflows float64 (y's values are too large to "
            "square): scale y (divide it by a power of ten, and multiply the fitted intercept and coef back)"
        )
    return make_result(
        problem.X.dtype, solution.method, theta, labels, loss=loss, objective=loss + problem.penalty(model_theta),
        history=np.empty(0), n_epochs=0, n_updates=0, converged=True, message=solution.message,
    )  # fmt: skip


def finish(fit, theta, schedule, history, n_updates, reason, path, watch, measured=None):
    """The FitResult of an iterative fit: the optimality measure at the final θ (with the final
    loss, one pass), the verdict (and its ConvergenceWarning), the path in original units.
    ``measured``: (θ, loss, value) of a pass already made at θ (value None: a loss-only pass), else None:
    the final loss (and measure) are then taken from it, not from another pass over X."""
    problem, options = fit.problem, fit.options
    tol, max_epochs = options.tol, options.max_epochs
    theta = watch.final(theta)
    known = measured is not None and np.array_equal(measured[0], theta)
    if watch.certifies and tol == 0:  # no stopping rule: nothing to measure (no gradient pass)
        loss, value, name, converged = measured[1] if known else problem.loss(theta), math.nan, "none", False
    elif watch.certifies:
        if known and measured[2] is not None:
            loss, value = measured[1], measured[2]
        else:
            loss, value = measure(problem, theta)
        name = problem.measure_name()
        converged = tol > 0 and value <= tol
        if converged and reason is None:
            reason = certified(name, value, tol)
    else:  # a plateau is a stopping rule, not an optimality certificate: never converged
        loss = measured[1] if known else problem.loss(theta)  # a pass, not expanded from the Gram matrix
        value, name, converged = watch.plateau(), watch.measure_name(), False
    plateau_stop = reason is not None and not watch.certifies  # said in the message; no warning
    stopped = fit.observer.stopped if fit.observer is not None else None
    if stopped is not None:
        converged, reason = False, stopped
    elif not converged and tol == 0:
        reason = f"ran max_epochs={max_epochs} epochs (tol=0: no stopping rule)"
    elif not converged and not plateau_stop:
        if reason is None:  # else the fit said why it stopped early (``Stall``)
            reason = (
                f"stopped at max_epochs={max_epochs} with {MEASURES[name]} at {value:.3g}, above tol={tol:g}: "
                "raise max_epochs (or the learning rate), pass standardize=True (centered, scaled features make a "
                "rounder valley), or pass a larger tol"
            )
        warn(f"{NAMES[fit.method]} {reason}", convergence_warning())
    history = np.asarray(history, dtype=np.float64)
    if path is not None:
        path = problem.to_original(np.concatenate([np.reshape(p, (-1, *problem.shape)) for p in path]))
        path = path[:, 0, :] if problem.n_outputs == 1 else np.ascontiguousarray(path.transpose(0, 2, 1))
    return make_result(
        problem.X.dtype, fit.method, problem.to_original(theta), fit.labels, loss=loss,
        objective=loss + problem.penalty(theta), history=history, n_epochs=history.shape[0], n_updates=n_updates,
        converged=converged, message=reason, learning_rate=schedule, path=path, optimality=float(value),
        optimality_measure=name, **watch.fields(),
    )  # fmt: skip


def measure(problem, theta):
    """(the data loss, the optimality measure) at θ (model units), from one exact pass."""
    grad = np.zeros(problem.shape)
    loss = problem.pass_loss_grad(theta, grad)
    return loss, problem.optimality(theta, grad, loss)[0]


def certified(name, value, tol):
    return f"converged: {MEASURES[name]} is {value:.3g} <= tol={tol:g}"


# ----------------------------------------------------------------------------------------------
# Learning rates and divergence
# ----------------------------------------------------------------------------------------------


def auto_schedule(problem, method, optimizer, batch_size, theta, stream=False):
    """The documented "auto" learning rate (see ``fit``) at the start θ (model units): from the
    distance to travel for an optimizer with an ``Optimizer.auto_rate`` (the adaptive ones),
    else from the curvature.  ``stream``: the rows come once, as chunks (``Stream``)."""
    if optimizer.auto_rate is not None:
        return distance_schedule(problem, method, optimizer.auto_rate, batch_size, theta, stream)
    if method == "batch":  # momentum and nesterov with 1/L too: the step of Nesterov's method
        eta0 = 1.0 / max(problem.lipschitz(), 1e-300)
        if problem.spec.smooth:
            return schedules.constant(eta0)
        return schedules.inverse_scaling(eta0=eta0, power_t=0.5)  # subgradients: a decaying rate
    b = 1 if method == "sgd" else batch_size
    mu = problem.strong_convexity()
    l_b = max(lipschitz_b(problem, b), 1e-300)
    per_epoch = -(-problem.rows // b)
    t1 = min(l_b / mu, 10 * per_epoch) if mu > 0 else per_epoch
    return schedules.inverse_time(t0=optimizer.damping * t1 / l_b, t1=t1)


def distance_schedule(problem, method, rule, batch_size, theta, stream=False):
    """An adaptive optimizer's "auto" schedule (``optimizers.AutoRate`` ``rule``): its steps are
    about eta per coordinate, so eta0 is a length, D = ‖∇F(θ0)‖ / L <= ‖θ0 - θ*‖ (one gradient at
    θ0), decayed as ``rule`` says for the method."""
    grad = np.zeros(problem.shape)
    problem.loss_grad(theta, grad)
    grad[:, 1:] += problem.l2 * theta[:, 1:]
    grad[:, 0] *= problem.fit_intercept
    largest = float(np.max(np.abs(grad)))  # the norm scaled by it: no overflow on the way (a huge penalty)
    norm = largest * float(np.linalg.norm(grad / largest)) if 0 < largest < math.inf else largest
    distance = norm / max(problem.lipschitz(), 1e-300)
    if not math.isfinite(distance):  # an overflowing gradient: the fit's first pass reports it
        distance = 1.0
    eta0 = max(distance, np.finfo(np.float64).tiny)  # 0: θ0 is optimal, nothing to travel
    if method == "batch":
        if rule.batch_power == 0:
            return schedules.constant(eta0)
        return schedules.inverse_scaling(eta0=eta0, power_t=rule.batch_power)
    if stream:
        return schedules.inverse_scaling(eta0=eta0, power_t=0.5)
    per_epoch = -(-problem.rows // (1 if method == "sgd" else batch_size))
    return schedules.exponential(eta0=eta0, decay=1.0 / (rule.decay_epochs * per_epoch))


def lipschitz_b(problem, b):
    """L_b: the expected smoothness of a b-sample gradient (Gower et al., 2019), from L and L_max,
    over the rows that count (weight > 0)."""
    n = problem.rows
    if b >= n:
        return problem.lipschitz()
    l_max = problem.lipschitz_max()
    if b == 1:
        return l_max
    return (n * (b - 1) * problem.lipschitz() + (n - b) * l_max) / (b * (n - 1))


def diverged(problem, method, epoch, schedule, history, batch_size, loss=None):
    """The DivergenceError for a fit that blew up in ``epoch``."""
    last = next((h for h in reversed(history) if math.isfinite(h)), None)
    b = {"batch": problem.rows, "sgd": 1}.get(method, batch_size)
    safe = 1.0 / max(lipschitz_b(problem, b), 1e-300)
    what = f"the loss reached {loss:.3g}" if loss is not None and math.isfinite(loss) else "the iterates overflowed"
    last_text = f"the last finite loss was {last:.6g}" if last is not None else "no epoch finished with a finite loss"
    return DivergenceError(
        f"{NAMES[method]} diverged in epoch {epoch}: {what}; {last_text}. The learning rate {schedule!r} is too "
        f"large for this data: a rate of at most {safe:.3g} is safe here (1/L from the gradient's Lipschitz "
        "constant). Lower learning_rate (or use learning_rate='auto'); if features or the target are on large "
        "scales, pass standardize=True or rescale them.",
        method=method,
        epoch=epoch,
        last_loss=last,
        learning_rate=schedule,
        safe_learning_rate=safe,
    )


def blowup_threshold(problem, initial_loss):
    """The loss that counts as diverging: never beyond float64's range (an infinite loss diverges
    even when the start's was infinite too)."""
    big = np.finfo(np.float64).max
    return min(BLOWUP * max(initial_loss, problem.y_var, np.finfo(np.float64).tiny), big)


# ----------------------------------------------------------------------------------------------
# Stopping rules and observers
# ----------------------------------------------------------------------------------------------


class Stopper:
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


class Stall:
    """The early end of an SGD / mini-batch fit at a constant learning rate that cannot meet tol:
    its optimality measures, taken at plateaus, did not lower the best one by ``STALL_GAIN`` in
    ``STALL_CHECKS`` measures in a row (the iterates hover at a distance from the optimum set by
    the rate).  Never for a decaying or custom schedule, whose steps keep shrinking."""

    def __init__(self, schedule):
        self.eta = float(schedule.params[0]) if getattr(schedule, "code", None) == K.codes.CONSTANT else None
        self.best, self.stale = math.inf, 0

    def __call__(self, value):
        """True when the fit should stop, after the measure ``value`` did not meet tol."""
        if self.eta is None:
            return False
        self.stale = 0 if value < (1.0 - STALL_GAIN) * self.best else self.stale + 1
        self.best = min(self.best, value)
        return self.stale >= STALL_CHECKS

    def reason(self, epoch, name, value, tol):
        return (
            f"stopped at epoch {epoch}: at the constant learning rate {self.eta:g} {MEASURES[name]} stays near "
            f"{value:.3g} (best {self.best:.3g}), above tol={tol:g}, over {STALL_CHECKS} plateaus; a constant rate "
            "leaves the iterates hovering around the optimum at a distance that grows with the rate: pass "
            'learning_rate="auto" (a decaying schedule), a smaller learning rate, or a larger tol'
        )


class Watch:
    """What decides when an iterative fit stops, besides max_epochs: the training objective's
    plateau, or with early stopping the validation loss's plateau (keeping the best θ).  For a
    non-smooth loss (hinge, epsilon_insensitive), whose subgradient steps do not lower the
    objective every epoch, the θ of the lowest training objective seen is kept and returned.

    ``certifies``: a smooth loss without early stopping, whose fit converges only when the
    optimality measure at the final θ (``Problem.optimality``) is <= tol; the plateau then only
    says when to measure.  Otherwise the plateau only ends the fit, ``plateau()`` its measure, and
    the fit never converges: a plateau is no certificate (``reason`` says so)."""

    def __init__(self, fit, patience=None):
        self.problem, self.validation = fit.problem, fit.validation
        options = fit.options
        self.stop = Stopper(options.tol, options.patience if patience is None else patience)
        self.scores, self.values, self.best = [], [], None
        self.certifies = self.problem.spec.smooth and self.validation is None

    def __call__(self, theta, objective):
        """True to stop after this epoch (theta in model units)."""
        if self.validation is None:
            self.values.append(objective)
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
        """Why a plateau stopped the fit, and why that is not convergence."""
        tol, patience = self.stop.tol, self.stop.patience
        what = "the validation loss" if self.validation is not None else "the objective"
        why = (
            "early stopping returns the θ of the best validation loss, not a certified training optimum"
            if self.validation is not None
            else f"the {self.problem.spec.name} loss is not smooth and fastgd has no optimality measure for it: "
            "a plateau can lie far from the optimum (a subgradient method crawls)"
        )
        return (
            f"stopped on a plateau: {what} improved by less than tol={tol:g} (relative) for {patience} "
            f"consecutive epochs; converged=False, because {why}"
        )

    def measure_name(self):
        return VALIDATION_PLATEAU if self.validation is not None else OBJECTIVE_PLATEAU

    def plateau(self):
        """The plateau rule's own measure: the largest relative improvement of the best value over
        the last ``patience`` values (what the rule compares with tol); inf before patience + 1."""
        values = self.scores if self.validation is not None else self.values
        p = self.stop.patience
        if len(values) <= p:
            return math.inf
        best = np.minimum.accumulate(np.asarray(values, dtype=np.float64))
        before, now = best[-p - 1 : -1], np.asarray(values[-p:], dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            gains = np.maximum(before - now, 0.0) / np.abs(before)
        gains = np.where(before - now > 0, gains, 0.0)
        return float(np.max(gains))

    def final(self, theta):
        """The θ to return: the best on the validation split with early stopping."""
        return theta if self.best is None else self.best

    def fields(self):
        return {"validation": np.asarray(self.scores) if self.validation is not None else None}


class FitState(NamedTuple):
    """What a ``callback`` sees after an epoch."""

    epoch: int  #: epochs (batch GD: iterations) done, from 1
    theta: np.ndarray  #: [intercept, *coef] in original units (a copy; (d + 1, K) for softmax)
    objective: float  #: mean training loss + penalty
    n_updates: int  #: parameter updates so far


class Observer:
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


def make_observer(options):
    """The Observer of a fit, or None when there is nothing to observe."""
    if options.callback is None and not options.progress:
        return None
    bar = None
    if options.progress:
        try:
            from tqdm.auto import tqdm
        except ImportError:
            raise ImportError("progress=True needs tqdm: pip install fastgd[progress]") from None
        bar = tqdm(total=options.max_epochs, desc=NAMES[options.method], unit="epoch")
    return Observer(options.callback, bar)


# ----------------------------------------------------------------------------------------------
# The drivers
# ----------------------------------------------------------------------------------------------


def batch(fit, theta, start=None):
    """Batch GD: θ ← step(θ, ∇(θ), η(t)) with the optimizer and the penalty, one full pass (fused
    loss + gradient) per iteration, or O(d²) per iteration on the Gram path, whose loop runs
    compiled, STEPS steps a call.  Rates are tabulated STEPS at a time: nothing is sized by
    max_epochs.  A smooth fit stops when the optimality measure (``Problem.optimality``) is <= tol:
    the loops stop on a threshold of the model-units stationarity measure derived from it
    (``Problem.gradient_threshold``), the measure is verified, and the loop resumes with a smaller
    threshold if it is not met; for a non-smooth loss or with early stopping, on a plateau (``Watch``).
    ``start``: the loss and gradient at θ, when the first pass already measured them."""
    problem, options, observer = fit.problem, fit.options, fit.observer
    tol, max_epochs = options.tol, options.max_epochs
    by_gradient = problem.spec.smooth and fit.validation is None
    schedule = options.schedule
    if schedule == "auto":
        if tol > 0 and by_gradient:  # the certificate's μ, wanted below: on the Gram matrix, its read also gives L
            problem.certificate_mu()
        schedule = auto_schedule(problem, "batch", options.optimizer, options.batch_size, theta)
    if start is None:
        grad = np.zeros(problem.shape)
        objective = problem.loss_grad(theta, grad) + problem.penalty(theta)
    else:
        loss, grad = start
        objective = loss + problem.penalty(theta)
    state = np.zeros((K.codes.STATE_SLOTS, *problem.shape))
    limit = blowup_threshold(problem, objective)
    # a subgradient step does not lower the objective every time: give the plateau rule longer
    patience = options.patience * (1 if problem.spec.smooth else SUBGRADIENT_PATIENCE)
    watch = Watch(fit, patience)
    # the compiled loops stop on the model-units stationarity measure: a threshold derived from
    # the optimality measure, which is verified here whenever they stop (and the loop resumed if unmet)
    grad_tol = problem.gradient_threshold(tol, objective) if tol > 0 and by_gradient else -1.0
    history, path, reason, done = [], [theta.copy()] if options.record_path else None, None, 0
    last_loss = np.full(1, np.nan)  # the streaming steps' last pass: the loss at θ, its gradient in grad
    per_call = 1 if observer is not None and observer.callback is not None else STEPS
    if problem.gram is not None:  # O(d²) a step: at most runner.SLICE_WORK of them a call, for Ctrl-C
        per_call = max(1, min(per_call, SLICE_WORK // (problem.d + 1) ** 2))
    opt = options.opt
    while done < max_epochs and reason is None and (observer is None or observer.stopped is None):
        etas = schedule.table(done, min(per_call, max_epochs - done))
        if problem.gram is not None:
            steps = np.empty((etas.shape[0], *problem.shape)) if path is not None else None
            losses = np.empty(etas.shape[0])
            plain = opt[0] == K.codes.SGD and problem.l2 == problem.l1 == 0  # the fast loop
            n, status = K.gram_descent(
                *problem.gram.pieces, problem.model, opt, None if plain else state, theta, etas, done,
                grad_tol, limit, grad, losses, steps,
            )  # fmt: skip
            history.extend(losses[:n])
            if path is not None:
                path.append(steps[: n - (status == K.gram.DIVERGED)])
        else:
            n, status = _streaming_steps(
                problem, theta, etas, done, (grad_tol, limit), (grad, state, last_loss), opt, history, path,
                None if by_gradient else watch, observer,
            )  # fmt: skip
        done += n
        if problem.gram is not None and observer is not None and status != K.gram.DIVERGED:
            if observer(problem, done, theta, history[-1], done, steps=n):
                break
        if status == K.gram.DIVERGED:
            raise diverged(problem, "batch", done, schedule, history[:-1], options.batch_size, history[-1])
        if status == K.gram.CONVERGED and not by_gradient:
            reason = watch.reason()
        elif status == K.gram.CONVERGED:
            value, name = problem.optimality(theta, grad, history[-1] - problem.penalty(theta))
            if value <= tol:
                reason = certified(name, value, tol)
            else:  # a smaller threshold: each resumption asks for more
                grad_tol = min(problem.gradient_threshold(tol, history[-1]), 0.5 * grad_tol)
    measured = None
    if problem.gram is None and history:  # the last pass was at θ: its loss and gradient serve finish
        value = problem.optimality(theta, grad, last_loss[0])[0] if watch.certifies and tol > 0 else None
        measured = (theta.copy(), float(last_loss[0]), value)
    return finish(fit, theta, schedule, history, done, reason, path, watch, measured)


def _streaming_steps(problem, theta, etas, t_start, limits, scratch, opt, history, path, watch, observer):
    """``kernels.gram_descent``'s loop with a pass over X for each loss and gradient; with a
    ``watch``, its plateau rule instead of the stationarity test; the observer after each step
    (MAX_EPOCHS, i.e. no verdict, when it stops the fit)."""
    grad_tol, limit = limits
    grad, state, last_loss = scratch
    for k, eta in enumerate(etas):
        K.update(theta, grad, problem.model, opt, state, eta, t_start + k)
        last_loss[0] = problem.loss_grad(theta, grad)  # the loss at θ, for finish
        objective = last_loss[0] + problem.penalty(theta)
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


def stochastic(fit, theta, start=None):
    """SGD (one sample per update) or mini-batch GD: one epoch at a time from the problem's
    ``epochs`` source (the epoch runner in memory, a round over the blocks on Dask), then the
    exact training objective of the epoch's θ (of the average of the iterates with ``average``):
    a pass of its own, since the losses met during the epoch are those of moving iterates.
    ``start``: (the loss at θ, None) when the first pass measured it."""
    problem, options, method = fit.problem, fit.options, fit.method
    schedule = options.schedule
    if schedule == "auto":
        schedule = auto_schedule(problem, method, options.optimizer, options.batch_size, theta)
    start_objective = None if start is None else start[0] + problem.penalty(theta)
    epochs = problem.epochs(theta, options, start_objective)
    watch = Watch(fit)
    b, record_path = options.batch_size, options.record_path
    history, path, reason, limit = [], [theta.copy()] if record_path else None, None, None
    next_check, measured = 0, None
    stall = Stall(schedule) if watch.certifies else None
    for epoch in range(1, options.max_epochs + 1):
        buf = np.empty((epochs.per_epoch, *problem.shape)) if record_path == "update" else None
        status, current, objective = epochs.run(epoch, schedule, buf)
        if limit is None:  # the start objective, measured before the first epoch (or by its round)
            limit = blowup_threshold(problem, epochs.start_objective)
        if status != K.codes.OK:
            raise diverged(problem, method, epoch, schedule, history, b)
        if objective is None:
            # one pass gives the epoch's objective and what ``finish`` needs at the end: the loss, and
            # on the last epoch of a certified fit its gradient too (the optimality measure)
            if epoch == options.max_epochs and watch.certifies and options.tol > 0:
                loss, value = measure(problem, current)
            else:
                loss, value = problem.loss(current), None
            measured = (current.copy(), loss, value)
            objective = loss + problem.penalty(current)
        if not objective <= limit:
            raise diverged(problem, method, epoch, schedule, history, b, objective)
        history.append(objective)
        if path is not None:
            path.append(buf if record_path == "update" else current.copy())
        if fit.observer is not None and fit.observer(problem, epoch, current, objective, epoch * epochs.per_epoch):
            break
        if watch(current, objective):
            if not watch.certifies:
                reason = watch.reason()
                break
            if epoch >= next_check:  # the plateau: measure (again only after another n_iter_no_change epochs)
                if measured is None or measured[2] is None or not np.array_equal(measured[0], current):
                    loss, value = measure(problem, current)
                    measured = (current.copy(), loss, value)
                value = measured[2]
                if value <= options.tol:
                    reason = certified(problem.measure_name(), value, options.tol)
                    break
                if stall(value):
                    reason = stall.reason(epoch, problem.measure_name(), value, options.tol)
                    break
                next_check = epoch + options.patience
    n_updates = len(history) * epochs.per_epoch
    return finish(fit, epochs.current, schedule, history, n_updates, reason, path, watch, measured)
