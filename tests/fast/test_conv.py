"""glassnet.fast.conv and glassnet.fast.pool, the image kernels, against the readable NumPy layers.

* :class:`~glassnet.Conv2D` forward and backward under ``fast.forced(True)`` against
  ``fast.reference()``: strides, every padding form, 1x1 and even kernels, with and without bias,
  ReLU (fused), other activations (not fused) and PReLU, M = 1 and M > 1, shared and per-model
  input, training and inference-mode forward; the caches the glass box reads (``act._z``,
  ``act._a``, ``_cols``) included; float64 to 1e-12, float32 within rounding;
* MaxPool2D, AvgPool2D and GlobalAveragePooling2D the same way, with ties (ReLU zeros: the first
  maximum in row-major order takes the gradient on both paths), NaN, overlapping and padded
  windows, and a shared input whose gradient comes back with the model axis;
* a few steps of a small CNN ``fit`` equal on both paths, and gradcheck passing on the fast path;
* the fallback: a kernel that raises gives exactly one ``FastPathWarning``, training runs on, and
  the numbers are the reference's.

Every comparison first checks that the fast path really ran (FastPathWarning is an error inside
:func:`fresh_fast`, and a counter on the kernels): a silent fallback would otherwise make the
equality tests compare the reference with itself.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet import fast

pytestmark = pytest.mark.skipif(fast.numba() is None, reason="numba is not installed")

from glassnet.fast import chunks  # noqa: E402
from glassnet.fast import conv as fc  # noqa: E402 - after the skip
from glassnet.fast import pool as fp  # noqa: E402
from fit_paths import (  # noqa: E402 - tests/fast/fit_paths.py
    assert_falls_back_once, assert_same_training, count_calls, train_on)

CONV_KERNELS = ["_im2col", "_bias_act", "_relu_backward", "_col2im"]
POOL_KERNELS = ["_maxpool_forward", "_maxpool2x2_forward", "_maxpool_backward", "_maxpool_backward_tiles",
                "_avgpool_forward", "_avgpool_backward", "_global_avg_forward", "_global_avg_backward"]
KERNELS = {**dict.fromkeys(CONV_KERNELS, fc), **dict.fromkeys(POOL_KERNELS, fp)}  # name -> module


def close(a, b, dtype):
    """float64: 1e-12 relative (to the array's scale for entries near zero); float32: rounding."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype
    rtol = 1e-12 if np.dtype(dtype) == np.float64 else 1e-5
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * max(1.0, float(np.nanmax(np.abs(b), initial=0))))


@pytest.fixture
def fresh_fast(monkeypatch):
    """The fast path on, no kernel marked broken, FastPathWarning an error, and a count of the
    conv kernels' calls (``calls[name]``)."""
    monkeypatch.setattr(fast, "_broken", set())
    calls = {"threads": 1}  # what glassnet.fast.chunks.threads() says; a test may set 2
    monkeypatch.setattr(chunks, "threads", lambda: calls["threads"])
    count_calls(monkeypatch, fc, CONV_KERNELS, calls)
    count_calls(monkeypatch, fp, POOL_KERNELS, calls)
    with warnings.catch_warnings():
        warnings.simplefilter("error", fast.FastPathWarning)
        with fast.forced(True):
            yield calls


def one_layer(layer, input_shape, M, dtype, seed=0):
    """A built single-layer model (its input gradient wanted) and the layer."""
    net = gn.Sequential([layer], input_shape=input_shape, seed=seed, models=None if M == 1 else M,
                        dtype=dtype, bias_init=gn.init.Normal(std=0.3))
    net.layers[0].need_input_grad = True
    return net.layers[0]


