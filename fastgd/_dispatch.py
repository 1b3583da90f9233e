"""Between the API and the kernels: pick the kernel for the data's size and thread count,
hold the scratch arrays a fit reuses, and translate between the original feature units and
the (optionally standardized) units the kernels work in."""

from contextlib import contextmanager

import numba
import numpy as np

from . import kernels as K
from .kernels._config import CHUNK
from .kernels.codes import SQUARED

#: the Gram matrix is formed (precompute="auto", the curvature for the "auto" rates) up to this many features
GRAM_MAX_FEATURES = 2048
#: a fixed start for the power iteration, so that learning_rate="auto" is the same for any random_state
_POWER_SEED = 20240311


@contextmanager
def thread_count(n_threads):
    """Run the block with numba using ``n_threads`` threads (numba's setting is per thread)."""
    previous = numba.get_num_threads()
    numba.set_num_threads(n_threads)
    try:
        yield
    finally:
        numba.set_num_threads(previous)


class Problem:
    """The data of one fit as the kernels see it.

    Reads X once on creation (finiteness, column means and variances).  With ``standardize``,
    feature j is read as ``(x_j - center_j) * scale_inv_j``; the center is the column mean when
    an intercept is fitted and 0 otherwise (centering would add an intercept to the model).
    """

    def __init__(self, X, y, *, fit_intercept, n_threads, loss_code=SQUARED):
        self.X, self.y = X, y
        self.n, self.d = X.shape
        self.fit_intercept = fit_intercept
        self.loss_code = loss_code
        parallel = n_threads > 1 and self.n > CHUNK  # one block: nothing to share out
        self._loss_grad = K.loss_grad_parallel if parallel else K.loss_grad
        stats = K.column_stats_parallel if parallel else K.column_stats
        self.mean, m2 = np.zeros(self.d), np.zeros(self.d)
        self.bad_row = stats(X, self.mean, m2, np.zeros((K.n_chunks(self.n), 2 * self.d + 2)))
        self.std = np.sqrt(m2 / self.n)
        y_mean, y_m2 = np.zeros(1), np.zeros(1)  # y's moments by the same kernel: no n-sized temporaries
        stats(y.reshape(-1, 1), y_mean, y_m2, np.zeros((K.n_chunks(self.n), 4)))
        self.y_mean, self.y_var = float(y_mean[0]), float(y_m2[0]) / self.n
        self.center = self.scale_inv = None  # read X as is
        self._work = np.zeros((K.n_chunks(self.n), self.d + 2))
        self._grad = np.zeros(self.d + 1)
        self._lipschitz = None
        self.gram = None

    def standardize(self):
        """Read features standardized from now on (constant features are only centered)."""
        self.center = self.mean.copy() if self.fit_intercept else np.zeros(self.d)
        self.scale_inv = 1.0 / np.where(self.std > 0, self.std, 1.0)

    @property
    def standardized(self):
        return self.center is not None

    def loss(self, theta):
        """Mean loss of theta (model units)."""
        return self._loss_grad(
            self.X, self.y, theta, self.center, self.scale_inv, self.fit_intercept, self.loss_code, None, self._work
        )

    def loss_grad(self, theta, grad):
        """Mean loss of theta, and its gradient written into ``grad`` (from the Gram matrix
        after ``use_gram``: O(d²) instead of a pass over X)."""
        if self.gram is not None:
            return self.gram.loss_grad(theta, grad)
        return self._loss_grad(
            self.X, self.y, theta, self.center, self.scale_inv, self.fit_intercept, self.loss_code, grad, self._work
        )

    def use_gram(self):
        """Precompute the squared loss's Gram matrix (one read of X): every ``loss_grad`` after
        this costs O(d²).  Call after ``standardize`` if at all."""
        self.gram = self._gram_loss()
        self._lipschitz = None

    def _gram_loss(self):
        """A GramLoss of the data in the current units (one read of X)."""
        return GramLoss(self)

    def lipschitz(self, max_iter=30, rtol=1e-3):
        """L = 2 λmax(X̃ᵀX̃ / n), the Lipschitz constant of the MSE gradient (model units),
        by power iteration: each step one gradient pass at y = 0 (which gives 2/n X̃ᵀX̃ v);
        never an eigendecomposition.  The Rayleigh quotient approaches L from below."""
        if self._lipschitz is None and self.gram is not None:
            self._lipschitz = self.gram.lipschitz()
        if self._lipschitz is None:
            v = _start_vector(self.d + 1)
            if not self.fit_intercept:
                v[0] = 0.0
            zeros = np.zeros(self.n, dtype=self.X.dtype)

            def hessian_times(v):
                self._loss_grad(
                    self.X, zeros, v, self.center, self.scale_inv, self.fit_intercept, SQUARED, self._grad, self._work
                )
                return self._grad

            self._lipschitz = _power_iteration(hessian_times, v, max_iter, rtol)
        return self._lipschitz

    def strong_convexity(self):
        """μ = 2 λmin(X̃ᵀX̃ / n) (model units) by power iteration on the inverse of the Gram
        matrix's Hessian (one BLAS read of X, a (d + 1)² inverse: never an eigendecomposition),
        when d <= GRAM_MAX_FEATURES; 0 when the Hessian is singular or d is larger (unknown).
        The estimate approaches μ from above.  Also sharpens ``lipschitz``."""
        if self.d > GRAM_MAX_FEATURES:
            return 0.0
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
            return 0.0
        inv_max = _largest_eigenvalue(H_inv, max_iter=1000, rtol=1e-6)  # 1/μ, from below
        mu = 1.0 / inv_max if inv_max > 0 else 0.0
        return mu if 0 < mu and mu > 1e-12 * self._lipschitz else 0.0

    def lipschitz_max(self):
        """L_max = 2 max_i ‖x̃_i‖²: the largest Lipschitz constant of one sample's gradient."""
        return 2.0 * (K.max_row_norm2(self.X, self.center, self.scale_inv) + self.fit_intercept)

    def to_model(self, theta):
        """θ in original units -> θ in the units the kernels work in."""
        if not self.standardized:
            return theta.copy()
        out = np.empty_like(theta)
        out[1:] = theta[1:] / self.scale_inv
        out[0] = theta[0] + theta[1:] @ self.center
        return out

    def to_original(self, theta):
        """θ (or rows of θs) in model units -> original units."""
        if not self.standardized:
            return theta.copy()
        out = np.empty_like(theta)
        out[..., 1:] = theta[..., 1:] * self.scale_inv
        out[..., 0] = theta[..., 0] - out[..., 1:] @ self.center
        return out


