"""Compensated sums and dot products: the extended-precision residuals of the closed forms.

The closed forms (``fastgd.closed_form``) refine their least-squares solution with residuals
``r = y - Xθ`` and gradients ``Xᵀr`` computed in about twice the working precision, by
error-free transformations: ``two_sum(a, b)`` returns ``s = fl(a + b)`` and the exact error
``a + b - s`` (Knuth's TwoSum), ``two_prod(a, b)`` returns ``p = fl(a b)`` and the exact
``a b - p`` (TwoProduct, by one fused multiply-add), and ``dot2`` is Ogita, Rump and Oishi's
Dot2 ("Accurate sum and dot product", SIAM J. Sci. Comput. 26, 2005): the dot product as if
computed in twice the precision, then rounded.  A pair (hi, lo) of float64 read as the
unevaluated sum ``hi + lo`` is a double-double.

Every kernel here is compiled with ``fastmath=False`` (``_config.EXACT``), never with the
project's ``FASTMATH`` flags: TwoSum recovers the error of ``s = a + b`` as
``(a - (s - b')) + (b - b')`` with ``b' = s - a``, which is 0 in exact arithmetic, so a compiler
allowed to reassociate folds it to 0, and one allowed to contract fuses the multiplies and adds
of the sums into FMAs with other roundings; both silently return plain float64 results.

========================  ================================================================
``two_sum``               (fl(a + b), exact error)
``two_prod``              (fl(a b), exact error), by an FMA
``dot2``                  Σ x_i y_i as if in twice the precision, rounded (Dot2)
``residual_gradient``     the double-double sums [Σ w r, Σ w (x_j - c_j) r, Σ w r²] of the residuals
                          ``r = y - θ0 - Σ x_j θ_j`` (themselves double-double), row blocks of
                          ``CHUNK`` combined in block order
``residual_gradient_parallel``  the same, blocks in parallel: the same bits
``add_sums``              add one block's double-double sums into another's (the Dask backend)
``finish_gradient``       the sums minus a ridge term ``λ_j θ_j``, rounded to float64
========================  ================================================================
"""

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from ._config import CHUNK, EXACT, EXACT_INLINE, EXACT_PARALLEL
from ._rows import given

#: rows per tile of the residuals (transposed into a d x TILE scratch that stays in the L1/L2 cache)
TILE = 64


@intrinsic
def _fma(typingctx, a, b, c):
    """``a * b + c`` with one rounding (LLVM's ``llvm.fma.f64``: the FMA instruction where the
    CPU has one, else libm's exact ``fma``)."""
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):
        return builder.fma(*args)

    return sig, codegen


@intrinsic
def _transpose4(typingctx, X, r, c, Zt, i):
    """``Zt[c:c + 4, i:i + 4] = X[r:r + 4, c:c + 4].T`` (as float64), by four vector loads,
    eight shuffles and four vector stores: the loop vectorizer would scatter the stores
    (``vscatterqpd``, slow), one element each.  No bounds checks: the caller's indices are in range."""
    sig = types.void(X, r, c, Zt, i)

    def codegen(context, builder, signature, args):
        xty, _, _, zty, _ = signature.args
        xv, rv, cv, zv, iv = args
        xa = context.make_array(xty)(context, builder, xv)
        za = context.make_array(zty)(context, builder, zv)
        src = context.get_value_type(xty.dtype)
        f64 = ir.DoubleType()

        def item(ary, ty, inds):  # the address of ary[inds]
            shape, strides = cgutils.unpack_tuple(builder, ary.shape), cgutils.unpack_tuple(builder, ary.strides)
            return cgutils.get_item_pointer2(
                context, builder, data=ary.data, shape=shape, strides=strides, layout=ty.layout, inds=inds
            )

        rows = []
        for k in range(4):
            ptr = item(xa, xty, [builder.add(rv, ir.Constant(rv.type, k)), cv])
            vec = builder.load(builder.bitcast(ptr, ir.VectorType(src, 4).as_pointer()), align=1)
            if src != f64:
                vec = builder.fpext(vec, ir.VectorType(f64, 4))
            rows.append(vec)

        def shuf(a, b, mask):
            return builder.shuffle_vector(a, b, ir.Constant(ir.VectorType(ir.IntType(32), 4), mask))

        a, b, cc, dd = rows
        t0, t1 = shuf(a, b, [0, 4, 1, 5]), shuf(a, b, [2, 6, 3, 7])
        t2, t3 = shuf(cc, dd, [0, 4, 1, 5]), shuf(cc, dd, [2, 6, 3, 7])
        cols = [
            shuf(t0, t2, [0, 1, 4, 5]),
            shuf(t0, t2, [2, 3, 6, 7]),
            shuf(t1, t3, [0, 1, 4, 5]),
            shuf(t1, t3, [2, 3, 6, 7]),
        ]
        for k in range(4):
            ptr = item(za, zty, [builder.add(cv, ir.Constant(cv.type, k)), iv])
            builder.store(cols[k], builder.bitcast(ptr, ir.VectorType(f64, 4).as_pointer()), align=8)
        return context.get_dummy_value()

    return sig, codegen


