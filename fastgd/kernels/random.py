"""Sample orders for SGD and mini-batch: a Fisher–Yates shuffle driven by splitmix64, and two
cheaper, more sequential orders built on it (runs of rows; CorgiPile's blocks and buffers).

The generator state is a one-element ``uint64`` array made in Python from ``random_state``
(no global RNG inside a kernel), so every order is reproducible from the fit's arguments.
numpy's own ``Generator.shuffle`` is ~6x slower on 10^6 rows, which is a large share of an
SGD epoch, hence this small kernel.
"""

import numpy as np
from numba import njit

from ._config import INLINE, KERNEL

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2**-53


@njit(**INLINE)
def next_uint64(state):
    """splitmix64: advance ``state[0]`` and return the next 64 random bits."""
    state[0] += _GOLDEN
    z = state[0]
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@njit(**INLINE)
def next_below(state, k):
    """A random integer in ``[0, k)`` (bias below k / 2**53, negligible for any array size)."""
    return int((next_uint64(state) >> _S11) * _TO_UNIT * k)


@njit(**INLINE)
def _swaps(order, state, high, low):
    """Fisher–Yates steps i = high, high - 1, ..., low + 1: swap order[i] with a random order[j],
    j <= i."""
    for i in range(high, low, -1):
        j = next_below(state, i + 1)
        tmp = order[i]
        order[i] = order[j]
        order[j] = tmp


@njit(**KERNEL)
def shuffle(order, state):
    """Shuffle ``order`` (int32 or int64, 1-D) in place, uniformly, with generator ``state``."""
    _swaps(order, state, order.shape[0] - 1, 0)
    return order


@njit(**KERNEL)
def shuffle_steps(order, state, high, low):
    """The steps i = high ... low + 1 of ``shuffle``: calls with (n - 1, a), (a, b), ..., (z, 0)
    shuffle ``order`` exactly as one ``shuffle`` call, with the same state (so a long shuffle
    can be cut into short calls).  Returns nothing: no array to hand back to Python."""
    _swaps(order, state, high, low)


@njit(**KERNEL)
def shuffle_blocks(order, blocks, block_rows, state):
    """Fill ``order`` with the rows ``0 .. len(order) - 1`` in runs of ``block_rows``
    consecutive rows, the runs in a random order: ``blocks`` (int, ``ceil(n / block_rows)``
    entries, any content) is shuffled in place and read as the order of the runs.  Reads stay
    sequential within a run (fast), at the price of a less random visit than ``shuffle``."""
    n = order.shape[0]
    for b in range(blocks.shape[0]):
        blocks[b] = b
    shuffle(blocks, state)
    k = 0
    for b in range(blocks.shape[0]):
        start = blocks[b] * block_rows
        for i in range(start, min(start + block_rows, n)):
            order[k] = i
            k += 1
    return order


@njit(**KERNEL)
def shuffle_groups(order, blocks, block_rows, buffer_blocks, state, first, last, k):
    """Groups ``first .. last - 1`` of ``shuffle_corgi``: group g takes the blocks
    ``blocks[g * buffer_blocks : (g + 1) * buffer_blocks]`` (block b: the rows
    ``b * block_rows .. min((b + 1) * block_rows, n) - 1``), writes their rows to ``order`` from
    position ``k`` on and shuffles that slice (Fisher–Yates, ``state``).  Returns the position
    after the last group written: the ``k`` of the next call, so that calls over consecutive
    ranges of groups make the order of one call (a long order cut into short calls)."""
    n = order.shape[0]
    n_blocks = blocks.shape[0]
    for g in range(first, last):
        start = k
        for p in range(g * buffer_blocks, min((g + 1) * buffer_blocks, n_blocks)):
            row = blocks[p] * block_rows
            for i in range(row, min(row + block_rows, n)):
                order[k] = i
                k += 1
        for i in range(k - 1, start, -1):  # Fisher–Yates on order[start:k]
            j = start + next_below(state, i - start + 1)
            tmp = order[i]
            order[i] = order[j]
            order[j] = tmp
    return k


@njit(**KERNEL)
def shuffle_corgi(order, blocks, block_rows, buffer_blocks, state):
    """CorgiPile's two-level shuffle (Xu et al., SIGMOD 2022) of the rows ``0 .. len(order) - 1``
    into ``order``: the blocks of ``block_rows`` consecutive rows (``blocks``: int,
    ``ceil(n / block_rows)`` entries, any content) are shuffled (``shuffle``), taken
    ``buffer_blocks`` at a time, and the rows of each such group are shuffled among themselves
    (``shuffle_groups``).  With a group about the size of a core's L2 cache, an epoch reads the
    data in a few contiguous runs at a time, whose rows stay in the cache while they are
    visited, in an order close to a full shuffle: every group is a random sample of blocks.
    O(n); ``blocks`` is left holding the blocks' order."""
    for b in range(blocks.shape[0]):
        blocks[b] = b
    shuffle(blocks, state)
    groups = -(-blocks.shape[0] // buffer_blocks)
    shuffle_groups(order, blocks, block_rows, buffer_blocks, state, 0, groups, 0)
    return order
