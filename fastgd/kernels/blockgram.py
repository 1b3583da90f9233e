"""The centered Gram matrix of one row block: the per-block work of the Dask backend's single
pass for the normal equation and the Gram path of batch GD (``fastgd.distributed``).

Rows are read in tiles of ``_TILE``: each tile is shifted (by the block's column means, so the
sums lose no digits to a large mean), up-cast to float64 and transposed into a small scratch
array, after which every entry of the upper triangle is one contiguous dot product over the
tile (which LLVM vectorizes).  The result depends only on the block, never on threads.
"""

import numpy as np
from numba import njit

from ._config import KERNEL

#: rows per tile (the transposed tile, d x _TILE float64, stays in the L1/L2 cache for d <= 64)
_TILE = 64


@njit(**KERNEL)
def block_gram(X, y, x_shift, y_shift, A, b):
    """``A += Zᵀ Z`` and ``b += Zᵀ r`` with ``Z = X - x_shift`` and ``r = y - y_shift``, in float64.

    X: (n, d) float32/float64, C-contiguous; y: (n,) of X's dtype; x_shift: (d,) float64;
    y_shift: float; A: (d, d) float64 (both triangles are written); b: (d,) float64.
    Returns ``Σ r²`` (float64).
    """
    n, d = X.shape
    Zt = np.empty((d, _TILE))
    r = np.empty(_TILE)
    syy = 0.0
    for start in range(0, n, _TILE):
        rows = min(_TILE, n - start)
        for i in range(rows):
            x = X[start + i]
            for j in range(d):
                Zt[j, i] = np.float64(x[j]) - x_shift[j]
            r[i] = np.float64(y[start + i]) - y_shift
        for i in range(rows):
            syy += r[i] * r[i]
        for j in range(d):
            zj = Zt[j]
            s = 0.0
            for i in range(rows):
                s += zj[i] * r[i]
            b[j] += s
            for k in range(j, d):
                zk = Zt[k]
                s = 0.0
                for i in range(rows):
                    s += zj[i] * zk[i]
                A[j, k] += s
    for j in range(d):
        for k in range(j):
            A[j, k] = A[k, j]
    return syy