@njit(**EXACT_INLINE)
def two_sum(a, b):
    """(s, e) with s = fl(a + b) and s + e = a + b exactly (Knuth)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


@njit(**EXACT_INLINE)
def two_prod(a, b):
    """(p, e) with p = fl(a b) and p + e = a b exactly (barring underflow)."""
    p = a * b
    return p, _fma(a, b, -p)


@njit(**EXACT)
def dot2(x, y):
    """Σ x_i y_i as if computed in twice the working precision and rounded once (Dot2)."""
    p = 0.0
    s = 0.0
    for i in range(x.shape[0]):
        h, r = two_prod(np.float64(x[i]), np.float64(y[i]))
        p, q = two_sum(p, h)
        s += q + r
    return p + s


@njit(**EXACT_INLINE)
def _residuals(X, y, start, rows, theta, theta_lo, Zt, p, s, s_lo):
    """The residuals ``y_i - θ0 - Σ x_ij θ_j`` of rows ``start ... start + rows`` (a tile) as
    unevaluated sums ``p + s + s_lo``, θ = theta + theta_lo (theta_lo None: θ = theta).

    Per row, p is the running float64 sum of the products' high parts and s (+ s_lo) the sum of
    the exact errors of the products and of p's additions, itself compensated, so the error is
    about eps³ Σ|x_j θ_j| (Dot2 alone leaves eps²); the low parts of θ (the accurate path keeps
    its iterate in double-double) enter the error sum the same way.  The tile is transposed
    into ``Zt`` (d, TILE) first, so that the loops run across the rows of the tile, which are
    independent: LLVM vectorizes them (8 rows per zmm, behind runtime alias checks of p, s,
    s_lo and Zt) without reordering any row's sum.  The transpose goes by 4 x 4 blocks of
    vector loads and shuffles (``_transpose4``); written as a loop, it vectorized into
    ``vscatterqpd`` stores, measured at ~28% of the pass (n=1e6, d=20)."""
    d = X.shape[1]
    i = 0
    while i + 4 <= rows:
        j = 0
        while j + 4 <= d:
            _transpose4(X, start + i, j, Zt, i)
            j += 4
        for jj in range(j, d):
            for k in range(4):
                Zt[jj, i + k] = np.float64(X[start + i + k, jj])
        i += 4
    for k in range(i, rows):
        x = X[start + k]
        for j in range(d):
            Zt[j, k] = np.float64(x[j])
    t0 = theta[0]
    for i in range(rows):
        a, b = two_sum(np.float64(y[start + i]), -t0)
        p[i] = a
        s[i] = b
        s_lo[i] = 0.0
    if theta_lo is not None:  # resolved at compile time
        t_lo = theta_lo[0]
        for i in range(rows):
            b, q = two_sum(s[i], -t_lo)
            s[i] = b
            s_lo[i] = q
    for j in range(d):
        zj = Zt[j]
        tj = theta[j + 1]
        for i in range(rows):
            h, e = two_prod(zj[i], tj)
            a, q = two_sum(p[i], -h)
            t, t_err = two_sum(q, -e)
            b, q2 = two_sum(s[i], t)
            p[i] = a
            s[i] = b
            s_lo[i] += q2 + t_err
        if theta_lo is not None:
            tl = theta_lo[j + 1]
            for i in range(rows):
                h, e = two_prod(zj[i], tl)
                b, q2 = two_sum(s[i], -h)
                s[i] = b
                s_lo[i] += q2 - e


@njit(**EXACT_INLINE)
def _block(X, y, weights, center, theta, theta_lo, c, acc):
    """acc = [hi; lo] (2, d + 2), the double-double sums over rows ``c*CHUNK ...`` of
    ``w r``, ``w (x_j - center_j) r`` (``x_j`` without ``center``) and ``w r²``."""
    n, d = X.shape
    hi = np.zeros(d + 2)  # fresh arrays: LLVM knows they alias neither X nor theta
    lo = np.zeros(d + 2)
    Zt = np.empty((d, TILE))
    p, s, s_lo = np.empty(TILE), np.empty(TILE), np.empty(TILE)
    stop = min((c + 1) * CHUNK, n)
    weighted = given(weights)
    for start in range(c * CHUNK, stop, TILE):
        rows = min(TILE, stop - start)
        _residuals(X, y, start, rows, theta, theta_lo, Zt, p, s, s_lo)
        for i in range(rows):
            r, r_lo = two_sum(p[i], s[i])
            r, r_lo = two_sum(r, r_lo + s_lo[i])
            u, u_lo = r, r_lo  # the residual itself; r becomes w r
            if weighted:
                w = np.float64(weights[start + i])
                r_lo = w * r_lo
                r, e = two_prod(w, r)
                r_lo += e
            h, e = two_prod(r, u)  # w r²
            total, q = two_sum(hi[d + 1], h)
            hi[d + 1] = total
            lo[d + 1] += q + e + (r * u_lo + r_lo * u)
            total, q = two_sum(hi[0], r)
            hi[0] = total
            lo[0] += q + r_lo
            x = X[start + i]
            for j in range(d):
                if center is None:  # resolved at compile time
                    z, z_lo = np.float64(x[j]), 0.0
                else:
                    z, z_lo = two_sum(np.float64(x[j]), -center[j])  # exact: x - c = z + z_lo
                h, e = two_prod(z, r)
                total, q = two_sum(hi[j + 1], h)
                hi[j + 1] = total
                lo[j + 1] += q + e + (z * r_lo + z_lo * r)
    for k in range(d + 2):
        acc[0, k] = hi[k]
        acc[1, k] = lo[k]


@njit(**EXACT_INLINE)
def _combine(work, out):
    """out = the double-double sum of the blocks' sums, in block order."""
    out[:] = 0.0
    for c in range(work.shape[0]):
        add_sums(out, work[c])


