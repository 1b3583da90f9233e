"""Incremental fitting: SGD and mini-batch over data that arrives in pieces.

``Stream`` keeps what a fit carries from one piece to the next: θ, the update count t (so the
learning-rate schedule continues), the optimizer's state and the running average.  Each
``partial_fit(X, y)`` is one pass over that chunk with the very kernels of ``fastgd.fit``, so
chunks fed in order with ``shuffle=False`` give the same iterates as one epoch over their
concatenation.  A chunk may be a numpy array or a scipy.sparse matrix (read as CSR by the
kernels of ``fastgd.kernels.sparse``, as ``fastgd.fit`` reads it), and a stream may mix the two.
``fit_stream(chunks, ...)`` runs a Stream over an iterable of (X, y) pairs — e.g. blocks read
from a file that does not fit in memory.
"""

import inspect

import numpy as np

from . import _validation as v
from . import engine
from ._dispatch import Problem
from ._transaction import unchanged_on_error
from .api import fit
from .kernels.codes import OK
from .options import make_options
from .runner import EpochRunner, Shuffler

__all__ = ["Stream", "fit_stream"]

#: the parameters of a Stream: those of ``fastgd.fit`` that apply to a stream (with fit's defaults,
#: but for these two), and ``classes``
_PARAMETERS = (
    "method",
    "loss",
    "epsilon",
    "penalty",
    "alpha",
    "l1_ratio",
    "optimizer",
    "average",
    "learning_rate",
    "batch_size",
    "fit_intercept",
    "shuffle",
    "random_state",
    "init",
)
_DEFAULTS = {"method": "sgd", "init": "zeros"}


def _stream_signature():
    """``Stream(*, method="sgd", ..., init="zeros", classes=None)``, from fit's own signature."""
    of_fit = inspect.signature(fit).parameters
    parameters = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    for name in _PARAMETERS:
        parameters.append(of_fit[name].replace(default=_DEFAULTS.get(name, of_fit[name].default)))
    parameters.append(inspect.Parameter("classes", inspect.Parameter.KEYWORD_ONLY, default=None))
    return inspect.Signature(parameters)


_SIGNATURE = _stream_signature()

#: ``fastgd.fit``'s options that a stream does not take: one pass a chunk, no stopping rule, the
#: features as they come, serial updates, no observer
_NOT_ON_A_STREAM = dict(
    early_stopping=False,
    validation_fraction=0.1,
    max_epochs=1,
    tol=0.0,
    n_iter_no_change=1,
    standardize=False,
    record_path=False,
    n_threads=1,
    precompute=False,
    callback=None,
    progress=False,
)

#: the keywords of a Stream, and what to do with those of fit that it does not take
_KEYWORDS = frozenset((*_PARAMETERS, "classes"))
_NOT_KEYWORDS = {
    **{
        name: "a stream takes one pass a chunk, with no stopping rule and the features as they come (fit takes it)"
        for name in _NOT_ON_A_STREAM
    },
    "sample_weight": "pass it to partial_fit with each chunk",
}


