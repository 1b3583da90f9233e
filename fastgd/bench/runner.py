"""``fastgd bench``: the rows in order (``BENCHES``), ``run`` and ``main``."""

import sys
import time
from dataclasses import asdict

import numpy as np

import fastgd

from . import command
from .dask_bench import dask_main
from .gradient import PROBE_BLOCK, bench_float32, bench_gradient, bench_threads, stream_sum
from .harness import PRESETS, Context
from .lstsq import bench_lstsq
from .memmap import bench_memmap
from .memory import bench_memory
from .minibatch import bench_minibatch, bench_torch
from .report import blas_text, env_warnings, format_table, machine_info, save_report
from .scaling import bench_scaling
from .sgd import bench_levers, bench_sgd
from .sgd_dropin import bench_sgd_dropin
from .startup import bench_startup
from .streaming import bench_streaming
from .vw import bench_vw

#: every row, in the order they run (torch last: its OpenMP threads must not disturb the others)
BENCHES = {
    "gradient": (bench_gradient, {("grad", "float64")}),
    "float32": (bench_float32, {("grad", "float64"), ("grad", "float32")}),
    "threads": (bench_threads, {("grad", "float64")}),
    "sgd": (bench_sgd, {"sgd"}),
    "sgd_dropin": (bench_sgd_dropin, set()),
    "minibatch": (bench_minibatch, {"sgd"}),
    "streaming": (bench_streaming, {"sgd"}),
    "lstsq": (bench_lstsq, set()),
    "startup": (bench_startup, set()),
    "memory": (bench_memory, set()),
    "memmap": (bench_memmap, set()),
    "scaling": (bench_scaling, set()),
    "levers": (bench_levers, {"sgd"}),
    "vw": (bench_vw, {"sgd"}),
    "torch": (bench_torch, {"sgd"}),
}


def run(names, preset="full", progress=print):
    """Run the rows ``names`` (keys of BENCHES, in BENCHES order) at a preset's sizes; returns
    (rows, the JSON-able report)."""
    sizes = PRESETS[preset]
    started = time.perf_counter()
    warmup_start = time.perf_counter()
    fastgd.warmup()
    stream_sum(np.zeros(4), PROBE_BLOCK)  # compile (or load) the probe; starts numba's threads
    warmup_s = time.perf_counter() - warmup_start
    ctx = Context(sizes)
    selected = [name for name in BENCHES if name in names]
    rows, seconds = [], {}
    for k, name in enumerate(selected):
        fn, _ = BENCHES[name]
        start = time.perf_counter()
        got = fn(ctx)
        seconds[name] = time.perf_counter() - start
        rows += got
        progress(f"# {name}: {seconds[name]:.1f} s", file=sys.stderr)
        ctx.keep_only(set().union(*(BENCHES[later][1] for later in selected[k + 1 :])))
    report = {
        "preset": preset,
        "sizes": asdict(sizes),
        "machine": machine_info(),
        "warnings": env_warnings(),
        "warmup_s": warmup_s,
        "seconds_per_bench": seconds,
        "total_s": time.perf_counter() - started,
        "rows": [asdict(r) for r in rows],
    }
    return rows, report


def main(args=None):
    """``fastgd bench``; ``args``: parsed arguments (from the fastgd CLI) or a list of strings."""
    if args is None or isinstance(args, list):
        args = command.parser().parse_args(args)
    if getattr(args, "dask", False):
        return dask_main(args)
    preset = args.preset or ("quick" if args.quick else "full")
    for line in env_warnings():
        print(line)
    rows, report = run(args.only or list(BENCHES), preset)
    report["command"] = command.command_line(args)
    machine = report["machine"]
    print(
        f"fastgd bench ({preset}): {machine['cpu_model']}, {machine['cpu_count']} CPUs; numba "
        f"{machine['versions']['numba']}, {machine['numba_threads']} threads ({machine['numba_threading_layer']}); "
        f"numpy {machine['versions']['numpy']}; BLAS {blas_text(machine)}"
    )
    for line in report["warnings"]:
        print(line)
    print()
    print(format_table(rows))
    print(save_report(report, args.json))
    return 0
