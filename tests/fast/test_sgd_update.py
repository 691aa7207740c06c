"""The compiled SGD update (glassnet.fast.sgd) makes bit for bit the reference's update in every
form, and stands aside (reference path, same numbers) where it does not apply."""

import numpy as np
import pytest

import glassnet as gn
from glassnet import fast
from glassnet.layers import Param

pytest.importorskip("numba")

FORMS = [dict(momentum=0.0), dict(momentum=[0.9, 0.5, 0.0]), dict(momentum=[0.9, 0.5, 0.0], nesterov=True),
         dict(momentum=[0.9, 0.5, 0.0], form="keras"), dict(momentum=[0.9, 0.5, 0.0], nesterov=True, form="keras")]


def _run(flag: bool, dtype, steps=5, grad_view=False, **kw):
    """Five steps of SGD(**kw) on three models' (4, 3) weights and (3,) biases; returns the
    values and velocities after each step, and whether the compiled update ran."""
    rng = np.random.default_rng(0)
    params = [Param("w", rng.standard_normal((3, 4, 3)).astype(dtype), True),
              Param("b", rng.standard_normal((3, 3)).astype(dtype), False)]
    opt = gn.SGD(lr=[0.1, 0.01, 0.3], **kw).bind(params, 3, np.dtype(dtype))
    seen, used = [], []
    for _ in range(steps):
        for p in params:
            g = rng.standard_normal(p.value.shape[::-1] if grad_view else p.value.shape).astype(dtype)
            p.grad = np.moveaxis(g, range(g.ndim), range(g.ndim)[::-1]) if grad_view else g
        with fast.forced(flag):
            used.append(opt._fast_step() if flag else False)
            if not used[-1]:  # the update on the reference path
                with fast.forced(False):
                    opt.step()
            else:
                opt.t += 1
        seen.append([p.value.copy() for p in params] + [s["v"].copy() for s in opt.state.values() if "v" in s])
    return seen, all(used)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kw", FORMS, ids=["plain", "pytorch", "pytorch-nesterov", "keras", "keras-nesterov"])
def test_every_form_equals_the_reference_bit_for_bit(kw, dtype):
    ref, _ = _run(False, dtype, **kw)
    got, used = _run(True, dtype, **kw)
    assert used
    for a, b in zip(ref, got):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(y, x)


def test_step_uses_the_compiled_update_and_trains_like_the_reference():
    x = np.random.default_rng(1).standard_normal((16, 5))
    y = x[:, :2] * 2.0

    def fit(flag):
        model = gn.Sequential([gn.Dense(4, activation="tanh"), gn.Dense(2)], input_shape=(5,), seed=[0, 1], dtype="float64")
        with fast.forced(flag):
            model.fit(x, y, loss="mse", optimizer=gn.SGD(0.1, momentum=0.9), batch_size=4, epochs=3, progress=False)
        return np.concatenate([p.value.ravel() for p in model.param_list])

    calls = []
    import glassnet.fast.sgd as sgd_kernels

    real = sgd_kernels.sgd_update
    sgd_kernels.sgd_update = lambda *a: calls.append(1) or real(*a)
    try:
        got = fit(True)
    finally:
        sgd_kernels.sgd_update = real
    assert calls
    np.testing.assert_allclose(got, fit(False), rtol=1e-12, atol=1e-14)


def test_non_contiguous_gradients_stay_on_the_reference_with_the_same_numbers():
    ref, _ = _run(False, "float64", grad_view=True, momentum=0.9)
    got, used = _run(True, "float64", grad_view=True, momentum=0.9)
    assert not used
    for a, b in zip(ref, got):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(y, x)


def test_frozen_models_take_the_masked_reference_step():
    p = Param("w", np.ones((2, 3)), True)
    opt = gn.SGD(lr=0.5, momentum=0.9).bind([p], 2, np.dtype("float64"))
    opt.freeze(np.array([True, False]))
    p.grad = np.ones((2, 3))
    opt.step()
    np.testing.assert_array_equal(p.value, [[1.0] * 3, [0.5] * 3])


def test_a_failing_kernel_falls_back_with_one_warning(monkeypatch):
    import glassnet.fast.sgd as sgd_kernels

    def broken(*args):
        raise RuntimeError("no compiler today")

    monkeypatch.setattr(sgd_kernels, "sgd_update", broken)
    monkeypatch.setattr(fast, "_broken", set())
    ref, _ = _run(False, "float64", momentum=0.9)
    with pytest.warns(fast.FastPathWarning, match="sgd"):
        got, used = _run(True, "float64", momentum=0.9)
    assert not used and not fast.available("sgd")
    for a, b in zip(ref, got):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(y, x)
