"""Batched small matrix products over the model axis: the fast path of Dense.

NumPy's stacked ``matmul`` ``(M, B, n) @ (M, n, k)`` makes one BLAS call per model. These kernels
run the whole stack in one compiled call, one model per parallel iteration (``prange``), with plain
loops over the small matrices: :func:`bgemm` (``A @ X (+ bias)``, A shared or per model, either
operand a transposed view read in place) and :func:`sum_rows` (the bias gradient).

Where that pays, measured (1 thread, CPU time, float32; ``tests/fast/test_gemm.py``'s docstring
and ``glassnet.layers.dense.FAST_MAX_WORK``): only for *tiny* per-model products, a few hundred
multiply-adds (the 8-3-8 autoencoder at batch 8: 1.2-2.5x forward, 1.0-1.7x backward). OpenBLAS'
per-model call costs ~0.3 us, not the several us one might expect, and these loops, compiled
without ``fastmath`` (no FMA contraction, no reassociation: the equality tests hold them to the
reference's rounding), reach ~2 GMAC/s scalar against OpenBLAS' ~16 with AVX2 FMA. So Dense calls
them below a small threshold, and the recurrent layers not at all (their per-step
``(16, 64, 16) @ (16, 16, 32)`` ran at 0.11-0.13x of NumPy).

The readable NumPy lines in :mod:`glassnet.layers.dense` are the reference; every kernel here
computes the same sums (each output a sum over the inner axis in order, from 0, then + bias), so
float64 results agree to about 1e-15 relative and float32 ones within rounding. Four output
columns are accumulated at a time in scalars (registers), which removed the store-to-load chain
through the output that made a plain triple loop ~2x slower at k = 3.

Each kernel exists twice, compiled from the same Python function: ``parallel=True`` (threads over
models) and serial; :func:`pick` runs the serial one when the work is too small to pay for waking
the thread pool (``PARALLEL_MIN_WORK``; not measured on a quiet machine: the machine was shared
by 8 people at load 9-13 on 2 cores, where wall times were not usable).

Callers fall back to NumPy on any exception (``glassnet.fast.mark_broken("gemm", exc)``).
"""

from __future__ import annotations

import numpy as np

from . import bind_prange, jit

prange = range  # Numba's prange before the first compile (glassnet.fast.bind_prange)

#: multiply-adds per call below which the serial kernel runs (the thread pool costs ~10-20 us to wake)
PARALLEL_MIN_WORK = 200_000




# -- the kernels (plain Python loops; Numba compiles them) ----------------------------------------
def _bgemm(A, X, bias, use_bias, zero, out):
    """out[m] = A[m or 0] @ X[m] (+ bias[m]): A ``(L, R, S)`` with L = M or 1 (shared), X
    ``(M, S, C)``, bias ``(M, C)``, out ``(M, R, C)``; A and X may be strided views (transposes).

    ``zero`` is 0 in out's dtype: float32 products accumulate in float32, as BLAS does (a float64
    literal would promote them, ~2x slower). Four output columns at a time in scalar accumulators (registers: no store-to-load chain through
    ``out``), each a sum over s in order from 0, then + bias -- the reference's ``x @ W + b``.
    """
    M, R, C = out.shape
    S = X.shape[1]
    shared = A.shape[0] == 1
    for m in prange(M):
        Am = A[0] if shared else A[m]
        Xm = X[m]
        om = out[m]
        for r in range(R):
            Ar = Am[r]
            c = 0
            while c + 4 <= C:
                a0 = a1 = a2 = a3 = zero
                for s in range(S):
                    v = Ar[s]
                    Xs = Xm[s]
                    a0 += v * Xs[c]
                    a1 += v * Xs[c + 1]
                    a2 += v * Xs[c + 2]
                    a3 += v * Xs[c + 3]
                if use_bias:
                    a0 += bias[m, c]
                    a1 += bias[m, c + 1]
                    a2 += bias[m, c + 2]
                    a3 += bias[m, c + 3]
                om[r, c] = a0
                om[r, c + 1] = a1
                om[r, c + 2] = a2
                om[r, c + 3] = a3
                c += 4
            while c < C:
                a0 = zero
                for s in range(S):
                    a0 += Ar[s] * Xm[s, c]
                if use_bias:
                    a0 += bias[m, c]
                om[r, c] = a0
                c += 1


def _sum_rows(D, out):
    """out[m, c] = sum_r D[m, r, c] (the bias gradient: a sum over the batch, in batch order)."""
    M, R, C = D.shape
    for m in prange(M):
        for c in range(C):
            out[m, c] = 0.0
        for r in range(R):
            for c in range(C):
                out[m, c] += D[m, r, c]


_KERNELS = {}
for _fn in (_bgemm, _sum_rows):
    _KERNELS[_fn.__name__] = (jit()(_fn), jit(parallel=True)(_fn))
del _fn


def pick(name: str, work: int):
    """The serial or the parallel build of kernel ``name`` for ``work`` multiply-adds."""
    bind_prange(globals())
    serial, parallel = _KERNELS[name]
    return parallel if work >= PARALLEL_MIN_WORK else serial


# -- what the layers call --------------------------------------------------------------------------
def bgemm(A, X, bias=None):
    """``A @ X (+ bias[:, None, :])`` over the model axis: A ``(M, R, S)`` or shared ``(R, S)``,
    X ``(M, S, C)``, bias ``(M, C)`` or None; returns ``(M, R, C)`` in X's dtype. Transposed views
    are read in place (no copy)."""
    if A.ndim == 2:
        A = A[None]
    M, S, C = X.shape
    R = A.shape[1]
    out = np.empty((M, R, C), X.dtype)
    use_bias = bias is not None
    pick("_bgemm", M * R * S * C)(A, X, bias if use_bias else X[:, 0], use_bias, X.dtype.type(0), out)
    return out


def sum_rows(D):
    """``D.sum(axis=1)`` for ``(M, R, C)``: ``(M, C)``."""
    M, R, C = D.shape
    out = np.empty((M, C), D.dtype)
    pick("_sum_rows", M * R * C)(D, out)
    return out


def dense_forward(x, W, b=None):
    """``x @ W + b`` over the model axis: x ``(M, B, n)`` or shared ``(B, n)``, W ``(M, n, k)``,
    b ``(M, k)`` or None; returns z ``(M, B, k)``."""
    return bgemm(x, W, b)


def dense_backward(x, W, dz, use_bias: bool, need_dx: bool):
    """``(dW, db, dx)`` of ``z = x @ W + b`` from dz ``(M, B, k)``: dW = x^T dz ``(M, n, k)``,
    db = sum over the batch ``(M, k)`` (None without bias), dx = dz W^T ``(M, B, n)`` (None unless
    ``need_dx``); x ``(M, B, n)`` or shared ``(B, n)``."""
    dW = bgemm(x.swapaxes(-1, -2), dz)
    db = sum_rows(dz) if use_bias else None
    dx = bgemm(dz, W.swapaxes(-1, -2)) if need_dx else None
    return dW, db, dx
