"""Batched small matrix products over the model axis: the fast path of Dense and the recurrent layers.

NumPy's stacked ``matmul`` ``(M, B, n) @ (M, n, k)`` makes one BLAS call per model; with many
models and small matrices (1,000 8-3-8 autoencoders, 16 LSTMs of 16 units) that per-call cost is
most of the work. These kernels run the whole stack in one compiled call, one model per parallel
iteration (``prange``), with plain loops over the small matrices.

The readable NumPy lines in :mod:`glassnet.layers.dense` and :mod:`glassnet.layers.recurrent` are
the reference; every kernel here computes the same sums (in a different order, so float64 results
agree to about 1e-15 relative and float32 ones within rounding; ``tests/fast/test_gemm.py``).
Loops are written so the innermost one runs over contiguous, independent elements (an "axpy",
``out[i, :] += a * B[p, :]``), which LLVM vectorizes without ``fastmath``; dot products appear
only over the short ``k`` axis of ``dx``.

Each kernel exists twice, compiled from the same Python function: ``parallel=True`` (threads over
models) and serial; :func:`pick` chooses the serial one when the work is too small to pay for
waking the thread pool.

Callers use :func:`dense_forward`, :func:`dense_backward`, :func:`bmm` and :func:`bmm_tn`; the
layers decide by shape (the thresholds live beside each call, with the measurements behind them)
and fall back to NumPy on any exception (``glassnet.fast.mark_broken("gemm", exc)``).
"""

from __future__ import annotations

import numpy as np

from . import jit, numba

prange = range  # replaced by numba.prange before the first compile (see _ready)
_is_ready = False

#: multiply-adds per call below which the serial kernel runs (the thread pool costs ~10-20 us to wake)
PARALLEL_MIN_WORK = 200_000


def _ready():
    """Make ``prange`` Numba's parallel range before any kernel compiles (Numba imports lazily)."""
    global prange, _is_ready
    if not _is_ready:
        nb = numba()
        if nb is None:
            raise RuntimeError("numba is not available")
        prange = nb.prange
        _is_ready = True


# -- the kernels (plain Python loops; Numba compiles them) ----------------------------------------
def _dense_forward(x, W, b, use_bias, z):
    """z[m] = x[m or 0] @ W[m] (+ b[m]); x ``(L, B, n)`` with L = M or 1 (shared), z ``(M, B, k)``."""
    M, n, k = W.shape
    B = x.shape[1]
    shared = x.shape[0] == 1
    for m in prange(M):
        xm = x[0] if shared else x[m]
        Wm = W[m]
        for i in range(B):
            zi = z[m, i]
            for j in range(k):
                zi[j] = 0.0
            for p in range(n):
                v = xm[i, p]
                Wp = Wm[p]
                for j in range(k):
                    zi[j] += v * Wp[j]
            if use_bias:
                for j in range(k):
                    zi[j] += b[m, j]


def _dense_backward(x, W, dz, use_bias, need_dx, dW, db, dx):
    """One pass per model over the batch: dW[m] = x^T dz, db[m] = sum_b dz, dx[m] = dz W^T."""
    M, n, k = W.shape
    B = dz.shape[1]
    shared = x.shape[0] == 1
    for m in prange(M):
        xm = x[0] if shared else x[m]
        Wm = W[m]
        dWm = dW[m]
        for p in range(n):
            for j in range(k):
                dWm[p, j] = 0.0
        if use_bias:
            for j in range(k):
                db[m, j] = 0.0
        for i in range(B):
            dzi = dz[m, i]
            for p in range(n):
                v = xm[i, p]
                dWp = dWm[p]
                for j in range(k):
                    dWp[j] += v * dzi[j]
            if use_bias:
                for j in range(k):
                    db[m, j] += dzi[j]
            if need_dx:
                for p in range(n):
                    Wp = Wm[p]
                    acc = 0.0 * Wp[0]  # in W's dtype
                    for j in range(k):
                        acc += dzi[j] * Wp[j]
                    dx[m, i, p] = acc


