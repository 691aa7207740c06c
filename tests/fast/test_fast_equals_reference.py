"""Every registered layer, activation, loss and optimizer trains the same on the fast path and on
the reference path (``glassnet.fast``): float64 to 1e-12.

The cases come from the registries (tests/conftest.py), so a new entry is covered the day it is
registered, and so is a new fast kernel: whichever kernels a network reaches (the compiled
dense segments, batched GEMMs, convolution kernels), the result must be the reference's. Each
network trains with full batches and with shuffled mini-batches (ragged ones too: an epoch's last
batch shorter), as one model and as an ensemble large enough for the model-axis kernels.
"""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet import fast

pytestmark = pytest.mark.filterwarnings("error::glassnet.fast.FastPathWarning")

#: an ensemble at least as large as glassnet.backend.MANY_MODELS, where model-axis kernels engage
ENSEMBLE = 16


def _fit_both(build, x, y, *, loss="mse", optimizer=lambda: gn.SGD(0.05, momentum=0.9), steps=12,
              batch_size="full", log_every=5, rtol=1e-12):
    out = []
    for flag in (False, True):
        model = build()
        with fast.forced(flag):
            hist = model.fit(x, y, loss=loss, optimizer=optimizer(), batch_size=batch_size, steps=steps,
                             log_every=log_every, progress=False)
        out.append((model, hist))
    (ref, href), (got, hgot) = out
    for name in ref.params:
        np.testing.assert_allclose(got.params[name], ref.params[name], rtol=rtol, atol=rtol, err_msg=name)
    for key in href.keys():
        np.testing.assert_allclose(hgot[key], href[key], rtol=rtol, atol=rtol, err_msg=key)
    assert list(hgot.status) == list(href.status)
    return ref


@pytest.mark.parametrize("models", [None, ENSEMBLE])
@pytest.mark.parametrize("batch_size", ["full", 4])
def test_every_layer_trains_the_same_on_both_paths(layer_case, cases, models, batch_size):
    if layer_case.error:
        pytest.skip(layer_case.error)
    rng = np.random.default_rng(7)
    x = layer_case.data(rng, 8, cases.away_from_zero)
    model0 = layer_case.build(seed=1, dtype="float64")
    y = rng.standard_normal((8,) + tuple(model0.output_shape))
    _fit_both(lambda: layer_case.build(seed=1, models=models, dtype="float64"), x, y, batch_size=batch_size)


@pytest.mark.parametrize("models", [None, ENSEMBLE])
@pytest.mark.parametrize("batch_size", ["full", 4], ids=["full", "ragged-4"])  # 10 rows: 4, 4, 2
def test_every_activation_trains_the_same_on_both_paths(activation_spec, models, batch_size):
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((10, 4)), rng.standard_normal((10, 2))

    def build():
        return gn.Sequential([gn.Dense(5, activation=activation_spec), gn.Dense(2, activation=activation_spec)],
                             input_shape=(4,), seed=2, models=models, dtype="float64")

    # mini-batches take 3 steps an epoch: momentum 0.9 would make an identity network diverge,
    # whose rounding differences grow with it
    opt = (lambda: gn.SGD(0.05, momentum=0.9)) if batch_size == "full" else (lambda: gn.SGD(0.05))
    _fit_both(build, x, y, steps=30, log_every=10, batch_size=batch_size, optimizer=opt)


@pytest.mark.parametrize("models", [None, ENSEMBLE])
@pytest.mark.parametrize("batch_size", ["full", 4], ids=["full", "ragged-4"])  # 10 rows: 4, 4, 2
def test_every_loss_trains_the_same_on_both_paths(loss_case, models, batch_size):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((10, 4))
    y = loss_case.targets(rng, 10, 3)

    def build():
        return gn.Sequential([gn.Dense(6, activation="tanh"), gn.Dense(3, activation=loss_case.output_activation)],
                             input_shape=(4,), seed=4, models=models, dtype="float64")

    _fit_both(build, x, y, loss=loss_case.name, steps=30, log_every=10, batch_size=batch_size)


@pytest.mark.parametrize("models", [None, ENSEMBLE])
def test_every_optimizer_trains_the_same_on_both_paths(optimizer_name, models):
    rng = np.random.default_rng(6)
    x, y = rng.standard_normal((10, 4)), rng.standard_normal((10, 2))
    opt_cls = gn.optimizers.optimizers.get(optimizer_name)

    def build():
        return gn.Sequential([gn.Dense(5, activation="sigmoid"), gn.Dense(2)], input_shape=(4,), seed=3,
                             models=models, dtype="float64")

    # adaptive optimizers divide by running gradient scales, which magnifies the last-bit
    # differences of a summation order over 30 steps: 1e-9 for the trajectory; one step's
    # gradients are held to 1e-12 below
    _fit_both(build, x, y, optimizer=lambda: opt_cls(lr=0.05), steps=30, log_every=10, rtol=1e-9)


@pytest.mark.parametrize("models", [None, ENSEMBLE])
def test_every_layer_computes_the_same_outputs_and_gradients_on_both_paths(layer_case, cases, models):
    if layer_case.error:
        pytest.skip(layer_case.error)
    rng = np.random.default_rng(8)
    x = layer_case.data(rng, 6, cases.away_from_zero)
    results = []
    for flag in (False, True):
        model = layer_case.build(seed=1, models=models, dtype="float64")
        with fast.forced(flag):
            xin = model.prepare_inputs(x, "x") if hasattr(model, "prepare_inputs") else x
            out = model.forward(xin, True)
            grad = np.cos(np.arange(out.size)).reshape(out.shape)  # any fixed dL/dout
            model.backward(grad)
        results.append((out, {p.name: p.grad.copy() for p in model.param_list}))
    (out_ref, g_ref), (out_fast, g_fast) = results
    np.testing.assert_allclose(out_fast, out_ref, rtol=1e-12, atol=1e-12)
    for name in g_ref:
        np.testing.assert_allclose(g_fast[name], g_ref[name], rtol=1e-12, atol=1e-12, err_msg=name)


def test_the_glass_box_reads_the_same_state_after_fast_training():
    """gradcheck and the backprop trace see identical networks after a fit on either path."""
    rng = np.random.default_rng(9)
    x, y = rng.standard_normal((8, 4)), rng.standard_normal((8, 2))

    def build():
        return gn.Sequential([gn.Dense(5, activation="tanh"), gn.Dense(2)], input_shape=(4,), seed=0,
                             dtype="float64")

    ref = _fit_both(build, x, y, steps=40, log_every=20)
    for flag in (False, True):
        model = build()
        with fast.forced(flag):
            model.fit(x, y, loss="mse", optimizer=gn.SGD(0.05, momentum=0.9), batch_size="full", steps=40,
                      log_every=20, progress=False)
            report = gn.gradcheck(model, x, y, loss="mse")
        assert report.ok, report
        for name in ref.params:
            np.testing.assert_allclose(model.params[name], ref.params[name], rtol=1e-12, atol=1e-12)
