"""Row 7 of ``fastgd bench``: a fresh process, ``import fastgd`` and a first small fit, cold and warm."""

import os
import tempfile

import numpy as np

from .harness import Row, run_child, seconds_text

_STARTUP_CODE = """
import json, time
start = time.perf_counter()
import fastgd
imported = time.perf_counter()
X, y = fastgd.make_linear(1000, 3, random_state=0)
fastgd.fit(X, y, method="sgd", max_epochs=50, random_state=0)
print(json.dumps({"import_s": imported - start, "fit_s": time.perf_counter() - imported}))
"""


def bench_startup(ctx):
    """Row 7: a fresh process, ``import fastgd`` and a first small fit: cold (empty numba
    cache: compiles) and warm (kernels cached on disk)."""
    with tempfile.TemporaryDirectory(prefix="fastgd-bench-cache-") as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        cold_wall, cold = run_child(_STARTUP_CODE, env)
        warm = [run_child(_STARTUP_CODE, env) for _ in range(ctx.sizes.startup_warm_runs)]
    warm_wall = float(np.median([w for w, _ in warm]))
    # what the target names: `import fastgd` + the first fit, timed inside the process
    warm_s = float(np.median([split["import_s"] + split["fit_s"] for _, split in warm]))
    cold_s = cold["import_s"] + cold["fit_s"]
    return [
        Row(
            "startup",
            "fresh process: import fastgd + first small fit",
            f"warm {seconds_text(warm_s)}",
            f"cold {seconds_text(cold_s)}",
            warm_s,
            "warm ≤ 1 s",
            warm_s <= 1.0,
            note=(
                "import + first fit timed inside `python -c` with a temporary NUMBA_CACHE_DIR: cold = empty cache "
                f"(compiles), warm = cached; warm split: import {warm[-1][1]['import_s']:.3g} s, fit "
                f"{warm[-1][1]['fit_s']:.3g} s; whole process wall {seconds_text(warm_wall)} warm, "
                f"{seconds_text(cold_wall)} "
                "cold (with interpreter start-up)"
            ),
            figures={
                "cold_wall_s": cold_wall,
                "cold_split_s": cold,
                "warm_wall_s": [w for w, _ in warm],
                "warm_split_s": [s for _, s in warm],
                "code": _STARTUP_CODE,
            },
        )
    ]
