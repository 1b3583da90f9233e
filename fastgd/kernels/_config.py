"""Compilation settings shared by every kernel, defined once.

``FASTMATH`` allows reassociation (so LLVM can vectorize reductions) but never the no-NaN /
no-Inf assumptions: ``isfinite`` must keep working, divergence detection depends on it.  Nor
``nsz``: with numba 0.68, ``nsz`` together with ``reassoc`` lets LLVM fold ``np.isfinite(s)``
of a NaN sum to True (measured: a NaN in X went unreported), so "no signed zeros" is as
dangerous here as "no NaNs".

``EXACT`` is for the error-free transformations of ``kernels.compensated`` (TwoSum, TwoProduct): they
recover the rounding error of a sum as ``(a - (s - b')) + (b - b')``, which reassociation folds
to 0, so those kernels are compiled with no fast-math flag at all.

``CHUNK`` is the fixed row-block size of the deterministic parallel reductions: results
depend on it, never on the number of threads.
"""

FASTMATH = {"arcp", "contract", "afn", "reassoc"}

#: FASTMATH without reassociation: a scalar reduction stays in its written order (its sum in a
#: register, never split into vector lanes), so a sum over rows is the same row-order sum as one
#: accumulated through memory, without the store and reload per row
ORDERED = FASTMATH - {"reassoc"}

#: options of every serial kernel
KERNEL = dict(cache=True, nogil=True, fastmath=FASTMATH)
#: options of every small helper inlined into a kernel
INLINE = dict(cache=True, nogil=True, fastmath=FASTMATH, inline="always")
#: options of a helper the loops call on their less travelled paths (optimizers, penalties,
#: softmax): compiled as a function of its own, so the hot loop around the call stays small
#: enough for LLVM to vectorize (measured: inlined, they made plain SGD 2.5x slower)
HELPER = KERNEL
#: options of the parallel twin of a reduction kernel
PARALLEL = dict(KERNEL, parallel=True)
#: ... of the kernels of one ordered sum (``ORDERED``), their helpers and their parallel twins
ORDERED_KERNEL = dict(KERNEL, fastmath=ORDERED)
ORDERED_INLINE = dict(INLINE, fastmath=ORDERED)
ORDERED_PARALLEL = dict(PARALLEL, fastmath=ORDERED)
#: options of the compensated (error-free) kernels: IEEE arithmetic exactly as written
EXACT = dict(cache=True, nogil=True, fastmath=False)
#: ... their inlined helpers, and their parallel twins
EXACT_INLINE = dict(EXACT, inline="always")
EXACT_PARALLEL = dict(EXACT, parallel=True)

#: rows per block of a parallel reduction (fixed, so sums do not depend on the thread count)
CHUNK = 2048
