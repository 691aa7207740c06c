"""glassnet.fast.gemm, the batched small-GEMM kernels, against the readable NumPy reference.

* the kernels themselves (``bgemm``, ``sum_rows``, ``dense_forward``/``dense_backward``) against
  ``np.matmul``/``sum`` for shared and per-model inputs, with and without bias, small and large
  shapes (the kernels must be right everywhere, even where the layers don't call them), float64 to
  1e-12 and float32 within rounding;
* :class:`~glassnet.Dense` forward/backward under ``fast.forced(True)`` against ``fast.reference()``,
  on both sides of the threshold ``FAST_MAX_WORK`` (the kernel runs at the edge, not past it);
* a whole ``fit`` (minibatches, Adam: not the compiled training loop's case) on both paths;
* the fallback: a kernel that raises gives exactly one ``FastPathWarning`` and the reference's numbers.

Why the window is small (1 thread, CPU time per call, float32, medians of 5; the machine was shared,
load 10-13 on 2 cores, so ratios move by +-30% between runs). Reference/kernel, forward | backward:
8-3-8 layers at batch 8, M = 16..1,000: 1.2-2.5x | 1.0-1.7x; batch 16 (8 x 16 x 3 = 384 per model):
0.9x | 0.8x; batch 32: 1.4x | 0.7x; 15 x (32 x 64 x 16): 0.3x | 0.3x. OpenBLAS' stacked matmul
costs ~0.3 us per model there, and the compiled loops, without fastmath (no FMA, no reassociation),
reach ~2 GMAC/s against OpenBLAS' ~16. The recurrent layers' per-step products were slower on
the kernel at every size tried (0.1-0.6x, e.g. (16, 64, 16) @ (16, 16, 32): 26 us NumPy, 234 us
kernel), so they stay NumPy's.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet import fast
from glassnet.layers import dense as dense_mod

pytestmark = pytest.mark.skipif(fast.numba() is None, reason="numba is not installed")

from glassnet.fast import gemm  # noqa: E402 - after the skip: needs nothing but NumPy to import


def close(a, b, dtype):
    """float64: 1e-12 relative (to the array's scale for entries near zero); float32: rounding."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype
    rtol = 1e-12 if np.dtype(dtype) == np.float64 else 1e-5
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * max(1.0, float(np.abs(b).max(initial=0))))


@pytest.fixture
def fresh_fast(monkeypatch):
    """The fast path on, with no kernel marked broken (and the marks of this test dropped after)."""
    monkeypatch.setattr(fast, "_broken", set())
    with fast.forced(True):
        yield