def both_paths(layer, x, dy_seed=1, train=True):
    """forward, the caches, backward and the parameter gradients on the reference, then fast path."""
    out = {}
    for path in ("reference", "fast"):
        with fast.reference() if path == "reference" else fast.forced(True):
            y = layer.forward(x, train)
            act = getattr(layer, "act", None)
            caches = {k: np.array(v) for k, v in (("z", getattr(act, "_z", None)), ("a", getattr(act, "_a", None)))
                      if v is not None}
            if getattr(layer, "_cols", None) is not None:
                caches["cols"] = np.array(layer._cols)
            dy = np.random.default_rng(dy_seed).standard_normal(y.shape).astype(y.dtype)
            dx = layer.backward(dy)
            grads = {k: np.array(p.grad) for k, p in layer.params.items()}
            out[path] = (np.array(y), caches, np.array(dx), grads)
            if act is not None:
                act._z = act._a = None  # the other path must write its own caches
    return out["reference"], out["fast"]


def assert_same(ref, got, dtype):
    (y0, c0, dx0, g0), (y1, c1, dx1, g1) = ref, got
    close(y1, y0, dtype)
    assert c1.keys() == c0.keys()
    for k in c0:
        close(c1[k], c0[k], dtype)
    close(dx1, dx0, dtype)
    assert g1.keys() == g0.keys()
    for k in g0:
        close(g1[k], g0[k], dtype)


