"""The LSTM kernels' matrix products, a tile of the result in registers (:mod:`glassnet.fast.lstm`).

Two products, both written with :mod:`glassnet.fast.simd`'s vectors along the batch (the
contiguous axis) rather than left to BLAS: at these sizes a BLAS call costs more in overhead (and,
with 2 threads on a busy machine, in waking its threads) than the arithmetic.

* :func:`matvec_bias`, ``out = W z + bias`` on batch columns b0:b1: the forward's
  ``[W_hh W_ih] [h; x_t] + b`` and (W transposed, bias zero) the backward's ``W_hh^T da``.
  A tile is 2 rows x 4 vectors (32 float32 columns): 8 sums in registers for the whole sum over
  k, each step of it 4 vector loads of z, 2 broadcasts of W and 8 fused multiply-adds. Measured
  (800 products, float32, min of 7, load ~1.5): ``(64, 24) @ (24, 32)`` 3.3 -> 1.3 ms,
  ``(256, 80) @ (80, 32)`` 5.4 -> 1.1 ms, against the previous loops over the batch (8 products
  a pass over a row of ``out`` in memory).
* :func:`weight_grads`, ``out[j, k] = sum_n d[j, n] z[k, n]`` over all T*B columns of a model's
  steps: the parameter gradients ``[dW_hh dW_ih db] = dax [h_{t-1}; x_t; 1]^T``. A tile is 4 rows
  x 3 columns of ``out``, 12 vector sums over n, added up across the lanes at the end;
  :func:`weight_grads_steps` the same with the gradients time-major ``(T, R, B)`` (as the lstm
  backward writes them, step by step, into a block that stays in L2), each entry the same sum.

Order of operations (what the tests hold to the reference: float64 to 1e-12, not bit for bit,
because BLAS sums in its own order): column b of ``matvec_bias`` is
``fma(W[j, K-1], z[K-1, b], ... fma(W[j, 0], z[0, b], bias[j]))`` whether it falls in a vector
or in the scalar tail, so where a thread's share of the columns starts changes no number. An
entry of ``weight_grads`` sums each lane's n in order, then the lanes
(:func:`glassnet.fast.simd.total`), then the tail n % lanes -- fixed for a given T*B.
"""

from __future__ import annotations

from numba import njit

from .simd import fma, lanes, load, splat, store, total


