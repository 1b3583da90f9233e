"""The scale run of fastgd on Dask: data generated on the workers, never held by the client.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/dask_scale.py            # 30M x 20 float64
    python bench/dask_scale.py --n 3000000 --blocks 8                                  # a quick look

A LocalCluster of this machine (one single-threaded worker process per CPU) generates X (n x d
float64, ``dask.array.random.default_rng``) and y = 4 + X @ coef + N(0, 1) block by block and
keeps them in the workers' memory (``persist``); then ``fastgd.fit`` runs "normal", "batch" and
"sgd" on them.  Printed per fit: wall time, the loss reached (and its excess over the normal
equation's), and the client process's peak RSS (``resource.getrusage``: the client never holds
more than θ and d x d sums, so it stays near its start-up size whatever n is).
"""

import argparse
import json
import os
import resource
import sys
import time
import warnings

import numpy as np


def peak_rss_bytes():
    """Peak resident set size of this (the client) process so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def rss_bytes():
    import psutil

    return psutil.Process().memory_info().rss


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=30_000_000, help="rows (default 30M: 4.8 GB of float64 X at d=20)")
    parser.add_argument("--d", type=int, default=20)
    parser.add_argument("--blocks", type=int, default=60, help="row blocks (default 60: 80 MB each at n=30M)")
    parser.add_argument("--memory-limit", default="10GiB", help="per worker process")
    parser.add_argument("--sgd-epochs", type=int, default=3)
    parser.add_argument("--json", default="dask-scale.json")
    args = parser.parse_args(argv)

    import dask
    import dask.array as da
    import distributed

    import fastgd
    from fastgd import distributed as fd

    fd.warmup()  # compile (or load) before the workers start: they share the numba cache
    workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            memory_limit=args.memory_limit,
            dashboard_address=None,
        )
    client = distributed.Client(cluster)
    report = {"n": args.n, "d": args.d, "blocks": args.blocks, "workers": workers, "memory_limit": args.memory_limit}
    try:
        client.run(fd.warmup)
        start_rss = rss_bytes()
        t = time.perf_counter()
        rows = -(-args.n // args.blocks)
        rng = da.random.default_rng(2026)
        X = rng.standard_normal((args.n, args.d), chunks=(rows, args.d))
        y = 4.0 + X @ np.linspace(-2.0, 2.0, args.d) + rng.standard_normal(args.n, chunks=(rows,))
        X, y = dask.persist(X, y)
        distributed.wait([X, y])
        report["generate_s"] = time.perf_counter() - t
        report["X_bytes"] = int(X.nbytes)
        report["client_rss_start"] = start_rss
        print(
            f"dask scale run: X {args.n} x {args.d} float64 = {X.nbytes / 1e9:.2f} GB in {args.blocks} blocks on "
            f"{workers} worker processes (1 thread each, {args.memory_limit} each); generated and persisted on the "
            f"workers in {report['generate_s']:.1f} s; client RSS at start {start_rss / 1e6:.0f} MB"
        )
        fits = [
            ("normal", dict(method="normal")),
            ("batch", dict(method="batch", tol=1e-9, max_epochs=100_000, random_state=0)),
            (
                "sgd",
                dict(method="sgd", max_epochs=args.sgd_epochs, tol=0, init="zeros", random_state=0),
            ),
        ]
        results = []
        best = None
        print(f"\n{'method':<8} {'time':>9} {'loss':>16} {'excess vs normal':>17} {'client peak RSS':>16}  message")
        for name, kwargs in fits:
            t = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
                res = fastgd.fit(X, y, **kwargs)
            elapsed = time.perf_counter() - t
            best = res.loss if best is None else best
            excess = (res.loss - best) / best
            peak = peak_rss_bytes()
            results.append(
                dict(method=name, kwargs=kwargs, seconds=elapsed, loss=res.loss, excess=excess, client_peak_rss=peak)
            )
            results[-1]["message"] = res.message
            results[-1]["n_epochs"] = res.n_epochs
            print(
                f"{name:<8} {elapsed:>8.1f}s {res.loss:>16.12g} {excess:>17.2e} {peak / 1e6:>13.0f} MB  "
                f"{res.n_epochs} epochs; {res.message}"
            )
        report["fits"] = results
    finally:
        client.close()
        cluster.close()
    with open(args.json, "w") as f:
        json.dump(report, f, indent=1, default=str)
    print(f"\nfigures in {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
