"""shuffle="corgipile" beside "rows" and "blocks": samples/s and final loss of SGD over seeds.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/corgipile.py              # n=1e6 d=32
    python bench/corgipile.py --n 200000 --seeds 2                                        # a quick look

fastgd bench's SGD setting (``fastgd.bench.harness``: standardized make_linear data, noise 1,
float64, constant η = 1e-4, 3 epochs, θ0 = 0), on the rows in their random order and sorted by
y.  For each seed the three shuffles run in turn on the same data (a noisy neighbour slows them
alike), so the speed ratios are side by side; a constant-rate fit's final loss is noisy, hence
its excess over the least-squares loss as a mean ± standard deviation over the seeds.  Prints a
markdown table; ``--json PATH`` writes the figures.

Measured (2-core EPYC, 1 MiB L2 a core, loaded by another test run; 20 seeds; corgipile: 16 rows
a block, 256 blocks a buffer):

| rows | shuffle | samples/s | vs rows | MSE excess over lstsq (mean ± sd) | MSE vs rows |
|---|---|---|---|---|---|
| random | rows | 8.33 M | 1.00 | 3.31e-03 ± 7.7e-04 | +0.000% |
| random | blocks | 10.82 M | 1.30 | 3.10e-03 ± 7.4e-04 | -0.021% |
| random | corgipile | 9.41 M | 1.13 | 3.31e-03 ± 7.4e-04 | -0.001% |
| sorted by y | rows | 8.24 M | 1.00 | 2.99e-03 ± 8.3e-04 | +0.000% |
| sorted by y | blocks | 10.70 M | 1.30 | 3.65e-03 ± 1.2e-03 | +0.066% |
| sorted by y | corgipile | 9.34 M | 1.13 | 2.87e-03 ± 5.4e-04 | -0.012% |

On rows in random order every shuffle is, in distribution, the same SGD (the rows are
exchangeable): those differences are the seeds' noise.  At this small rate the sorted rows cost
"blocks" little (its runs of 64 rows are short against the ~1 / (2 η (d + 1)) ≈ 150 steps an
iterate remembers); tests/test_shuffle.py shows the gap at a larger rate.
"""

import argparse
import json
import time

import numpy as np

import fastgd
from fastgd.bench.harness import SGD_ETA, mse_of, standardized
from fastgd.runner import corgi_layout

SHUFFLES = ("rows", "blocks", "corgipile")


def least_squares_mse(X, y):
    A = np.hstack([np.ones((X.shape[0], 1)), X])
    theta = np.linalg.lstsq(A, y, rcond=None)[0]
    return mse_of(X, y, theta[0], theta[1:])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--d", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=5, help="random_state 0 .. seeds - 1 (default 5)")
    parser.add_argument("--json", help="write the figures to this path")
    args = parser.parse_args(argv)
    X, y = standardized(args.n, args.d, seed=1)
    by_y = np.argsort(y, kind="stable")
    data = {"random": (X, y), "sorted by y": (np.ascontiguousarray(X[by_y]), y[by_y])}
    optimum = least_squares_mse(X, y)  # the same rows in either order
    kw = dict(method="sgd", learning_rate=SGD_ETA, max_epochs=args.epochs, tol=0, init="zeros")
    for Xo, yo in data.values():  # compile or load every kernel before timing
        for shuffle in SHUFFLES:
            fastgd.fit(Xo[:5000], yo[:5000], shuffle=shuffle, random_state=0, **kw)
    times = {(o, s): [] for o in data for s in SHUFFLES}
    excess = {(o, s): [] for o in data for s in SHUFFLES}
    for seed in range(args.seeds):
        for order, (Xo, yo) in data.items():
            for shuffle in SHUFFLES:
                start = time.perf_counter()
                res = fastgd.fit(Xo, yo, shuffle=shuffle, random_state=seed, **kw)
                times[order, shuffle].append(time.perf_counter() - start)
                excess[order, shuffle].append(mse_of(Xo, yo, res.intercept, res.coef) / optimum - 1)
    block_rows, buffer_blocks = corgi_layout(args.d * X.itemsize)
    print(
        f"n={args.n} d={args.d} float64, {args.epochs} epochs, η={SGD_ETA:g}, seeds 0..{args.seeds - 1}; "
        f"least-squares MSE {optimum:.6f}; corgipile: {block_rows} rows a block, {buffer_blocks} blocks a buffer"
    )
    print("\n| rows | shuffle | samples/s (median) | vs rows | MSE excess (mean ± sd) | vs rows | MSE vs rows |")
    print("|---|---|---|---|---|---|---|")
    figures = {}
    for order in data:
        base_t = np.median(times[order, "rows"])
        base_e = np.mean(excess[order, "rows"])
        for shuffle in SHUFFLES:
            t, e = np.median(times[order, shuffle]), np.array(excess[order, shuffle])
            rate = args.n * args.epochs / t
            print(
                f"| {order} | {shuffle} | {rate / 1e6:.2f} M | {base_t / t:.2f} | {e.mean():.2e} ± {e.std():.1e} | "
                f"{e.mean() / base_e:.2f} | {(1 + e.mean()) / (1 + base_e) - 1:+.3%} |"
            )
            figures[f"{order}/{shuffle}"] = {
                "times_s": times[order, shuffle],
                "samples_per_s": rate,
                "mse_excess": list(e),
            }
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "optimum_mse": optimum, "figures": figures}, f, indent=1)


if __name__ == "__main__":
    main()
