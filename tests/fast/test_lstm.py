"""The LSTM's compiled time loop (glassnet.fast.lstm) against the reference loop of
glassnet.layers.recurrent:

* forward and backward of one layer on both paths -- output, final state, the per-step caches the
  glass box reads (``_caches``, ``_prev``), input and parameter gradients, ``step_grad_norms`` and
  the initial-state gradient -- with and without ``return_sequences``, a shared input, an initial
  state (argument or attribute), no bias, masks (per batch, per model, ``mask_value``); float64 to
  1e-12, float32 within rounding;
* the models split over threads giving the one-call numbers bit for bit;
* a reference backward after a fast forward (the caches are views of the fast arrays), and those
  caches read like the reference's lists;
* the float32 sigmoid and tanh against exact values (a few ulps) and with NaN and infinities;
* a few steps of ``fit`` equal on both paths, and gradcheck passing on the fast path;
* the fallback: a kernel that raises gives exactly one ``FastPathWarning``, training runs on, and
  the numbers are the reference's.

Every comparison first checks that the fast path really ran (FastPathWarning is an error inside
:func:`fresh_fast`, and a counter on the kernels): a silent fallback would otherwise make the
equality tests compare the reference with itself.
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet import fast

pytestmark = pytest.mark.skipif(fast.numba() is None, reason="numba is not installed")

from glassnet.fast import lstm as fl  # noqa: E402 - after the skip
from fit_paths import assert_falls_back_once, assert_same_training, train_on  # noqa: E402 - tests/fast/fit_paths.py

KERNELS = ["_forward", "_backward"]


def close(a, b, dtype):
    """float64: 1e-12 relative (to the array's scale for entries near zero); float32: rounding."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype
    rtol = 1e-12 if np.dtype(dtype) == np.float64 else 2e-5
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * max(1.0, float(np.nanmax(np.abs(b), initial=0))))


@pytest.fixture
def fresh_fast(monkeypatch):
    """The fast path on, no kernel marked broken, FastPathWarning an error, and a count of the
    kernels' calls (``calls[name]``)."""
    monkeypatch.setattr(fast, "_broken", set())
    calls = dict.fromkeys(KERNELS, 0)
    for name in KERNELS:
        real = getattr(fl, name)

        def counted(*args, _real=real, _name=name):
            calls[_name] += 1
            return _real(*args)
        monkeypatch.setattr(fl, name, counted)
    with warnings.catch_warnings():
        warnings.simplefilter("error", fast.FastPathWarning)
        with fast.forced(True):
            yield calls


def one_layer(M, dtype, T=6, C=3, H=5, seed=0, **kw):
    net = gn.Sequential([gn.LSTM(H, **kw)], input_shape=(T, C), seed=seed, models=None if M == 1 else M,
                        dtype=dtype, bias_init=gn.init.Normal(std=0.3))
    layer = net.layers[0]
    layer.need_input_grad = True
    return layer


def run(layer, path, x, dy_seed=1, **kw):
    """Everything a forward and backward leave, on ``path`` ("reference"/"fast")."""
    with fast.reference() if path == "reference" else fast.forced(True):
        y = layer.forward(x, True, **kw)
        caches = [np.array(c) for step in layer._caches for c in step]
        prev = [np.array(p) for step in layer._prev for p in step]
        dy = np.random.default_rng(dy_seed).standard_normal(y.shape).astype(y.dtype)
        dx = layer.backward(dy)
    out = {"y": y, "dx": dx, "norms": layer.step_grad_norms, "h_in": np.array(layer._h_in)}
    out.update({f"final{i}": np.array(s) for i, s in enumerate(layer.final_state)})
    out.update({f"state_grad{i}": np.array(g) for i, g in enumerate(layer.initial_state_grad)})
    out.update({f"cache{i}": c for i, c in enumerate(caches)})
    out.update({f"prev{i}": p for i, p in enumerate(prev)})
    out.update({k: np.array(p.grad) for k, p in layer.params.items()})
    return out


def assert_same(ref, got, dtype):
    assert got.keys() == ref.keys()
    for k in ref:
        close(got[k], ref[k], dtype)


