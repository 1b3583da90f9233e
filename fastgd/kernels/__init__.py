"""The numba kernels of fastgd, callable from your own ``@njit`` code.

Every kernel is ``@njit(cache=True, nogil=True)``, compiled lazily per dtype (float32 and
float64 X from one source); parameters and partial sums are float64.  The compensated kernels
(``kernels.compensated``) alone are compiled without fast-math flags, which would undo them.  Shapes and conventions:

* ``X``: (n, d) float32 or float64, C-contiguous; ``y``: (n,) of X's dtype.
* ``theta``: (d + 1,) float64, ``theta[0]`` the intercept, ``theta[1:]`` the coefficients.
* ``center``, ``scale_inv``: (d,) float64 to standardize on the fly (feature j read as
  ``(x_j - center[j]) * scale_inv[j]``), or both ``None`` to read X as is.  Optional outputs
  (``grad`` of ``loss_grad``, ``path`` of the epoch kernels) are likewise ``None`` when not
  wanted: numba compiles each case apart, so the loops carry no run-time test.  The passes
  (``loss_grad``, its CSR and parallel twins, ``combine_blocks``) also take ``NO_GRAD``, an
  empty array, for the loss alone: tested once a block, it shares the gradient pass's compiled
  code, which the library uses for both.
* ``theta`` may also be (K, d + 1): one row of parameters per class, for the softmax loss
  (K = 1 for every other loss; a (d + 1,) vector is read as one row).
* ``weights``: (n,) float64 sample weights, or ``None`` or ``NO_WEIGHTS`` (an empty array):
  every row weighs 1.  ``None`` compiles a loop of its own, without the weights' test; the
  library passes it to the epoch kernels (a run-time test there cost the fast SGD loop 46 -> 86
  ns a row, measured) and ``NO_WEIGHTS`` to the passes (``loss_grad``, ``residual_gradient``:
  no measurable cost), whose weighted and unweighted fits then share one compiled pass.
* ``model = (fit_intercept, loss_code, eps, l2, l1)``: whether θ0 is fitted, a ``codes.Loss``,
  its parameter (huber's and the epsilon-insensitive losses' ε), and the penalty
  ``l2/2 ‖w‖² + l1 ‖w‖₁`` on the coefficients.
* ``opt = (opt_code, opt_params, average_start)``: a ``codes.Optimizer``, its float64
  parameters (``fastgd.optimizers`` objects carry ``.code``, ``.params``) and the update from
  which the iterates are averaged (-1: never); ``state``: (2, K, d + 1) float64, zeros at the
  start of a fit; ``avg``: theta's shape, the running average.
* ``sched_code`` + ``sched_params``: a ``codes.Schedule`` and its float64 parameters
  (``fastgd.schedules`` objects carry both: ``.code``, ``.params``).

The epoch kernels take these in groups, always in this order (at most 8 arguments)::

    sgd_epoch(data, view, model, optimizer, schedule, theta, order, path)
    minibatch_epoch(data, view, model, optimizer, schedule, theta, (order, batch_size), path)
    sgd_epoch_local(data, view, model, schedule, theta, order, (thetas, states, status), (a, b))
    minibatch_epoch_local(data, view, model, schedule, theta, (order, batch_size), (thetas, states, status), (a, b))

with ``data = (X, y, weights)``, ``view = (center, scale_inv)``, ``optimizer = (opt, state,
avg)`` and ``schedule = (sched_code, sched_params, t_start)``, ``t_start`` the number of
updates made before this epoch.  The local kernels' ``part = (a, b)`` runs every shard's
updates (batches) a .. b - 1 only, ``(0, len(order))`` the whole epoch: the shards' copies start
from theta when a = 0 and theta becomes their mean once b reaches the longest shard, so calls
over consecutive parts give the bits of one call (``t_start`` and a ``TABLE`` stay the epoch's;
the status is the epoch's offset).  ``csr_sgd_epoch`` and ``csr_minibatch_epoch`` take the same
groups, X being ``(data, indices, indptr)`` and the view ``(None, scale_inv)``; their optimizer
group may carry a fourth member, ``scale`` (float64 (1,)), the factor of the scaled weights
handed from one call to the next instead of folded into theta (``kernels.sparse``).  Each kernel
unpacks its groups and calls its loop (``sgd.sgd_loop`` ...), a function of its own whose
arguments numba's dead-branch pruning can see: an ``is None`` test resolves at compile time on
a function's arguments only, never on a member of a tuple.

Example, one SGD epoch from your own ``@njit`` code (the fast loop: no state, no average)::

    opt = (codes.SGD, np.zeros(1), -1)
    schedule = (codes.CONSTANT, np.array([0.01]), 0)
    status = sgd_epoch((X, y, None), (None, None), (True, codes.SQUARED, 0.0, 0.0, 0.0),
                       (opt, None, None), schedule, theta, order, None)

Kernels never raise, print or call back into Python; they return a status instead
(``codes.OK`` or the position where a non-finite value appeared).

===========================  ===================================================================
``loss_grad``                mean loss and mean gradient over all rows (serial)
``loss_grad_parallel``       the same, blocks in parallel, bit-identical for any thread count
``squared_loss_grad``,       ``loss_grad``'s two branches as kernels of their own (and ``_parallel``
``general_loss_grad``        twins), the library's passes: ``is_squared_pass`` picks one, so a
                             squared-loss fit never compiles the other losses (the same bits)
``work_shape``               shape of the ``work`` scratch array those two need (Python helper)
``combine_blocks``           their last step alone: a pass made in calls over ranges of whole blocks
``update``                   one optimizer step with a given gradient (penalties included)
``penalty``                  the penalty term of theta
``stationarity``             norm of the (proximal) gradient mapping: 0 at the minimum
``gram_loss_grad``           loss and gradient from the Gram matrix pieces, O(d²)
``gram_descent``             the whole batch descent on the Gram matrix, one compiled loop
``sgd_epoch``                one epoch of per-sample updates in a given order
``minibatch_epoch``          one epoch of mini-batch updates in a given order
``sgd_epoch_local``          one epoch (or part) of local SGD on K threads, then the average (K shards)
``minibatch_epoch_local``    the same with mini-batches
``learning_rate``            ``eta(t)`` of a schedule code (inline helper)
``learning_rates``           fill an array with ``eta(t_start + k)``
``shuffle``                  shuffle an int order in place (splitmix64 state, uint64[1])
``shuffle_blocks``           an order of runs of consecutive rows, the runs shuffled
``shuffle_corgi``            CorgiPile's order: blocks of rows shuffled, the rows of each group of
                             blocks (a buffer) shuffled; ``shuffle_groups``: a range of its groups
``shuffle_steps``            a range of ``shuffle``'s steps: one shuffle in several short calls
``column_stats``             finiteness, column means and sums of squared deviations; in calls of a
                             few blocks: ``column_blocks(_parallel)`` then ``combine_column_blocks``
``vector_stats``             the same of one vector (y), its sums in a register: ``column_stats``'s bits
``max_row_norm2``            largest squared row norm (optionally standardized); ``_parallel``: blocks
                             in parallel
``residual_gradient``        double-double residuals ``y - Xθ`` and their gradient sums (compensated:
                             ``two_sum``, ``two_prod``, ``dot2``; ``kernels.compensated``), serial and
                             ``_parallel``, with ``add_sums`` and ``finish_gradient``
``CHUNK``                    rows per block of the parallel reductions (results depend on it, never
                             on the thread count)
``csr_*``                    CSR twins of ``loss_grad(_parallel)``, ``sgd_epoch``,
                             ``minibatch_epoch``, ``column_stats`` (in calls over ranges of entries:
                             ``csr_column_sums``, ``_means``, ``_squares``, ``_m2``),
                             ``max_row_norm2`` for a
                             ``scipy.sparse`` X given as ``(data, indices, indptr)``, never
                             densified; scaling only (``scale_inv``, no ``center``: a CSR epoch
                             kernel given one returns ``codes.CENTERED_CSR``); see
                             ``kernels.sparse`` for what is O(nnz) and what O(d).  The twins
                             stay: a loop shared by both storages measured up to 1.45x slower
                             on the SGD epoch (docs/architecture.md)
``plain_epoch``              scikit-learn's plain SGD update (``fastgd.SGDRegressor``/``SGDClassifier``),
                             ``csr_plain_epoch`` its CSR twin, ``sklearn_shuffle`` its visiting
                             order: ``kernels.plain`` (its own argument groups)
===========================  ===================================================================
"""

