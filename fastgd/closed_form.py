"""The closed forms of least squares and ridge: the normal equation, QR + SVD, and "auto".

Each returns a ``Solution``: θ = [intercept, *coef] in float64, a message, the path that ran
and the warnings for the engine to raise.  Least squares is invariant to standardizing the
features, so these ignore ``standardize``.

Every path works on the equilibrated problem: with an intercept the features are centered at
their (weighted) means, and every column is scaled to unit norm (with ridge, the norm of the
column together with its ridge row) before anything is factored, so that units, offsets and
scales cost no digits, and rank and condition are those of the problem, not of its units.
``κ`` below is the condition number of that equilibrated X̃ (κ(X̃ᵀX̃) = κ²).

* "normal": Cholesky of the equilibrated X̃ᵀWX̃ (+ the ridge term) and one solve, the textbook
  normal equation: fast, relative error about κ²·eps.  LAPACK's ``dpocon`` estimates κ² from
  the factor.  Raises SingularMatrixError (pointing to "svd") when Cholesky fails or
  κ²·eps > ``SINGULAR_LIMIT``; warns (IllConditionedWarning) when κ²·eps > ``NORMAL_LIMIT``
  = √eps, where fewer than half its digits are left.
* "svd": Householder QR of the equilibrated ``[1, X̃, y]`` (+ ridge rows), then the SVD of its
  small R.  Singular values at most ``max(rows, p)·eps`` times the largest count as zero (the
  rule of ``numpy.linalg.lstsq``, applied to the equilibrated matrix); then refinement.  A
  rank-deficient X gets the minimum-norm solution (of θ in the original units, intercept
  included, as lstsq; the null vectors from the SVD, mapped to θ's units and refined like the
  solution, so that column scales cost them nothing) and a RankDeficientWarning.
* "auto": "svd" when n ≤ d; else the normal equation's factor when κ²·eps ≤ ``NORMAL_LIMIT``,
  refined (and "svd" if that refinement fails to converge); else "svd".  θ is returned in X's
  dtype: for float32 X without ridge, the refinement is skipped when the condition estimate puts
  the normal equation's answer within half a float32 ulp of the exact solution in every
  component (``_precise_enough``), which more float64 digits would not change.

Refinement (corrected semi-normal equations, Björck): each step is one compensated pass over X
(``kernels.residual_gradient``: the residuals ``r = y - Xθ`` and the gradient
``g = XᵀW r - λθ`` in double-double), then ``θ += (R̃ᵀR̃)⁻¹ g`` through the factor at hand (the
Cholesky factor, or the SVD of R), until the correction is below eps of every component, or
is predicted to be from the condition estimate, or stops shrinking (``refine``).  Because g is
about exact, the fixed point is the exact least-squares (ridge) solution of the float64 data;
each step shrinks the error by about κ²·eps (Cholesky) or κ·eps (QR), so from the normal
equation's start (error ≤ √eps) one step lands at eps.  The accurate path keeps its iterate
in double-double; the limit is then the gradient's own error, about κ²·eps² relative to the
residual: in tests/test_accuracy.py and bench/accuracy.py the answer is the exact solution
rounded to float64 (16 digits) up to κ ≈ 1e13.  A refinement that does not converge warns.
"""

import math
from typing import NamedTuple

import numpy as np

from . import kernels as K
from .exceptions import IllConditionedWarning, RankDeficientWarning, SingularMatrixError

# scipy.linalg is imported where it is used: it costs ~0.3 s of `import fastgd` otherwise.

#: rows read (and up-cast to float64) at a time while forming XᵀX or the QR's copy of X
_BLOCK = 8192
EPS = float(np.finfo(np.float64).eps)
#: the normal equation keeps about half the digits up to κ(X̃ᵀX̃)·eps = √eps: "normal" warns above
#: it, and "auto" leaves it for QR + SVD (below it one refinement step from the Cholesky factor
#: reaches eps: error √eps times a contraction of √eps)
NORMAL_LIMIT = math.sqrt(EPS)
#: "normal" refuses when κ(X̃ᵀX̃)·eps exceeds this: not two digits of its answer would hold
SINGULAR_LIMIT = 1e-2
#: at most this many refinement steps (each one compensated pass over X)
MAX_STEPS = 10
#: two refinement steps in a row that do not shrink the correction by this factor end the refinement
CONTRACTION = 0.5
#: the margin on the predicted contraction of a refinement step (``refine``)
SAFETY = 10.0


