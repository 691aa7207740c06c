"""Matrix products with a tile of the result in registers: the narrow products of the convolutions
(:mod:`glassnet.fast.conv`).

A convolution's products are tall and narrow: a piece of cnn8's second layer multiplies its
patches ``(1024, 144)`` by the kernel ``(144, 32)``. OpenBLAS packs both operands for every call,
and with 32 output columns the packing costs as much as a good part of the arithmetic: one thread
reaches about 65 GFLOP/s there, against ~110 for the core's fused multiply-adds (AVX2). Here a
tile of 4 rows x 2 vectors of the result (8 sums: 4 x 16 float32 or 4 x 8 float64) stays in
registers for the whole sum, each step of it 2 vector loads of one operand, 4 broadcasts of the
other and 8 fused multiply-adds, so nothing is packed. (4 rows x 4 vectors is twice as slow: 16
sums and their operands do not fit AVX2's 16 registers, and they spill.)

Two products, each over the model axis (one call for every model of a piece of the batch):

* :func:`times`, ``out[m] = A[m'] @ W[m]`` (``m' = 0`` for a shared input), the forward's
  ``cols @ W`` and the input gradient's ``dz @ W^T``; the bias and ReLU of the forward are applied
  to each tile as it is stored (``z = sum + b``, then ``a = max(z, 0)``), so that pass over ``z``
  is gone.
* :func:`transposed_times`, ``out[m] = A[m']^T @ D[m]``, the weight gradient ``cols^T dz``.

Order of operations: each entry is one chain of fused multiply-adds over the summed index, in
order, from zero (then ``+ b``, one rounding: ``fma(1, b, sum)``); BLAS sums in its own blocked
order, so results agree with the reference to rounding (float64 to 1e-12, float32 to a few ulps
of the sum; ``tests/fast/test_tiles.py``), not bit for bit. The number of columns ``N`` must be a
multiple of two vectors (:func:`fits_times`, :func:`fits_transposed`); rows and ``K`` may be
anything: the last tile's rows are clamped (computed again into the same place).

Where each wins is measured below (:data:`W_BYTES`, :data:`D_ROW_BYTES`): the narrow products of
small kernels. cnn8's step (one thread, CPU, min of 8 interleaved): 35.1 ms against 38.7 with
every product in BLAS.
"""

from __future__ import annotations

from numba import njit

from .simd import fma, lanes, load, splat, store

#: Rows of A and D a weight-gradient tile sums before the next tile (see :func:`transposed_times`):
#: 128 rows of cnn8's second layer are 90 KB. Measured (one thread, float32, min of 9): cnn8's
#: ``(1024, 144)^T (1024, 32)`` 0.113 ms against 0.134 unblocked and 0.135 for ``np.matmul``; its
#: first layer's 8 models, ``(4096, 27)^T (4096, 16)``, 0.40 against 0.53 and 0.69.
ROW_BLOCK = 128
#: :func:`times` reads all of W for every tile of 4 rows: it wins while W stays in L1 (32 KiB).
#: Measured (one thread, float32, min of 7-15 interleaved, ms, tiled against ``np.matmul``):
#: ``(1024, 144) @ (144, 32)`` 0.143 / 0.179, ``(1024, 64) @ (64, 64)`` 0.126 / 0.160,
#: ``(1024, 32) @ (32, 144)`` 0.167 / 0.196, but ``(1024, 288) @ (288, 64)`` 0.674 / 0.583.
W_BYTES = 32 * 1024
#: :func:`transposed_times` wins for results up to 4 vectors wide (32 float32 columns):
#: ``(1024, 144)^T (1024, 32)`` 0.115 / 0.137, ``(1024, 144)^T (1024, 16)`` 0.058 / 0.079, but
#: ``(1024, 64)^T (1024, 64)`` 0.128 / 0.117 and ``(1024, 288)^T (1024, 64)`` 0.82 / 0.59.
D_ROW_BYTES = 128


@njit(inline="always", nogil=True)
def _tile_step(x0, x1, x2, x3, v0, v1, t):  # pragma: no cover - compiled
    """One step of a tile's 8 sums ``t`` (4 rows x 2 vectors): ``t[2q + e] += x_q * v_e``."""
    return (fma(x0, v0, t[0]), fma(x0, v1, t[1]), fma(x1, v0, t[2]), fma(x1, v1, t[3]),
            fma(x2, v0, t[4]), fma(x2, v1, t[5]), fma(x3, v0, t[6]), fma(x3, v1, t[7]))


@njit(inline="always", nogil=True)
def _store_tile(out, q0, q1, q2, q3, c, L, t):  # pragma: no cover - compiled
    """Rows q0..q3 of ``out``, columns c:c+2L, from the tile's sums ``t``."""
    store(out, q0, c, t[0])
    store(out, q0, c + L, t[1])
    store(out, q1, c, t[2])
    store(out, q1, c + L, t[3])
    store(out, q2, c, t[4])
    store(out, q2, c + L, t[5])
    store(out, q3, c, t[6])
    store(out, q3, c + L, t[7])


