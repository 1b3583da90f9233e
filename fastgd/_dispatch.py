"""Between the API and the kernels: pick the kernel for the data's size and thread count,
hold the scratch arrays a fit reuses, and translate between the original feature units and
the (optionally standardized) units the kernels work in."""

from contextlib import contextmanager

import numba
import numpy as np

from . import closed_form
from . import kernels as K
from ._transaction import interruptible
from ._validation import is_sparse
from .losses import LOSSES
from .runner import SLICE_WORK, Epochs

#: the Gram matrix is formed (precompute="auto", the curvature for the "auto" rates) up to this many features
GRAM_MAX_FEATURES = 2048
#: rows per numpy block of the weighted L_max
_NORM_BLOCK = 8192
#: bytes of X a first pass reads at a time for both its statistics and its loss (``measure_with_pass``):
#: the second kernel finds them in the cache.  Measured (n = 10^6, d = 32 float64, 2 threads): the two
#: one after the other 38 ms, in turns of 2-4 MiB 32-35 ms, of 16 MiB 35-38 ms
FOLD_BYTES = 4 << 20
#: a fixed start for the power iteration, so that learning_rate="auto" is the same for any random_state
_POWER_SEED = 20240311
#: the excess bound is relative to F(θ), or to this fraction of the null model's objective when F(θ) is
#: smaller (a noise-free fit, F* = 0, where no relative excess exists)
NULL_FLOOR = 1e-6

#: the names of the optimality measures (``FitResult.optimality_measure``)
EXCESS_BOUND = "excess_bound"
STD_GRADIENT = "std_gradient"


@contextmanager
def thread_count(n_threads):
    """Run the block with numba using ``n_threads`` threads (numba's setting is per thread)."""
    previous = numba.get_num_threads()
    numba.set_num_threads(n_threads)
    try:
        yield
    finally:
        numba.set_num_threads(previous)