@njit(inline="always", nogil=True, error_model="numpy")
def matvec_bias(W, z, bias, out, b0, b1):  # pragma: no cover - compiled
    """``out[:, b0:b1] = W @ z[:, b0:b1] + bias[:, None]``: W ``(R, K)`` (any strides), z ``(K, B)``
    and out ``(R, B)`` contiguous along the batch. Rows two at a time (an odd last row is
    computed twice, into the same place); columns in tiles of 4 vectors, then of 2, then single
    vectors, then one at a time."""
    R, K = W.shape
    L = lanes(out)
    b4 = b0 + (b1 - b0) // (4 * L) * (4 * L)   # end of the 4-vector tiles
    b2 = b4 + (b1 - b4) // (2 * L) * (2 * L)   # of the 2-vector tiles (a thread's 16 columns)
    bv = b0 + (b1 - b0) // L * L               # end of the whole vectors
    for j in range(0, R, 2):
        j1 = min(j + 1, R - 1)
        for b in range(b0, b4, 4 * L):
            c0, c1 = splat(out, bias[j]), splat(out, bias[j1])
            a00, a01, a02, a03 = c0, c0, c0, c0
            a10, a11, a12, a13 = c1, c1, c1, c1
            for k in range(K):
                z0, z1 = load(z, k, b), load(z, k, b + L)
                z2, z3 = load(z, k, b + 2 * L), load(z, k, b + 3 * L)
                w0, w1 = splat(out, W[j, k]), splat(out, W[j1, k])
                a00, a01, a02, a03 = fma(w0, z0, a00), fma(w0, z1, a01), fma(w0, z2, a02), fma(w0, z3, a03)
                a10, a11, a12, a13 = fma(w1, z0, a10), fma(w1, z1, a11), fma(w1, z2, a12), fma(w1, z3, a13)
            store(out, j, b, a00)
            store(out, j, b + L, a01)
            store(out, j, b + 2 * L, a02)
            store(out, j, b + 3 * L, a03)
            store(out, j1, b, a10)
            store(out, j1, b + L, a11)
            store(out, j1, b + 2 * L, a12)
            store(out, j1, b + 3 * L, a13)
        for b in range(b4, b2, 2 * L):
            c0, c1 = splat(out, bias[j]), splat(out, bias[j1])
            a00, a01, a10, a11 = c0, c0, c1, c1
            for k in range(K):
                z0, z1 = load(z, k, b), load(z, k, b + L)
                w0, w1 = splat(out, W[j, k]), splat(out, W[j1, k])
                a00, a01, a10, a11 = fma(w0, z0, a00), fma(w0, z1, a01), fma(w1, z0, a10), fma(w1, z1, a11)
            store(out, j, b, a00)
            store(out, j, b + L, a01)
            store(out, j1, b, a10)
            store(out, j1, b + L, a11)
        for b in range(b2, bv, L):
            a0, a1 = splat(out, bias[j]), splat(out, bias[j1])
            for k in range(K):
                zk = load(z, k, b)
                a0, a1 = fma(splat(out, W[j, k]), zk, a0), fma(splat(out, W[j1, k]), zk, a1)
            store(out, j, b, a0)
            store(out, j1, b, a1)
        for b in range(bv, b1):
            s0, s1 = bias[j], bias[j1]
            for k in range(K):
                s0, s1 = fma(W[j, k], z[k, b], s0), fma(W[j1, k], z[k, b], s1)
            out[j, b], out[j1, b] = s0, s1


@njit(inline="always", nogil=True)
def _tile_step(d0, d1, d2, d3, x0, x1, x2, a):  # pragma: no cover - compiled
    """One step of the weight gradients' 4 x 3 tile of sums ``a`` (rows of d, columns of x, as
    vectors along n): ``a[3q + e] += d_q * x_e``, each a fused multiply-add."""
    return (fma(d0, x0, a[0]), fma(d0, x1, a[1]), fma(d0, x2, a[2]),
            fma(d1, x0, a[3]), fma(d1, x1, a[4]), fma(d1, x2, a[5]),
            fma(d2, x0, a[6]), fma(d2, x1, a[7]), fma(d2, x2, a[8]),
            fma(d3, x0, a[9]), fma(d3, x1, a[10]), fma(d3, x2, a[11]))


@njit(inline="always", nogil=True, error_model="numpy")
def weight_grads_model(dm, zm, om, r0, r1):  # pragma: no cover - compiled
    """:func:`weight_grads` of one model: ``om[j, k] = sum_n dm[j, n] zm[k, n]`` for r0 <= j < r1,
    2-D arrays contiguous along n (the lstm backward calls it right after a model's time loop)."""
    N = dm.shape[1]
    K = zm.shape[0]
    L = lanes(dm)
    nv = N // L * L
    for j in range(r0, r1, 4):
        j1, j2, j3 = min(j + 1, r1 - 1), min(j + 2, r1 - 1), min(j + 3, r1 - 1)
        for k in range(0, K, 3):
            k1, k2 = min(k + 1, K - 1), min(k + 2, K - 1)
            zero = splat(dm, 0.0)
            a = (zero, zero, zero, zero, zero, zero, zero, zero, zero, zero, zero, zero)
            for n in range(0, nv, L):
                a = _tile_step(load(dm, j, n), load(dm, j1, n), load(dm, j2, n), load(dm, j3, n),
                               load(zm, k, n), load(zm, k1, n), load(zm, k2, n), a)
            s00, s01, s02 = total(a[0]), total(a[1]), total(a[2])
            s10, s11, s12 = total(a[3]), total(a[4]), total(a[5])
            s20, s21, s22 = total(a[6]), total(a[7]), total(a[8])
            s30, s31, s32 = total(a[9]), total(a[10]), total(a[11])
            for n in range(nv, N):
                x0, x1, x2 = zm[k, n], zm[k1, n], zm[k2, n]
                s00, s01, s02 = fma(dm[j, n], x0, s00), fma(dm[j, n], x1, s01), fma(dm[j, n], x2, s02)
                s10, s11, s12 = fma(dm[j1, n], x0, s10), fma(dm[j1, n], x1, s11), fma(dm[j1, n], x2, s12)
                s20, s21, s22 = fma(dm[j2, n], x0, s20), fma(dm[j2, n], x1, s21), fma(dm[j2, n], x2, s22)
                s30, s31, s32 = fma(dm[j3, n], x0, s30), fma(dm[j3, n], x1, s31), fma(dm[j3, n], x2, s32)
            om[j, k], om[j, k1], om[j, k2] = s00, s01, s02
            om[j1, k], om[j1, k1], om[j1, k2] = s10, s11, s12
            om[j2, k], om[j2, k1], om[j2, k2] = s20, s21, s22
            om[j3, k], om[j3, k1], om[j3, k2] = s30, s31, s32