@njit(**EXACT)
def residual_gradient(X, y, weights, center, theta, theta_lo, work, out):
    """The residuals of θ and their gradient sums, in double-double.

    X: (n, d) float32/float64, C-contiguous; y: (n,) of X's dtype; weights: (n,) float64 or
    None; center: (d,) float64 or None; theta: (d + 1,) float64 ``[θ0, *coef]``; theta_lo:
    (d + 1,) float64, the low parts of θ (θ = theta + theta_lo, a double-double), or None;
    work: (n_chunks(n), 2, d + 2) float64 scratch; out: (2, d + 2) float64, written with
    ``out[0] + out[1] = [Σ w r, Σ w (x_j - center_j) r, Σ w r²]``, ``r = y - θ0 - Σ x_j θ_j``.

    Each residual is a compensated dot product of the row with θ (Dot2 with its own error sum
    compensated: error about eps³ Σ|x_j θ_j|, not eps times it); each product with it and each
    sum is error-free up to the low parts, so the sums carry about 32 significant digits of
    the exact ones.  ``x_j - center_j`` is split exactly (TwoSum): a large center costs nothing.
    """
    for c in range(work.shape[0]):
        _block(X, y, weights, center, theta, theta_lo, c, work[c])
    _combine(work, out)


@njit(**EXACT_PARALLEL)
def residual_gradient_parallel(X, y, weights, center, theta, theta_lo, work, out):
    """``residual_gradient`` with the blocks summed in parallel: the same arguments, the same bits."""
    for c in prange(work.shape[0]):
        _block(X, y, weights, center, theta, theta_lo, c, work[c])
    _combine(work, out)


@njit(**EXACT)
def add_sums(total, part):
    """total += part, both (2, m) double-double sums [hi; lo]."""
    for k in range(total.shape[1]):
        s, q = two_sum(total[0, k], part[0, k])
        total[0, k] = s
        total[1, k] += q + part[1, k]


@njit(**EXACT)
def finish_gradient(sums, ridge, theta, theta_lo, grad):
    """grad = sums[0] + sums[1] - [0, ridge * θ[1:]] (the first d + 1 sums), rounded to float64
    once per entry; returns the last sum (Σ w r²) rounded.

    sums: (2, d + 2) double-double, ``residual_gradient``'s; ridge: (d,) float64 (λ_j of the
    term ``λ_j θ_j²``) or None; theta, theta_lo: as ``residual_gradient``'s; grad: (d + 1,)
    float64, written."""
    grad[0] = sums[0, 0] + sums[1, 0]
    for j in range(theta.shape[0] - 1):
        hi, lo = sums[0, j + 1], sums[1, j + 1]
        if ridge is not None:  # resolved at compile time
            h, e = two_prod(ridge[j], theta[j + 1])
            hi, q = two_sum(hi, -h)
            lo += q - e
            if theta_lo is not None:
                lo -= ridge[j] * theta_lo[j + 1]
        grad[j + 1] = hi + lo
    return sums[0, -1] + sums[1, -1]


__all__ = [
    "add_sums",
    "dot2",
    "finish_gradient",
    "residual_gradient",
    "residual_gradient_parallel",
    "two_prod",
    "two_sum",
]
