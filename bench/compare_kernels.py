"""Old against new epoch kernels, interleaved in one process (so the machine's drift hits both alike):
the gradient pass (serial, parallel; the log loss with and without the gradient), SGD and mini-batch
epochs at n=1M d=32 float32 (the fast loop, standardized, the general loop), SGD and mini-batch
epochs on a CSR matrix (the fast loop, L2 by scaled weights), and the Gram loop (20 000 steps,
d=50). The old kernels come from a checkout of commit 3709867 (before the grouped arguments), copied
under another package name.

    git worktree add --detach /tmp/oldmain 3709867
    PYTHONPATH=. python bench/compare_kernels.py /tmp/oldmain   # "new": this checkout's fastgd
"""

import shutil
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
import scipy.sparse as sp

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


def dense_cases(old_k, rng):
    n, d = 1_000_000, 32
    X = rng.standard_normal((n, d)).astype(np.float32)
    y = (X @ rng.standard_normal(d)).astype(np.float32)
    yb = np.where(y > 0, 1.0, -1.0).astype(np.float32)
    order = rng.permutation(n).astype(np.int32)
    center, scale_inv = np.full(d, 0.1), np.full(d, 0.9)
    plain, opt = (True, 0, 0.0, 0.0, 0.0), (0, np.zeros(1), -1)
    log_l2 = (True, int(N.Loss.LOG), 0.0, 1e-4, 0.0)
    log = (True, int(N.Loss.LOG), 0.0, 0.0, 0.0)
    theta, grad, work = np.zeros((1, d + 1)), np.zeros((1, d + 1)), np.zeros(N.work_shape(n, d + 1))
    state = np.zeros((2, 1, d + 1))
    rate, batch_rate = (0, np.array([1e-5]), 0), (0, np.array([1e-3]), 0)
    sched = rate[:2]

    def sgd(view, model, st, y=y):
        new = partial(N.sgd_epoch, (X, y, None), view, model, (opt, st, None), rate, theta, order, None)
        old = partial(old_k.sgd_epoch, X, y, None, theta, order, *view, model, opt, st, None, *sched, 0, None)
        return new, old

    def minibatch(view, model, st):
        args = ((X, y, None), view, model, (opt, st, None), batch_rate, theta, (order, 64), None)
        old_args = (X, y, None, theta, order, 64, *view, model, opt, st, None, *batch_rate[:2], 0, grad, None)
        return partial(N.minibatch_epoch, *args), partial(old_k.minibatch_epoch, *old_args)

    return {
        "gradient pass, serial": (
            lambda: N.loss_grad(X, y, None, theta, None, None, plain, grad, work),
            lambda: old_k.loss_grad(X, y, None, theta, None, None, plain, grad, work),
        ),
        "gradient pass, parallel": (
            lambda: N.loss_grad_parallel(X, y, None, theta, None, None, plain, grad, work),
            lambda: old_k.loss_grad_parallel(X, y, None, theta, None, None, plain, grad, work),
        ),
        "loss pass, log loss": (
            lambda: N.loss_grad(X, yb, None, theta, None, None, log, None, work),
            lambda: old_k.loss_grad(X, yb, None, theta, None, None, log, None, work),
        ),
        "gradient pass, log loss": (
            lambda: N.loss_grad(X, yb, None, theta, None, None, log, grad, work),
            lambda: old_k.loss_grad(X, yb, None, theta, None, None, log, grad, work),
        ),
        "SGD epoch": sgd((None, None), plain, None),
        "SGD epoch, standardized": sgd((center, scale_inv), plain, None),
        "SGD epoch, log loss + L2": sgd((None, None), log_l2, state, yb),
        "mini-batch epoch (b=64)": minibatch((None, None), plain, None),
        "mini-batch epoch, standardized": minibatch((center, scale_inv), plain, None),
    }


def csr_cases(old_k, rng):
    n, d, nnz = 500_000, 10_000, 10
    indices = rng.integers(0, d, n * nnz).astype(np.int32)  # repeats within a row are rare: fine for timing
    data = rng.standard_normal(n * nnz)
    X = sp.csr_matrix((data, indices, np.arange(0, n * nnz + 1, nnz, dtype=np.int32)), shape=(n, d))
    X.sum_duplicates()
    y = X @ rng.standard_normal(d)
    order = rng.permutation(n).astype(np.int32)
    opt = (0, np.zeros(1), -1)
    theta, grad = np.zeros((1, d + 1)), np.zeros((1, d + 1))
    csr = (X.data, X.indices, X.indptr)

    def sgd(model, state):
        rate = (0, np.array([1e-3]), 0)
        args = ((csr, y, None), (None, None), model, (opt, state, None), rate, theta, order, None)
        old_args = (*csr, y, None, theta, order, None, model, opt, state, None, *rate, None)
        return partial(N.csr_sgd_epoch, *args), partial(old_k.csr_sgd_epoch, *old_args)

    def minibatch(model, state):
        rate = (0, np.array([1e-2]), 0)
        args = ((csr, y, None), (None, None), model, (opt, state, None), rate, theta, (order, 64), None)
        old_args = (*csr, y, None, theta, order, 64, None, model, opt, state, None, *rate, grad, None)
        return partial(N.csr_minibatch_epoch, *args), partial(old_k.csr_minibatch_epoch, *old_args)

    plain, l2 = (True, 0, 0.0, 0.0, 0.0), (True, 0, 0.0, 1e-4, 0.0)
    state = np.zeros((2, 1, d + 1))
    return {
        "CSR SGD epoch": sgd(plain, None),
        "CSR SGD epoch, L2 (scaled weights)": sgd(l2, state),
        "CSR mini-batch epoch (b=64)": minibatch(plain, None),
        "CSR mini-batch epoch, L2": minibatch(l2, state),
    }


def gram_case(old_k, rng):
    k = 50
    A = rng.standard_normal((k, k))
    M, h, delta, etas = A @ A.T / k + np.eye(k), rng.standard_normal(k), np.zeros(k), np.full(20_000, 0.05)
    model, opt = (True, 0, 0.0, 0.0, 0.0), (0, np.zeros(1), -1)

    def run(kernels):
        theta, grad = np.zeros((1, k + 1)), np.zeros((1, k + 1))
        kernels.gram_loss_grad(M, h, delta, 0.0, 1.0, True, theta[0], grad[0])
        kernels.gram_descent(
            M, h, delta, 0.0, 1.0, model, opt, None, theta, etas, 0, -1.0, 1e300, grad, np.empty(20_000), None
        )

    return {"Gram loop, 20 000 steps, d=50": (lambda: run(N), lambda: run(old_k))}


def main():
    old_k = load_old(sys.argv[1])
    print(f"new: {N.__file__}\nold: {old_k.__file__}")
    rng = np.random.default_rng(0)
    for make in (dense_cases, csr_cases, gram_case):
        for name, (new, old) in make(old_k, rng).items():
            t_new, t_old = best_of(new, old)
            print(f"{name:<36} new {t_new * 1e3:8.1f} ms   old {t_old * 1e3:8.1f} ms   new/old {t_new / t_old:.3f}")


if __name__ == "__main__":
    main()