@njit(inline="always", nogil=True, error_model="numpy")
def weight_grads_steps(d, zm, om):  # pragma: no cover - compiled
    """``om[j, k] = sum_n d[n // B, j, n % B] zm[k, n]``: :func:`weight_grads_model` with the
    gradients time-major, ``d`` ``(T, R, B)`` (what the lstm backward writes step by step), ``zm``
    ``(K, T*B)``; B a multiple of the lanes, so that every vector lies in one step and each entry
    is the same sum in the same order as :func:`weight_grads_model`'s (n ascending in each lane,
    then the lanes; no tail)."""
    T, R, B = d.shape
    K = zm.shape[0]
    L = lanes(zm)
    d2 = d.reshape(T * R, B)   # row t*R + j: step t's gradients of gate row j
    for j in range(0, R, 4):
        j1, j2, j3 = min(j + 1, R - 1), min(j + 2, R - 1), min(j + 3, R - 1)
        for k in range(0, K, 3):
            k1, k2 = min(k + 1, K - 1), min(k + 2, K - 1)
            zero = splat(zm, 0.0)
            a = (zero, zero, zero, zero, zero, zero, zero, zero, zero, zero, zero, zero)
            for t in range(T):
                tr = t * R
                for b in range(0, B, L):
                    n = t * B + b
                    a = _tile_step(load(d2, tr + j, b), load(d2, tr + j1, b), load(d2, tr + j2, b),
                                   load(d2, tr + j3, b), load(zm, k, n), load(zm, k1, n), load(zm, k2, n), a)
            om[j, k], om[j, k1], om[j, k2] = total(a[0]), total(a[1]), total(a[2])
            om[j1, k], om[j1, k1], om[j1, k2] = total(a[3]), total(a[4]), total(a[5])
            om[j2, k], om[j2, k1], om[j2, k2] = total(a[6]), total(a[7]), total(a[8])
            om[j3, k], om[j3, k1], om[j3, k2] = total(a[9]), total(a[10]), total(a[11])


@njit(nogil=True, error_model="numpy", cache=True)
def weight_grads(d, z, out, r0, r1):  # pragma: no cover - compiled
    """``out[m, j, k] = sum_n d[m, j, n] z[m', k, n]`` for rows r0 <= j < r1 of every model m:
    d ``(M, R, N)``, z ``(M or 1, K, N)`` and out ``(M, R, K)`` contiguous. Rows four at a time
    and columns three (the last ones clamped: computed again into the same place): 12 sums in
    registers, each step 3 + 4 vector loads (4 x 2 tiles, 8 sums: 1.88 against 1.66 ms in lstm16's
    shape, min of 30 interleaved, load 1.0-1.4)."""
    M = d.shape[0]
    for m in range(M):
        weight_grads_model(d[m], z[min(m, z.shape[0] - 1)], out[m], r0, r1)
