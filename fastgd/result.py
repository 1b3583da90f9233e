"""FitResult: the same fields for every method."""

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, eq=False)
class FitResult:
    """What ``fastgd.fit`` found and how.

    Attributes
    ----------
    method : str
        The method that ran ("normal", "svd", "batch", "sgd" or "minibatch"; never "auto").
    intercept : numpy scalar of X's dtype
        θ0 (0 when ``fit_intercept=False``).
    coef : ndarray (d,), X's dtype
        θ1..θd, in the units of the original features (also with ``standardize=True``).
    loss : float
        Training MSE (mean squared error) of the returned parameters.
    history : ndarray (n_epochs,), float64
        Training loss after every epoch (empty for the closed forms).
    n_epochs, n_updates : int
        Passes over the data and parameter updates made (0 for the closed forms).
    converged : bool
        Whether the stopping rule was met (always True for the closed forms).
    message : str
        Why the fit stopped.
    learning_rate : fastgd.schedules.LearningRateSchedule or None
        The schedule actually used (``"auto"`` resolved), None for the closed forms.
    path : ndarray (k + 1, d + 1) or None
        θ = [intercept, *coef] at the start and after every update or epoch, with
        ``record_path``; in original units.
    """

    method: str
    intercept: np.generic
    coef: np.ndarray
    loss: float
    history: np.ndarray
    n_epochs: int
    n_updates: int
    converged: bool
    message: str
    learning_rate: object = None
    path: np.ndarray = field(default=None, repr=False)

    @property
    def theta(self):
        """[intercept, *coef]: the textbook's θ, X's dtype, shape (d + 1,)."""
        return np.concatenate(([self.intercept], self.coef)).astype(self.coef.dtype)

    def predict(self, X):
        """``X @ coef + intercept`` for X of shape (n, d) (or (n,) when d = 1)."""
        from ._validation import check_X

        X = check_X(X)
        if X.shape[1] != self.coef.shape[0]:
            raise ValueError(f"X has {X.shape[1]} features but the model was fitted on {self.coef.shape[0]}")
        return X @ self.coef + self.intercept

    def __repr__(self):
        lines = [
            f"FitResult(method={self.method!r}, converged={self.converged}, loss={self.loss:.6g},",
            f"          intercept={self.intercept!r}, coef={np.array2string(self.coef, threshold=8)},",
            f"          n_epochs={self.n_epochs}, n_updates={self.n_updates}, learning_rate={self.learning_rate!r},",
            f"          message={self.message!r})",
        ]
        return "\n".join(lines)