def _whole_tiles(columns: int, itemsize: int) -> bool:
    return columns % (2 * 32 // itemsize) == 0  # tiles of two 32-byte vectors across


def fits_times(K: int, N: int, itemsize: int) -> bool:
    """Whether :func:`times` should make an ``(R, K) @ (K, N)`` product (else BLAS)."""
    return _whole_tiles(N, itemsize) and K * N * itemsize <= W_BYTES


def fits_transposed(N: int, itemsize: int) -> bool:
    """Whether :func:`transposed_times` should make an ``(R, K)^T (R, N)`` product (else BLAS)."""
    return _whole_tiles(N, itemsize) and N * itemsize <= D_ROW_BYTES


@njit(nogil=True, error_model="numpy", cache=True)
def times(A, W, out, b, use_bias, relu, act):  # pragma: no cover - compiled
    """``out[m] = A[m'] @ W[m] (+ b[m])`` and, if ``relu``, ``act[m] = max(out[m], 0)`` (NaN stays
    NaN, as ``np.maximum``): A ``(1 or M, R, K)`` (any strides), W ``(M, K, N)``, out and act
    ``(M, R, N)`` and b ``(M, N)`` contiguous along N; act may be out (not read when ``relu`` is
    off)."""
    M, R, N = out.shape
    K = W.shape[1]
    shared = A.shape[0] == 1
    for m in range(M):
        Am, Wm, om, am = A[0 if shared else m], W[m], out[m], act[m]
        L = lanes(om)
        one = splat(om, 1.0)
        for r in range(0, R, 4):
            r1, r2, r3 = min(r + 1, R - 1), min(r + 2, R - 1), min(r + 3, R - 1)
            for c in range(0, N, 2 * L):
                zero = splat(om, 0.0)
                t = (zero, zero, zero, zero, zero, zero, zero, zero)
                for k in range(K):
                    t = _tile_step(splat(om, Am[r, k]), splat(om, Am[r1, k]), splat(om, Am[r2, k]),
                                   splat(om, Am[r3, k]), load(Wm, k, c), load(Wm, k, c + L), t)
                if use_bias:  # sum + b in one rounding: fma(1, b, sum)
                    t = _tile_step(one, one, one, one, load(b, m, c), load(b, m, c + L), t)
                _store_tile(om, r, r1, r2, r3, c, L, t)
                if relu:  # the tile is in L1: read back lane by lane (stores of whole values: a
                    for q in (r, r1, r2, r3):  # clamped row written twice is written alike)
                        zq, aq = om[q], am[q]
                        for e in range(c, c + 2 * L):
                            v = zq[e]
                            aq[e] = 0.0 if v < 0 else v


@njit(nogil=True, error_model="numpy", cache=True)
def transposed_times(A, D, out):  # pragma: no cover - compiled
    """``out[m] = A[m']^T @ D[m]``, i.e. ``out[m, k, n] = sum_r A[m', r, k] D[m, r, n]`` summed
    over r in order: A ``(1 or M, R, K)`` (any strides), D ``(M, R, N)`` and out ``(M, K, N)``
    contiguous along N. The rows go in blocks of :data:`ROW_BLOCK` (each tile's sums stored and
    loaded again between blocks: the same numbers), so a block of A and D stays in L1 while every
    tile of the result passes over it."""
    M, R, N = D.shape
    K = A.shape[2]
    shared = A.shape[0] == 1
    for m in range(M):
        Am, Dm, om = A[0 if shared else m], D[m], out[m]
        L = lanes(om)
        for r0 in range(0, R, ROW_BLOCK):
            r_end = min(r0 + ROW_BLOCK, R)
            for k in range(0, K, 4):
                k1, k2, k3 = min(k + 1, K - 1), min(k + 2, K - 1), min(k + 3, K - 1)
                for c in range(0, N, 2 * L):
                    if r0 == 0:
                        zero = splat(om, 0.0)
                        t = (zero, zero, zero, zero, zero, zero, zero, zero)
                    else:
                        t = (load(om, k, c), load(om, k, c + L), load(om, k1, c), load(om, k1, c + L),
                             load(om, k2, c), load(om, k2, c + L), load(om, k3, c), load(om, k3, c + L))
                    for r in range(r0, r_end):
                        t = _tile_step(splat(om, Am[r, k]), splat(om, Am[r, k1]), splat(om, Am[r, k2]),
                                       splat(om, Am[r, k3]), load(Dm, r, c), load(Dm, r, c + L), t)
                    _store_tile(om, k, k1, k2, k3, c, L, t)
