"""Whole fits with default settings, an old checkout against this one: the speed of the default
paths, side by side.  Each (old, new) pair runs in two fresh processes, alternating, on the same
data (n=1M, d=20 and 50, float64 and float32, seed 0), three timed fits after a warm-up fit;
the figure is the best of three.  Issue 13's baseline is commit e25e889 (before the certified
convergence and the refined closed forms).

    git worktree add --detach /tmp/oldgd e25e889
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/compare_defaults.py /tmp/oldgd
"""

import json
import os
import subprocess
import sys
from pathlib import Path

#: name: fit's keywords (defaults otherwise)
CASES = {
    "auto": {},
    "batch": {"method": "batch"},
    "sgd": {"method": "sgd"},
    "minibatch": {"method": "minibatch"},
}

_CHILD = r"""
import json, sys, time, warnings
import numpy as np
import fastgd
warnings.simplefilter("ignore")
d, dtype, kw = int(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
rng = np.random.default_rng(0)
n = 1_000_000
X = rng.standard_normal((n, d))
y = X @ rng.standard_normal(d) + rng.standard_normal(n)
X, y = X.astype(dtype), y.astype(dtype)
fastgd.fit(X[:5000], y[:5000], random_state=0, **kw)
times = []
for _ in range(3):
    t = time.perf_counter()
    res = fastgd.fit(X, y, random_state=0, **kw)
    times.append(time.perf_counter() - t)
print(json.dumps({"time": min(times), "epochs": int(res.n_epochs), "converged": bool(res.converged),
                  "loss": float(res.loss)}))
"""


def run(checkout, d, dtype, kw):
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(d), dtype, json.dumps(kw)],
        env={**os.environ, "PYTHONPATH": str(checkout)},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(old):
    new = Path(__file__).resolve().parents[1]
    print("| fit | d | dtype | old | new | new/old | epochs old/new | converged old/new | loss old/new |")
    print("|---|---|---|---|---|---|---|---|---|")
    for dtype in ("float64", "float32"):
        for d in (20, 50):
            for name, kw in CASES.items():
                a, b = run(old, d, dtype, kw), run(new, d, dtype, kw)
                print(
                    f"| {name} | {d} | {dtype} | {a['time'] * 1e3:.0f} ms | {b['time'] * 1e3:.0f} ms | "
                    f"{b['time'] / a['time']:.2f} | {a['epochs']}/{b['epochs']} | {a['converged']}/{b['converged']} | "
                    f"{a['loss']:.6f}/{b['loss']:.6f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