SHAPES = [  # M, B, n, k
    (1, 1, 1, 1), (3, 5, 4, 2), (1000, 8, 8, 3), (1000, 8, 3, 8), (7, 9, 13, 6), (16, 32, 64, 16),
    (4, 64, 100, 33),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shared", [False, True], ids=["per-model", "shared"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
@pytest.mark.parametrize("M,B,n,k", SHAPES)
def test_kernels_equal_numpy(M, B, n, k, bias, shared, dtype):
    rng = np.random.default_rng(M * 1000 + B + n + k)
    x = rng.standard_normal((B, n) if shared else (M, B, n)).astype(dtype)
    W = rng.standard_normal((M, n, k)).astype(dtype)
    b = rng.standard_normal((M, k)).astype(dtype) if bias else None
    dz = rng.standard_normal((M, B, k)).astype(dtype)
    z_ref = x @ W + (b[:, None, :] if bias else 0)
    close(gemm.dense_forward(x, W, b), z_ref, dtype)
    for need_dx in (True, False):
        dW, db, dx = gemm.dense_backward(x, W, dz, bias, need_dx)
        close(dW, x.swapaxes(-1, -2) @ dz, dtype)
        if bias:
            close(db, dz.sum(axis=1), dtype)
        else:
            assert db is None
        if need_dx:
            close(dx, dz @ W.swapaxes(-1, -2), dtype)
        else:
            assert dx is None


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_bgemm_reads_transposed_views(dtype):
    rng = np.random.default_rng(1)
    A = rng.standard_normal((6, 5, 9)).astype(dtype)
    X = rng.standard_normal((6, 7, 9)).astype(dtype)
    close(gemm.bgemm(A, X.swapaxes(-1, -2)), A @ X.swapaxes(-1, -2), dtype)
    close(gemm.bgemm(A.swapaxes(-1, -2), A), A.swapaxes(-1, -2) @ A, dtype)
    close(gemm.sum_rows(A), A.sum(axis=1), dtype)


def test_parallel_and_serial_builds_agree(monkeypatch):
    """The same sums in the same order whichever build runs: bit for bit."""
    rng = np.random.default_rng(2)
    x, W = rng.standard_normal((200, 8, 8)), rng.standard_normal((200, 8, 3))
    monkeypatch.setattr(gemm, "PARALLEL_MIN_WORK", 0)
    par = gemm.dense_forward(x, W)
    monkeypatch.setattr(gemm, "PARALLEL_MIN_WORK", 1 << 62)
    np.testing.assert_array_equal(par, gemm.dense_forward(x, W))


# -- the Dense layer on both paths ----------------------------------------------------------------
def dense_pass(M, B, n, k, bias, shared, dtype, activation="tanh"):
    """Forward and backward of one Dense layer; (output, dx, W.grad, b.grad)."""
    layer = gn.Dense(k, activation=activation, use_bias=bias)
    gn.Sequential([layer], input_shape=(n,), models=M, seed=3, dtype=dtype)
    layer.need_input_grad = True
    rng = np.random.default_rng(4)
    if bias:
        layer.b.value[...] = rng.standard_normal(layer.b.shape)
    x = rng.standard_normal((B, n) if shared else (M, B, n)).astype(dtype)
    y = layer.forward(x, train=True)
    dx = layer.backward(rng.standard_normal(y.shape).astype(dtype))
    return y, dx, layer.W.grad, layer.b.grad if bias else None


def count_calls(monkeypatch):
    calls = []
    real = gemm.bgemm
    monkeypatch.setattr(gemm, "bgemm", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    return calls


EDGE = dense_mod.FAST_MAX_WORK  # 256 = 8 x 8 x 4 = 16 x 4 x 4


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shared", [False, True], ids=["per-model", "shared"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
@pytest.mark.parametrize("M,B,n,k", [(1, 8, 8, 3), (3, 1, 1, 1), (1000, 8, 8, 3), (50, 8, 3, 8),
                                     (5, 8, 8, 4), (5, 16, 4, 4), (5, 8, 8, 5), (5, 64, 20, 10)])
def test_dense_fast_equals_reference(M, B, n, k, bias, shared, dtype, fresh_fast, monkeypatch):
    calls = count_calls(monkeypatch)
    got = dense_pass(M, B, n, k, bias, shared, dtype)
    assert bool(calls) == (B * n * k <= EDGE), "the kernel runs exactly inside the measured window"
    with fast.reference():
        want = dense_pass(M, B, n, k, bias, shared, dtype)
    for g, w in zip(got, want):
        if w is None:
            assert g is None
        else:
            close(g, w, dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_fit_same_history_and_weights(dtype, fresh_fast, monkeypatch):
    """Minibatches and Adam (the compiled training loop does not take these): every Dense product
    goes through the kernels on the fast path."""
    calls = count_calls(monkeypatch)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((64, 8)).astype(dtype)
    y = (x[:, :3] > 0).astype(dtype)

    def run():
        model = gn.Sequential([gn.Dense(4, activation="tanh"), gn.Dense(3, activation="sigmoid")],
                              input_shape=(8,), models=6, seed=7, dtype=dtype)
        hist = model.fit(x, y, loss="mse", optimizer=gn.Adam(0.01), batch_size=8, epochs=3,
                         shuffle=True, progress=False)
        return hist, model

    h_fast, m_fast = run()
    assert calls
    with fast.reference():
        h_ref, m_ref = run()
    close(np.asarray(h_fast.history["loss"]), np.asarray(h_ref.history["loss"]), dtype)
    assert m_fast.params.keys() == m_ref.params.keys()
    for name in m_ref.params:
        close(m_fast.params[name], m_ref.params[name], dtype)


def test_a_failing_kernel_warns_once_and_training_equals_reference(fresh_fast, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("simulated compile failure")

    monkeypatch.setattr(gemm, "bgemm", broken)
    # the compiled tanh stays out too (it is exact to rounding, not bit for bit, against NumPy's)
    monkeypatch.setattr(fast, "_broken", fast._broken | {"activations"})
    rng = np.random.default_rng(6)
    x = rng.standard_normal((32, 8))
    y = rng.standard_normal((32, 3))

    def run():
        model = gn.Sequential([gn.Dense(3, activation="tanh"), gn.Dense(3)], input_shape=(8,), models=4,
                              seed=1, dtype="float64")
        # Adam: the Trainer's compiled loop (glassnet.fast.loop, SGD only) stays out of this
        return model.fit(x, y, loss="mse", optimizer=gn.Adam(0.01), batch_size=8, epochs=2, progress=False), model

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        h_fast, m_fast = run()
    ours = [w for w in caught if issubclass(w.category, fast.FastPathWarning)]
    assert len(ours) == 1 and "gemm" in str(ours[0].message)
    assert not fast.available("gemm")
    with fast.reference():
        h_ref, m_ref = run()
    np.testing.assert_array_equal(h_fast.history["loss"], h_ref.history["loss"])
    for name in m_ref.params:
        np.testing.assert_array_equal(m_fast.params[name], m_ref.params[name])


# -- the recurrent layers ---------------------------------------------------------------------------
# Their per-step products W_hh h_{t-1} and W_hh^T dah_t stay NumPy's: the kernel measured 0.1-0.6x
# of the stacked matmul there (M=16, 4H=64, H=16, B=32: 26 us NumPy vs 234 us kernel; M=16, H=4,
# B=8: 7.9 vs 15 us). What the fast switch may change around them is the Dense head; these tests
# hold whole sequence models (forward, every gradient, the per-step gradient norms) to the reference.
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("cell", ["SimpleRNN", "LSTM", "GRU"])
def test_sequence_models_equal_on_both_paths(cell, dtype, fresh_fast, monkeypatch):
    calls = count_calls(monkeypatch)
    rng = np.random.default_rng(8)
    x = rng.standard_normal((8, 5, 3)).astype(dtype)   # batch 8, 5 steps, 3 features
    dy = rng.standard_normal((4, 8, 2)).astype(dtype)

    def run():
        rec = getattr(gn, cell)(4)
        model = gn.Sequential([rec, gn.Dense(2)], input_shape=(5, 3), models=4, seed=9, dtype=dtype)
        rec.need_input_grad = True
        out = model.forward(x, train=True)
        dx = model.backward(dy)
        return out, dx, {k: v.copy() for k, v in model.grads.items()}, rec.step_grad_norms.copy()

    got = run()
    assert calls, "the Dense head (8 x 4 x 2 per model) runs on the kernel"
    with fast.reference():
        want = run()
    for g, w in zip(got[:2], want[:2]):
        close(g, w, dtype)
    for name in want[2]:
        close(got[2][name], want[2][name], dtype)
    close(got[3], want[3], dtype)
