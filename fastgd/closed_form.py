"""The closed forms: the normal equation (Cholesky on XᵀX) and SVD (LAPACK gelsd).

Both return θ = [intercept, *coef] in float64 and a message.  Least squares is invariant to
standardizing the features, so these ignore ``standardize``.
"""

import warnings

import numpy as np

from .exceptions import SingularMatrixError

# scipy.linalg is imported where it is used: it costs ~0.3 s of `import fastgd` otherwise.

#: rows read (and up-cast to float64) at a time while forming XᵀX
_BLOCK = 8192


def gram(X, y, mean, fit_intercept):
    """``A = ZᵀZ`` and ``b = Zᵀ(y - ȳ)`` in float64 with Z = X - mean (Z = X, y as is, when
    ``fit_intercept`` is False), accumulated over row blocks of X by BLAS.

    Centering (with the column means already measured) keeps the normal equation as well
    conditioned as the data allows; only one block of X is ever copied (to float64).
    """
    d = X.shape[1]
    A = np.zeros((d, d))
    b = np.zeros(d)
    y_mean = float(np.mean(y, dtype=np.float64)) if fit_intercept else 0.0
    for start in range(0, X.shape[0], _BLOCK):
        Z = X[start : start + _BLOCK].astype(np.float64)
        r = y[start : start + _BLOCK].astype(np.float64)
        if fit_intercept:
            Z -= mean
            r -= y_mean
        A += Z.T @ Z
        b += Z.T @ r
    return A, b, y_mean


def _intercept(coef, mean, y_mean, fit_intercept):
    return y_mean - float(mean @ coef) if fit_intercept else 0.0


def normal_equation(X, y, mean, fit_intercept):
    """Solve ``(XᵀX) θ = Xᵀy`` (centered when fitting an intercept) by Cholesky.

    Raises SingularMatrixError, pointing to method="svd", when XᵀX is singular or so badly
    conditioned that the solution would be meaningless (reciprocal condition number < eps).
    """
    A, b, y_mean = gram(X, y, mean, fit_intercept)
    return solve_normal(A, b, mean, y_mean, fit_intercept)


def solve_normal(A, b, mean, y_mean, fit_intercept):
    """``normal_equation`` from a precomputed ``gram`` (A, b, ȳ) and the column means (the
    Dask backend forms them block by block); the same solve, errors and message."""
    import scipy.linalg

    with warnings.catch_warnings():
        warnings.simplefilter("error", scipy.linalg.LinAlgWarning)
        try:
            coef = scipy.linalg.solve(A, b, assume_a="pos", check_finite=False)
        except (np.linalg.LinAlgError, scipy.linalg.LinAlgWarning) as exc:
            what = "centered " if fit_intercept else ""
            raise SingularMatrixError(
                f"the normal equation has no unique solution: the {what}XᵀX is singular or numerically so "
                f"({exc}); the features are linearly dependent{' or constant' if fit_intercept else ''}. "
                'Use method="svd" for the minimum-norm least-squares solution.'
            ) from None
    theta = np.concatenate(([_intercept(coef, mean, y_mean, fit_intercept)], coef))
    return theta, "solved the normal equation (Cholesky factorization of XᵀX)"


def svd(X, y, fit_intercept):
    """Minimum-norm least squares through the SVD: θ = pinv(X_b) y, X_b = [1, X].

    Like the textbook's ``np.linalg.pinv(X_b) @ y`` (and ``numpy.linalg.lstsq``), singular
    values below ``max(n, d + 1) * eps`` times the largest are treated as zero, and the norm
    minimized is that of the whole θ, intercept included.  Needs one float64 copy of X.
    """
    n, d = X.shape
    X_b = np.empty((n, d + 1)) if fit_intercept else np.empty((n, d))
    if fit_intercept:
        X_b[:, 0] = 1.0
        X_b[:, 1:] = X
    else:
        X_b[:] = X
    return svd_solve(X_b, y, fit_intercept, n)


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