class GramLoss:
    """The squared loss of a Problem through its Gram matrix, in the problem's (model) units.

    With u = (x - mean) S the centered features in model units (S = diag(scale_inv), or I)
    and δ = (mean - center) S, the model reads z = u + δ; since Σu = 0 and Σ(y - ȳ) = 0 the
    MSE and its gradient need only M = S A S / n, h = S b / n, δ, ȳ and s_yy = Σ(y - ȳ)² / n,
    A and b the centered XᵀX and Xᵀ(y - ȳ) of ``closed_form.gram`` (formulas in
    ``kernels/gram.py``).  Without an intercept nothing is centered (ȳ = 0, δ = 0).  Centering
    keeps the cancellation in the MSE small; the final loss of a fit is measured with a pass.
    """

    def __init__(self, problem, gram=None):
        """``gram``: the (A, b, ȳ) of ``closed_form.gram``, when already formed (the Dask
        backend sums them block by block); None reads X for them."""
        from .closed_form import gram as form_gram

        A, b, y_mean = (
            gram if gram is not None else form_gram(problem.X, problem.y, problem.mean, problem.fit_intercept)
        )
        s = np.ones(problem.d) if problem.scale_inv is None else problem.scale_inv
        n = problem.n
        self.M = (A * s[:, None] * s[None, :]) / n
        self.h = b * s / n
        self.y_mean = y_mean
        # Σ(y - ȳ)²/n with an intercept, Σy²/n without
        self.s_yy = problem.y_var + (0.0 if problem.fit_intercept else problem.y_mean**2)
        self.fit_intercept = problem.fit_intercept
        if problem.fit_intercept:
            center = np.zeros(problem.d) if problem.center is None else problem.center
            self.delta = (problem.mean - center) * s
        else:
            self.delta = np.zeros(problem.d)

    @property
    def pieces(self):
        """The arguments that ``kernels.gram_loss_grad`` and ``kernels.gram_descent`` start with."""
        return self.M, self.h, self.delta, self.y_mean, self.s_yy, self.fit_intercept

    def loss_grad(self, theta, grad):
        return K.gram_loss_grad(*self.pieces, theta, grad)

    def hessian(self):
        """The MSE's Hessian in (θ0, θ): 2 X̃ᵀX̃ / n in model units ((d + 1) x (d + 1))."""
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


def _start_vector(size):
    """The power iterations' fixed start (so learning_rate="auto" does not depend on random_state)."""
    return np.random.default_rng(_POWER_SEED).standard_normal(size)


def _power_iteration(matvec, v, max_iter, rtol):
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
    return _power_iteration(H.__matmul__, _start_vector(H.shape[0]), max_iter, rtol)


def _finite_norm(w):
    """‖w‖, or a clear error when the curvature overflows float64."""
    with np.errstate(over="ignore", invalid="ignore"):  # reported just below
        norm = float(np.linalg.norm(w))
    if not np.isfinite(norm):
        raise ValueError("the features are too large: XᵀX overflows float64; rescale X (or pass standardize=True)")
    return norm
