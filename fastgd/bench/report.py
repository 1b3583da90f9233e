"""What ``fastgd bench`` reports beside the figures: the machine, numba, numpy's BLAS and the
environment; the warnings about slow BLAS settings; the printed table."""

import json
import os
import platform
import sys

import numba

#: environment variables that change how numpy's BLAS or numba's threads run (recorded in the JSON)
_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
_ENV_NUMBA = ("NUMBA_NUM_THREADS", "NUMBA_THREADING_LAYER", "NUMBA_CACHE_DIR")
#: set, these two slow numpy down: the benchmark command should run with both unset
_SLOW_BLAS_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def version_of(module):
    try:
        return __import__(module).__version__
    except ImportError:
        return None


def machine_info():
    """The machine and software the figures come from."""
    cpu_model = None
    try:
        with open("/proc/cpuinfo") as f:
            cpu_model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), None)
    except OSError:
        pass
    try:
        layer = numba.threading_layer()
    except ValueError:
        layer = None
    try:
        from threadpoolctl import threadpool_info

        blas = threadpool_info()
    except ImportError:
        blas = "threadpoolctl is not installed"
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": cpu_model,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "numba_threading_layer": layer,
        "numba_threads": numba.get_num_threads(),
        "numba_max_threads": numba.config.NUMBA_NUM_THREADS,
        "threadpools": blas,
        "versions": {m: version_of(m) for m in ("fastgd", "numpy", "numba", "scipy", "sklearn", "threadpoolctl")},
        "environment": {k: os.environ.get(k) for k in _ENV + _ENV_NUMBA},
    }


def blas_text(info):
    pools = info["threadpools"]
    if isinstance(pools, str):
        return pools
    return "; ".join(
        f"{p.get('internal_api')} {p.get('version') or ''} [{p.get('prefix')}] ({p.get('num_threads')} threads)"
        for p in pools
    )


def env_warnings(environ=os.environ):
    """One line per environment variable that slows numpy's BLAS down (never unset here)."""
    return [
        f"warning: {k}={environ[k]} is set: it slows numpy's BLAS, the peer of several rows; run the benchmark "
        f"with it unset (env -u {k} fastgd bench)"
        for k in _SLOW_BLAS_ENV
        if k in environ
    ]


def _met_text(row):
    if row.met is None:
        return "skipped" if row.ratio is None else "-"
    return "yes" if row.met else "no"


def format_table(rows):
    """The table: work, fastgd, peer, ratio, target, met; then the notes, numbered."""
    header = ("", "work", "fastgd", "peer", "ratio", "target", "met")
    cells = [
        (
            f"[{i}]",
            r.work,
            r.fastgd,
            r.peer,
            "-" if r.ratio is None else f"{r.ratio:.3g}",
            r.target,
            _met_text(r),
        )
        for i, r in enumerate(rows, 1)
    ]
    widths = [max(len(c[k]) for c in [header, *cells]) for k in range(len(header))]
    right = {4}

    def line(c):
        return "  ".join(
            v.rjust(w) if k in right else v.ljust(w) for k, (v, w) in enumerate(zip(c, widths, strict=True))
        )

    out = [line(header).rstrip(), "  ".join("-" * w for w in widths)]
    out += [line(c).rstrip() for c in cells]
    notes = [f"[{i}] {r.note}" for i, r in enumerate(rows, 1) if r.note]
    return "\n".join(out + (["", *notes] if notes else []))


def save_report(report, path):
    """Write the JSON report to ``path`` (``--json PATH``; without it nothing is written); returns
    the last line of the output: the rows, the time and where the figures went."""
    if path:
        with open(path, "w") as f:
            json.dump(report, f, indent=1, default=float)
    where = f"figures in {path}" if path else "figures not saved (--json PATH saves them)"
    return f"\n{len(report['rows'])} rows in {report['total_s']:.0f} s; {where}"
