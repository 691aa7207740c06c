"""DiagnosticsCallback: curves recorded into the history, measured correctly, training unchanged."""

import copy

import numpy as np
import pytest

import glassnet as gn
from glassnet.diagnostics import DiagnosticsCallback, compute_gradients, layer_gradient_norms
from glassnet.training import History


def setup(models=2):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4))
    y = rng.normal(size=(64, 2))
    model = gn.Sequential([gn.Dense(8, activation="relu"), gn.Dense(2)], input_shape=(4,), seed=0,
                          models=models, dtype="float64")
    return model, x, y


def test_curves_are_recorded_and_correct():
    model, x, y = setup()
    model.layers[0].b.value[1, 3] = -1e3  # one dead unit in model 1, dead from start to finish
    start = copy.deepcopy(model)
    hist = model.fit(x, y, loss="mse", optimizer=gn.SGD(0.05), steps=20, batch_size="full", log_every=5,
                     callbacks=[DiagnosticsCallback(x)])
    T = len(hist.steps)
    assert hist.curves["dead_units/dense_0"].shape == (2, T)
    assert hist.curves["dead_units/dense_0"][0].tolist() == [0] * T
    assert hist.curves["dead_units/dense_0"][1].tolist() == [1] * T
    # step 0's gradient norm is the gradient of the untrained model (full batch, no penalty)
    compute_gradients(start, x, y, "mse")
    ref = layer_gradient_norms(start)
    for name in ("dense_0", "dense_1"):
        assert hist.curves[f"grad_norm/{name}"][:, 0] == pytest.approx(ref[name], rel=1e-10)
    assert hist.curves["sparsity"][:, 0].tolist() == [0, 0]


def test_training_is_unchanged_by_the_callback():
    a, x, y = setup()
    b, _, _ = setup()
    kw = dict(loss="mse", optimizer=gn.SGD(0.05, momentum=0.9), steps=30, batch_size=16, log_every=3)
    a.fit(x, y, **kw)
    b.fit(x, y, callbacks=[DiagnosticsCallback(x, saturation=True)], **kw)
    for k, v in a.params.items():
        np.testing.assert_array_equal(v, b.params[k])


def test_every_and_record_extra_fill_nan():
    model, x, y = setup(models=None)
    hist = model.fit(x, y, loss="mse", steps=10, batch_size="full", log_every=1,
                     callbacks=[DiagnosticsCallback(x, every=3)])
    curve = hist["sparsity"]  # single model: (T,)
    assert curve.shape == hist.steps.shape
    assert np.isfinite(curve[::3]).all() and np.isnan(curve[1::3]).all()
    h = History(2, single=False)
    h.record(0, {"loss": [1.0, 2.0]}, np.array([True, True]))
    h.record(5, {"loss": [0.5, 1.0]}, np.array([True, True]))
    h.record_extra(5, "extra", [7, 8])
    h.sync(6, 0.0)
    assert np.isnan(h.curves["extra"][:, 0]).all() and h.curves["extra"][:, 1].tolist() == [7, 8]


def test_bad_every():
    with pytest.raises(gn.GlassnetError, match="every"):
        DiagnosticsCallback(np.zeros((2, 4)), every=0)
