"""The options of a fit: every keyword checked once, and which option works where.

``make_options(keywords, backend)`` turns the flat keyword arguments of ``fastgd.fit`` (or of
``Stream``, or of an estimator) into one frozen ``Options``, each value checked by
``_validation`` with its message.  ``check_support(options, backend)`` then applies the one
table of compatibility rules, ``RULES``: each names an option, when it counts as used, where it
is not available (methods, backends, local SGD) and why, so that an unsupported combination is
refused before any work, with one message: ``"<option> <why>; <what to do>"``.

Backends: ``"dense"`` (a numpy X), ``"csr"`` (a scipy.sparse X), ``"stream"`` (``Stream``:
chunks), ``"dask"`` (Dask collections).
"""

import dataclasses
import math
from typing import NamedTuple

import numpy as np

from . import _validation as v
from . import optimizers, schedules
from .kernels.codes import SGD
from .losses import LOSSES, LossSpec
from .optimizers import Optimizer

__all__ = ["BACKENDS", "RULES", "Options", "check_learning_rate", "check_support", "make_options"]

BACKENDS = ("dense", "csr", "stream", "dask")
CLOSED_FORMS = ("normal", "svd")


@dataclasses.dataclass(frozen=True)
class Options:
    """The checked options of one fit (the flat keywords of ``fastgd.fit``, resolved)."""

    method: str  #: "auto" (a closed form), "normal", "svd", "batch", "sgd" or "minibatch"
    spec: LossSpec  #: the loss (``fastgd.losses``)
    eps: float  #: the loss's ε (0 where it has none)
    l2: float  #: the penalty alpha (1 - l1_ratio) on ½‖coef‖²
    l1: float  #: the penalty alpha l1_ratio on ‖coef‖₁
    optimizer: Optimizer
    average: int  #: the first averaged update; -1: no averaging
    early_stopping: bool
    validation_fraction: float
    schedule: object  #: "auto" or a ``fastgd.schedules`` schedule
    batch_size: int
    max_epochs: int
    tol: float
    patience: int  #: n_iter_no_change
    init: object  #: "random", "zeros" or an array (checked against the data later)
    fit_intercept: bool
    standardize: bool
    shuffle: object  #: "rows", "blocks", "corgipile" or False
    record_path: object  #: False, "epoch" or "update"
    rng: np.random.Generator
    n_threads: int
    explicit_threads: bool  #: n_threads was given (SGD on > 1 threads then runs as local SGD)
    precompute: object  #: "auto", True or False
    callback: object
    progress: bool

    @property
    def opt(self):
        """The kernels' ``opt``: (optimizer code, its parameters, first averaged update or -1)."""
        return (self.optimizer.code, self.optimizer.params, self.average)

    @property
    def iterative(self):
        return self.method in v.ITERATIVE

    @property
    def shards(self):
        """Local SGD on this many threads (n_threads given > 1 with sgd/minibatch); 0: serial updates."""
        local = self.explicit_threads and self.n_threads > 1 and self.method in ("sgd", "minibatch")
        return self.n_threads if local else 0

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


def check_loss(loss):
    """The LossSpec of a loss name."""
    if not isinstance(loss, str) or loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(map(repr, LOSSES))}")
    return LOSSES[loss]


def check_optimizer(optimizer):
    """An ``fastgd.optimizers.Optimizer`` from one or its name."""
    if isinstance(optimizer, optimizers.Optimizer):
        return optimizer
    if isinstance(optimizer, str) and optimizer in optimizers.BY_NAME:
        return optimizers.BY_NAME[optimizer]()
    raise ValueError(
        f"unknown optimizer {optimizer!r}; choose one of {', '.join(map(repr, optimizers.BY_NAME))} "
        "or pass an object from fastgd.optimizers"
    )


def check_learning_rate(learning_rate):
    """ "auto", or a schedule from a number, a ``fastgd.schedules`` schedule or an @njit function of t."""
    if isinstance(learning_rate, str):
        return v.check_choice("learning_rate", learning_rate, ("auto",))
    if isinstance(learning_rate, schedules.LearningRateSchedule):
        return learning_rate
    if callable(learning_rate):
        return schedules.custom(learning_rate)
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float, np.integer, np.floating)):
        raise TypeError(
            f"learning_rate must be a positive number, a fastgd.schedules schedule, an @njit function of t, "
            f"or 'auto'; got {learning_rate!r}"
        )
    if not (math.isfinite(learning_rate) and learning_rate > 0):
        raise ValueError(f"learning_rate must be > 0 and finite, got {float(learning_rate)!r}")
    return schedules.constant(float(learning_rate))


