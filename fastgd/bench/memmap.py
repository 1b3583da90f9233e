"""The memory-mapped rows of ``fastgd bench``: one SGD epoch over a float32 ``.npy`` file of a
few GB read through ``np.load(mmap_mode="r")``, the page cache emptied of the file first, against
the file's sequential read speed measured the same way (cache emptied; the faster of 16 MiB
``readinto`` calls and a parallel sum over a fresh mapping).  The cache is emptied with
``os.fsync`` and ``os.posix_fadvise(POSIX_FADV_DONTNEED)``; the note gives the warm read speed
too, so that a drop the kernel ignored shows.  Each epoch maps the file afresh (the kernel keeps
the pages of a live mapping in the cache).

The epoch is ``kernels.sgd_epoch`` itself (the kernel a fit runs, called as the kernels'
documentation shows): a whole ``fastgd.fit`` reads X more than once (its statistics pass first),
and that first read would warm the cache for the epoch.  Two visiting orders: the rows' own
(``shuffle=False``: sequential reads) and CorgiPile's (``shuffle="corgipile"``: runs of ~4 KiB in
a random order)."""

import os
import tempfile
import time

import numpy as np

from .. import kernels as K
from ..kernels import codes
from ..runner import Shuffler, index_dtype, row_bytes
from .gradient import PROBE_BLOCK, stream_sum
from .harness import Row, si, skipped

#: the bytes of one read of the sequential-read probe
READ_BYTES = 16 << 20
#: the constant learning rate of the epoch (x in [0, 2)^d, d = 20: |x|² about 27)
ETA = 1e-3


def _write(path, n, d, block=1 << 20):
    """X.npy (n x d float32, x uniform in [0, 2)) written block by block, and y = 4 + 3 Σx + noise
    (in memory: the row times the file's reads); the file is synced to disk."""
    rng = np.random.default_rng(0)
    X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, d))
    y = np.empty(n, dtype=np.float32)
    for first in range(0, n, block):
        part = 2 * rng.random((min(block, n - first), d), dtype=np.float32)
        X[first : first + len(part)] = part
        y[first : first + len(part)] = 4 + 3 * part.sum(axis=1) + rng.standard_normal(len(part), dtype=np.float32)
    X.flush()
    del X
    return y


def drop_cache(path):
    """Ask the kernel to evict the file's pages from the page cache (written back first)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def _read_seconds(path):
    """Seconds to read the whole file in READ_BYTES calls."""
    buf = bytearray(READ_BYTES)
    start = time.perf_counter()
    with open(path, "rb", buffering=0) as f:
        while f.readinto(buf) > 0:
            pass
    return time.perf_counter() - start


def _mapped_sum_seconds(path):
    """Seconds to sum every element of a fresh mapping of the file (the bandwidth probe,
    ``gradient.stream_sum``: blocks in parallel)."""
    X = np.load(path, mmap_mode="r")
    start = time.perf_counter()
    stream_sum(X.reshape(-1), PROBE_BLOCK)
    return time.perf_counter() - start


def _epoch(X, y, order, theta):
    """Seconds of one plain SGD epoch (the kernels' fast loop) from ``theta``, updated in place."""
    opt = (codes.SGD, np.zeros(1), -1)
    schedule = (codes.CONSTANT, np.array([ETA]), 0)
    model = (True, codes.SQUARED, 0.0, 0.0, 0.0)
    start = time.perf_counter()
    status = K.sgd_epoch((X, y, None), (None, None), model, (opt, None, None), schedule, theta, order, None)
    elapsed = time.perf_counter() - start
    if status != codes.OK:
        raise RuntimeError(f"the benchmark's SGD epoch diverged (status {status})")
    return elapsed


def _epoch_seconds(path, y, order, out):
    """``_epoch`` from zeros over a fresh mapping of the file; the final θ goes to ``out``."""
    out[:] = 0.0
    return _epoch(np.load(path, mmap_mode="r"), y, order, out)


def bench_memmap(ctx):
    """The SGD epoch over a cold memory-mapped file against the file's cold sequential read:
    each measure after emptying the cache, the four interleaved, ``fit_repeats`` rounds, medians."""
    n, d = ctx.sizes.memmap
    target = "≥ 0.7 × the file's cold sequential read"
    if not hasattr(os, "posix_fadvise"):
        return [skipped("memmap", f"SGD epoch over a memory-mapped file n={n} d={d}", target, "no posix_fadvise")]
    with tempfile.TemporaryDirectory(prefix="fastgd-memmap-") as tmp:
        path = os.path.join(tmp, "X.npy")
        y = _write(path, n, d)
        size = os.path.getsize(path)
        index = index_dtype(n)
        X = np.load(path, mmap_mode="r")
        # compile (or load) both kernels outside the timing, for the read-only mapping's array type
        _epoch(X[:1000], y[:1000], np.arange(1000, dtype=index), np.zeros(d + 1))
        stream_sum(X[:1000].reshape(-1), PROBE_BLOCK)
        orders = {False: np.arange(n, dtype=index)}
        orders["corgipile"] = Shuffler(n, None, "corgipile", np.array([0], dtype=np.uint64), row_bytes((X,), n)).next()
        del X  # unmapped: the kernel cannot evict the pages of a live mapping
        warm = _read_seconds(path)
        thetas = {key: np.zeros(d + 1) for key in orders}
        measures = {
            "read": lambda: _read_seconds(path),
            "mapped": lambda: _mapped_sum_seconds(path),
            **{key: (lambda key=key: _epoch_seconds(path, y, orders[key], thetas[key])) for key in orders},
        }
        times = {key: [] for key in measures}
        for _ in range(ctx.sizes.fit_repeats):
            for key, measure in measures.items():
                drop_cache(path)
                times[key].append(measure())
    med = {key: float(np.median(t)) for key, t in times.items()}
    speed = {key: size / t for key, t in med.items()}
    cold = max(speed["read"], speed["mapped"])  # the peer at its best
    rows = []
    for shuffle in orders:
        rows.append(
            Row(
                "memmap",
                f"SGD epoch over a memory-mapped file, shuffle={shuffle!r}, n={n} d={d} f32 "
                f"({size / 2**30:.2f} GiB), page cache cold",
                f"{si(speed[shuffle], 'B/s')} ({si(n / med[shuffle], 'samples/s')})",
                f"read {si(cold, 'B/s')}",
                speed[shuffle] / cold,
                target,
                speed[shuffle] >= 0.7 * cold,
                note=(
                    "kernels.sgd_epoch over a fresh np.load(mmap_mode='r') after fsync + POSIX_FADV_DONTNEED; the "
                    f"read: the faster of {READ_BYTES >> 20} MiB readinto calls ({si(speed['read'], 'B/s')}; warm "
                    f"{si(size / warm, 'B/s')}) and a parallel sum over a fresh mapping "
                    f"({si(speed['mapped'], 'B/s')}), the cache dropped the same way before each; medians of "
                    f"{ctx.sizes.fit_repeats} interleaved rounds; θ[0] after the epoch {thetas[shuffle][0]:.4g} "
                    "(y = 4 + 3 Σx: 4 at the optimum)"
                ),
                figures={
                    "n": n,
                    "d": d,
                    "bytes": size,
                    "shuffle": shuffle,
                    "median_s": med,
                    "times_s": times,
                    "bytes_per_s": speed,
                    "read_warm_s": warm,
                },
            )
        )
    return rows