CASES = [  # return_sequences, shared input, initial state (None / "argument" / "attribute"), use_bias
    (False, False, None, True),
    (True, False, None, True),
    (True, True, "argument", True),
    (False, True, "attribute", False),
    (True, False, "argument", False),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("M", [1, 3])
@pytest.mark.parametrize("B", [4, 45])  # 45: the products' vector tiles, single vectors and scalar tail
@pytest.mark.parametrize("case", CASES, ids=["last", "seq", "seq_shared_h0arg", "last_shared_h0attr_nobias",
                                             "seq_h0arg_nobias"])
def test_fast_equals_reference(case, B, M, dtype, fresh_fast):
    return_sequences, shared, init, use_bias = case
    T, C, H = 6, 3, 5
    layer = one_layer(M, dtype, T, C, H, return_sequences=return_sequences, use_bias=use_bias)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((B, T, C) if shared or M == 1 else (M, B, T, C)).astype(dtype)
    state = (rng.standard_normal((M, B, H)), rng.standard_normal((B, H)))  # h0 per model, c0 shared
    kw = {}
    if init == "attribute":
        layer.initial_state = state
    elif init == "argument":
        kw["initial_state"] = state
    ref = run(layer, "reference", x, **kw)
    got = run(layer, "fast", x, **kw)
    assert fresh_fast["_forward"] >= 1 and fresh_fast["_backward"] >= 1
    assert_same(ref, got, dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("mask", ["batch", "per_model", "mask_value"])
def test_masked_fast_equals_reference(mask, dtype, fresh_fast):
    M, B, T, C, H = 3, 4, 7, 2, 6
    layer = one_layer(M, dtype, T, C, H, return_sequences=mask != "batch",
                      mask_value=-1.0 if mask == "mask_value" else None)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((M, B, T, C)).astype(dtype)
    keep = rng.random((M, B, T) if mask == "per_model" else (B, T)) < 0.6
    kw = {}
    if mask == "mask_value":
        x[:, ~keep] = -1.0
    else:
        kw["mask"] = keep
    ref = run(layer, "reference", x, **kw)
    got = run(layer, "fast", x, **kw)
    assert fresh_fast["_forward"] >= 1 and fresh_fast["_backward"] >= 1
    assert_same(ref, got, dtype)


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("shared", [False, True])
def test_models_split_over_threads_change_nothing(threads, shared, fresh_fast, monkeypatch):
    """The kernels run on contiguous shares of the models, one a thread (glassnet.fast.chunks):
    every number is the one-call result, bit for bit (models are independent)."""
    layer = one_layer(5, "float32", T=6, return_sequences=True)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 6, 3) if shared else (5, 4, 6, 3)).astype("float32")
    keep = rng.random((4, 6)) < 0.7
    _assert_threads_change_nothing(layer, x, keep, threads, fresh_fast, monkeypatch)


@pytest.mark.parametrize("M,threads,H", [(1, 2, 5), (1, 3, 5), (2, 3, 5), (1, 2, 40), (1, 2, 64)])
def test_batch_split_over_threads_changes_nothing(M, threads, H, fresh_fast, monkeypatch):
    """With fewer models than threads and at least 64 columns a thread (197 // 64 = 3) the kernels
    split the batch columns (multiples of 16) instead, and the weight-gradient products their fixed
    row blocks (H = 40: 160 gate rows, 3 blocks): every number is still the one-call result, bit
    for bit (samples and rows are independent)."""
    from threadpoolctl import threadpool_limits

    layer = one_layer(M, "float32", T=5, H=H, return_sequences=True)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((197, 5, 3)).astype("float32")
    keep = rng.random((197, 5)) < 0.7
    # one thread is one BLAS thread (what threads() == 1 means)
    _assert_threads_change_nothing(layer, x, keep, threads, fresh_fast, monkeypatch,
                                   lambda: threadpool_limits(1, user_api="blas"))


def test_whole_batch_runs_equal_the_row_loops(fresh_fast, monkeypatch):
    """With every column, no mask and no per-step output gradient the kernels loop over a step's
    gate blocks as contiguous runs; a split of the batch takes the row-by-row loops: the numbers
    are the same bit for bit."""
    from threadpoolctl import threadpool_limits

    layer = one_layer(1, "float32", T=5, H=6)
    x = np.random.default_rng(4).standard_normal((128, 5, 3)).astype("float32")
    _assert_threads_change_nothing(layer, x, None, 2, fresh_fast, monkeypatch,
                                   lambda: threadpool_limits(1, user_api="blas"))