class Stream:
    """SGD or mini-batch over a stream of chunks; ``partial_fit`` takes one chunk at a time.

    Parameters are those of ``fastgd.fit`` (``method`` "sgd" or "minibatch"), with these
    differences: ``learning_rate="auto"`` is derived from the first chunk (its curvature) and
    then kept (adagrad, rmsprop, adam: ``eta0 / sqrt(t + 1)``, eta0 = ‖∇F(θ0)‖ / L, a rate that
    never vanishes, where ``fit`` decays it over epochs); ``classes`` lists the labels of a
    classification loss up front (if omitted, the first chunk must contain every class); sample
    weights scale each sample's step as given (not normalized: the total weight of a stream is
    unknown); the features are used as they come (no ``standardize``: a stream has no global
    means; scale them upstream).  The default ``init`` is "zeros", as scikit-learn's
    ``partial_fit``.  A chunk's X is dense or scipy.sparse, as ``fastgd.fit``'s: CSR is used as
    is, other formats are converted once (a ``SparseConversionWarning``), never densified; the
    chunks of one stream may mix dense and sparse (the CSR kernels round differently: the same
    θ up to rounding).
    """

    def __init__(self, **parameters):
        v.check_keywords(parameters, _KEYWORDS, "Stream()", _NOT_KEYWORDS)
        bound = _SIGNATURE.bind(self, **parameters)
        bound.apply_defaults()
        keywords = dict(bound.arguments)
        del keywords["self"]
        classes = keywords.pop("classes")
        keywords.update(_NOT_ON_A_STREAM)
        self.options = make_options(keywords, "stream", methods=("sgd", "minibatch"), shuffles=(True, False, "rows"))
        self.method, self.spec, self.schedule = self.options.method, self.options.spec, self.options.schedule
        self.rng = self.options.rng
        self.classes = None
        if classes is not None:
            if not self.spec.classifier:
                raise ValueError(f"classes applies to a classification loss, not loss={self.spec.name!r}")
            self.classes = _check_classes(classes, self.spec)
        self.theta = self._runner = None
        self.n_features = None
        self.t = 0
        self.history = []
        self._shuffle_state = np.array([self.rng.integers(2**63)], dtype=np.uint64)

    __init__.__signature__ = _SIGNATURE

    def partial_fit(self, X, y, sample_weight=None):
        """One pass over the chunk (X, y): every sample (or batch) updates θ once, the update
        count continuing from the previous chunks.  X: an array, or a scipy.sparse matrix (see
        the class docstring).  Returns self.  A chunk that raises (bad
        data, a divergence, a KeyboardInterrupt) leaves the stream exactly as it was: θ, the
        optimizer state, t, the shuffle state, the classes; the next chunk continues as if it
        had never been sent."""
        runner = self._runner
        arrays = (
            (self._shuffle_state,) if runner is None else (self._shuffle_state, runner.theta, runner.state, runner.avg)
        )
        with unchanged_on_error(self, arrays):
            return self._pass(X, y, sample_weight)

    def _pass(self, X, y, sample_weight):
        X = v.check_X(X, accept_sparse=True)  # a scipy.sparse chunk as CSR, as fastgd.fit takes it
        if self.n_features is not None and X.shape[1] != self.n_features:
            raise ValueError(
                f"this chunk has {X.shape[1]} features but the stream started with {self.n_features}; "
                "every chunk must have the same columns"
            )
        y = self._targets(y, X)
        weights = v.check_sample_weight(sample_weight, X.shape[0])
        n_outputs = self.classes.shape[0] if self.spec.task == "multiclass" else 1
        o = self.options
        problem = Problem(
            X,
            y,
            fit_intercept=o.fit_intercept,
            n_threads=1,
            spec=o.spec,
            eps=o.eps,
            weights=weights,
            l2=o.l2,
            l1=o.l1,
            n_outputs=n_outputs,
        )
        if problem.bad_row >= 0:
            raise v.report_nonfinite(X, problem.bad_row)
        engine.check_target_scale(problem, self.method, target=False)
        if self.theta is None:
            self._start(problem)
        order = Shuffler(problem.n, weights, o.shuffle, self._shuffle_state).next()
        self._runner.sparse = problem.sparse  # this chunk's kernels: the dense loop or its CSR twin
        status = self._runner.run((problem.xs, y, weights, problem.where), order, self.schedule, self.t)
        chunk = len(self.history) + 1
        if status != OK:
            raise engine.diverged(problem, self.method, chunk, self.schedule, self.history, o.batch_size)
        self.t += self._runner.updates(order.shape[0])
        objective = problem.objective(self._current)
        if not np.isfinite(objective):
            raise engine.diverged(problem, self.method, chunk, self.schedule, self.history, o.batch_size, objective)
        self.history.append(objective)
        self._summary = (problem.loss(self._current), problem.penalty(self._current), X.dtype)  # not the chunk
        return self

    @property
    def _current(self):
        return self._runner.current

    def result(self):
        """The FitResult of the stream so far (``loss``/``objective``: those of the last chunk
        after its pass, measured then; ``history``: the objective on each chunk after its pass;
        ``n_epochs``: chunks).  The stream keeps no reference to any chunk."""
        if self.theta is None or not self.history:
            raise ValueError("no chunk has been fitted yet: call partial_fit first")
        loss, penalty, dtype = self._summary
        return engine.make_result(
            dtype,
            self.method,
            self._current.copy(),
            dict(loss_name=self.spec.name, classes=self.classes),
            loss=loss,
            objective=loss + penalty,
            history=np.asarray(self.history),
            n_epochs=len(self.history),
            n_updates=self.t,
            converged=False,
            learning_rate=self.schedule,
            message=f"streamed {len(self.history)} chunks ({self.t} updates); no stopping rule on a stream",
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
        try:
            index = np.minimum(np.searchsorted(self.classes, labels), self.classes.shape[0] - 1)
            unknown = np.flatnonzero(self.classes[index] != labels)
        except TypeError:  # labels of another type (str against int): none of them is a class
            index, unknown = None, [0]
        if len(unknown):
            raise ValueError(
                f"y holds the label {labels[unknown[0]].item()!r}, which is not among the stream's "
                f"classes {self.classes.tolist()!r} (pass every class in classes= up front)"
            )
        encoded = np.where(index == 1, 1.0, -1.0) if self.spec.task == "binary" else index.astype(np.float64)
        return np.ascontiguousarray(encoded, dtype=X.dtype)

    def _start(self, problem):
        """θ, the epoch runner (optimizer state, average) and the schedule, from the first chunk."""
        o = self.options
        self.n_features = problem.d
        init = v.check_init(o.init, problem.d, o.fit_intercept, problem.n_outputs)
        if isinstance(init, str):
            self.theta = self.rng.standard_normal(problem.shape) if init == "random" else np.zeros(problem.shape)
            self.theta[:, 0] *= o.fit_intercept
        else:
            self.theta = init
        b = o.batch_size if self.method == "minibatch" else 0
        self._runner = EpochRunner(self.theta, problem.model, o.opt, b)
        engine.warn_scales(problem)
        if self.schedule == "auto":
            self.schedule = engine.auto_schedule(
                problem, self.method, o.optimizer, o.batch_size, self.theta, stream=True
            )


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
    if not stream.history:
        raise ValueError("fit_stream got no chunk: chunks must yield at least one (X, y) pair")
    return stream.result()