class Gram(NamedTuple):
    """What one read of X gives the squared loss: sums over the rows, weighted by w (1 without
    weights), centered at the weighted means when an intercept is fitted (not centered without)."""

    A: np.ndarray  #: Σ w (x - x̄)(x - x̄)ᵀ, (d, d)
    b: np.ndarray  #: Σ w (x - x̄)(y - ȳ), (d,)
    x_mean: np.ndarray  #: x̄ (zeros without an intercept)
    y_mean: float  #: ȳ (0 without an intercept)
    yy: float  #: Σ w (y - ȳ)²
    weight: float  #: Σ w


class Solution(NamedTuple):
    """A closed form's answer."""

    theta: np.ndarray  #: [intercept, *coef], float64
    message: str
    method: str  #: the path that ran: "normal" or "svd"
    warnings: tuple = ()  #: (category, text) pairs, raised by the engine at the caller's line
    #: Σ w r² / Σ w at θ from the compensated residuals (None: measure it with a pass)
    loss: object = None


def gram(X, y, mean, fit_intercept, weights=None):
    """The ``Gram`` sums in float64, accumulated over row blocks of X by BLAS.

    The rows are read shifted by ``mean`` (the unweighted column means, already measured) and
    y by its first value; the weighted means are then recovered exactly from the shifted sums
    (x̄ = mean + Σ w z / W), so a mean that dwarfs the spread costs no digits and the normal
    equation stays as well conditioned as the data allows.  Only one block of X is ever copied.
    """
    if hasattr(X, "indptr"):  # scipy.sparse CSR
        return _sparse_gram(X, y, fit_intercept, weights)
    n, d = X.shape
    A, b, s = np.zeros((d, d)), np.zeros(d), np.zeros(d)
    shift = float(y[0]) if fit_intercept else 0.0
    sy = syy = weight = 0.0
    # one float64 block, reused: the shifted rows are written into it (no astype copy and no
    # temporary per block), and Z.T @ Z of one array is BLAS's syrk; the column sums are a gemv
    # (numpy's sum over axis 0 of a narrow block cost as much as the product)
    buffer, ones = np.empty((min(_BLOCK, n), d)), np.ones(min(_BLOCK, n))
    for start in range(0, n, _BLOCK):
        stop = min(start + _BLOCK, n)
        Z = buffer[: stop - start]
        _shifted(X[start:stop], mean if fit_intercept else None, Z)
        r = y[start:stop].astype(np.float64)
        if fit_intercept:
            r -= shift
        if weights is None:
            w, wZ, wr = ones[: stop - start], Z, r
            weight += stop - start
        else:
            w = weights[start:stop]
            wZ, wr = Z * w[:, None], w * r
            weight += float(w.sum())
        A += Z.T @ wZ
        b += wZ.T @ r
        s += w @ Z
        sy += float(wr.sum())
        syy += float(wr @ r)
    if not fit_intercept:
        return Gram(A, b, np.zeros(d), 0.0, syy, weight)
    dx, dy = s / weight, sy / weight  # the weighted means, relative to the shifts
    A -= np.outer(s, dx)
    b -= s * dy
    return Gram(A, b, mean + dx, shift + dy, max(syy - sy * dy, 0.0), weight)


def _shifted(rows, mean, out):
    """out = rows - mean (rows as is without ``mean``) in float64, into the preallocated ``out``."""
    if rows.dtype == np.float64 and mean is not None:
        np.subtract(rows, mean, out=out)
        return
    np.copyto(out, rows)  # float32: the exact up-cast, then the float64 subtraction (as astype did)
    if mean is not None:
        out -= mean