def test_a_small_batch_is_not_split(fresh_fast, monkeypatch):
    """One model with fewer than 64 columns a thread runs on one thread (two 16-column shares of
    B = 32 cost twice one thread's time): each kernel is called once."""
    from glassnet.fast import chunks

    monkeypatch.setattr(chunks, "threads", lambda: 2)
    layer = one_layer(1, "float32", T=5, H=6)
    run(layer, "fast", np.random.default_rng(4).standard_normal((127, 5, 3)).astype("float32"))
    assert fresh_fast["_forward"] == 1 and fresh_fast["_backward"] == 1


def _assert_threads_change_nothing(layer, x, keep, threads, calls_seen, monkeypatch, one_thread=contextlib.nullcontext):
    """Run ``layer`` on one thread (inside ``one_thread()``) and on ``threads``: each kernel is
    called once a thread, and every number is bit for bit the one-thread result."""
    from glassnet.fast import chunks

    monkeypatch.setattr(chunks, "threads", lambda: 1)
    with one_thread():
        one = run(layer, "fast", x, mask=keep)
    calls = dict(calls_seen)
    monkeypatch.setattr(chunks, "threads", lambda: threads)
    split = run(layer, "fast", x, mask=keep)
    assert calls_seen["_forward"] - calls["_forward"] == threads
    assert calls_seen["_backward"] - calls["_backward"] == threads
    for k in one:
        np.testing.assert_array_equal(split[k], one[k], err_msg=k)


def test_reference_backward_after_fast_forward(monkeypatch):
    """The fast forward leaves the reference's per-step caches (as views), so a reference backward
    -- after the switch was turned off, or a failing backward kernel -- gives the same gradients."""
    monkeypatch.setattr(fast, "_broken", set())
    layer = one_layer(2, "float64", return_sequences=True)
    x = np.random.default_rng(0).standard_normal((2, 4, 6, 3))
    ref = run(layer, "reference", x)
    with fast.forced(True):
        y = layer.forward(x, True)
        assert layer._fast_cache is not None
    with fast.reference():
        dx = layer.backward(np.random.default_rng(1).standard_normal(y.shape))
    close(dx, ref["dx"], "float64")
    close(layer.weight_hh.grad, ref["weight_hh"], "float64")
    with fast.forced(True):
        layer.forward(x, True)
        monkeypatch.setattr(fl, "_backward", lambda *a: 1 / 0)
        with pytest.warns(fast.FastPathWarning, match="ZeroDivisionError"):
            dx = layer.backward(np.random.default_rng(1).standard_normal(y.shape))
    close(dx, ref["dx"], "float64")
    close(layer.weight_ih.grad, ref["weight_ih"], "float64")