def make_options(keywords, backend="dense", *, weighted=False, methods=v.METHODS, shuffles=v.SHUFFLE):
    """The ``Options`` of ``keywords``, a dict of every keyword argument of ``fastgd.fit`` after
    X, y and sample_weight (``fit``'s signature is the one list of them and their defaults),
    each checked in the order of that signature, then ``check_support`` on ``backend`` (one of
    ``BACKENDS``; ``weighted``: sample weights were given).  ``methods``/``shuffles``: the
    values an entry point accepts (``Stream``: sgd and minibatch, no block shuffle)."""
    k = keywords
    method = v.check_choice("method", k["method"], methods)
    spec = check_loss(k["loss"])
    eps = v.check_epsilon(spec, k["epsilon"])
    l2, l1 = v.check_penalty(k["penalty"], k["alpha"], k["l1_ratio"])
    optimizer = check_optimizer(k["optimizer"])
    average = v.check_average(k["average"])
    early_stopping = v.check_bool("early_stopping", k["early_stopping"])
    validation_fraction = v.check_fraction("validation_fraction", k["validation_fraction"])
    max_epochs = v.check_int("max_epochs", k["max_epochs"], 1)
    batch_size = v.check_int("batch_size", k["batch_size"], 1)
    patience = v.check_int("n_iter_no_change", k["n_iter_no_change"], 1)
    tol = v.check_real("tol", k["tol"], 0.0)
    fit_intercept = v.check_bool("fit_intercept", k["fit_intercept"])
    standardize = v.check_bool("standardize", k["standardize"])
    shuffle = v.check_choice("shuffle", k["shuffle"], shuffles)
    record_path = v.check_choice("record_path", k["record_path"], v.RECORD_PATH)
    schedule = check_learning_rate(k["learning_rate"])
    precompute = v.check_choice("precompute", k["precompute"], ("auto", True, False))
    rng = v.check_random_state(k["random_state"])
    n_threads = v.check_n_threads(k["n_threads"])
    if method == "auto":  # "auto" stays a closed form only where one exists
        closed = spec.name == "squared" and l1 == 0 and not early_stopping
        method = "auto" if closed and backend != "csr" else "batch"
    callback = k["callback"]
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be a function f(epoch, state) or None, got {callback!r}")
    progress = v.check_bool("progress", k["progress"])
    options = Options(
        method=method, spec=spec, eps=eps, l2=l2, l1=l1, optimizer=optimizer, average=average,
        early_stopping=early_stopping, validation_fraction=validation_fraction, schedule=schedule,
        batch_size=batch_size, max_epochs=max_epochs, tol=tol, patience=patience, init=k["init"],
        fit_intercept=fit_intercept, standardize=standardize, shuffle="rows" if shuffle is True else shuffle,
        record_path="update" if record_path is True else record_path, rng=rng, n_threads=n_threads,
        explicit_threads=k["n_threads"] is not None, precompute=precompute, callback=callback, progress=progress,
    )  # fmt: skip
    check_support(options, backend, weighted)
    return options


# ----------------------------------------------------------------------------------------------
# Which option works where: the one table.
# ----------------------------------------------------------------------------------------------


class Rule(NamedTuple):
    """An option that some methods or backends cannot honour.

    ``used(o)``: whether the options ``o`` ask for it; ``refused(o, backend)``: whether it is not
    available there (backend None: the method alone decides); ``why``: the message after the
    option's name, formatted with ``o`` (the options) and ``backend``."""

    option: str  #: how the option is named in the message (a format string)
    used: object
    refused: object
    why: str


def _closed(o, backend):
    return o.method in CLOSED_FORMS


def _dask(o, backend):
    return backend == "dask"


_DASK = "not supported on Dask input yet. Fit in memory (numpy arrays, e.g. X.compute()) for these options, or "
_DASK += "leave them at their defaults"
_LOCAL = "with n_threads={o.n_threads} {o.method} runs as local SGD"