import numpy as np

from . import codes
from ._config import CHUNK
from .codes import Loss, Optimizer, Schedule
from .compensated import (
    add_sums,
    dot2,
    finish_gradient,
    residual_gradient,
    residual_gradient_parallel,
    two_prod,
    two_sum,
)
from .gradient import (
    combine_blocks,
    general_loss_grad,
    general_loss_grad_parallel,
    is_squared_pass,
    loss_grad,
    loss_grad_parallel,
    n_chunks,
    squared_loss_grad,
    squared_loss_grad_parallel,
    work_shape,
)
from .gram import gram_descent, gram_loss_grad
from .minibatch import minibatch_epoch, minibatch_epoch_local
from .optimizers import penalty, stationarity, update
from .plain import csr_plain_epoch, plain_epoch, sklearn_shuffle
from .random import shuffle, shuffle_blocks, shuffle_corgi, shuffle_groups, shuffle_steps
from .schedules import learning_rate, learning_rates
from .sgd import sgd_epoch, sgd_epoch_local
from .sparse import (
    csr_column_m2,
    csr_column_means,
    csr_column_squares,
    csr_column_stats,
    csr_column_sums,
    csr_loss_grad,
    csr_loss_grad_parallel,
    csr_max_row_norm2,
    csr_minibatch_epoch,
    csr_sgd_epoch,
)
from .stats import (
    column_blocks,
    column_blocks_parallel,
    column_stats,
    column_stats_parallel,
    combine_column_blocks,
    max_row_norm2,
    max_row_norm2_parallel,
    vector_stats,
    vector_stats_parallel,
)