def test_step_caches_read_like_the_reference_lists(fresh_fast):
    """``_caches`` / ``_prev`` after a fast forward: a sequence of per-step tuples like the
    reference's lists (length, negative indices, slices, iteration), as the studies read them."""
    layer = one_layer(2, "float64", T=5)
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 3))
    with fast.reference():
        layer.forward(x, True)
        caches, prev = list(layer._caches), list(layer._prev)
    layer.forward(x, True)
    assert fresh_fast["_forward"] >= 1
    assert len(layer._caches) == len(caches) == 5 and len(layer._prev) == 5
    for got, want in ((layer._caches[-1], caches[-1]), (layer._prev[0], prev[0])):
        for g, w in zip(got, want):
            close(g, w, "float64")
    tail = layer._caches[1:]
    assert isinstance(tail, list) and len(tail) == 4
    close(np.mean([c[1].mean(axis=2) for c in tail], axis=0), np.mean([c[1].mean(axis=2) for c in caches[1:]], axis=0),
          "float64")
    with pytest.raises(IndexError):
        layer._caches[5]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_products_against_numpy(dtype):
    """The register-tiled products (glassnet.fast.lstm_products) on every path through them: 4-vector
    tiles, single vectors and scalar columns (45 = 32 + 8 + 5 float32 columns; 16 + 16 + 12 float64),
    an odd number of rows (the last computed twice), a transposed W (the backward's W_hh^T), a
    share of the columns; weight_grads with rows not a multiple of 4, an odd column count, a
    scalar tail of n, a shared z and a row range."""
    from glassnet.fast.lstm_products import matvec_bias, weight_grads

    nb = fast.numba()

    @nb.njit(error_model="numpy")
    def apply(W, z, bias, out, b0, b1):
        matvec_bias(W, z, bias, out, b0, b1)

    rng = np.random.default_rng(5)
    W, z, bias = (rng.standard_normal(s).astype(dtype) for s in ((7, 11), (11, 45), (7,)))
    exact = W.astype(float) @ z + bias[:, None]
    for W_, exact_ in ((W, exact), (np.ascontiguousarray(W.T).T, exact)):
        out = np.full((7, 45), np.nan, dtype)
        apply(W_, z, bias, out, 0, 45)
        close(out, exact_.astype(dtype), dtype)
    Wt = np.ascontiguousarray(rng.standard_normal((11, 7)).astype(dtype))
    out = np.full((7, 45), np.nan, dtype)
    apply(Wt.T, z, bias, out, 3, 40)
    assert np.isnan(out[:, :3]).all() and np.isnan(out[:, 40:]).all()
    close(out[:, 3:40], (Wt.T.astype(float) @ z[:, 3:40] + bias[:, None]).astype(dtype), dtype)

    d = rng.standard_normal((3, 10, 37)).astype(dtype)
    for zs in (rng.standard_normal((3, 5, 37)).astype(dtype), rng.standard_normal((1, 5, 37)).astype(dtype)):
        out = np.full((3, 10, 5), np.nan, dtype)
        weight_grads(d, zs, out, 2, 9)
        assert np.isnan(out[:, :2]).all() and np.isnan(out[:, 9:]).all()
        close(out[:, 2:9], (d[:, 2:9].astype(float) @ zs.swapaxes(-1, -2)).astype(dtype), dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_weight_grads_from_time_major_steps_equal_the_feature_major_product(dtype):
    """weight_grads_steps (the backward's products from its time-major dL/da, B a multiple of the
    lanes) gives weight_grads_model's numbers bit for bit: the same sums in the same order -- so the
    backward's numbers do not depend on which of the two it took."""
    from glassnet.fast.lstm_products import weight_grads_model, weight_grads_steps

    nb = fast.numba()

    @nb.njit(error_model="numpy")
    def both(d_steps, d_flat, z, out_steps, out_flat):
        weight_grads_steps(d_steps, z, out_steps)
        weight_grads_model(d_flat, z, out_flat, 0, d_flat.shape[0])

    rng = np.random.default_rng(6)
    T, R, B, K = 7, 10, 16, 5  # 10 rows: the last tile of 4 clamped; 5 columns: the last of 3 too
    d_steps = rng.standard_normal((T, R, B)).astype(dtype)
    d_flat = np.ascontiguousarray(d_steps.transpose(1, 0, 2).reshape(R, T * B))
    z = rng.standard_normal((K, T * B)).astype(dtype)
    out_steps, out_flat = np.full((R, K), np.nan, dtype), np.full((R, K), np.nan, dtype)
    both(d_steps, d_flat, z, out_steps, out_flat)
    np.testing.assert_array_equal(out_steps, out_flat)
    close(out_steps, (d_flat.astype(float) @ z.T.astype(float)).astype(dtype), dtype)


def test_float32_gate_functions():
    """The float32 sigmoid and tanh (glassnet.fast.elementwise's, one formula each): under 3 ulps from
    the exact values (measured 2.32 and 2.09 on these points), and NaN, +-inf, +-0 and the
    saturated ends right (the sigmoid 0 where e^-z overflows, z <= -88.4; the tanh's sign copied,
    so tanh(-0) = -0)."""
    nb = fast.numba()

    @nb.njit(error_model="numpy")
    def apply(x, s, t):
        for i in range(x.size):
            s[i] = fl.sigmoid(x[i])
            t[i] = fl.tanh(x[i])

    x = np.concatenate([np.linspace(-80, 80, 20001), np.linspace(-2, 2, 4001), np.geomspace(1e-9, 1, 500),
                        -np.geomspace(1e-9, 1, 500)]).astype(np.float32)
    s, t = np.empty_like(x), np.empty_like(x)
    apply(x, s, t)
    x64 = x.astype(np.float64)
    for got, exact in ((s, 1 / (1 + np.exp(-x64))), (t, np.tanh(x64))):
        ulp = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
        assert np.max(np.abs(got - exact) / ulp) < 3
    special = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 100.0, -100.0, -88.5, 86.5], np.float32)
    s, t = np.empty_like(special), np.empty_like(special)
    apply(special, s, t)
    assert np.isnan(s[0]) and np.isnan(t[0])
    np.testing.assert_array_equal(s[1:5], [1, 0, 0.5, 0.5])
    np.testing.assert_array_equal(t[1:5], [1, -1, 0, 0])
    assert s[5] == 1 and s[6] == 0 and t[5] == 1 and t[6] == -1
    assert np.signbit(t[4]) and not np.signbit(t[3])
    assert s[7] == 0 and s[8] == 1  # exact: 3.7e-39 (subnormal), 1 - 2.6e-38 (rounds to 1)


