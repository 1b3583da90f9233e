"""fastgd.SGDClassifier / SGDRegressor against scikit-learn's: samples/s and final loss, as a markdown table.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/sgd_dropin.py            # n=200k, 5 epochs
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/sgd_dropin.py --quick    # n=50k

The rows ``sgd_dropin`` of ``fastgd bench`` (``fastgd.bench.sgd_dropin``; the same figures with
``fastgd bench --only sgd_dropin``), as one table: dense X (make_classification /
make_regression, standardized, d=32) and CSR X (d=10,000, density 0.001); binary hinge, 10
classes one-vs-all with n_jobs=2, squared-error regression; scikit-learn's default parameters
with max_iter=5, tol=None for both estimators, the k-th fit of each with random_state=k.  The
two fits alternate (after one untimed fit of each: fastgd's kernels compile there); the figure
is the median of the repeats.  The final loss: the mean training hinge loss (no penalty;
averaged over the one-vs-all problems) or MSE, computed the same way for both, averaged over
the fits.  Then the same six rows with fastgd's ``shuffle="blocks"`` (scikit-learn's update
rule in a cache-friendly visiting order), against scikit-learn's defaults.  ``--json PATH``
writes the rows.
"""

import argparse
import json
from dataclasses import asdict

from fastgd.bench.harness import PRESETS, Context
from fastgd.bench.report import blas_text, env_warnings, machine_info
from fastgd.bench.sgd_dropin import bench_sgd_dropin


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fastgd bench --quick's sizes (n=50k)")
    parser.add_argument("--preset", choices=list(PRESETS), default=None, help=argparse.SUPPRESS)
    parser.add_argument("--json", help="write the rows to this path")
    args = parser.parse_args(argv)
    preset = args.preset or ("quick" if args.quick else "full")
    for line in env_warnings():
        print(line)
    rows = bench_sgd_dropin(Context(PRESETS[preset]))
    machine = machine_info()
    print(f"{machine['cpu_model']}, {machine['cpu_count']} CPUs; preset {preset}; BLAS {blas_text(machine)}")
    header = ("X", "task", "sklearn samples/s", "fastgd samples/s", "fastgd / sklearn", "target", "loss")
    header += ("sklearn loss", "fastgd loss", "relative difference")
    print("\n| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for row in rows:
        f = row.figures
        if "skipped" in f:
            print(f"| | {row.work} | | | | {row.target} | | | | {row.note} |")
            continue
        rate, loss, shape = f["samples_per_s"], f["loss"], f"n={f['n']} d={f['d']}"
        print(
            f"| {f['X']} {shape} | {f['task']} | {rate['sklearn'] / 1e6:.3g} M | {rate['fastgd'] / 1e6:.3g} M | "
            f"{row.ratio:.2f} | {row.target.split(',')[0]} | {'MSE' if f['task'] == 'regression' else 'hinge'} | "
            f"{loss['sklearn']:.6g} | {loss['fastgd']:.6g} | {f['loss_relative_gap']:+.1e} |"
        )
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"preset": preset, "machine": machine, "rows": [asdict(r) for r in rows]}, out, indent=1)


if __name__ == "__main__":
    main()