#: ``weights`` of an unweighted fit: the weighted loops' own type, so that one compiled loop serves both
NO_WEIGHTS = np.zeros(0)
#: ``grad`` of a pass for the loss alone: the gradient pass's own type (one compiled pass for both)
NO_GRAD = np.zeros((0, 0))

__all__ = [
    "CHUNK",
    "NO_GRAD",
    "NO_WEIGHTS",
    "Loss",
    "Optimizer",
    "Schedule",
    "add_sums",
    "codes",
    "column_blocks",
    "column_blocks_parallel",
    "column_stats",
    "column_stats_parallel",
    "combine_blocks",
    "combine_column_blocks",
    "csr_column_m2",
    "csr_column_means",
    "csr_column_squares",
    "csr_column_stats",
    "csr_column_sums",
    "csr_loss_grad",
    "csr_loss_grad_parallel",
    "csr_max_row_norm2",
    "csr_minibatch_epoch",
    "csr_plain_epoch",
    "csr_sgd_epoch",
    "dot2",
    "finish_gradient",
    "general_loss_grad",
    "general_loss_grad_parallel",
    "gram_descent",
    "gram_loss_grad",
    "is_squared_pass",
    "learning_rate",
    "learning_rates",
    "loss_grad",
    "loss_grad_parallel",
    "max_row_norm2",
    "max_row_norm2_parallel",
    "minibatch_epoch",
    "minibatch_epoch_local",
    "n_chunks",
    "penalty",
    "plain_epoch",
    "residual_gradient",
    "residual_gradient_parallel",
    "sgd_epoch",
    "sgd_epoch_local",
    "shuffle",
    "shuffle_blocks",
    "shuffle_corgi",
    "shuffle_groups",
    "shuffle_steps",
    "sklearn_shuffle",
    "squared_loss_grad",
    "squared_loss_grad_parallel",
    "stationarity",
    "two_prod",
    "two_sum",
    "update",
    "vector_stats",
    "vector_stats_parallel",
    "work_shape",
]