def _column_stats(X, mean, m2, parallel):
    """``kernels.column_stats`` (the first row holding a NaN or inf, or -1; mean and m2 filled) in
    calls of at most ``SLICE_WORK`` values, whole row blocks each, so that Ctrl-C is honoured
    between them; the blocks combined once, in block order: the bits of one call.  Small X takes
    the same path (one call), so that the kernels a small fit (``fastgd.warmup``) compiles are
    those a large one runs."""
    work = np.zeros((K.n_chunks(X.shape[0]), 2 * X.shape[1] + 2))
    per_call = max(1, SLICE_WORK // (K.CHUNK * X.shape[1]))
    blocks = K.column_blocks_parallel if parallel else K.column_blocks
    for c0 in range(0, work.shape[0], per_call):
        blocks(X, work[c0 : c0 + per_call], c0)
    return K.combine_column_blocks(X, work, mean, m2)


def _csr_column_stats(data, indices, indptr, mean, m2):
    """``kernels.csr_column_stats`` in calls over at most ``SLICE_WORK`` entries (Ctrl-C between
    them), each pass's sums accumulated in entry order across the calls: the bits of one call.
    Small X takes the same path (as ``_column_stats``)."""
    n, lo, hi = indptr.shape[0] - 1, int(indptr[0]), int(indptr[-1])
    count = np.zeros(mean.shape[0])
    cuts = [(a, min(a + SLICE_WORK, hi)) for a in range(lo, hi, SLICE_WORK)]
    for a, b in cuts:
        bad = K.csr_column_sums(data, indices, a, b, mean, count)
        if bad >= 0:
            return bad
    K.csr_column_means(mean, n)
    for a, b in cuts:
        K.csr_column_squares(data, indices, a, b, mean, m2)
    K.csr_column_m2(mean, m2, count, n)
    return -1


class Problem:
    """The data of one fit as the kernels see it.

    Reads X once on creation (finiteness, column means and variances), or, with
    ``measure=False``, at the first ``measure`` or ``measure_with_pass``: the statistics of a fit
    whose start needs none (X read as is) then come with its first pass.  With ``standardize``,
    feature j is read as ``(x_j - center_j) * scale_inv_j``; the center is the column mean when
    an intercept is fitted and 0 otherwise (centering would add an intercept to the model).
    ``weights`` are the sample weights scaled to mean 1 over the rows that count (or None);
    ``spec`` the loss (``fastgd.losses``), eps its parameter, l2 and l1 the penalty, n_outputs
    the rows of θ (the classes of softmax, else 1).

    X may be a scipy.sparse CSR matrix: the kernels then read its ``(data, indices, indptr)``
    (``xs``) through their CSR twins (``kernels.sparse``), and standardizing only scales
    (``center`` stays 0: centering would densify X).  ``xs`` and ``where`` are the leading X
    arguments and the standardization arguments of whichever kernels apply.
    """

    #: whether X is a scipy.sparse CSR matrix (a class default, for subclasses that read X their own way)
    sparse = False
    #: whether X's statistics are still to be read (``measure``); subclasses measure on creation
    pending = False

    def __init__(self, X, y, *, fit_intercept, n_threads, spec=LOSSES["squared"], eps=0.0, weights=None,
                 l2=0.0, l1=0.0, n_outputs=1, measure=True):  # fmt: skip
        self.X, self.y = X, y
        self.n, self.d = X.shape
        self.sparse = is_sparse(X)
        self.xs = (X.data, X.indices, X.indptr) if self.sparse else (X,)
        self.fit_intercept = fit_intercept
        self.spec, self.weights, self.n_outputs = spec, weights, n_outputs
        self.l2, self.l1 = l2, l1
        self.model = (fit_intercept, int(spec.code), float(eps), float(l2), float(l1))
        parallel = n_threads > 1 and self.n > K.CHUNK  # one block: nothing to share out
        self._row_norm2 = K.max_row_norm2_parallel if parallel else K.max_row_norm2
        self.parallel = parallel
        if self.sparse:
            self.pass_kernels = (K.csr_loss_grad_parallel,) * 2 if parallel else (K.csr_loss_grad,) * 2
        else:
            # loss_grad's two branches, each a kernel (K.is_squared_pass): only what a fit needs compiles
            self.pass_kernels = (
                (K.squared_loss_grad_parallel, K.general_loss_grad_parallel)
                if parallel
                else (K.squared_loss_grad, K.general_loss_grad)
            )
        #: the first row holding a NaN or inf, or -1; mean, std: X's columns' (None until measured)
        self.bad_row = self.mean = self.std = None
        self.pending = True
        y_mean, y_m2 = np.zeros(1), np.zeros(1)  # y's moments, column_stats's bits: no n-sized temporaries
        vector_stats = K.vector_stats_parallel if parallel else K.vector_stats
        vector_stats(y, y_mean, y_m2, np.zeros((K.n_chunks(self.n), 4)))
        self.y_mean, self.y_var = float(y_mean[0]), float(y_m2[0]) / self.n
        self.center = self.scale_inv = None  # read X as is
        self._work = np.zeros(K.work_shape(self.n, n_outputs * (self.d + 1)))
        self._square = (fit_intercept, int(LOSSES["squared"].code), 0.0, 0.0, 0.0)
        self._grad = np.zeros(self.d + 1)
        self._lipschitz = None
        self._mu = None
        self.gram = None
        if measure:
            self.measure()

    def measure(self):
        """Read X for its statistics: ``bad_row`` (the first row holding a NaN or inf, or -1; the
        statistics are then meaningless), the column means and standard deviations."""
        mean, m2 = np.zeros(self.d), np.zeros(self.d)
        if self.sparse:
            bad = _csr_column_stats(*self.xs, mean, m2)  # a position in X.data, or -1
            bad_row = -1 if bad < 0 else int(np.searchsorted(self.X.indptr, bad, side="right")) - 1
        else:
            bad_row = _column_stats(self.X, mean, m2, self.parallel)
        self._measured(mean, m2, bad_row)

    def _measured(self, mean, m2, bad_row):
        self.mean, self.std, self.bad_row = mean, np.sqrt(m2 / self.n), bad_row
        self.pending = False

    def measure_with_pass(self, theta, grad):
        """``measure`` and ``loss_grad`` at θ (K, d + 1; ``grad``: θ's shape or ``NO_GRAD``, the loss
        alone) with one read of X from memory: the statistics' kernel and the pass in turn over the
        same few blocks of rows (about FOLD_BYTES), the second reading them from the cache.  Dense X
        read as is: the start of a fit in its original units.  The same bits as ``measure`` then
        ``loss_grad``; returns the mean loss (meaningless when ``bad_row`` >= 0)."""
        if self.sparse or self.standardized or not self.pending:
            raise RuntimeError("measure_with_pass: dense X read as is, before its statistics")  # a caller's bug
        work, d = self._work, self.d
        column_blocks = K.column_blocks_parallel if self.parallel else K.column_blocks
        stats = np.zeros((work.shape[0], 2 * d + 2))
        per_call = min(max(1, FOLD_BYTES // (K.CHUNK * d * self.X.itemsize)), self._per_call(work))
        loss = self._pass_in_calls(
            self.y, self.weights, theta, self.model, grad, work, per_call,
            before=lambda c0, c1: column_blocks(self.X, stats[c0:c1], c0),
        )  # fmt: skip
        mean, m2 = np.zeros(d), np.zeros(d)
        bad_row = K.combine_column_blocks(self.X, stats, mean, m2)
        self._measured(mean, m2, bad_row)
        return loss

    def standardize(self):
        """Read features standardized from now on (constant features are only centered).
        Sparse X: scaled only, never centered."""
        self.center = self.mean.copy() if self.fit_intercept and not self.sparse else np.zeros(self.d)
        self.scale_inv = 1.0 / np.where(self.std > 0, self.std, 1.0)
        self._mu = self._lipschitz = None

    @property
    def where(self):
        """The standardization arguments of the kernels: (center, scale_inv), (scale_inv,) for CSR."""
        return (self.scale_inv,) if self.sparse else (self.center, self.scale_inv)

    @property
    def standardized(self):
        return self.center is not None

    @property
    def shape(self):
        """The shape of θ in the kernels: (n_outputs, d + 1)."""
        return (self.n_outputs, self.d + 1)

    def run_pass(self, y, weights, theta, model, grad, work):
        """One pass of the loss (and gradient, ``grad`` not None) kernel over X: in calls of at
        most ``runner.SLICE_WORK`` multiply-adds, each over whole row blocks of ``work``, so that
        Ctrl-C is honoured between them; the blocks' sums are then combined once, in block order,
        as one call would: the same bits."""
        theta = theta[None] if theta.ndim == 1 else theta  # views: grad is still written in place
        grad = K.NO_GRAD if grad is None else grad[None] if grad.ndim == 1 else grad
        return self._pass_in_calls(y, weights, theta, model, grad, work, self._per_call(work))

    @staticmethod
    def _per_call(work):
        """Row blocks of ``work`` one kernel call sums: at most ``SLICE_WORK`` multiply-adds."""
        return max(1, SLICE_WORK // (K.CHUNK * (work.shape[1] - 2)))

    def _pass_in_calls(self, y, weights, theta, model, grad, work, per_call, before=None):
        """The pass kernel over X in calls of ``per_call`` row blocks (θ (K, d + 1), ``grad`` θ's
        shape or ``NO_GRAD``), ``before(c0, c1)`` run before the call on blocks c0 … c1 - 1; one
        call returns the kernel's own result (a small X compiles no ``combine_blocks``), several
        their blocks combined in block order: the same bits."""
        # one compiled pass for weighted and unweighted fits, one for θ of one row and of K rows
        weights = K.NO_WEIGHTS if weights is None else weights
        kernel, blocks = self.pass_kernel(model, theta), work.shape[0]
        for c0 in range(0, blocks, per_call):
            c1 = min(c0 + per_call, blocks)
            if before is not None:
                before(c0, c1)
            if c1 - c0 == blocks:
                return kernel(*self.xs, y, weights, theta, *self.where, model, grad, work)
            a, b = c0 * K.CHUNK, min(c1 * K.CHUNK, self.n)
            xs = (*self.xs[:2], self.xs[2][a : b + 1]) if self.sparse else (self.xs[0][a:b],)
            kernel(*xs, y[a:b], weights[a:b], theta, *self.where, model, grad, work[c0:c1])
        return K.combine_blocks(work, model[0], grad)

    def pass_kernel(self, model, theta):
        """The pass kernel for ``model`` and θ (K, d + 1): the squared loss's or the others'."""
        return self.pass_kernels[0] if K.is_squared_pass(model, theta) else self.pass_kernels[1]

    def loss(self, theta, weights=False):
        """Mean loss of theta (model units; no penalty), weighted by the fit's weights, or by
        ``weights`` when given (e.g. those of a validation split)."""
        w = self.weights if weights is False else weights
        return self.run_pass(self.y, w, theta, self.model, None, self._work)

    def objective(self, theta):
        """The objective: mean loss + penalty."""
        return self.loss(theta) + self.penalty(theta)

    def penalty(self, theta):
        return K.penalty(theta, self.model) if self.l2 or self.l1 else 0.0

    def loss_grad(self, theta, grad):
        """Mean loss of theta, and its gradient written into ``grad`` (from the Gram matrix
        after ``use_gram``: O(d²) instead of a pass over X)."""
        if self.gram is not None:
            return self.gram.loss_grad(theta, grad)
        return self.run_pass(self.y, self.weights, theta, self.model, grad, self._work)

    def pass_loss_grad(self, theta, grad):
        """``loss_grad`` with a pass over X even on the Gram path (the final measure of a fit)."""
        return self.run_pass(self.y, self.weights, theta, self.model, grad, self._work)

    def solve(self, method, ridge=None):
        """The closed form ``method`` ("normal", "svd" or "auto") of the squared loss with the
        ridge term ``ridge = (l2, D)`` or None: a ``closed_form.Solution`` (θ [intercept, *coef]
        in original units, message, the path that ran, warnings)."""
        data = closed_form.Dense(self.X, self.y, self.mean, self.fit_intercept, self.weights, self.parallel)
        if self.n * (self.d + 1) ** 2 <= SLICE_WORK:  # a few ms at most: no thread
            return closed_form.solve(data, method, ridge)
        return interruptible(closed_form.solve, data, method, ridge)  # LAPACK: Ctrl-C at once

    def epochs(self, theta, options, start_objective=None):
        """The source of SGD / mini-batch epochs for ``engine.stochastic``: the epoch runner
        (``start_objective``: the objective at θ, measured by a pass of its own when None)."""
        return Epochs(self, theta, options, start_objective)

    def use_gram(self):
        """Precompute the squared loss's Gram matrix (one read of X): every ``loss_grad`` after
        this costs O(d²).  Call after ``standardize`` if at all."""
        self.gram = self._gram_loss()
        self._lipschitz = None

    def _gram_loss(self):
        """A GramLoss of the data in the current units (one read of X)."""
        return GramLoss(self)

    def _hessian_scale(self, squared_curvature):
        """A bound on the curvature of the objective from that of the squared loss (2 X̃ᵀX̃ / n)."""
        return 0.5 * self.spec.curvature * squared_curvature + self.l2

    def lipschitz(self, max_iter=30, rtol=1e-3):
        """L, the Lipschitz constant of the objective's gradient (model units): the loss's
        curvature bound times λmax(X̃ᵀWX̃ / Σw), plus l2; λmax by power iteration, each step one
        gradient pass of the squared loss at y = 0 (which gives 2 X̃ᵀWX̃ v / Σw); never an
        eigendecomposition.  The Rayleigh quotient approaches λmax from below."""
        if self._lipschitz is None and self.gram is not None:
            self._lipschitz = self.gram.lipschitz()
        if self._lipschitz is None:
            v = start_vector(self.d + 1)
            if not self.fit_intercept:
                v[0] = 0.0
            zeros = np.zeros(self.n, dtype=self.X.dtype)
            work = np.zeros(K.work_shape(self.n, self.d + 1))

            def hessian_times(v):
                self.run_pass(zeros, self.weights, v, self._square, self._grad, work)
                return self._grad

            self._lipschitz = power_iteration(hessian_times, v, max_iter, rtol)
        return self._hessian_scale(self._lipschitz)

    def strong_convexity(self):
        """``_strong_convexity``, measured once per fit (per units)."""
        if self._mu is None:
            self._mu = self._strong_convexity()
        return self._mu

    def _strong_convexity(self):
        """μ, the strong convexity of the objective (model units): l2, plus for the squared loss
        2 λmin(X̃ᵀWX̃ / Σw) by power iteration on the inverse of the Gram matrix's Hessian (one
        BLAS read of X, a (d + 1)² inverse: never an eigendecomposition) when d <=
        GRAM_MAX_FEATURES (else unknown: 0).  The estimate approaches μ from above.  Also
        sharpens ``lipschitz``."""
        if self.spec.name != "squared" or self.d > GRAM_MAX_FEATURES:
            return self.l2
        gram = self.gram if self.gram is not None else self._gram_loss()
        H = gram.hessian()
        if not self.fit_intercept:
            H = H[1:, 1:]
        if self._lipschitz is None:
            self._lipschitz = _largest_eigenvalue(H, max_iter=1000, rtol=1e-9)
        try:
            np.linalg.cholesky(H)  # raises unless H is positive definite
            H_inv = np.linalg.inv(H)
        except np.linalg.LinAlgError:
            return self.l2
        inv_max = _largest_eigenvalue(H_inv, max_iter=1000, rtol=1e-6)  # 1/μ, from below
        mu = 1.0 / inv_max if inv_max > 0 else 0.0
        return (mu if 0 < mu and mu > 1e-12 * self._lipschitz else 0.0) + self.l2

    def lipschitz_max(self):
        """L_max, the largest Lipschitz constant of one sample's gradient: from
        2 max_i w_i ‖x̃_i‖² (with weights over the rows that count, by numpy in blocks; for sparse
        X bounded by max w times max ‖x̃‖²)."""
        if self.weights is None or self.sparse:
            if self.sparse:  # rows of at most SLICE_WORK entries a call (or one row)
                data, indices, indptr = self.xs
                top, a = 0.0, 0
                while a < self.n:
                    b = max(a + 1, int(np.searchsorted(indptr, indptr[a] + SLICE_WORK, side="right")) - 1)
                    top = max(top, K.csr_max_row_norm2(data, indices, indptr[a : b + 1], *self.where))
                    a = b
            else:  # rows of whole blocks a call (Ctrl-C between them): the maximum is exact in any cut
                step = max(1, SLICE_WORK // (K.CHUNK * self.d)) * K.CHUNK
                parts = (self._row_norm2(self.X[a : a + step], *self.where) for a in range(0, self.n, step))
                top = max(parts, default=0.0)
            top += self.fit_intercept
            w_max = 1.0 if self.weights is None else float(self.weights.max())
            return self._hessian_scale(2.0 * top * w_max)
        top = 0.0
        for start in range(0, self.n, _NORM_BLOCK):
            Z = self.X[start : start + _NORM_BLOCK].astype(np.float64)
            if self.standardized:
                Z = (Z - self.center) * self.scale_inv
            norms = np.einsum("ij,ij->i", Z, Z) + self.fit_intercept
            top = max(top, float((norms * self.weights[start : start + _NORM_BLOCK]).max()))
        return self._hessian_scale(2.0 * top)

    def certificate_mu(self):
        """The μ the excess bound may use, or 0: the squared loss's (2 λmin of its Hessian, intercept
        included, + l2) when the Hessian is positive definite; l2 for another smooth loss without an
        intercept (the intercept is not penalized, so l2 alone does not make F strongly convex in it)."""
        if not self.spec.smooth:
            return 0.0
        if self.spec.name == "squared":
            mu = self.strong_convexity()
            return mu if mu > self.l2 or not self.fit_intercept else 0.0  # l2 alone: the fallback
        return self.l2 if not self.fit_intercept else 0.0

    def measure_name(self):
        """Which optimality measure a smooth fit of this problem reports (without early stopping)."""
        return EXCESS_BOUND if self.certificate_mu() > 0 else STD_GRADIENT

    def null_objective(self):
        """The squared loss's objective of the best constant (of zero without an intercept), else 0."""
        if self.spec.name != "squared":
            return 0.0
        return self.y_var + (0.0 if self.fit_intercept else self.y_mean**2)

    def _smooth_grad(self, theta, grad):
        """The gradient of the smooth part (data loss + L2) in model units, 0 at an unfitted intercept."""
        g = grad.copy()
        g[:, 1:] += self.l2 * theta[:, 1:]
        if not self.fit_intercept:
            g[:, 0] = 0.0
        return g

    def _prox(self, theta, g, alpha):
        """θ⁺ = prox_{l1/α}(θ - g/α) (the intercept unpenalized)."""
        step = theta - g / alpha
        step[:, 1:] = np.sign(step[:, 1:]) * np.maximum(np.abs(step[:, 1:]) - self.l1 / alpha, 0.0)
        if not self.fit_intercept:
            step[:, 0] = theta[:, 0]
        return step

    def _to_standardized(self, g):
        """A model-units gradient (rows of θ's shape) in standardized, centered coordinates
        u_j = (x_j - mean_j) / std_j (without an intercept: u_j = x_j / rms_j), the intercept's as
        is; columns that are constant (zero without an intercept) get 0."""
        s = np.ones(self.d) if self.scale_inv is None else self.scale_inv
        c = np.zeros(self.d) if self.center is None else self.center
        delta = (self.mean - c) * s  # the mean of z_j, feature j as the kernels read it
        spread = self.std * s
        if self.fit_intercept:
            out = g.copy()
            ok = spread > 0
            out[:, 1:] = np.where(ok, (g[:, 1:] - np.outer(g[:, 0], delta)) / np.where(ok, spread, 1.0), 0.0)
        else:
            rms = np.sqrt(spread**2 + delta**2)
            out = np.zeros_like(g)
            out[:, 1:] = np.where(rms > 0, g[:, 1:] / np.where(rms > 0, rms, 1.0), 0.0)
        return out

    def _std_factor(self):
        """c >= ‖T‖ of ``_to_standardized``'s map (Frobenius), and the target scale: the standardized
        gradient norm is at most c ‖g‖ / y_scale."""
        s = np.ones(self.d) if self.scale_inv is None else self.scale_inv
        c = np.zeros(self.d) if self.center is None else self.center
        delta, spread = (self.mean - c) * s, self.std * s
        if self.fit_intercept:
            ok = spread > 0
            c2 = 1.0 + float(np.sum((1.0 + delta[ok] ** 2) / spread[ok] ** 2))
        else:
            rms2 = spread**2 + delta**2
            c2 = float(np.sum(1.0 / rms2[rms2 > 0]))
        return np.sqrt(c2), self._y_scale()

    def _y_scale(self):
        """Regression losses: the gradient is in y's units; divided by y's spread it is scale-free."""
        if self.spec.task != "regression":
            return 1.0
        return max(float(np.sqrt(self.y_var)), np.finfo(np.float64).tiny)

    def optimality(self, theta, grad, loss):
        """The optimality measure at θ (model units), from the data loss ``loss`` at θ and its gradient
        ``grad``; for a smooth loss (see ``fastgd.fit``'s ``tol``):

        - ``"excess_bound"`` (μ = ``certificate_mu()`` > 0): B / max(F(θ), NULL_FLOOR F_null) where
          B = ‖∇F(θ)‖² / (2μ) >= F(θ) - F* (strong convexity); with L1, B = D(θ, α) / (2μ) with
          the proximal-PL quantity D(θ, α) = -2α min_y [⟨∇f, y - θ⟩ + α/2 ‖y - θ‖² + l1 ‖y‖₁ -
          l1 ‖θ‖₁] at α = max(L, μ) (>= 2μ (F(θ) - F*) for any α >= μ: Karimi, Nutini, Schmidt 2016).
          A value m <= tol < 1 bounds (F(θ) - F*) / F(θ) by m, hence (F(θ) - F*) / F* by m / (1 - m).
        - ``"std_gradient"``: ‖∇F(θ)‖ in standardized, centered coordinates (the gradient mapping's
          with L1), divided by std(y) for a regression loss: scale-free in X (and y).

        Returns (value, name); inf where the gradient's norm overflows float64 (a huge penalty far
        from its optimum: the fit has not converged)."""
        with np.errstate(over="ignore", invalid="ignore"):
            return self._optimality(theta, grad, loss)

    def _optimality(self, theta, grad, loss):
        objective = loss + self.penalty(theta)
        g = self._smooth_grad(theta, grad)
        mu = self.certificate_mu()
        if mu > 0:
            if self.l1 > 0:
                alpha = max(self.lipschitz(), mu)
                dx = self._prox(theta, g, alpha) - theta
                w, w_new = theta[:, 1:], theta[:, 1:] + dx[:, 1:]
                q = float(np.sum(g * dx) + 0.5 * alpha * np.sum(dx * dx))
                q += self.l1 * float(np.sum(np.abs(w_new)) - np.sum(np.abs(w)))
                bound = max(-2.0 * alpha * q, 0.0) / (2.0 * mu)
            else:
                bound = float(np.sum(g * g)) / (2.0 * mu)
            floor = max(NULL_FLOOR * self.null_objective(), np.finfo(np.float64).tiny)
            return bound / max(objective, floor), EXCESS_BOUND
        if self.l1 > 0:
            alpha = max(self.lipschitz(), np.finfo(np.float64).tiny)
            g = alpha * (theta - self._prox(theta, g, alpha))
        return float(np.linalg.norm(self._to_standardized(g))) / self._y_scale(), STD_GRADIENT

    def gradient_threshold(self, tol, objective):
        """A threshold on the model-units stationarity measure (``kernels.stationarity``) below which
        the optimality measure is likely <= tol (verified after the kernel stops): sqrt(2 μ tol F) / 2
        for the excess bound, tol y_scale / c for the standardized gradient."""
        mu = self.certificate_mu()
        if mu > 0:
            floor = max(NULL_FLOOR * self.null_objective(), np.finfo(np.float64).tiny)
            return 0.5 * float(np.sqrt(2.0 * mu * tol * max(objective, floor)))
        c, y_scale = self._std_factor()
        return tol * y_scale / max(c, np.finfo(np.float64).tiny)

    @property
    def rows(self):
        """The rows that count: those of weight > 0 (all without weights)."""
        return self.n if self.weights is None else int(np.count_nonzero(self.weights))

    def to_model(self, theta):
        """θ (d + 1,) or (K, d + 1) in original units -> θ in the units the kernels work in."""
        if not self.standardized:
            return theta.copy()
        out = np.empty_like(theta)
        out[..., 1:] = theta[..., 1:] / self.scale_inv
        out[..., 0] = theta[..., 0] + theta[..., 1:] @ self.center
        return out

    def to_original(self, theta):
        """θ (or rows of θs) in model units -> original units."""
        if not self.standardized:
            return theta.copy()
        out = np.empty_like(theta)
        out[..., 1:] = theta[..., 1:] * self.scale_inv
        out[..., 0] = theta[..., 0] - out[..., 1:] @ self.center
        return out

    def penalty_scales(self):
        """D of the closed forms' ridge term: the squared feature scales when the penalty is on
        standardized coefficients, else ones."""
        return 1.0 / self.scale_inv**2 if self.standardized else np.ones(self.d)


class GramLoss:
    """The squared loss of a Problem through its Gram matrix, in the problem's (model) units.

    With u = (x - x̄) S the (weighted-)centered features in model units (S = diag(scale_inv),
    or I) and δ = (x̄ - center) S, the model reads z = u + δ; since Σwu = 0 and Σw(y - ȳ) = 0
    the MSE and its gradient need only M = S A S / W, h = S b / W, δ, ȳ and s_yy = Σw(y - ȳ)²/W,
    A and b the sums of ``closed_form.gram`` (formulas in ``kernels/gram.py``).  Without an
    intercept nothing is centered (ȳ = 0, δ = 0).  Centering keeps the cancellation in the MSE
    small; the final loss of a fit is measured with a pass.
    """

    def __init__(self, problem, gram=None):
        """``gram``: the ``closed_form.Gram`` sums, when already formed (the Dask backend sums
        them block by block); None reads X for them."""
        if gram is None:  # y's sums may overflow (|y| ~ 1e200): s_yy is then inf, a loss the fit reports
            with np.errstate(over="ignore", invalid="ignore"):
                gram = closed_form.gram(problem.X, problem.y, problem.mean, problem.fit_intercept, problem.weights)
        G = gram
        s = np.ones(problem.d) if problem.scale_inv is None else problem.scale_inv
        self.M = (G.A * s[:, None] * s[None, :]) / G.weight
        self.h = G.b * s / G.weight
        self.y_mean = G.y_mean
        self.s_yy = G.yy / G.weight
        self.fit_intercept = problem.fit_intercept
        if problem.fit_intercept:
            center = np.zeros(problem.d) if problem.center is None else problem.center
            self.delta = (G.x_mean - center) * s
        else:
            self.delta = np.zeros(problem.d)

    @property
    def pieces(self):
        """The arguments that ``kernels.gram_loss_grad`` and ``kernels.gram_descent`` start with."""
        return self.M, self.h, self.delta, self.y_mean, self.s_yy

    def loss_grad(self, theta, grad):
        """The squared loss and its gradient at theta (1, d + 1)."""
        return K.gram_loss_grad(*self.pieces, self.fit_intercept, theta[0], grad[0])

    def hessian(self):
        """The MSE's Hessian in (θ0, θ): 2 X̃ᵀWX̃ / Σw in model units ((d + 1) x (d + 1))."""
        d = self.M.shape[0]
        H = np.zeros((d + 1, d + 1))
        H[1:, 1:] = self.M + np.outer(self.delta, self.delta)
        if self.fit_intercept:
            H[0, 0] = 1.0
            H[0, 1:] = H[1:, 0] = self.delta
        return 2.0 * H

    def lipschitz(self):
        """λmax of the Hessian by power iteration on the small matrix (never an eigendecomposition)."""
        return _largest_eigenvalue(self.hessian(), max_iter=1000, rtol=1e-9)


def start_vector(size):
    """The power iterations' fixed start (so learning_rate="auto" does not depend on random_state)."""
    return np.random.default_rng(_POWER_SEED).standard_normal(size)


def power_iteration(matvec, v, max_iter, rtol):
    """λmax of the symmetric positive semi-definite operator ``matvec`` from the start ``v``:
    the Rayleigh quotient, which approaches λmax from below."""
    v = v / np.linalg.norm(v)
    lam = 0.0
    for _ in range(max_iter):
        w = matvec(v)
        previous, lam = lam, float(v @ w)
        norm = _finite_norm(w)
        if norm == 0.0 or abs(lam - previous) <= rtol * lam:
            break
        v = w / norm
    return lam


def _largest_eigenvalue(H, max_iter, rtol):
    """λmax of the small symmetric positive semi-definite matrix H, by power iteration."""
    if not np.isfinite(H).all():
        _finite_norm(H.ravel())  # raises: the Gram matrix itself overflowed
    return power_iteration(H.__matmul__, start_vector(H.shape[0]), max_iter, rtol)


def _finite_norm(w):
    """‖w‖, or a clear error when the curvature overflows float64."""
    with np.errstate(over="ignore", invalid="ignore"):  # reported just below
        norm = float(np.linalg.norm(w))
    if not np.isfinite(norm):
        raise ValueError("the features are too large: XᵀX overflows float64; rescale X (or pass standardize=True)")
    return norm