def _sparse_gram(X, y, fit_intercept, weights):
    """``gram`` for a CSR X (float64 sparse products, O(nnz d) at most, never densifying X):
    centered algebraically, ``A = XᵀWX - W x̄x̄ᵀ`` (so, unlike the dense sums, a mean that
    dwarfs the spread costs digits; only the "auto" rate's μ and batch GD's precompute=True use it)."""
    Z = X.astype(np.float64)
    r = np.asarray(y, dtype=np.float64)
    w = np.ones(X.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    weight = float(w.sum())
    WZ = Z.multiply(w[:, None]).tocsr()
    A = np.asarray((Z.T @ WZ).toarray(), dtype=np.float64)
    if not fit_intercept:
        return Gram(A, np.asarray(WZ.T @ r).ravel(), np.zeros(X.shape[1]), 0.0, float(w @ (r * r)), weight)
    x_mean = np.asarray(WZ.sum(axis=0)).ravel() / weight
    y_mean = float(w @ r) / weight
    rc = r - y_mean
    A -= weight * np.outer(x_mean, x_mean)
    return Gram(A, np.asarray(WZ.T @ rc).ravel(), x_mean, y_mean, float(w @ (rc * rc)), weight)


# ----------------------------------------------------------------------------------------------
# The data a closed form reads
# ----------------------------------------------------------------------------------------------


class Dense:
    """The in-memory data of a closed form: X (n, d) float32/float64 C-contiguous, y (n,) of
    its dtype, the column means measured by the problem's first pass, the weights (or None),
    and whether the compensated passes may use numba's threads.  The Dask backend has a twin
    with the same methods (``distributed.DaskData``)."""

    def __init__(self, X, y, mean, fit_intercept, weights=None, parallel=False):
        self.X, self.y, self.mean, self.weights = X, y, mean, weights
        self.n, self.d = X.shape
        self.fit_intercept = fit_intercept
        self.weight = float(self.n if weights is None else weights.sum())
        self.kernel = K.residual_gradient_parallel if parallel else K.residual_gradient
        self._work = None
        #: the dtype θ is returned in, and its eps: "auto" need not refine beyond it
        self.answer_dtype, self.answer_eps = X.dtype.name, float(np.finfo(X.dtype).eps)

    def gram(self):
        """The ``Gram`` sums (one BLAS read of X)."""
        return gram(self.X, self.y, self.mean, self.fit_intercept, self.weights)

    def weighted_mean(self):
        """x̄ = Σ w x / Σ w (the column means without weights), read shifted by the means."""
        if self.weights is None:
            return self.mean.copy()
        s = np.zeros(self.d)
        for start in range(0, self.n, _BLOCK):
            Z = self.X[start : start + _BLOCK].astype(np.float64) - self.mean
            s += self.weights[start : start + _BLOCK] @ Z
        return self.mean + s / self.weight

    def qr(self, center, ridge_rows):
        """(R, scales, rows): R of the Householder QR of ``[√w/√W, √w (X - center) S⁻¹, √w y]``
        (the intercept column only with an intercept), with the ridge rows ``ridge_rows`` S⁻¹
        (d, d) and a zero target appended; S = diag(scales), the norms of the centered columns
        (with their ridge rows).  One float64 copy of X, in Fortran order for LAPACK."""
        import scipy.linalg

        n, d, first = self.n, self.d, int(self.fit_intercept)
        extra = 0 if ridge_rows is None else d
        M = np.zeros((n + extra, first + d + 1), order="F")
        root = None if self.weights is None else np.sqrt(self.weights)
        for start in range(0, n, _BLOCK):
            stop = min(start + _BLOCK, n)
            Z = self.X[start:stop].astype(np.float64)
            if center is not None:
                Z -= center
            t = self.y[start:stop].astype(np.float64)
            if root is not None:
                Z *= root[start:stop, None]
                t = t * root[start:stop]
            M[start:stop, first : first + d] = Z
            M[start:stop, -1] = t
        if first:
            M[:n, 0] = (1.0 if root is None else root) / math.sqrt(self.weight)
        if ridge_rows is not None:
            M[n:, first : first + d] = ridge_rows
        scales = _unit_columns(M[:, first : first + d])
        R = scipy.linalg.qr(M, mode="r", overwrite_a=True, check_finite=False)[0]
        return R, scales, n + extra

    def sums(self, theta, theta_lo, center, zero_y=False):
        """The double-double sums [Σ w r, Σ w (x - center) r, Σ w r²] (2, d + 2) of the residuals of
        θ = theta + theta_lo (theta_lo None: θ = theta), y read as 0 with ``zero_y``: one
        compensated pass over X."""
        if self._work is None:
            self._work = np.zeros((K.n_chunks(self.n), 2, self.d + 2))
        out = np.zeros((2, self.d + 2))
        y = np.zeros_like(self.y) if zero_y else self.y
        weights = K.NO_WEIGHTS if self.weights is None else self.weights
        self.kernel(self.X, y, weights, center, theta, theta_lo, self._work, out)
        return out


def _unit_columns(M):
    """Scale the columns of M to unit norm in place; the norms (1 for a zero column) returned.
    Each column is first divided by its largest magnitude, so that tiny or huge entries neither
    underflow nor overflow when squared."""
    top = np.abs(M).max(axis=0)
    top[top == 0] = 1.0
    M /= top
    norms = np.sqrt(np.einsum("ij,ij->j", M, M))
    norms[norms == 0] = 1.0
    M /= norms
    return top * norms


def ridge_diagonal(ridge, weight):
    """λ (d,) of the term ``Σ λ_j coef_j²`` in ``Σ w r² + Σ λ_j coef_j²``, or None: the penalty
    ``l2/2 Σ D_j coef_j²`` of the mean objective times Σ w."""
    if ridge is None:
        return None
    l2, D = ridge
    return 0.5 * l2 * weight * np.asarray(D, dtype=np.float64)


# ----------------------------------------------------------------------------------------------
# The normal equation
# ----------------------------------------------------------------------------------------------


class GramFactor(NamedTuple):
    """The Cholesky factor of the equilibrated normal matrix ``S⁻¹ (A + Λ) S⁻¹``."""

    R: np.ndarray  #: upper triangular, RᵀR = S⁻¹(A + Λ)S⁻¹
    scales: np.ndarray  #: S: √diag(A + Λ) (1 where 0)
    kappa: float  #: κ₁ of the equilibrated matrix, estimated by LAPACK dpocon from R
    ridge: object  #: λ (d,) or None

    def solve(self, rhs):
        """(A + Λ)⁻¹ rhs."""
        import scipy.linalg

        return scipy.linalg.cho_solve((self.R, False), rhs / self.scales, check_finite=False) / self.scales


def factor_gram(G, fit_intercept, ridge=None):
    """Equilibrate ``A + Λ`` (the Gram matrix with the ridge term) to unit diagonal, factor it
    by Cholesky and estimate its condition number.  Raises SingularMatrixError, pointing to
    method="svd", when Cholesky fails or κ·eps > SINGULAR_LIMIT."""
    import scipy.linalg.lapack as lapack

    lam = ridge_diagonal(ridge, G.weight)
    A = G.A if lam is None else G.A + np.diag(lam)
    diagonal = np.diag(A)
    scales = np.sqrt(np.where(diagonal > 0, diagonal, 1.0))
    Ahat = A / np.outer(scales, scales)
    R, info = lapack.dpotrf(Ahat, lower=0, clean=1)
    kappa = math.inf
    if info == 0 and np.all(diagonal > 0):
        rcond, _ = lapack.dpocon(R, float(np.abs(Ahat).sum(axis=0).max()))
        kappa = 1.0 / rcond if rcond > 0 else math.inf
    if not kappa * EPS <= SINGULAR_LIMIT:
        what = "centered " if fit_intercept else ""
        how = "not positive definite" if not np.isfinite(kappa) else f"condition number ≈ {kappa:.3g}"
        raise SingularMatrixError(
            f"the normal equation has no unique solution: the {what}XᵀX is singular or numerically so ({how}, "
            f"columns equilibrated); the features are linearly dependent{' or constant' if fit_intercept else ''}. "
            'Use method="svd" for the minimum-norm least-squares solution.'
        )
    return GramFactor(R, scales, kappa, lam)


def solve_normal(G, fit_intercept, ridge=None):
    """The normal equation from ``Gram`` sums: ``(A + Λ) coef = b`` by Cholesky of the
    equilibrated matrix, one solve (no refinement).  Warns (IllConditionedWarning) when
    κ·eps > NORMAL_LIMIT; raises as ``factor_gram``."""
    F = factor_gram(G, fit_intercept, ridge)
    coef = F.solve(G.b)
    theta = np.concatenate(([G.y_mean - float(G.x_mean @ coef) if fit_intercept else 0.0], coef))
    how = "Cholesky factorization of the equilibrated XᵀX" + (" + the ridge term" if ridge is not None else "")
    warns = ()
    if F.kappa * EPS > NORMAL_LIMIT:
        digits = max(0.0, -math.log10(F.kappa * EPS))
        warns = ((IllConditionedWarning, (
            f"the normal equation is ill-conditioned: κ(XᵀX) ≈ {F.kappa:.2g} (estimated from its Cholesky factor, "
            f"the columns {'centered and ' if fit_intercept else ''}equilibrated), so its answer keeps only about "
            f"{digits:.0f} correct digits. method=\"auto\" or method=\"svd\" factor X itself and refine the solution "
            "to the accuracy of float64."
        )),)  # fmt: skip
    return Solution(theta, f"solved the normal equation ({how}; κ(XᵀX) ≈ {F.kappa:.2g})", "normal", warns)


def normal_equation(data, ridge=None):
    """method="normal": ``solve_normal`` on the data's Gram sums (one read of X)."""
    return solve_normal(data.gram(), data.fit_intercept, ridge)


# ----------------------------------------------------------------------------------------------
# Refinement
# ----------------------------------------------------------------------------------------------


class Refined(NamedTuple):
    theta: np.ndarray  #: [θ0, *coef] after the last step, rounded to float64
    steps: int  #: compensated passes over X
    converged: bool  #: the last correction was below eps of every component, or the next one will be
    size: float  #: the last correction relative to θ (equilibrated units, max norm)
    squares: float  #: Σ w r² at θ (the last pass's, moved by the last step's predicted change)
    predicted: bool = False  #: converged because the next correction is predicted below eps
    overflow: bool = False  #: stopped because the next step would leave float64's range

    def text(self):
        if self.overflow:
            verdict = "stopped: the next step would overflow float64"
        elif not self.converged:
            verdict = f"stopped at a relative correction of {self.size:.1g}"
        else:
            verdict = (
                "converged: the next correction, by the condition estimate, below eps"
                if self.predicted
                else "converged"
            )
        return f"refined in {self.steps} step{'s' * (self.steps != 1)} with compensated residuals ({verdict})"


def refine(data, theta, center, scales, precondition, rate, ridge=None, extended=False, null=False):
    """Iterative refinement of θ = [θ0, *coef] (original units) towards the exact solution.

    Each step: g = [Σ w r, Σ w (x - center) r - λ coef] from one compensated pass (``data.sums``);
    in the equilibrated unknowns φ = [√W α, S coef] (α = θ0 + centerᵀcoef, the intercept of
    the centered model) the gradient is gφ = [g0/√W, S⁻¹ g]; δφ = ``precondition(gφ)``
    ((X̃ᵀX̃)⁻¹ through a factor); θ moves by δφ mapped back.  Without an intercept θ0 stays 0.

    Stops when every component moved by at most eps of itself; or when the next correction is
    predicted below eps/2 of every component: it is at most ρ times this one, ρ = SAFETY times
    the larger of ``rate`` (the factor's contraction from its condition estimate) and this
    correction's relative size (the start's error is the factor's error applied once, so it
    measures the contraction too); or when two corrections in a row fail to shrink by
    CONTRACTION (one may grow: the step's map is not normal, its norm can reach κ²·eps while its
    spectral radius is κ·eps, so the error can rise once before it falls); or after MAX_STEPS.
    On well-conditioned data the prediction ends it after one pass.

    ``extended``: the iterate is kept in double-double and rounded once at the end, so the
    rounding of the iterate (which the correction of an ill-conditioned problem would amplify
    by up to κ²·eps) costs nothing; the accurate path sets it, the normal equation's (κ²·eps ≤
    √eps) need not.

    ``null``: refine an approximate null vector of X_b instead (y read as 0: the corrections
    remove its row-space part), in double-double, until the correction is below eps² of it (or
    stops shrinking): its components then hold to eps of the vector's largest, in θ's units.
    """
    first = int(data.fit_intercept)
    root_w = math.sqrt(data.weight)
    units, reach = _units(data, center, scales)
    theta = np.array(theta, dtype=np.float64)
    lo = np.zeros_like(theta) if extended else None
    previous, size, steps, stalls, squares = math.inf, 0.0, 0, 0, math.nan
    grad = np.zeros(data.d + 1)
    for steps in range(1, MAX_STEPS + 1):
        squares = K.finish_gradient(data.sums(theta, lo, center, zero_y=null), ridge, theta, lo, grad)
        squares_before = squares
        d_phi = precondition(grad[1 - first :] / units)
        delta = np.zeros_like(theta)
        delta[1:] = d_phi[first:] / scales
        if first:
            delta[0] = d_phi[0] / root_w - float(center @ delta[1:])
        # Σ w r² after the step, to second order: the step solves (H + Λ) δ = g (H = X̃ᵀWX̃, g the
        # gradient with the ridge term), so Σ w r² changes by -δᵀ(g + Λθ) - δᵀΛ(θ + δ)
        if ridge is None:
            squares -= float(d_phi @ (grad[1 - first :] / units))
        else:
            squares -= float(d_phi @ (grad[1 - first :] / units)) + 2 * float(ridge @ (delta[1:] * theta[1:]))
            squares -= float(ridge @ (delta[1:] * delta[1:]))
        before = theta, lo, squares_before
        if extended:
            theta, error = _two_sum(theta, delta)
            theta, lo = _two_sum(theta, lo + error)
        else:
            theta = theta + delta
        if not (np.isfinite(theta).all() and (lo is None or np.isfinite(lo).all())):
            theta, lo, squares = before  # the exact solution lies beyond ±1.8e308: keep the last finite θ
            return Refined(_round(theta, lo), steps, False, size, squares, overflow=True)
        norm = float(np.max(np.abs(d_phi)))
        phi = np.abs(theta[1 - first :]) * units
        if first:
            phi[0] = abs(theta[0] + float(center @ theta[1:])) * root_w
        size = norm / max(float(phi.max()), np.finfo(np.float64).tiny)
        magnitude = np.abs(theta[1 - first :])
        if null:
            if size <= EPS * EPS:
                return Refined(_round(theta, lo), steps, True, size, squares)
        elif not np.any(np.abs(delta[1 - first :]) > EPS * magnitude):
            return Refined(_round(theta, lo), steps, True, size, squares)
        bound = SAFETY * max(rate, size) * norm
        if not null and np.all(bound * reach <= 0.5 * EPS * magnitude):
            return Refined(_round(theta, lo), steps, True, size, squares, predicted=True)
        stalls = stalls + 1 if norm > CONTRACTION * previous else 0
        if stalls == 2:
            break
        previous = norm
    return Refined(_round(theta, lo), steps, size <= 4 * EPS, size, squares)


def _units(data, center, scales):
    """(units, reach) of the equilibrated unknowns φ = [√W α, S coef]: φ = |θ| units componentwise
    for the coefficients, and |δθ| per unit of |δφ| (max norm) is ``reach``: 1/S for the
    coefficients, and for θ0 = α - centerᵀcoef the sum."""
    root_w = math.sqrt(data.weight)
    units = np.concatenate(([root_w], scales)) if data.fit_intercept else scales
    reach = 1.0 / units
    if data.fit_intercept:
        reach[0] = 1.0 / root_w + float(np.abs(center) @ (1.0 / scales))
    return units, reach


def _precise_enough(data, G, F, theta, rate):
    """Whether the normal equation's θ, unrefined, is already within half an ulp of the answer's
    dtype (``data.answer_eps``, float32's for float32 X) of the exact solution in every component,
    by the condition estimate: the summed, factored Gram matrix and Xᵀy are off by about
    ``rate / κ`` relative, so φ is off by at most about rate (‖φ‖ + ‖y - ȳ‖), times SAFETY."""
    if data.answer_eps <= EPS:
        return False
    first = int(data.fit_intercept)
    center = G.x_mean if first else None
    units, reach = _units(data, center, F.scales)
    phi = np.abs(theta[1 - first :]) * units
    if first:
        phi[0] = abs(G.y_mean) * math.sqrt(data.weight)  # α, the centered model's intercept, is ȳ
    error = SAFETY * rate * (float(np.linalg.norm(phi)) + math.sqrt(G.yy))
    return bool(np.all(error * reach <= 0.5 * data.answer_eps * np.abs(theta[1 - first :])))


def _mean_loss(refined, data):
    """Σ w r² / Σ w of a refinement (the residuals do not move along null vectors)."""
    return max(refined.squares, 0.0) / data.weight if np.isfinite(refined.squares) else None


def _two_sum(a, b):
    """Elementwise TwoSum of float64 arrays (numpy's arithmetic is IEEE, never reassociated)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _round(theta, lo):
    """θ + lo rounded (θ itself where that would round past ±1.8e308)."""
    if lo is None:
        return theta
    with np.errstate(over="ignore"):
        total = theta + lo
    return np.where(np.isfinite(total), total, theta)


# ----------------------------------------------------------------------------------------------
# QR + SVD, and "auto"
# ----------------------------------------------------------------------------------------------


def svd(data, ridge=None, reason=""):
    """method="svd": QR + SVD of the equilibrated problem, refined; the minimum-norm solution
    (and a RankDeficientWarning) when X is rank-deficient."""
    import scipy.linalg

    first, d = int(data.fit_intercept), data.d
    p = first + d
    lam = ridge_diagonal(ridge, data.weight)
    center = data.weighted_mean() if first else None
    R, scales, rows = data.qr(center, None if lam is None else np.diag(np.sqrt(lam)))
    top = min(R.shape[0], p)
    U, sigma, Vt = scipy.linalg.svd(R[:top, :p], full_matrices=True, check_finite=False)
    cutoff = max(rows, p) * EPS * (sigma[0] if sigma.size else 0.0)
    rank = int(np.count_nonzero(sigma > cutoff))
    V, s = Vt[:rank].T, sigma[:rank]
    phi = V @ ((U[:, :rank].T @ R[:top, p]) / s)
    root_w = math.sqrt(data.weight)
    with np.errstate(over="ignore", invalid="ignore"):  # reported just below
        theta = _from_phi(phi, center, scales, first, root_w)
    _check_finite(theta)

    def precondition(g):
        return V @ ((V.T @ g) / s / s)

    # CSNE's contraction: ‖I - (RᵀR)⁻¹X̃ᵀX̃‖ ≤ κ²·eps (its spectral radius is about κ·eps)
    rate = (sigma[0] / s[-1]) ** 2 * p * EPS if rank else 1.0
    with np.errstate(over="ignore", invalid="ignore"):
        refined = refine(data, theta, center, scales, precondition, rate, lam, extended=True)
    theta = refined.theta
    _check_finite(theta)
    kappa = sigma[0] / s[-1] if rank else math.inf
    what = f"the {'centered, ' if first else ''}equilibrated [1, X]" if first else "the equilibrated X"
    warns = []
    if rank < p:
        factor = (R[:top, :p], Vt[rank:], precondition, rate)
        theta, own = _minimum_norm(data, theta, factor, center, scales, lam)
        norm = "minimum-norm" if own else "minimum-norm (in the equilibrated units)"
        how = f"rank {rank} < {p}: the {norm} solution, its {p - rank} null vectors refined too"
        why = f"{data.n} rows for {p} unknowns" if data.n < p else "singular values at most max(rows, p)·eps"
        if data.n >= p:
            why += " times the largest count as zero"
        which = "the one of minimum norm" if own else (
            "the one of minimum norm in the equilibrated units (each coefficient times its column's norm): the "
            "columns' scales are too far apart for float64 to find the minimum norm of θ itself"
        )  # fmt: skip
        warns.append((RankDeficientWarning, (
            f"X is rank-deficient: rank {rank} < {p} ({what}; {why}). The least-squares solution is not unique: this "
            f"is {which}."
        )))  # fmt: skip
    else:
        how = f"full rank, κ ≈ {kappa:.2g}"
    if refined.overflow:
        warns.append((IllConditionedWarning, (
            "the exact least-squares coefficients lie beyond float64's range (±1.8e308): some columns of X are "
            "too small for the scale of y; θ is the last finite step of the refinement. Rescale those columns."
        )))  # fmt: skip
    elif not refined.converged:
        warns.append((IllConditionedWarning, (
            f"X is too ill-conditioned for float64 to pin the solution down: κ ≈ {kappa:.2g} ({what}), and the "
            f"refinement stopped at a relative correction of {refined.size:.1g}, so only about "
            f"{max(0.0, -math.log10(max(refined.size, EPS))):.0f} digits of θ can be trusted."
        )))  # fmt: skip
    message = f"{reason}solved by QR and SVD of {what} ({how}), {refined.text()}"
    return Solution(theta, message, "svd", tuple(warns), _mean_loss(refined, data))


def _check_finite(theta):
    if not np.isfinite(theta).all():
        raise ValueError(
            "the least-squares coefficients overflow float64 (beyond ±1.8e308): some columns of X are too small "
            "for the scale of y; rescale them"
        )


#: the move to the minimum norm of θ is kept when it changes the fitted values by at most this
#: much of their norm (a move along null vectors changes them by nothing)
FIT_TOLERANCE = 1e-8


def _minimum_norm(data, theta, factor, center, scales, ridge):
    """(θ, True): the least-squares solution θ moved to the minimum norm of θ itself (intercept
    included, as lstsq), along the null vectors of the equilibrated matrix (rows of ``null``),
    each mapped to θ's units and refined to double-double (``refine(null=True)``) so that the
    columns' scales cost its components nothing.  Beyond what float64 can resolve (scales
    apart by more than about 1/eps², where the null vectors' components of the tiny columns are
    lost) that move would change the fit: then (θ, False), the minimum norm of the
    equilibrated unknowns instead (a move that R says changes the fitted values by more than
    FIT_TOLERANCE is refused)."""
    R, null, precondition, rate = factor
    first, root_w = int(data.fit_intercept), math.sqrt(data.weight)
    N = np.column_stack([
        refine(data, _from_phi(v, center, scales, first, root_w), center, scales, precondition, rate, ridge,
               extended=True, null=True).theta[1 - first :]
        for v in null
    ])  # fmt: skip
    full = theta[1 - first :]
    moved = full - N @ np.linalg.lstsq(N, full, rcond=None)[0]
    candidate = moved if first else np.concatenate(([0.0], moved))
    phi = _to_phi(theta, center, scales, first, root_w)
    change = np.linalg.norm(R @ (_to_phi(candidate, center, scales, first, root_w) - phi))
    if np.isfinite(change) and change <= FIT_TOLERANCE * np.linalg.norm(R @ phi):
        return candidate, True
    phi = phi - null.T @ (null @ phi)
    return _from_phi(phi, center, scales, first, root_w), False


def _to_phi(theta, center, scales, first, root_w):
    """The equilibrated unknowns φ of θ = [θ0, *coef] (``_from_phi``'s inverse)."""
    coef = theta[1:] * scales
    return np.concatenate(([root_w * (theta[0] + float(center @ theta[1:]))], coef)) if first else coef


def _from_phi(phi, center, scales, first, root_w):
    """θ = [θ0, *coef] (original units) from the equilibrated unknowns φ."""
    coef = phi[first:] / scales
    theta0 = phi[0] / root_w - float(center @ coef) if first else 0.0
    return np.concatenate(([theta0], coef))


def auto(data, ridge=None):
    """method="auto": "svd" when n ≤ d; else the Gram matrix, its equilibrated Cholesky factor
    and condition estimate, and the refined normal equation when κ(XᵀX)·eps ≤ NORMAL_LIMIT
    (QR + SVD otherwise, or when the refinement does not converge)."""
    if data.n <= data.d:
        return svd(data, ridge, "auto: n <= d; ")
    G = data.gram()
    try:
        F = factor_gram(G, data.fit_intercept, ridge)
    except SingularMatrixError:
        return svd(data, ridge, "auto: XᵀX is singular (Cholesky failed); ")
    if F.kappa * EPS > NORMAL_LIMIT:
        return svd(data, ridge, f"auto: κ(XᵀX) ≈ {F.kappa:.2g} (from its Cholesky factor): too large for it; ")
    coef = F.solve(G.b)
    first = int(data.fit_intercept)
    theta = np.concatenate(([G.y_mean - float(G.x_mean @ coef) if first else 0.0], coef))

    def precondition(g):
        if not first:
            return F.solve(g * F.scales) * F.scales
        return np.concatenate(([g[0]], F.solve(g[1:] * F.scales) * F.scales))

    # the contraction ‖(X̃ᵀX̃)⁻¹E‖, E the error of the summed, factored Gram matrix
    rate = F.kappa * EPS * (math.sqrt(data.n) + data.d)
    how = "Cholesky factorization of the equilibrated XᵀX" + (" + the ridge term" if ridge is not None else "")
    if ridge is None and _precise_enough(data, G, F, theta, rate):
        message = (
            f"auto: solved the normal equation ({how}; κ(XᵀX) ≈ {F.kappa:.2g}), not refined: by the condition "
            f"estimate within half an ulp of {data.answer_dtype} (the answer's dtype) of the exact solution"
        )
        return Solution(theta, message, "normal")
    refined = refine(data, theta, G.x_mean if first else None, F.scales, precondition, rate, F.ridge)
    if not refined.converged:
        why = f"auto: the refinement from XᵀX's Cholesky factor did not converge ({refined.size:.1g}); "
        return svd(data, ridge, why)
    message = f"auto: solved the normal equation ({how}; κ(XᵀX) ≈ {F.kappa:.2g}), {refined.text()}"
    return Solution(refined.theta, message, "normal", (), _mean_loss(refined, data))


def solve(data, method, ridge=None):
    """The closed form ``method`` ("normal", "svd" or "auto") of ``data`` (``Dense`` or the Dask
    backend's twin) with the ridge term ``ridge = (l2, D)`` (the objective
    ``Σ w r² / Σ w + l2/2 Σ D_j coef_j²``; D the squared feature scales when the penalty applies to
    standardized coefficients, else ones) or None."""
    if method == "normal":
        return normal_equation(data, ridge)
    if method == "svd":
        return svd(data, ridge)
    return auto(data, ridge)