RULES = (
    # the closed forms solve least squares with an L2 penalty at most
    Rule("method={o.method!r}", lambda o: o.spec.name != "squared", _closed,
         "solves least squares (loss='squared', penalty None or 'l2') in closed form; loss={o.spec.name!r} has no "
         "closed form: use method='batch', 'sgd' or 'minibatch'"),
    Rule("method={o.method!r}", lambda o: o.l1 > 0, _closed,
         "solves least squares (loss='squared', penalty None or 'l2') in closed form; an L1 penalty has no closed "
         "form: use method='batch', 'sgd' or 'minibatch'"),
    Rule("optimizer", lambda o: o.optimizer.code != SGD, _closed,
         "applies to the iterative methods (batch, sgd, minibatch), not {o.method!r}"),
    Rule("average", lambda o: o.average >= 0, _closed,
         "applies to the iterative methods (batch, sgd, minibatch), not {o.method!r}"),
    Rule("early_stopping", lambda o: o.early_stopping, _closed,
         "applies to the iterative methods (batch, sgd, minibatch), not {o.method!r}"),
    Rule("learning_rate", lambda o: o.schedule != "auto", lambda o, b: o.method in CLOSED_FORMS,
         "applies to the iterative methods (batch, sgd, minibatch), not {o.method!r}"),
    Rule("average", lambda o: o.average >= 0, lambda o, b: o.method == "batch",
         "applies to 'sgd' and 'minibatch': batch GD's iterates do not jitter"),
    Rule("callback and progress", lambda o: o.callback is not None or o.progress,
         lambda o, b: o.method not in v.ITERATIVE, "apply to the iterative methods, not method={o.method!r}"),
    # local SGD (n_threads > 1 given with sgd or minibatch): plain steps on shards
    Rule("record_path='update'", lambda o: o.record_path == "update", lambda o, b: o.shards and b != "dask",
         "needs serial updates: " + _LOCAL + "; use record_path='epoch' or n_threads=1"),
    Rule("optimizer={o.optimizer!r} and average={o.average_used}", lambda o: o.optimizer.code != SGD or o.average >= 0,
         lambda o, b: o.shards and b != "dask",
         "need serial updates: " + _LOCAL + " with plain steps; pass n_threads=1 (or leave it None)"),
    # a sparse X
    Rule("method={o.method!r}", lambda o: True, lambda o, b: b == "csr" and o.method in CLOSED_FORMS,
         "needs a dense X (it factors XᵀX or X itself); for a scipy.sparse X use method='batch', 'sgd' or "
         "'minibatch' (or pass X.toarray() if it fits in memory)"),
    Rule("n_threads={o.n_threads}", lambda o: o.shards > 0, lambda o, b: b == "csr",
         "runs {o.method} as local SGD, which has no sparse kernel; pass n_threads=1 (or leave it None) for serial "
         "updates on a scipy.sparse X"),
    # Dask: local SGD over the blocks, plain steps; no weights
    Rule("record_path='update'", lambda o: o.record_path == "update", _dask,
         "needs one sequence of updates; on Dask the blocks update in parallel (local SGD with averaging): use "
         "record_path='epoch'"),
    Rule("optimizer={o.optimizer.name!r} with method={o.method!r}",
         lambda o: o.optimizer.code != SGD and o.method in ("sgd", "minibatch"), _dask,
         "(local SGD takes plain steps; method='batch' takes optimizer steps): " + _DASK),
    Rule("average", lambda o: o.average >= 0, _dask, ": " + _DASK),
    Rule("sample_weight", lambda o: o.weighted, _dask, ": " + _DASK),
    Rule("early_stopping", lambda o: o.early_stopping, _dask, ": " + _DASK),
)  # fmt: skip


class _View:
    """What the rules' format strings read: the options, plus the facts of the call."""

    def __init__(self, options, weighted):
        self._options, self.weighted = options, weighted
        self.average_used = options.average >= 0

    def __getattr__(self, name):
        return getattr(self._options, name)


def check_support(options, backend, weighted=False):
    """ValueError for the first rule of ``RULES`` that the options break on ``backend``;
    ``weighted``: sample weights were given."""
    o = _View(options, weighted)
    for rule in RULES:
        if rule.used(o) and rule.refused(o, backend):
            option = rule.option.format(o=o)
            why = rule.why.format(o=o, backend=backend)
            raise ValueError(f"{option}{'' if why.startswith(':') else ' '}{why}")
