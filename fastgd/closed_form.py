"""The closed forms: the normal equation (Cholesky on XᵀX) and SVD (LAPACK gelsd).

Both return θ = [intercept, *coef] in float64 and a message.  Least squares is invariant to
standardizing the features, so these ignore ``standardize``.
"""

import warnings
from typing import NamedTuple

import numpy as np

from .exceptions import SingularMatrixError

# scipy.linalg is imported where it is used: it costs ~0.3 s of `import fastgd` otherwise.

#: rows read (and up-cast to float64) at a time while forming XᵀX
_BLOCK = 8192


class Gram(NamedTuple):
    """What one read of X gives the squared loss: sums over the rows, weighted by w (1 without
    weights), centered at the weighted means when an intercept is fitted (not centered without)."""

    A: np.ndarray  #: Σ w (x - x̄)(x - x̄)ᵀ, (d, d)
    b: np.ndarray  #: Σ w (x - x̄)(y - ȳ), (d,)
    x_mean: np.ndarray  #: x̄ (zeros without an intercept)
    y_mean: float  #: ȳ (0 without an intercept)
    yy: float  #: Σ w (y - ȳ)²
    weight: float  #: Σ w


def gram(X, y, mean, fit_intercept, weights=None):
    """The ``Gram`` sums in float64, accumulated over row blocks of X by BLAS.

    The rows are read shifted by ``mean`` (the unweighted column means, already measured) and
    y by its first value; the weighted means are then recovered exactly from the shifted sums
    (x̄ = mean + Σ w z / W), so a mean that dwarfs the spread costs no digits and the normal
    equation stays as well conditioned as the data allows.  Only one block of X is ever copied.
    """
    if hasattr(X, "indptr"):  # scipy.sparse CSR
        return _sparse_gram(X, y, fit_intercept, weights)
    d = X.shape[1]
    A, b, s = np.zeros((d, d)), np.zeros(d), np.zeros(d)
    shift = float(y[0]) if fit_intercept else 0.0
    sy = syy = weight = 0.0
    for start in range(0, X.shape[0], _BLOCK):
        Z = X[start : start + _BLOCK].astype(np.float64)
        r = y[start : start + _BLOCK].astype(np.float64)
        if fit_intercept:
            Z -= mean
            r -= shift
        if weights is None:
            wZ, wr = Z, r
            weight += Z.shape[0]
        else:
            w = weights[start : start + _BLOCK]
            wZ, wr = Z * w[:, None], w * r
            weight += float(w.sum())
        A += Z.T @ wZ
        b += wZ.T @ r
        s += wZ.sum(axis=0)
        sy += float(wr.sum())
        syy += float(wr @ r)
    if not fit_intercept:
        return Gram(A, b, np.zeros(d), 0.0, syy, weight)
    dx, dy = s / weight, sy / weight  # the weighted means, relative to the shifts
    A -= np.outer(s, dx)
    b -= s * dy
    return Gram(A, b, mean + dx, shift + dy, max(syy - sy * dy, 0.0), weight)


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


def _intercept(coef, x_mean, y_mean, fit_intercept):
    return y_mean - float(x_mean @ coef) if fit_intercept else 0.0


def normal_equation(X, y, mean, fit_intercept, weights=None, ridge=None):
    """Solve ``(XᵀWX + λD) θ = XᵀWy`` (centered when fitting an intercept) by Cholesky.

    weights: (n,) float64 or None; ridge: None, or (l2, D) for the objective
    ``Σ w r² / Σ w + l2/2 Σ D_j coef_j²`` (then λ = l2 Σ w / 2; D the squared feature scales
    when the penalty applies to standardized coefficients, else ones).
    Raises SingularMatrixError, pointing to method="svd", when the matrix is singular or so
    badly conditioned that the solution would be meaningless (reciprocal condition number < eps).
    """
    return solve_normal(gram(X, y, mean, fit_intercept, weights), fit_intercept, ridge)


def solve_normal(G, fit_intercept, ridge=None):
    """``normal_equation`` from precomputed ``Gram`` sums (the Dask backend forms them block by
    block); the same solve, errors and message."""
    import scipy.linalg

    A = G.A
    if ridge is not None:
        l2, D = ridge
        A = A + np.diag(0.5 * l2 * G.weight * D)
    with warnings.catch_warnings():
        warnings.simplefilter("error", scipy.linalg.LinAlgWarning)
        try:
            coef = scipy.linalg.solve(A, G.b, assume_a="pos", check_finite=False)
        except (np.linalg.LinAlgError, scipy.linalg.LinAlgWarning) as exc:
            what = "centered " if fit_intercept else ""
            raise SingularMatrixError(
                f"the normal equation has no unique solution: the {what}XᵀX is singular or numerically so "
                f"({exc}); the features are linearly dependent{' or constant' if fit_intercept else ''}. "
                'Use method="svd" for the minimum-norm least-squares solution.'
            ) from None
    theta = np.concatenate(([_intercept(coef, G.x_mean, G.y_mean, fit_intercept)], coef))
    how = "Cholesky factorization of XᵀX" + (" + the ridge term" if ridge is not None else "")
    return theta, f"solved the normal equation ({how})"


def svd(X, y, fit_intercept, weights=None, ridge=None):
    """Minimum-norm least squares through the SVD: θ = pinv(X_b) y, X_b = [1, X].

    Like the textbook's ``np.linalg.pinv(X_b) @ y`` (and ``numpy.linalg.lstsq``), singular
    values below ``max(n, d + 1) * eps`` times the largest are treated as zero, and the norm
    minimized is that of the whole θ, intercept included.  With weights the rows of X_b and y
    are scaled by √w; with ``ridge = (l2, D)`` (see ``normal_equation``) the rows
    ``√(l2 Σw / 2) diag(√D)`` (0 for the intercept) are appended.  Needs one float64 copy of X.
    """
    n, d = X.shape
    extra = d if ridge is not None else 0
    first = 1 if fit_intercept else 0
    X_b = np.zeros((n + extra, d + first))
    X_b[:n, 0] = 1.0  # overwritten below without an intercept
    X_b[:n, first:] = X
    target = np.zeros(n + extra)
    target[:n] = y
    if weights is not None:
        root = np.sqrt(weights)
        X_b[:n] *= root[:, None]
        target[:n] *= root
    if ridge is not None:
        l2, D = ridge
        total = n if weights is None else float(weights.sum())
        X_b[n:, first:] = np.diag(np.sqrt(0.5 * l2 * total * D))
    return svd_solve(X_b, target, fit_intercept, n + extra)


def svd_solve(X_b, y, fit_intercept, n_rows):
    """The minimum-norm least-squares solution of ``X_b θ ≈ y`` by gelsd (X_b float64, overwritten),
    singular values below ``max(n_rows, d + 1) * eps`` times the largest treated as zero.  The Dask
    backend passes the R factor of a tall-skinny QR of ``[X_b, y]`` and its last column (Qᵀy),
    which have the singular values and the solution of the whole system."""
    import scipy.linalg

    cond = max(n_rows, X_b.shape[1]) * np.finfo(np.float64).eps
    sol, _, rank, _ = scipy.linalg.lstsq(
        X_b, y.astype(np.float64), cond=cond, lapack_driver="gelsd", check_finite=False, overwrite_a=True
    )
    theta = sol if fit_intercept else np.concatenate(([0.0], sol))
    full = X_b.shape[1]
    how = "full rank" if rank == full else f"rank {rank} < {full}: the minimum-norm solution"
    return theta, f"solved by SVD (LAPACK gelsd; {how})"