def fit_once(path, dtype, M=None, steps=4):
    """Losses (every step) and final parameters of a short ``fit`` of LSTM -> LSTM -> Dense."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((16, 8, 3)).astype(dtype)
    y = rng.integers(0, 3, 16)
    net = gn.Sequential([gn.LSTM(6, return_sequences=True), gn.LSTM(5), gn.Dense(3)], input_shape=(8, 3),
                        seed=0, models=M, dtype=dtype)
    return train_on(path, net, x, y, steps)


def fit_both(dtype, M=None, steps=4):
    return fit_once("reference", dtype, M, steps), fit_once("fast", dtype, M, steps)


@pytest.mark.parametrize("dtype,M", [("float64", None), ("float64", 3), ("float32", None), ("float32", 3)])
def test_fit_equal_on_both_paths(dtype, M, fresh_fast):
    ref, run = fit_both(dtype, M)
    assert fresh_fast["_forward"] > 0 and fresh_fast["_backward"] > 0
    assert_same_training(run, ref, dtype)


def test_gradcheck_passes_on_the_fast_path(fresh_fast):
    rng = np.random.default_rng(0)
    model = gn.Sequential([gn.LSTM(4, return_sequences=True), gn.LSTM(3), gn.Dense(2)], input_shape=(5, 2),
                          seed=1, models=2)
    gn.gradcheck(model, rng.standard_normal((3, 5, 2)), rng.standard_normal((3, 2)), "mse")
    assert fresh_fast["_forward"] > 0 and fresh_fast["_backward"] > 0


@pytest.mark.parametrize("broken", KERNELS)
def test_fallback_one_warning_and_reference_numbers(broken, monkeypatch):
    assert_falls_back_once(monkeypatch, fl, broken, "lstm", fit_both)


def test_reference_switch_runs_no_kernel(monkeypatch):
    monkeypatch.setattr(fast, "_broken", set())
    for name in KERNELS:
        monkeypatch.setattr(fl, name, lambda *a: 1 / 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", fast.FastPathWarning)
        with fast.reference():
            fit_once("reference", "float64", steps=2)


def test_training_holds_blas_on_one_thread_while_the_loops_keep_two(fresh_fast):
    """An LSTM runs its loops on glassnet.fast.chunks' threads (``LSTM.runs_pieces``): a training
    run holds BLAS on one thread (glassnet.fast.training_scope; the Dense after it would wake
    OpenBLAS' spinning worker every step) and gives it back after."""
    from glassnet.fast import chunks

    seen = []

    class Spy(gn.Callback):
        def on_step_begin(self, state):
            seen.append((max(lib.num_threads for lib in chunks._blas().lib_controllers), chunks.threads()))

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((32, 5, 3)).astype("float32"), rng.integers(0, 3, 32)
    net = gn.Sequential([gn.LSTM(4), gn.Dense(3)], input_shape=(5, 3), seed=0, dtype="float32")
    with chunks._blas().limit(limits=2):
        if chunks.threads() < 2:
            pytest.skip("BLAS cannot run 2 threads here")
        net.fit(x, y, loss="softmax_cross_entropy", optimizer=gn.SGD(0.01), batch_size=32, steps=2,
                callbacks=[Spy()], progress=False)
        assert chunks.threads() == 2
    assert fresh_fast["_forward"] >= 2 and seen and set(seen) == {(1, 2)}
