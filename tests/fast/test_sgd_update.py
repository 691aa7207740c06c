"""The compiled SGD update (glassnet.fast.sgd) makes bit for bit the reference's update in every
form, and stands aside (reference path, same numbers) where it does not apply."""

import numpy as np
import pytest

import glassnet as gn
from glassnet import fast
from glassnet.layers import Param

pytest.importorskip("numba")
from glassnet import optimizers  # noqa: E402
from glassnet.fast import sgd as sgd_kernels  # noqa: E402

FORMS = [dict(momentum=0.0), dict(momentum=[0.9, 0.5, 0.0]), dict(momentum=[0.9, 0.5, 0.0], nesterov=True),
         dict(momentum=[0.9, 0.5, 0.0], form="keras"), dict(momentum=[0.9, 0.5, 0.0], nesterov=True, form="keras")]


@pytest.fixture(autouse=True)
def every_size(monkeypatch):
    """The compiled update for parameters of any size (the default leaves small ones to NumPy)."""
    monkeypatch.setattr(optimizers, "FUSED_MIN_SIZE", 0)


@pytest.fixture
def kernel_calls(monkeypatch):
    calls = []
    real = sgd_kernels.sgd_update
    monkeypatch.setattr(sgd_kernels, "sgd_update", lambda *a: calls.append(a[0].size) or real(*a))
    return calls


def _run(flag: bool, dtype, steps=5, grad_view=False, **kw):
    """Five steps of SGD(**kw) on three models' (4, 3) weights and (3,) biases; returns the
    values and velocities after each step."""
    rng = np.random.default_rng(0)
    params = [Param("w", rng.standard_normal((3, 4, 3)).astype(dtype), True),
              Param("b", rng.standard_normal((3, 3)).astype(dtype), False)]
    opt = gn.SGD(lr=[0.1, 0.01, 0.3], **kw).bind(params, 3, np.dtype(dtype))
    seen = []
    for _ in range(steps):
        for p in params:
            g = rng.standard_normal(p.value.shape[::-1] if grad_view else p.value.shape).astype(dtype)
            p.grad = np.moveaxis(g, range(g.ndim), range(g.ndim)[::-1]) if grad_view else g
        with fast.forced(flag):
            opt.step()
        seen.append([p.value.copy() for p in params] + [s["v"].copy() for s in opt.state.values() if "v" in s])
    assert opt.t == steps
    return seen


def _assert_identical(ref, got):
    for a, b in zip(ref, got):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(y, x)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kw", FORMS, ids=["plain", "pytorch", "pytorch-nesterov", "keras", "keras-nesterov"])
def test_every_form_equals_the_reference_bit_for_bit(kw, dtype, kernel_calls):
    ref = _run(False, dtype, **kw)
    assert not kernel_calls
    got = _run(True, dtype, **kw)
    assert len(kernel_calls) == 10  # 2 parameters x 5 steps
    _assert_identical(ref, got)


def test_fit_uses_the_compiled_update_and_trains_like_the_reference(kernel_calls):
    x = np.random.default_rng(1).standard_normal((16, 5))
    y = x[:, :2] * 2.0

    def fit(flag):
        model = gn.Sequential([gn.Dense(4, activation="tanh"), gn.Dense(2)], input_shape=(5,), seed=[0, 1],
                              dtype="float64")
        with fast.forced(flag):
            model.fit(x, y, loss="mse", optimizer=gn.SGD(0.1, momentum=0.9), batch_size=4, epochs=3, progress=False)
        return np.concatenate([p.value.ravel() for p in model.param_list])

    got = fit(True)
    assert kernel_calls
    np.testing.assert_allclose(got, fit(False), rtol=1e-12, atol=1e-14)


def test_small_parameters_stay_on_numpy_by_default(monkeypatch, kernel_calls):
    monkeypatch.setattr(optimizers, "FUSED_MIN_SIZE", 10)  # the (3, 3) bias is below, the weight above
    ref = _run(False, "float64", momentum=0.9)
    got = _run(True, "float64", momentum=0.9)
    assert kernel_calls == [36] * 5
    _assert_identical(ref, got)


def test_non_contiguous_gradients_stay_on_the_reference_with_the_same_numbers(kernel_calls):
    ref = _run(False, "float64", grad_view=True, momentum=0.9)
    got = _run(True, "float64", grad_view=True, momentum=0.9)
    assert not kernel_calls
    _assert_identical(ref, got)


def test_frozen_models_take_the_masked_reference_step():
    p = Param("w", np.ones((2, 3)), True)
    opt = gn.SGD(lr=0.5, momentum=0.9).bind([p], 2, np.dtype("float64"))
    opt.freeze(np.array([True, False]))
    p.grad = np.ones((2, 3))
    opt.step()
    np.testing.assert_array_equal(p.value, [[1.0] * 3, [0.5] * 3])


def test_a_failing_kernel_falls_back_with_one_warning(monkeypatch):
    def broken(*args):
        raise RuntimeError("no compiler today")

    monkeypatch.setattr(sgd_kernels, "sgd_update", broken)
    monkeypatch.setattr(fast, "_broken", set())
    ref = _run(False, "float64", momentum=0.9)
    with pytest.warns(fast.FastPathWarning, match="sgd"):
        got = _run(True, "float64", momentum=0.9)
    assert not fast.available("sgd")
    _assert_identical(ref, got)
