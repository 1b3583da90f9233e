"""A per-sample SGD step on CSR data costs O(nnz of the row), not O(d).

Times one ``kernels.csr_sgd_epoch`` over n rows holding ``NNZ`` stored values each, for d =
1,000 and d = 100,000 (the same nnz per row, so the same work for an O(nnz) step), and the
ratio of the two: ~1 for the O(nnz) steps (plain, L2 by scaled weights, any loss), ~d ratio
for the O(d) ones (L1's prox), shown for contrast on fewer rows.  Median of ``REPEAT`` runs,
both sizes in one run (shared, noisy machines: read the ratios).

    NUMBA_CACHE_DIR=/tmp/nbc python bench/sparse_sgd.py
"""

import time

import numpy as np
import scipy.sparse as sp

from fastgd import kernels as K

N, NNZ, REPEAT = 200_000, 10, 5
SIZES = (1_000, 100_000)


def csr(n, d, seed=0):
    rng = np.random.default_rng(seed)
    indices = np.concatenate([rng.choice(d, NNZ, replace=False) for _ in range(n)]).astype(np.int32)
    data = rng.standard_normal(n * NNZ)
    X = sp.csr_matrix((data, indices, np.arange(0, n * NNZ + 1, NNZ, dtype=np.int32)), shape=(n, d))
    y = X @ rng.standard_normal(d) + 0.1 * rng.standard_normal(n)
    return X, y


def epoch_time(X, y, loss, l2, l1):
    n, d = X.shape
    model = (True, int(loss), 0.0, l2, l1)
    opt = (K.codes.SGD, np.zeros(1), -1)
    plain = loss == K.Loss.SQUARED and l2 == 0 and l1 == 0
    order = np.random.default_rng(1).permutation(n).astype(np.int32)
    times = []
    for _ in range(REPEAT + 1):  # the first call compiles (or loads the cache)
        theta = np.zeros(d + 1)
        state = None if plain else np.zeros((2, 1, d + 1))
        start = time.perf_counter()
        data, schedule = ((X.data, X.indices, X.indptr), y, None), (K.codes.CONSTANT, np.array([1e-3]), 0)
        status = K.csr_sgd_epoch(data, (None, None), model, (opt, state, None), schedule, theta, order, None)
        times.append(time.perf_counter() - start)
        assert status == K.codes.OK
    return float(np.median(times[1:]))


def main():
    cases = [
        ("squared, plain (fast path)", K.Loss.SQUARED, 0.0, 0.0, N),
        ("squared, L2 (scaled weights)", K.Loss.SQUARED, 1e-3, 0.0, N),
        ("log, L2 (scaled weights)", K.Loss.LOG, 1e-3, 0.0, N),
        ("squared, L1 (prox: O(d))", K.Loss.SQUARED, 0.0, 1e-4, N // 100),
    ]
    print(f"one SGD epoch, {NNZ} stored values per row, median of {REPEAT}")
    print(f"{'step':32s} {'rows':>8s} " + " ".join(f"{'d=' + format(d, ','):>12s}" for d in SIZES) + "   ratio")
    for name, loss, l2, l1, n in cases:
        secs = []
        for d in SIZES:
            X, y = csr(n, d)
            secs.append(epoch_time(X, y, loss, l2, l1))
        per = [s / n * 1e9 for s in secs]
        cells = " ".join(f"{p:9.0f} ns" for p in per)
        print(f"{name:32s} {n:8d} {cells}   {secs[1] / secs[0]:5.2f}x")


if __name__ == "__main__":
    main()