def _bmm(A, X, out):
    """out[m] = A[m] @ X[m]: A ``(M, p, q)``, X ``(M, q, r)``, out ``(M, p, r)``."""
    M, P, Q = A.shape
    R = X.shape[2]
    for m in prange(M):
        Am = A[m]
        Xm = X[m]
        om = out[m]
        for i in range(P):
            oi = om[i]
            for j in range(R):
                oi[j] = 0.0
            for q in range(Q):
                v = Am[i, q]
                Xq = Xm[q]
                for j in range(R):
                    oi[j] += v * Xq[j]


def _bmm_tn(A, D, out):
    """out[m] = A[m]^T @ D[m] without moving A: A ``(M, q, p)``, D ``(M, q, r)``, out ``(M, p, r)``."""
    M, Q, P = A.shape
    R = D.shape[2]
    for m in prange(M):
        Am = A[m]
        Dm = D[m]
        om = out[m]
        for i in range(P):
            for j in range(R):
                om[i, j] = 0.0
        for q in range(Q):
            Dq = Dm[q]
            for i in range(P):
                v = Am[q, i]
                oi = om[i]
                for j in range(R):
                    oi[j] += v * Dq[j]


_KERNELS = {}
for _fn in (_dense_forward, _dense_backward, _bmm, _bmm_tn):
    _KERNELS[_fn.__name__] = (jit()(_fn), jit(parallel=True)(_fn))
del _fn


def pick(name: str, work: int):
    """The serial or the parallel build of kernel ``name`` for ``work`` multiply-adds."""
    _ready()
    serial, parallel = _KERNELS[name]
    return parallel if work >= PARALLEL_MIN_WORK else serial


# -- what the layers call --------------------------------------------------------------------------
def dense_forward(x, W, b=None):
    """``x @ W + b`` over the model axis: x ``(M, B, n)`` or shared ``(B, n)``, W ``(M, n, k)``,
    b ``(M, k)`` or None; returns z ``(M, B, k)`` in W's dtype."""
    if x.ndim == 2:
        x = x[None]
    M, n, k = W.shape
    B = x.shape[1]
    z = np.empty((M, B, k), W.dtype)
    use_bias = b is not None
    pick("_dense_forward", M * B * n * k)(x, W, b if use_bias else W[:, 0], use_bias, z)
    return z


def dense_backward(x, W, dz, use_bias: bool, need_dx: bool):
    """``(dW, db, dx)`` of ``z = x @ W + b`` from dz ``(M, B, k)``: dW = x^T dz ``(M, n, k)``,
    db = sum over the batch ``(M, k)`` (None without bias), dx = dz W^T ``(M, B, n)`` (None unless
    ``need_dx``); x ``(M, B, n)`` or shared ``(B, n)``."""
    if x.ndim == 2:
        x = x[None]
    M, n, k = W.shape
    B = dz.shape[1]
    dtype = dz.dtype
    dW = np.empty((M, n, k), dtype)
    db = np.empty((M, k), dtype) if use_bias else dW[:, 0]
    dx = np.empty((M, B, n) if need_dx else (M, 1, n), dtype)
    work = M * B * n * k * (2 if need_dx else 1)
    pick("_dense_backward", work)(x, W, dz, use_bias, need_dx, dW, db, dx)
    return dW, (db if use_bias else None), (dx if need_dx else None)


def bmm(A, X):
    """``A @ X`` over the model axis: ``(M, p, q) @ (M, q, r) -> (M, p, r)`` in A's dtype."""
    M, P, Q = A.shape
    out = np.empty((M, P, X.shape[2]), A.dtype)
    pick("_bmm", M * P * Q * X.shape[2])(A, X, out)
    return out


def bmm_tn(A, D):
    """``A^T @ D`` over the model axis: ``(M, q, p)^T @ (M, q, r) -> (M, p, r)`` in A's dtype."""
    M, Q, P = A.shape
    out = np.empty((M, P, D.shape[2]), A.dtype)
    pick("_bmm_tn", M * P * Q * D.shape[2])(A, D, out)
    return out
