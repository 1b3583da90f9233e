"""Row 8 of ``fastgd bench``: the peak memory of a fit on float32 X, against X's bytes, each fit
in a fresh process (``memory_child``, run as ``from fastgd.bench import memory_child; ...``)."""

import json

from .harness import Row, fit, make_float32, run_child, si


def _proc_status_kib(field_name):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    raise KeyError(field_name)


def memory_child(n, d, method):
    """In a fresh process: peak RSS growth (bytes) of one fit on float32 X (n, d), printed as JSON.

    The kernels are loaded first by a small fit of the same kind; X is made in blocks (no
    float64 temporary); then the peak-RSS mark is reset (/proc/self/clear_refs) and read back
    after the fit.  tracemalloc cannot see numba's allocations: RSS is the honest measure."""
    kwargs = {"sgd": dict(max_epochs=2), "batch": dict(max_epochs=10)}[method]
    small = make_float32(3 * 2048 + 1, d, seed=1)
    fit(*small, method=method, tol=0, random_state=0, **kwargs)
    X, y = make_float32(n, d)
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        reset = True
    except OSError:
        reset = False
    rss = _proc_status_kib("VmRSS") * 1024
    hwm = _proc_status_kib("VmHWM") * 1024
    fit(X, y, method=method, tol=0, random_state=0, **kwargs)
    peak = _proc_status_kib("VmHWM") * 1024
    result = dict(
        method=method,
        fit_kwargs=dict(tol=0, random_state=0, **kwargs),
        X_bytes=X.nbytes,
        y_bytes=y.nbytes,
        rss_before=rss,
        hwm_before=hwm,
        hwm_after=peak,
        hwm_reset=reset,
        growth=peak - (rss if reset else hwm),
    )
    print(json.dumps(result))


def bench_memory(ctx):
    """Row 8: peak memory of a fit on float32 X, against X's bytes (in a fresh process each)."""
    n, d = ctx.sizes.memory
    rows = []
    for method in ("sgd", "batch"):
        code = f"from fastgd.bench import memory_child; memory_child({n}, {d}, {method!r})"
        _, got = run_child(code)
        ratio = (got["X_bytes"] + got["growth"]) / got["X_bytes"]
        rows.append(
            Row(
                "memory",
                f"peak memory of fit({method}) n={n} d={d} f32",
                f"+{si(got['growth'], 'B')}",
                f"X {si(got['X_bytes'], 'B')}",
                ratio,
                "≤ 1.10 × X bytes",
                ratio <= 1.10,
                note=(
                    f"(X bytes + peak RSS growth during fit) / X bytes; fit kwargs {got['fit_kwargs']}; "
                    f"peak mark {'reset' if got['hwm_reset'] else 'NOT reset (growth over the earlier peak)'}"
                ),
                figures=got,
            )
        )
    return rows
