"""Old against new squared-loss kernels, interleaved in one process (so the machine's drift hits
both alike): the gradient pass (serial, parallel), an SGD and a mini-batch epoch at n=1M d=32
float32, and the Gram loop (20 000 steps, d=50).  The old kernels come from a checkout of commit
7b9f5e7 (before the models), copied under another package name.

    git worktree add /tmp/oldgd 7b9f5e7
    python bench/compare_kernels.py /tmp/oldgd
"""

import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from fastgd import kernels as N


def load_old(checkout):
    folder = Path(tempfile.mkdtemp())
    shutil.copytree(Path(checkout) / "fastgd", folder / "fastgd_old")  # relative imports only
    sys.path.insert(0, str(folder))
    from fastgd_old import kernels

    return kernels


def best_of(new, old, repeats=7):
    new(), old()
    tn, to = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        new()
        tn.append(time.perf_counter() - t)
        t = time.perf_counter()
        old()
        to.append(time.perf_counter() - t)
    return min(tn), min(to)


def main():
    old_k = load_old(sys.argv[1])
    rng = np.random.default_rng(0)
    n, d = 1_000_000, 32
    X = rng.standard_normal((n, d)).astype(np.float32)
    y = (X @ rng.standard_normal(d)).astype(np.float32)
    order = rng.permutation(n).astype(np.int32)
    model, opt = (True, 0, 0.0, 0.0, 0.0), (0, np.zeros(1), -1)
    tn, gn, wn = np.zeros((1, d + 1)), np.zeros((1, d + 1)), np.zeros(N.work_shape(n, d + 1))
    to, go, wo = np.zeros(d + 1), np.zeros(d + 1), np.zeros((old_k.n_chunks(n), d + 2))
    rate, batch_rate = np.array([1e-5]), np.array([1e-3])
    cases = {
        "gradient pass, serial": (
            lambda: N.loss_grad(X, y, None, tn, None, None, model, gn, wn),
            lambda: old_k.loss_grad(X, y, to, None, None, True, 0, go, wo),
        ),
        "gradient pass, parallel": (
            lambda: N.loss_grad_parallel(X, y, None, tn, None, None, model, gn, wn),
            lambda: old_k.loss_grad_parallel(X, y, to, None, None, True, 0, go, wo),
        ),
        "SGD epoch": (
            lambda: N.sgd_epoch(X, y, None, tn, order, None, None, model, opt, None, None, 0, rate, 0, None),
            lambda: old_k.sgd_epoch(X, y, to, order, None, None, True, 0, 0, rate, 0, None),
        ),
        "mini-batch epoch (b=64)": (
            lambda: N.minibatch_epoch(
                X, y, None, tn, order, 64, None, None, model, opt, None, None, 0, batch_rate, 0, gn, None
            ),
            lambda: old_k.minibatch_epoch(X, y, to, order, 64, None, None, True, 0, 0, batch_rate, 0, go, None),
        ),
    }
    k = 50
    A = rng.standard_normal((k, k))
    M, h, delta, etas = A @ A.T / k + np.eye(k), rng.standard_normal(k), np.zeros(k), np.full(20_000, 0.05)

    def gram_new():
        theta, grad = np.zeros((1, k + 1)), np.zeros((1, k + 1))
        N.gram_loss_grad(M, h, delta, 0.0, 1.0, True, theta[0], grad[0])
        N.gram_descent(
            M, h, delta, 0.0, 1.0, model, opt, None, theta, etas, 0, -1.0, 1e300, grad, np.empty(20_000), None
        )

    def gram_old():
        theta, grad = np.zeros(k + 1), np.zeros(k + 1)
        old_k.gram_loss_grad(M, h, delta, 0.0, 1.0, True, theta, grad)
        old_k.gram_descent(M, h, delta, 0.0, 1.0, True, theta, etas, -1.0, 1e300, grad, np.empty(20_000), None)

    cases["Gram loop, 20 000 steps, d=50"] = (gram_new, gram_old)
    for name, (new, old) in cases.items():
        t_new, t_old = best_of(new, old)
        print(f"{name:<32} new {t_new * 1e3:8.1f} ms   old {t_old * 1e3:8.1f} ms   new/old {t_new / t_old:.3f}")


if __name__ == "__main__":
    main()
