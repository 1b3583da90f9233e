"""``fastgd.fit``: the face of the library.  Its signature and docstring, then the keywords
become ``Options`` (``fastgd.options``), the data a ``Problem`` (``fastgd._dispatch``), and the
engine (``fastgd.engine``) runs the fit; Dask collections go to ``fastgd.distributed``."""

import numpy as np

from . import _validation as v
from . import engine
from ._dispatch import Problem, thread_count
from ._transaction import plain_interrupt
from .engine import FitState
from .options import make_options

__all__ = ["FitState", "fit"]


@v.suggest_keywords  # an unknown keyword: a TypeError naming the closest valid one
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
        "normal": the normal equation (Cholesky of the equilibrated X̃ᵀX̃, one solve; it warns
        when its condition estimate leaves fewer than half the digits and refuses a singular
        matrix); "svd": QR and SVD of the equilibrated [1, X], refined with compensated
        residuals (the minimum-norm solution when X̃ᵀX̃ is singular, with a RankDeficientWarning);
        "batch": full-batch gradient descent; "sgd": one sample per update, a fresh random order
        each epoch; "minibatch": ``batch_size`` samples per update.  "auto" (a closed form where
        one exists): the QR path when n <= d or the condition estimate says the normal equation
        would lose digits, else the Cholesky solution refined with compensated residuals, to the
        accuracy of the exact least-squares solution of the float64 data (``message`` names the
        path and the κ estimated; see docs/accuracy.md); "batch" when the loss or the penalty has
        no closed form (any loss but "squared", an L1 term), or with ``early_stopping``.  The
        closed forms solve the squared loss with no penalty or L2 (ridge) only.
    loss : str
        "squared" (default), "huber", "epsilon_insensitive", "squared_epsilon_insensitive",
        "log", "hinge", "squared_hinge", "modified_huber", "perceptron" or "softmax"; formulas
        in ``fastgd.losses``.  For "hinge", "perceptron" and "epsilon_insensitive" (not
        differentiable) batch
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
        iterative methods only.  With learning_rate="auto", "momentum" and "nesterov" use the
        plain rate in batch GD (1/L) and the plain rate times (1 - beta) in SGD and mini-batch
        (their steps accumulate about 1/(1 - beta) gradients); "adagrad", "rmsprop" and "adam",
        whose steps are about eta per coordinate, start at ``eta0 = ‖∇F(θ0)‖ / L`` (a distance
        to travel), constant for adagrad and ``eta0 / (t + 1) ** p`` for the others (p = 0.75,
        0.5) in batch GD, ``eta0 exp(-t / (k epochs))`` in SGD and mini-batch (k = 20, rmsprop
        40; ``optimizers.AutoRate``).
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
        The fit converges when the optimality measure at the final θ is <= ``tol``
        (``FitResult.optimality`` and ``optimality_measure``).  Smooth losses: for the squared
        loss (positive definite XᵀX), or with l2 > 0 and no intercept, B / F(θ) with B =
        ‖∇F(θ)‖² / (2μ) >= F(θ) - F* (μ the strong convexity; with L1 the proximal-PL analogue):
        then (F - F*) / F <= tol, and (F - F*) / F* <= tol / (1 - tol); otherwise the gradient
        norm in standardized, centered coordinates (divided by std(y) for a regression loss).
        SGD and mini-batch measure (one more pass) when the training objective has not improved
        by ``tol`` (relative) for ``n_iter_no_change`` epochs and keep going while it is unmet
        (measuring again every ``n_iter_no_change`` epochs); batch GD stops on a gradient-norm
        threshold derived from the measure, then verifies it.  Non-smooth losses and early
        stopping stop on that plateau, which is no certificate: ``converged`` stays False (the
        message says so; no ConvergenceWarning).  0 disables all of it: exactly
        ``max_epochs`` epochs run, ``converged`` is False, nothing is measured and no
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
    shuffle : True, "rows", "blocks", "corgipile" or False
        SGD / mini-batch: a fresh random order of the rows every epoch (True = "rows": exact
        SGD, random reads); "blocks": runs of 64 consecutive rows, the runs in a fresh random
        order (sequential reads, faster on data far larger than the caches, a less random
        visit); "corgipile": CorgiPile's two-level shuffle (Xu et al., SIGMOD 2022): blocks of
        ~4 KiB of consecutive rows in a fresh random order, taken ~1 MiB (an L2 cache) at a time,
        each such buffer's rows in a fresh random order (reads local to a few runs, close to a
        full shuffle even on sorted rows; ``runner.corgi_layout``); False: the rows' own order
        every epoch.
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
        Gram path, and, with tol > 0, off it too: the certificate's read of the Gram matrix
        gives it), and the final loss is measured with a pass over X.  "auto": with an
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
        ``converged`` is True only when ``optimality`` <= ``tol`` at the returned θ (always for
        the closed forms).

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
        max_epochs reached before the measure met ``tol`` (once; the message gives the value).
    FeatureScaleWarning
        An iterative method on features whose scales differ by more than 100x.
    IllConditionedWarning
        method="normal" on a matrix whose condition leaves fewer than half the digits (use "auto").
    RankDeficientWarning
        A rank-deficient X in a closed form: the minimum-norm solution, one of many.
    """
    keywords = {name: value for name, value in locals().items() if name not in ("X", "y", "sample_weight")}
    if v.is_dask(X) or v.is_dask(y):  # dask.array / dask.dataframe: the same fit, block by block on Dask
        from . import distributed

        return distributed.fit(X, y, sample_weight, keywords)
    backend = "csr" if v.is_sparse(X) else "dense"
    options = make_options(keywords, backend, weighted=sample_weight is not None)
    X = v.check_X(X, accept_sparse=True)
    spec = options.spec
    if spec.classifier:
        y, classes = v.encode_labels(y, X.shape[0], spec, X.dtype)
    else:
        y, classes = v.check_y(y, X.shape[0], X.dtype), None
    n_outputs = classes.shape[0] if spec.task == "multiclass" else 1
    weights = v.check_sample_weight(sample_weight, X.shape[0])
    options = options.replace(init=v.check_init(options.init, X.shape[1], options.fit_intercept, n_outputs))
    validation = None
    if options.early_stopping:
        weights, validation = _split(weights, X.shape[0], options.validation_fraction, options.rng)
    with thread_count(options.n_threads), plain_interrupt():  # Ctrl-C: a KeyboardInterrupt, never a SystemError
        problem = Problem(
            X, y, fit_intercept=options.fit_intercept, n_threads=options.n_threads, spec=spec, eps=options.eps,
            weights=_normalized(weights), l2=options.l2, l1=options.l1, n_outputs=n_outputs, measure=False,
        )  # fmt: skip
        # X's statistics are read by engine.run, with the fit's first pass where it can
        return engine.run(problem, options, dict(loss_name=spec.name, classes=classes), validation)


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
