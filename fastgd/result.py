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
    intercept : numpy scalar of X's dtype, or (K,) array for softmax
        θ0 (0 when ``fit_intercept=False``).
    coef : ndarray (d,), or (d, K) for softmax; X's dtype
        θ1..θd, in the units of the original features (also with ``standardize=True``).
    loss : float
        Mean training loss of the returned parameters (weighted by ``sample_weight``; the
        textbook's MSE for the squared loss), without the penalty.
    history : ndarray (n_epochs,), float64
        The objective (mean training loss + penalty) after every epoch (empty for the closed forms).
    n_epochs, n_updates : int
        Passes over the data and parameter updates made (0 for the closed forms).
    converged : bool
        Whether ``optimality`` <= ``tol`` at the returned parameters (always True for the closed
        forms; False with ``tol=0``, when a callback stopped the fit, and for a plateau measure:
        a non-smooth loss or early stopping stops on its plateau without a certificate).  For a smooth loss this
        is a certificate: with ``optimality_measure == "excess_bound"``, (F - F*) / F <= optimality.
    message : str
        Why the fit stopped.
    learning_rate : fastgd.schedules.LearningRateSchedule or None
        The schedule actually used (``"auto"`` resolved), None for the closed forms.
    path : ndarray (k + 1, d + 1) (softmax: (k + 1, d + 1, K)) or None
        θ = [intercept, *coef] at the start and after every update or epoch, with
        ``record_path``; in original units.
    loss_name : str
        The loss minimized (see ``fastgd.losses``).
    objective : float
        ``loss`` + the penalty: what the fit minimized.
    classes : ndarray or None
        The class labels of a classification loss, sorted (the last of two is the positive one).
    validation : ndarray (n_epochs,) or None
        With ``early_stopping``: the mean loss on the held-out split after every epoch.
    optimality : float
        The optimality measure at the returned parameters (what ``tol`` bounds); 0.0 for the
        closed forms; NaN for a stream, and for a smooth loss's fit with ``tol=0`` (no stopping
        rule: nothing is measured, no extra pass).
    optimality_measure : str
        Which measure ``optimality`` is:

        - ``"excess_bound"``: ‖∇F‖² / (2μ F(θ)) (with L1 the proximal-PL analogue), an upper
          bound on the relative excess objective (F(θ) - F*) / F(θ) (squared loss with a
          positive definite Hessian, or a smooth loss with l2 > 0 and no intercept);
        - ``"std_gradient"``: the gradient norm in standardized, centered coordinates (divided by
          std(y) for a regression loss), for other smooth losses;
        - ``"objective_plateau"``: non-smooth losses (hinge, perceptron, epsilon_insensitive): the
          objective's largest relative improvement over the last ``n_iter_no_change`` epochs
          (not a certificate of optimality: ``converged`` is False even when it is <= tol);
        - ``"validation_plateau"``: early stopping, the same of the validation loss (the returned
          θ is the best on the validation split, not the training optimum);
        - ``"closed_form"``: normal / svd; ``"none"``: nothing measured (a stream; ``tol=0``).
    """

    method: str
    intercept: object
    coef: np.ndarray
    loss: float
    history: np.ndarray
    n_epochs: int
    n_updates: int
    converged: bool
    message: str
    learning_rate: object = None
    path: np.ndarray = field(default=None, repr=False)
    loss_name: str = "squared"
    objective: float = None
    classes: np.ndarray = field(default=None, repr=False)
    validation: np.ndarray = field(default=None, repr=False)
    optimality: float = 0.0
    optimality_measure: str = "closed_form"

    def __post_init__(self):
        if self.objective is None:
            object.__setattr__(self, "objective", self.loss)

    @property
    def theta(self):
        """[intercept, *coef]: the textbook's θ, X's dtype, shape (d + 1,) ((d + 1, K) for softmax)."""
        intercept = np.reshape(self.intercept, (1, *self.coef.shape[1:]))
        return np.concatenate([intercept, self.coef]).astype(self.coef.dtype)

    def decision_function(self, X):
        """``X @ coef + intercept``: (n,), or (n, K) for softmax (X of shape (n, d), or (n,) when d = 1;
        or a scipy.sparse matrix (n, d))."""
        from ._validation import check_X

        X = check_X(X, accept_sparse="any")  # a sparse X is used as is (X @ coef): any format
        if X.shape[1] != self.coef.shape[0]:
            raise ValueError(f"X has {X.shape[1]} features but the model was fitted on {self.coef.shape[0]}")
        return X @ self.coef + self.intercept

    def predict(self, X):
        """Regression: ``X @ coef + intercept``.  Classification: the predicted class labels
        (the positive class where the decision function is > 0; softmax: the highest score)."""
        scores = self.decision_function(X)
        if self.classes is None:
            return scores
        if scores.ndim == 2:
            return self.classes[np.argmax(scores, axis=1)]
        return self.classes[(scores > 0).astype(np.intp)]

    def predict_proba(self, X):
        """Class probabilities (n, number of classes), columns in the order of ``classes``: for
        loss "log" the logistic function, for "modified_huber" ``(clip(score, -1, 1) + 1) / 2``
        (as scikit-learn), for "softmax" the softmax of the scores."""
        if self.loss_name not in ("log", "modified_huber", "softmax"):
            raise ValueError(
                f"predict_proba needs loss 'log', 'modified_huber' or 'softmax'; this model was fitted with "
                f"loss={self.loss_name!r}"
            )
        return probabilities(self.loss_name, self.decision_function(X))

    def __repr__(self):
        lines = [
            f"FitResult(method={self.method!r}, loss_name={self.loss_name!r}, converged={self.converged}, "
            f"loss={self.loss:.6g},",
            f"          intercept={self.intercept!r}, coef={np.array2string(np.asarray(self.coef), threshold=8)},",
            f"          n_epochs={self.n_epochs}, n_updates={self.n_updates}, learning_rate={self.learning_rate!r},",
            f"          optimality={self.optimality:.3g} ({self.optimality_measure}),",
            f"          message={self.message!r})",
        ]
        return "\n".join(lines)


def probabilities(loss_name, scores):
    """Class probabilities from decision scores: the softmax of (n, K) scores (softmax, or log
    with K classes); for (n,) scores of two classes, the logistic function ("log") or
    ``(clip(score, -1, 1) + 1) / 2`` ("modified_huber", as scikit-learn), as columns [1 - p, p]."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim == 2:
        z = np.exp(scores - scores.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)
    if loss_name == "log":
        positive = 0.5 * (1.0 + np.tanh(0.5 * scores))  # the logistic function, overflow-free
    else:
        positive = (np.clip(scores, -1.0, 1.0) + 1.0) / 2.0
    return np.column_stack([1.0 - positive, positive])