CONV_CASES = [  # kernel, strides, padding, use_bias, activation
    (3, 1, "valid", True, "relu"),
    (3, 1, "same", True, "relu"),
    (3, 2, "same", True, "relu"),
    (3, 2, "valid", False, "relu"),
    ((2, 3), (2, 1), 1, True, "relu"),
    ((3, 2), 1, (2, 0), False, None),
    (4, 1, "same", True, "tanh"),     # even kernel: one more padded row/column after than before
    (1, 1, "valid", True, "relu"),    # 1x1: no patch copy
    (1, 2, "valid", True, None),      # 1x1 with a stride: patches copied
    (2, 3, "same", True, "prelu"),    # stride larger than the kernel; a learnable activation
    (3, 1, "same", False, None),      # no bias, identity: the GEMM alone
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("M,shared", [(1, False), (3, False), (3, True)], ids=["M1", "M3", "M3-shared"])
@pytest.mark.parametrize("kernel,strides,padding,use_bias,activation", CONV_CASES)
def test_conv2d_fast_equals_reference(kernel, strides, padding, use_bias, activation, M, shared, dtype,
                                      threads, fresh_fast):
    """Every pass once per piece of the batch and model (glassnet.fast.conv._pieces: one piece a
    stack on one thread here, several a thread on 2)."""
    fresh_fast["threads"] = threads
    layer = one_layer(gn.Conv2D(4, kernel, strides=strides, padding=padding, use_bias=use_bias,
                                activation=activation), (7, 6, 3), M, dtype)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((5, 7, 6, 3) if shared else (M, 5, 7, 6, 3)).astype(dtype)
    ref, got = both_paths(layer, x)
    assert_same(ref, got, dtype)
    stacks = 1 if shared else M  # a shared input is unfolded once for all models
    pieces = len(fc._pieces(stacks, 5, 1))
    assert pieces == stacks * len(fc._pieces(1, 5, 1)) > stacks  # each stack cut alike, threads or not
    runs = pieces * (M if shared else 1)  # (piece, model) pairs
    assert fresh_fast["_bias_act"] == (pieces if use_bias or activation == "relu" else 0)  # all models of a piece
    assert fresh_fast["_relu_backward"] == (pieces if activation == "relu" else 0)
    copies = layer.kernel_size != (1, 1) or layer.strides != (1, 1) or layer._pads != ((0, 0), (0, 0))
    assert fresh_fast["_im2col"] == (pieces if copies else 0)  # 3 channels: patches kept for backward
    assert fresh_fast["_col2im"] == (runs if copies else 0)


TILED_CASES = [  # kernel, strides, padding, channels, filters
    (3, 1, "same", 16, 16),   # cols @ W (K 144), dz @ W^T (144 columns) and cols^T dz: all tiled in float32
    (3, 2, "valid", 16, 32),  # float64: W (144 x 32) is too big for the tiles, and so is dW's row
    (1, 1, "valid", 16, 16),  # pointwise: the input gradient is one product into dx, in BLAS
    (3, 1, "same", 3, 16),    # K 27: the input gradient's 27 columns are not whole tiles: BLAS
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("M,shared", [(1, False), (3, False), (3, True)], ids=["M1", "M3", "M3-shared"])
@pytest.mark.parametrize("tiled", [True, False], ids=["tiled", "blas"])
@pytest.mark.parametrize("kernel,strides,padding,channels,filters", TILED_CASES)
def test_conv2d_tiled_products_equal_reference(kernel, strides, padding, channels, filters, tiled, M, shared,
                                               dtype, threads, monkeypatch, fresh_fast):
    """The register-tiled products (glassnet.fast.tiles) where they fit, BLAS elsewhere
    and with TILED off: the same numbers as the reference either way, and the tiles really ran."""
    from glassnet.fast import tiles

    fresh_fast["threads"] = threads
    monkeypatch.setattr(fc, "TILED", tiled)
    calls = count_calls(monkeypatch, tiles, ["times", "transposed_times"], {})
    layer = one_layer(gn.Conv2D(filters, kernel, strides=strides, padding=padding, activation="relu"),
                      (6, 5, channels), M, dtype)
    x = np.random.default_rng(2).standard_normal((5, 6, 5, channels) if shared else (M, 5, 6, 5, channels))
    ref, got = both_paths(layer, x.astype(dtype))
    for caches in (ref[1], got[1]):  # which path keeps patches is tested above, not here
        caches.pop("cols", None)
    assert_same(ref, got, dtype)
    K, size = layer.W.value[0].size // filters, np.dtype(dtype).itemsize
    pieces = len(fc._pieces(1 if shared else M, 5, 1))
    pointwise = kernel == 1 and strides == 1
    forward = tiled and tiles.fits_times(K, filters, size)
    weights = tiled and tiles.fits_transposed(filters, size)
    inputs = tiled and not pointwise and tiles.fits_times(filters, K, size)
    runs = pieces * (M if shared else 1)
    assert calls == {"times": pieces * forward + runs * inputs, "transposed_times": pieces * weights}
    assert fresh_fast["_bias_act"] == (0 if forward else pieces)  # the tiles add the bias and apply ReLU
    if tiled and dtype == "float32" and (kernel, channels, filters) == (3, 16, 16):
        assert forward and weights and inputs  # the shapes the tiles are for


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("images_per_chunk", [1, 2])
@pytest.mark.parametrize("channels,shared", [(3, False), (8, False), (8, True)], ids=["C3", "C8", "C8-shared"])
@pytest.mark.parametrize("threads", [1, 2])
def test_conv2d_in_chunks_of_images(images_per_chunk, channels, shared, dtype, threads, monkeypatch, fresh_fast):
    """Pieces of images (a last, shorter piece included) equal the reference; with
    ``C >= CHUNK_MIN_CHANNELS`` the patches are not kept but unfolded again for dL/dW."""
    assert fc.CHUNK_MIN_CHANNELS == 8
    fresh_fast["threads"] = threads
    layer = one_layer(gn.Conv2D(4, 3, padding="same", activation="relu"), (6, 5, channels), 2, dtype)
    per_image = 6 * 5 * 9 * channels * np.dtype(dtype).itemsize
    monkeypatch.setattr(fc, "CHUNK_BYTES", images_per_chunk * per_image)
    monkeypatch.setattr(fc, "MIN_PIECES", 1)  # pieces by CHUNK_BYTES alone
    x = np.random.default_rng(2).standard_normal((5, 6, 5, channels) if shared else (2, 5, 6, 5, channels))
    ref, got = both_paths(layer, x.astype(dtype))
    pieces = fc._pieces(1 if shared else 2, 5, per_image)
    sizes = [images_per_chunk] * (5 // images_per_chunk) + [1] * (images_per_chunk == 2)
    assert [g for l, _, g in pieces if l == 0] == sizes
    if channels >= 8:
        assert "cols" in ref[1] and "cols" not in got[1] and layer._cols is None
        del ref[1]["cols"]
    unfolds = 2 if channels >= 8 else 1  # forward, and again for dL/dW
    assert_same(ref, got, dtype)
    assert fresh_fast["_im2col"] == unfolds * len(pieces)
    assert fresh_fast["_col2im"] == len(pieces) * (2 if shared else 1)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_conv2d_inference_forward_then_backward(dtype, fresh_fast):
    """After a ``train=False`` forward no patches are kept; backward rebuilds them (as the reference)."""
    layer = one_layer(gn.Conv2D(5, 3, strides=2, padding="same", activation="relu"), (9, 8, 2), 2, dtype)
    x = np.random.default_rng(2).standard_normal((2, 4, 9, 8, 2)).astype(dtype)
    ref, got = both_paths(layer, x, train=False)
    assert_same(ref, got, dtype)
    assert layer._cols is None and fresh_fast["_im2col"] == 2 * len(fc._pieces(2, 4, 1))  # forward, backward


def test_conv2d_first_layer_returns_no_input_gradient(fresh_fast):
    layer = one_layer(gn.Conv2D(3, 3, activation="relu"), (6, 6, 2), 2, "float64")
    layer.need_input_grad = False
    x = np.random.default_rng(0).standard_normal((4, 6, 6, 2))
    y = layer.forward(x, True)
    assert layer.backward(np.ones_like(y)) is None and fresh_fast["_col2im"] == 0


POOL_CASES = {
    "max2": lambda: gn.MaxPool2D(2),
    "max3s2": lambda: gn.MaxPool2D(3, strides=2),                  # overlapping windows
    "max2same": lambda: gn.MaxPool2D(2, padding="same"),           # odd sizes: padded row and column
    "max2x3": lambda: gn.MaxPool2D((2, 3), strides=(1, 2)),
    "max3s1same": lambda: gn.MaxPool2D(3, strides=1, padding="same"),
    "avg2": lambda: gn.AvgPool2D(2),
    "avg3s2": lambda: gn.AvgPool2D(3, strides=2),
    "avg2same": lambda: gn.AvgPool2D(2, padding="same"),
    "avg3x2same": lambda: gn.AvgPool2D((3, 2), strides=1, padding="same"),
    "gap": lambda: gn.GlobalAveragePooling2D(),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("M,shared", [(1, False), (3, False), (3, True)], ids=["M1", "M3", "M3-shared"])
@pytest.mark.parametrize("pool", list(POOL_CASES), ids=list(POOL_CASES))
@pytest.mark.parametrize("data", ["normal", "ties"])
@pytest.mark.parametrize("threads", [1, 2])
def test_pooling_fast_equals_reference(pool, M, shared, dtype, data, threads, fresh_fast):
    fresh_fast["threads"] = threads
    layer = one_layer(POOL_CASES[pool](), (7, 6, 3), M, dtype)
    rng = np.random.default_rng(3)
    shape = (4, 7, 6, 3) if shared else (M, 4, 7, 6, 3)
    if data == "ties":  # like a ReLU's output: many equal values (zeros) in one window
        x = np.maximum(rng.integers(-3, 3, shape), 0).astype(dtype)
    else:
        x = rng.standard_normal(shape).astype(dtype)
    ref, got = both_paths(layer, x)
    assert_same(ref, got, dtype)
    kind = pool[:3]
    fwd = {"max": "_maxpool_forward", "avg": "_avgpool_forward", "gap": "_global_avg_forward"}[kind]
    assert fresh_fast["_maxpool2x2_forward"] == 0  # 7x6 images: no 2x2 tiling
    split = 1 if threads == 1 else threads * (1 if shared else M)  # max and global pooling: a batch slice a thread
    assert fresh_fast[fwd] == (1 if kind == "avg" else split)
    bwd = {"avg": ["_avgpool_backward"], "gap": ["_global_avg_backward"],
           "max": ["_maxpool_backward", "_maxpool_backward_tiles"]}[kind]
    assert sum(fresh_fast[k] for k in bwd) == (split if kind == "gap" or layer._tiles else 1)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("pool", ["max2", "max3s2", "avg2", "gap"])
def test_pooling_shared_input_gradient_with_model_axis(pool, threads, fresh_fast):
    """A pool first on a shared input ``(B, H, W, C)``; the layers above give it ``(M, B, ...)``."""
    fresh_fast["threads"] = threads
    layer = one_layer(POOL_CASES[pool](), (7, 6, 3), 3, "float64")
    x = np.random.default_rng(4).standard_normal((4, 7, 6, 3))
    outs = []
    for ctx in (fast.reference(), fast.forced(True)):
        with ctx:
            y = layer.forward(x, True)
            dy = np.random.default_rng(6).standard_normal((3,) + y.shape)
            outs.append((y, layer.backward(dy)))
    for a, b in zip(*outs):
        close(b, a, "float64")
    assert outs[1][1].shape == (3, 4, 7, 6, 3)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("M,shared", [(1, False), (3, False), (3, True)], ids=["M1", "M3", "M3-shared"])
@pytest.mark.parametrize("data", ["normal", "ties", "nan"])
@pytest.mark.parametrize("threads", [1, 2])
def test_maxpool_2x2_tiles_kernel_equals_reference(M, shared, dtype, data, threads, fresh_fast):
    """The written-out 2x2 kernel (windows that tile the input): values, winners (the first maximum
    in row-major order on ties, NaN winning) and the gradient as the reference."""
    fresh_fast["threads"] = threads
    layer = one_layer(gn.MaxPool2D(2), (8, 6, 3), M, dtype)
    assert layer._tiles
    rng = np.random.default_rng(3)
    shape = (4, 8, 6, 3) if shared else (M, 4, 8, 6, 3)
    x = (np.maximum(rng.integers(-3, 3, shape), 0) if data == "ties" else rng.standard_normal(shape)).astype(dtype)
    if data == "nan":
        x.reshape(-1)[::7] = np.nan
    ref, got = both_paths(layer, x)
    np.testing.assert_array_equal(got[0], ref[0])  # bit-identical, NaN in the same places
    if data != "nan":
        assert_same(ref, got, dtype)
    assert fresh_fast["_maxpool2x2_forward"] > 0 and fresh_fast["_maxpool_forward"] == 0


def test_maxpool_nan_propagates_as_the_reference(fresh_fast):
    layer = one_layer(gn.MaxPool2D(2), (4, 4, 2), 1, "float64")
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 4, 2))
    x[0, 0, 1, 1, 0] = np.nan
    with fast.reference():
        y_ref = layer.forward(x, True)
    y = layer.forward(x, True)
    np.testing.assert_array_equal(y, y_ref)  # NaN in the same places
    assert np.isnan(y[0, 0, 0, 0, 0])


def cnn(dtype, M=None, seed=0):
    return gn.Sequential([
        gn.Conv2D(4, 3, padding="same", activation="relu"), gn.MaxPool2D(2),
        gn.Conv2D(6, 3, strides=1, activation="relu"), gn.AvgPool2D(2, padding="same"),
        gn.Conv2D(5, 1, activation="tanh"), gn.GlobalAveragePooling2D(), gn.Dense(3),
    ], input_shape=(10, 10, 3), seed=seed, models=M, dtype=dtype)


def fit_once(path, dtype, M=None, steps=4):
    """Losses (every step) and final parameters of a short ``fit`` on ``path`` ("reference"/"fast").
    Shuffled minibatches: with M > 1 each model draws its own (per-model inputs to the kernels)."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((16, 10, 10, 3)).astype(dtype)
    y = rng.integers(0, 3, 16)
    net = cnn(dtype, M)
    return train_on(path, net, x, y, steps)


def fit_both(dtype, M=None, steps=4):
    return fit_once("reference", dtype, M, steps), fit_once("fast", dtype, M, steps)


@pytest.mark.parametrize("dtype,M", [("float64", None), ("float64", 3), ("float32", None), ("float32", 3)])
def test_fit_equal_on_both_paths(dtype, M, fresh_fast):
    ref, run = fit_both(dtype, M)
    assert fresh_fast["_im2col"] > 0 and fresh_fast["_maxpool_backward_tiles"] > 0
    assert_same_training(run, ref, dtype)


def test_gradcheck_passes_on_the_fast_path(fresh_fast):
    net = gn.Sequential([gn.Conv2D(3, 3, padding="same", activation="tanh"), gn.MaxPool2D(2),
                         gn.Conv2D(4, 2, activation="relu"), gn.GlobalAveragePooling2D(), gn.Dense(3)],
                        input_shape=(6, 6, 2), seed=4, models=2, dtype="float64",
                        bias_init=gn.init.Normal(std=0.2))
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((3, 6, 6, 2)), rng.integers(0, 3, 3)
    gn.gradcheck(net, x, y, "softmax_cross_entropy", max_entries=25).assert_close()
    assert fresh_fast["_relu_backward"] > 0 and fresh_fast["_col2im"] > 0


@pytest.mark.parametrize("broken", ["_im2col", "_maxpool_backward_tiles", "_global_avg_forward"])
def test_fallback_one_warning_and_reference_numbers(broken, monkeypatch):
    assert_falls_back_once(monkeypatch, KERNELS[broken], broken, "conv", fit_both)


def test_maxpool_backward_failure_rebuilds_the_reference_caches(monkeypatch):
    """The forward ran fast (winners kept), then the backward kernel fails: the reference backward
    needs its own caches, which the layer rebuilds from the kept input."""
    monkeypatch.setattr(fast, "_broken", set())
    layer = one_layer(gn.MaxPool2D(3, strides=2), (7, 6, 3), 2, "float64")
    x = np.random.default_rng(0).standard_normal((2, 4, 7, 6, 3))
    dy = np.random.default_rng(1).standard_normal((2, 4, 3, 2, 3))
    with fast.reference():
        layer.forward(x, True)
        dx_ref = layer.backward(dy)
    with fast.forced(True):
        layer.forward(x, True)
        assert layer._arg is not None
        monkeypatch.setattr(fp, "_maxpool_backward", lambda *a: 1 / 0)
        with pytest.warns(fast.FastPathWarning, match="ZeroDivisionError"):
            dx = layer.backward(dy)
    np.testing.assert_array_equal(dx, dx_ref)


def test_reference_switch_runs_no_kernel(monkeypatch):
    monkeypatch.setattr(fast, "_broken", set())
    for name, module in KERNELS.items():
        monkeypatch.setattr(module, name, lambda *a: 1 / 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", fast.FastPathWarning)
        loss, _ = fit_once("reference", "float64", steps=2)
    assert np.isfinite(loss).all() and not fast._broken


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_chunks_run_every_index_once_and_propagates_errors(threads, monkeypatch):
    """glassnet.fast.chunks.run: each index exactly once whatever the threads; an exception in any
    thread reaches the caller (attempt() then falls back), and BLAS gets its thread count back."""
    monkeypatch.setattr(chunks, "threads", lambda: threads)
    before = chunks._blas().info()
    seen = []
    chunks.run(seen.append, 17)
    assert sorted(seen) == list(range(17))

    def fail(i):
        if i == 5:
            raise ValueError("chunk 5")
    with pytest.raises(ValueError, match="chunk 5"):
        chunks.run(fail, 9)
    assert chunks._blas().info() == before


def test_conv_pieces_run_with_blas_on_one_thread(monkeypatch, fresh_fast):
    """With 2 threads every GEMM of the layer runs inside a piece, BLAS single-threaded (after a
    call on BLAS' own threads, OpenBLAS' worker spins ~0.1 s; see glassnet.fast.conv)."""
    fresh_fast["threads"] = 2
    layer = one_layer(gn.Conv2D(4, 3, padding="same", activation="relu"), (6, 5, 3), 2, "float32")
    x = np.random.default_rng(2).standard_normal((5, 6, 5, 3)).astype("float32")
    seen = []
    real = np.matmul

    def spy(*args, **kwargs):
        seen.append(max(lib.num_threads for lib in chunks._blas().lib_controllers))
        return real(*args, **kwargs)
    monkeypatch.setattr(np, "matmul", spy)
    y = layer.forward(x, True)
    layer.backward(np.ones_like(y))
    monkeypatch.setattr(np, "matmul", real)
    assert seen and set(seen) == {1}
