"""glassnet.fast.tiles, the convolutions' register-tiled products, against NumPy's matmul.

Each product is one chain of fused multiply-adds per entry; BLAS sums in its own order, so float64
is held to 1e-12 and float32 to rounding. The shapes cover what the tiles must get right besides
the arithmetic: rows and ``K`` that are not multiples of the tile (clamped, computed twice into
the same place), a shared input for several models, strided operands, the row blocks of the
weight gradient, and the fused bias and ReLU (NaN stays NaN, as in ``np.maximum``).
"""

from __future__ import annotations

import types

import numpy as np
import pytest

from glassnet import fast

pytestmark = pytest.mark.skipif(fast.numba() is None, reason="numba is not installed")

from glassnet.fast import tiles  # noqa: E402 - imports Numba: after the skip


def close(got, want, dtype):
    rtol = 1e-12 if np.dtype(dtype) == np.float64 else 2e-6
    scale = max(1.0, float(np.nanmax(np.abs(want))))
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale)


SHAPES = [  # models, stacks of A (1: shared), rows, K, N
    (1, 1, 37, 27, 16),
    (3, 1, 130, 5, 32),
    (3, 3, 9, 144, 16),
    (2, 2, 4, 3, 48),
    (1, 1, 1, 1, 16),
    (2, 1, 300, 7, 64),   # more rows than a block of the weight gradient (ROW_BLOCK)
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("M,LA,R,K,N", SHAPES)
@pytest.mark.parametrize("use_bias,relu", [(False, False), (True, False), (True, True), (False, True)])
def test_times_equals_matmul_plus_bias_and_relu(M, LA, R, K, N, use_bias, relu, dtype):
    rng = np.random.default_rng(R + K)
    A = rng.standard_normal((LA, R, K)).astype(dtype)
    W = rng.standard_normal((M, K, N)).astype(dtype)
    b = rng.standard_normal((M, N)).astype(dtype)
    out = np.full((M, R, N), 7.0, dtype)
    act = np.full((M, R, N), 7.0, dtype) if relu else out
    tiles.times(A, W, out, b, use_bias, relu, act)
    want = np.matmul(A.astype(np.float64), W.astype(np.float64)) + (b[:, None, :] if use_bias else 0)
    close(out, want.astype(dtype), dtype)
    if relu:
        np.testing.assert_array_equal(act, np.maximum(out, 0))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("M,LA,R,K,N", SHAPES)
def test_transposed_times_equals_matmul(M, LA, R, K, N, dtype):
    rng = np.random.default_rng(R * K)
    A = rng.standard_normal((LA, R, K)).astype(dtype)
    D = rng.standard_normal((M, R, N)).astype(dtype)
    out = np.full((M, K, N), 7.0, dtype)
    tiles.transposed_times(A, D, out)
    close(out, np.matmul(A.astype(np.float64).swapaxes(1, 2), D.astype(np.float64)).astype(dtype), dtype)


def test_row_blocks_change_no_number():
    """The weight gradient's sums, stored and loaded again between blocks of rows, are the numbers
    of one unbroken chain: the same code compiled with a single block gives identical bits
    (float32, where any other order would show)."""
    from numba import njit

    py = tiles.transposed_times.py_func
    one_block = njit(types.FunctionType(py.__code__, {**py.__globals__, "ROW_BLOCK": 10 ** 9}))
    rng = np.random.default_rng(3)
    A = rng.standard_normal((1, 3 * tiles.ROW_BLOCK + 5, 9)).astype(np.float32)
    D = rng.standard_normal((2, A.shape[1], 16)).astype(np.float32)
    blocked, whole = np.empty((2, 9, 16), np.float32), np.empty((2, 9, 16), np.float32)
    tiles.transposed_times(A, D, blocked)
    one_block(A, D, whole)
    np.testing.assert_array_equal(blocked, whole)
    close(blocked, np.matmul(A.astype(np.float64).swapaxes(1, 2), D.astype(np.float64)).astype(np.float32), "float32")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_strided_operands(dtype):
    """A may be any view (the kernels read it entry by entry); W, D and out need rows contiguous."""
    rng = np.random.default_rng(8)
    big = rng.standard_normal((2, 40, 30)).astype(dtype)
    A = big[:, ::2, 3:20]                                  # (2, 20, 17), strided both ways
    W = rng.standard_normal((2, 17, 32)).astype(dtype)
    out = np.empty((2, 50, 32), dtype)[:, 5:25]            # rows contiguous, not the whole array
    tiles.times(A, W, out, np.zeros((2, 32), dtype), False, False, out)
    close(out, np.matmul(A.astype(np.float64), W.astype(np.float64)).astype(dtype), dtype)
    D = rng.standard_normal((2, 20, 16)).astype(dtype)
    g = np.empty((2, 17, 16), dtype)
    tiles.transposed_times(A, D, g)
    close(g, np.matmul(A.astype(np.float64).swapaxes(1, 2), D.astype(np.float64)).astype(dtype), dtype)


def test_relu_epilogue_keeps_nan_and_inf():
    A = np.array([[[1.0, 0.0], [0.0, 1.0], [np.nan, 0.0], [np.inf, 0.0], [-np.inf, 0.0]]], np.float32)
    W = np.zeros((1, 2, 16), np.float32)
    W[0, 0, :] = 1.0
    W[0, 1, :] = -2.0
    out, act = np.empty((1, 5, 16), np.float32), np.empty((1, 5, 16), np.float32)
    tiles.times(A, W, out, np.zeros((1, 16), np.float32), False, True, act)
    np.testing.assert_array_equal(act, np.maximum(out, 0))
    assert np.isnan(act[0, 2]).all() and np.isposinf(act[0, 3]).all() and (act[0, 4] == 0).all()
    assert (act[0, 1] == 0).all() and (act[0, 0] == 1).all()


@pytest.mark.parametrize("K,N,itemsize,want", [
    (144, 32, 4, True), (64, 64, 4, True), (288, 64, 4, False),   # W in L1 or not
    (27, 16, 4, True), (27, 10, 4, False), (27, 8, 8, True), (27, 8, 4, False),   # whole tiles across
])
def test_fits_times(K, N, itemsize, want):
    assert tiles.fits_times(K, N, itemsize) is want


@pytest.mark.parametrize("N,itemsize,want", [(16, 4, True), (32, 4, True), (64, 4, False), (16, 8, True),
                                             (32, 8, False), (12, 4, False)])
def test_fits_transposed(N, itemsize, want):
    assert tiles.fits_transposed(N, itemsize) is want
