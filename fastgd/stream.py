"""Incremental fitting: SGD and mini-batch over data that arrives in pieces.

``Stream`` keeps what a fit carries from one piece to the next: θ, the update count t (so the
learning-rate schedule continues), the optimizer's state and the running average.  Each
``partial_fit(X, y)`` is one pass over that chunk with the very kernels of ``fastgd.fit``, so
chunks fed in order with ``shuffle=False`` give the same iterates as one epoch over their
concatenation.  ``fit_stream(chunks, ...)`` runs a Stream over an iterable of (X, y) pairs —
e.g. blocks read from a file that does not fit in memory.
"""

from types import SimpleNamespace

import numpy as np

from . import _validation as v
from . import kernels as K
from . import schedules
from ._dispatch import Problem
from .api import _auto_schedule, _check_learning_rate, _diverged, _result, _warn_scales

__all__ = ["Stream", "fit_stream"]


class _Settings:
    """The part of ``api._Settings`` that ``_auto_schedule`` reads."""

    def __init__(self, optimizer, batch_size):
        self.optimizer, self.batch_size = optimizer, batch_size


class Stream:
    """SGD or mini-batch over a stream of chunks; ``partial_fit`` takes one chunk at a time.

    Parameters are those of ``fastgd.fit`` (``method`` "sgd" or "minibatch"), with these
    differences: ``learning_rate="auto"`` is derived from the first chunk (its curvature) and
    then kept; ``classes`` lists the labels of a classification loss up front (if omitted, the
    first chunk must contain every class); sample weights scale each sample's step as given
    (not normalized: the total weight of a stream is unknown); the features are used as they
    come (no ``standardize``: a stream has no global means; scale them upstream).  The default
    ``init`` is "zeros", as scikit-learn's ``partial_fit``.
    """

    def __init__(
        self,
        *,
        method="sgd",
        loss="squared",
        epsilon=None,
        penalty=None,
        alpha=None,
        l1_ratio=None,
        optimizer="sgd",
        average=False,
        learning_rate="auto",
        batch_size=32,
        fit_intercept=True,
        classes=None,
        shuffle=True,
        random_state=None,
        init="zeros",
    ):
        self.method = v.check_choice("method", method, ("sgd", "minibatch"))
        self.spec = v.check_loss(loss)
        self.eps = v.check_epsilon(self.spec, epsilon)
        self.l2, self.l1 = v.check_penalty(penalty, alpha, l1_ratio)
        self.optimizer = v.check_optimizer(optimizer)
        self.average = v.check_average(average)
        self.schedule = _check_learning_rate(learning_rate)
        self.batch_size = v.check_int("batch_size", batch_size, 1)
        self.fit_intercept = v.check_bool("fit_intercept", fit_intercept)
        self.shuffle = v.check_choice("shuffle", shuffle, (True, False, "rows"))
        self.rng = v.check_random_state(random_state)
        self.init = init
        self.classes = None
        if classes is not None:
            if not self.spec.classifier:
                raise ValueError(f"classes applies to a classification loss, not loss={self.spec.name!r}")
            self.classes = _check_classes(classes, self.spec)
        self.theta = self.state = self.avg = None
        self.n_features = None
        self.t = 0
        self.history = []
        self._shuffle_state = np.array([self.rng.integers(2**63)], dtype=np.uint64)

    def partial_fit(self, X, y, sample_weight=None):
        """One pass over the chunk (X, y): every sample (or batch) updates θ once, the update
        count continuing from the previous chunks.  Returns self."""
        X = v.check_X(X)
        if self.n_features is not None and X.shape[1] != self.n_features:
            raise ValueError(
                f"this chunk has {X.shape[1]} features but the stream started with {self.n_features}; "
                "every chunk must have the same columns"
            )
        y = self._targets(y, X)
        weights = v.check_sample_weight(sample_weight, X.shape[0])
        n_outputs = self.classes.shape[0] if self.spec.task == "multiclass" else 1
        problem = Problem(
            X, y, fit_intercept=self.fit_intercept, n_threads=1, spec=self.spec, eps=self.eps, weights=weights,
            l2=self.l2, l1=self.l1, n_outputs=n_outputs,
        )  # fmt: skip
        if problem.bad_row >= 0:
            raise v.report_nonfinite(X, problem.bad_row)
        if self.theta is None:
            self._start(problem)
        order = np.arange(problem.n, dtype=np.int64) if weights is None else np.flatnonzero(weights)
        if self.shuffle:
            K.shuffle(order, self._shuffle_state)
        b = self.batch_size if self.method == "minibatch" else 1
        updates = -(-order.shape[0] // b)
        schedule = self.schedule
        params = schedule.table(self.t, updates) if isinstance(schedule, schedules.custom) else schedule.params
        opt = (self.optimizer.code, self.optimizer.params, self.average)
        where = (problem.center, problem.scale_inv)
        state = None if self._plain else self.state
        if self.method == "sgd":
            status = K.sgd_epoch(
                X, y, weights, self.theta, order, *where, problem.model, opt, state, self.avg, schedule.code, params,
                self.t, None,
            )  # fmt: skip
        else:
            status = K.minibatch_epoch(
                X, y, weights, self.theta, order, b, *where, problem.model, opt, state, self.avg, schedule.code,
                params, self.t, np.empty(problem.shape), None,
            )  # fmt: skip
        chunk = len(self.history) + 1
        if status != K.codes.OK:
            raise _diverged(problem, self.method, chunk, schedule, self.history, b)
        self.t += updates
        objective = problem.objective(self._current)
        if not np.isfinite(objective):
            raise _diverged(problem, self.method, chunk, schedule, self.history, b, objective)
        self.history.append(objective)
        self._summary = (problem.loss(self._current), problem.penalty(self._current), X.dtype)  # not the chunk
        return self

    @property
    def _current(self):
        return self.theta if self.avg is None else self.avg

    def result(self):
        """The FitResult of the stream so far (``loss``/``objective``: those of the last chunk
        after its pass, measured then; ``history``: the objective on each chunk after its pass;
        ``n_epochs``: chunks).  The stream keeps no reference to any chunk."""
        if self.theta is None or not self.history:
            raise ValueError("no chunk has been fitted yet: call partial_fit first")
        loss, penalty, dtype = self._summary
        shape = SimpleNamespace(X=np.empty((0, self.n_features), dtype=dtype), n_outputs=self.theta.shape[0])
        return _result(
            shape,
            self.method,
            self._current.copy(),
            dict(loss_name=self.spec.name, classes=self.classes),
            loss=loss,
            objective=loss + penalty,
            history=np.asarray(self.history),
            n_epochs=len(self.history),
            n_updates=self.t,
            converged=False,
            message=f"streamed {len(self.history)} chunks ({self.t} updates); no stopping rule on a stream",
            learning_rate=self.schedule,
        )

    def _targets(self, y, X):
        """y as the kernels read it: checked, and encoded with the stream's classes."""
        if not self.spec.classifier:
            return v.check_y(y, X.shape[0], X.dtype)
        if self.classes is None:
            _, classes = v.encode_labels(y, X.shape[0], self.spec, X.dtype)  # the first chunk names the classes
            self.classes = classes
        labels = np.asarray(y)
        labels = labels[:, 0] if labels.ndim == 2 and labels.shape[1] == 1 else labels
        if labels.ndim != 1 or labels.shape[0] != X.shape[0]:
            raise ValueError(f"y must have shape ({X.shape[0]},), got shape {labels.shape}")
        index = np.searchsorted(self.classes, labels)
        index = np.minimum(index, self.classes.shape[0] - 1)
        unknown = self.classes[index] != labels
        if unknown.any():
            raise ValueError(
                f"y holds the label {labels[np.flatnonzero(unknown)[0]].item()!r}, which is not among the stream's "
                f"classes {self.classes.tolist()!r} (pass every class in classes= up front)"
            )
        encoded = np.where(index == 1, 1.0, -1.0) if self.spec.task == "binary" else index.astype(np.float64)
        return np.ascontiguousarray(encoded, dtype=X.dtype)

    def _start(self, problem):
        """θ, the optimizer state and the schedule, from the first chunk."""
        self.n_features = problem.d
        init = v.check_init(self.init, problem.d, self.fit_intercept, problem.n_outputs)
        if isinstance(init, str):
            self.theta = self.rng.standard_normal(problem.shape) if init == "random" else np.zeros(problem.shape)
            self.theta[:, 0] *= self.fit_intercept
        else:
            self.theta = init
        self._plain = problem.n_outputs == 1 and self.spec.name == "squared" and self.optimizer.name == "sgd"
        self._plain = self._plain and self.l2 == 0 and self.l1 == 0
        self.state = np.zeros((2, *problem.shape))
        self.avg = self.theta.copy() if self.average >= 0 else None
        _warn_scales(problem)
        if self.schedule == "auto":
            self.schedule = _auto_schedule(problem, self.method, _Settings(self.optimizer, self.batch_size))


def _check_classes(classes, spec):
    classes = np.unique(np.asarray(classes))
    need = "exactly 2" if spec.task == "binary" else "at least 2"
    if (spec.task == "binary" and classes.shape[0] != 2) or classes.shape[0] < 2:
        raise ValueError(f"loss={spec.name!r} needs {need} classes, got classes={classes.tolist()!r}")
    return classes


def fit_stream(chunks, **kwargs):
    """Fit over an iterable of ``(X, y)`` or ``(X, y, sample_weight)`` chunks, one pass over each
    (see ``Stream`` for the parameters).  Returns the FitResult."""
    stream = Stream(**kwargs)
    for chunk in chunks:
        if not isinstance(chunk, tuple) or len(chunk) not in (2, 3):
            raise TypeError(f"each chunk must be a tuple (X, y) or (X, y, sample_weight), got {type(chunk).__name__}")
        stream.partial_fit(*chunk)
    return stream.result()
