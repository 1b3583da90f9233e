"""``fastgd bench``: every performance target of fastgd, each a ratio measured side by side.

Run ``fastgd bench`` (5 to 10 minutes on 2 cores), ``fastgd bench --quick`` (under a minute,
smaller data) or ``python -m fastgd.bench``; ``--only NAME ...`` picks rows, ``--json PATH``
writes the figures to PATH (nothing is written without it); ``bench/performance_md.py`` makes
docs/performance.md from that file.

Every row times fastgd and its peer in the same process, on the same data, one after the
other (the repeats interleaved: a, b, a, b, ...), after one untimed call of each, each timed
call ``harness.SETTLE_S`` (0.15 s) after the last, so that no contender's idle threads still spin
(OpenBLAS's wait ~0.1 s for more work, taking the cores from numba's threads); the figure
is the median of the repeats.  These machines are shared and noisy: read the ratios, never
compare absolute times across runs.  Give numpy its best: run the command with
``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` unset (a warning says when they are set).

Peers: a parallel numba streaming read of the same X (the bandwidth probe: the physical limit
of a pass over the data), numpy doing the same arithmetic (vectorized BLAS), scikit-learn's
``SGDRegressor``, scikit-learn's ``SGDClassifier`` and ``SGDRegressor`` against their drop-ins
``fastgd.SGDClassifier`` and ``fastgd.SGDRegressor`` (the same parameters, dense and CSR X),
``numpy.linalg.lstsq``, Vowpal Wabbit and torch on the CPU (each skipped with a note when not
installed).
"""

import importlib

from .command import add_arguments

#: the public names and the module of each, imported on first use: the ``fastgd`` command's
#: parser needs only ``add_arguments`` (``fastgd.bench.command``), never the rows and their numba code
_LAZY = {
    **dict.fromkeys(("BENCHES", "main", "run"), "runner"),
    **dict.fromkeys(
        (
            "BATCH_MAX_EPOCHS",
            "BATCH_SIZE",
            "BATCH_TOL",
            "LSTSQ_RTOL",
            "MINIBATCH_ETA",
            "PRESETS",
            "SGD_ETA",
            "Context",
            "Row",
            "Sizes",
            "make_float32",
            "mse_of",
            "skipped",
            "standardized",
            "timed",
            "fit",
        ),
        "harness",
    ),
    **dict.fromkeys(("env_warnings", "format_table", "machine_info", "save_report"), "report"),
    **dict.fromkeys(("PROBE_BLOCK", "stream_sum", "bench_gradient", "bench_float32", "bench_threads"), "gradient"),
    **dict.fromkeys(("bench_sgd", "bench_levers"), "sgd"),
    **dict.fromkeys(("bench_sgd_dropin",), "sgd_dropin"),
    **dict.fromkeys(("numpy_minibatch", "torch_minibatch", "bench_minibatch", "bench_torch"), "minibatch"),
    **dict.fromkeys(("bench_lstsq",), "lstsq"),
    **dict.fromkeys(("numpy_batch", "counted_reads", "bench_streaming"), "streaming"),
    **dict.fromkeys(("bench_startup",), "startup"),
    **dict.fromkeys(("bench_vw",), "vw"),
    **dict.fromkeys(("memory_child", "bench_memory"), "memory"),
    **dict.fromkeys(("bench_memmap",), "memmap"),
    **dict.fromkeys(("linear_fit", "bench_scaling"), "scaling"),
    **dict.fromkeys(("DASK_SIZES", "dask_main", "dask_rows"), "dask_bench"),
}
__all__ = ["add_arguments", *(name for name in _LAZY if not name.startswith("_"))]


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
