"""The hand-worked numbers of the seed documents, computed by the engine.

* 001: x=1, y=5, w1=3, w2=2, relu then linear, no biases, L = 1/2 (y - yhat)^2, lr 0.1:
  yhat = 6, dL/dw1 = 2, dL/dw2 = 3, and one SGD step gives w1 = 2.8, w2 = 1.7.
* 004: softmax(7, 1, 2.2) = (98.9%, 0.25%, 0.81%), cross-entropy -log 0.989 = 0.011 for label 0,
  and a 6-32-32-32-4 MLP has 2,468 parameters.
* 003: the 8-3-8 sigmoid autoencoder from N(0, variance 0.01) weights reproduces its 8 one-hot
  inputs (argmax of every output row is its input's 1); 59 parameters.
"""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet import losses as losses_mod
from glassnet.activations import softmax


def seed001_network():
    return gn.Sequential([
        gn.Dense(1, activation="relu", use_bias=False, kernel_init=gn.init.Constant(3)),
        gn.Dense(1, use_bias=False, kernel_init=gn.init.Constant(2)),
    ], input_shape=(1,), dtype="float64")


def test_seed001_forward_backward_and_one_sgd_step():
    model = seed001_network()
    x, y = np.array([[1.0]]), np.array([[5.0]])
    yhat = model.forward(x, train=True)
    assert yhat.shape == (1, 1, 1)
    assert yhat[0, 0, 0] == 6.0
    loss = losses_mod.get("half_sse")
    value, grad = loss.value_and_grad(yhat, y)
    assert value[0] == 0.5  # 1/2 (5 - 6)^2
    model.backward(grad)
    assert model.grads["dense_0.W"][0, 0] == 2.0
    assert model.grads["dense_1.W"][0, 0] == 3.0

    model = seed001_network()
    hist = model.fit(x, y, loss="half_sse", optimizer=gn.SGD(lr=0.1), steps=1, batch_size=1)
    assert hist["loss"][0] == 0.5
    assert model.params["dense_0.W"][0, 0] == pytest.approx(2.8, abs=1e-15)
    assert model.params["dense_1.W"][0, 0] == pytest.approx(1.7, abs=1e-15)
    assert model.predict(x)[0, 0] == pytest.approx(2.8 * 1.7)


def test_seed001_relu_gate_closed_gives_no_gradient_to_w1():
    """With x = -1 the relu is off: yhat = 0, dL/dw2 = 0*... = 0 and dL/dw1 = 0 (dead unit)."""
    model = seed001_network()
    yhat = model.forward(np.array([[-1.0]]), train=True)
    model.backward(losses_mod.get("half_sse").grad(yhat, np.array([[5.0]])))
    assert yhat[0, 0, 0] == 0.0
    assert model.grads["dense_0.W"][0, 0] == 0.0
    assert model.grads["dense_1.W"][0, 0] == 0.0


def test_seed004_softmax_and_cross_entropy():
    z = np.array([[[7.0, 1.0, 2.2]]])
    p = softmax(z)[0, 0]
    assert round(100 * p[0], 1) == 98.9
    assert round(100 * p[1], 2) == 0.25
    assert round(100 * p[2], 2) == 0.81
    # the seed's own fractions 1097 / (1097 + 2.72 + 9.03) etc. (e^7, e^1, e^2.2 rounded)
    np.testing.assert_allclose(p, np.array([1097, 2.72, 9.03]) / (1097 + 2.72 + 9.03), rtol=2e-3)
    ce = losses_mod.get("cross_entropy").value(softmax(z), np.array([0]))
    assert round(float(ce[0]), 3) == 0.011
    fused = losses_mod.get("softmax_cross_entropy").value(z, np.array([0]))
    assert round(float(fused[0]), 3) == 0.011
    np.testing.assert_allclose(fused, ce, rtol=1e-12)
    np.testing.assert_allclose(fused, -np.log(p[0]), rtol=1e-12)


def test_seed004_mlp_has_2468_parameters():
    model = gn.Sequential([gn.Dense(32, activation="relu"), gn.Dense(32, activation="relu"),
                           gn.Dense(32, activation="relu"), gn.Dense(4, activation="softmax")], input_shape=(6,))
    # (6*32 + 32) + 2*(32*32 + 32) + (32*4 + 4)
    assert model.param_count() == 6 * 32 + 32 + 2 * (32 * 32 + 32) + 32 * 4 + 4 == 2468
    assert "Total params: 2,468" in model.summary(print_fn=None)


def autoencoder(**kwargs):
    return gn.Sequential([gn.Dense(3, activation="sigmoid"), gn.Dense(8, activation="sigmoid")],
                         input_shape=(8,), init=gn.init.Normal(variance=0.01), **kwargs)


def test_seed003_init_is_normal_with_variance_001():
    model = autoencoder(seed=0, models=200, dtype="float64")
    W = np.concatenate([model.params["dense_0.W"].ravel(), model.params["dense_1.W"].ravel()])
    assert W.size == 200 * 48
    assert abs(W.mean()) < 0.005  # sd of the mean: 0.1/sqrt(9600) = 0.001
    assert W.var() == pytest.approx(0.01, rel=0.05)
    assert np.all(model.params["dense_0.b"] == 0)


def test_seed003_autoencoder_reproduces_its_inputs_for_several_seeds():
    x = np.eye(8)
    model = autoencoder(seed=0, models=8, dtype="float64")
    assert model.param_count() == 59  # 8*3 + 3 + 3*8 + 8
    before = model.predict(x)
    hist = model.fit(x, x, loss="half_sse", optimizer=gn.SGD(lr=10.0), steps=1500, batch_size="full")
    after = model.predict(x)
    assert after.shape == (8, 8, 8)
    assert not np.all(before.argmax(-1) == np.arange(8))  # it was not solved at the start
    assert np.all(after.argmax(-1) == np.arange(8)), "every model, every input: argmax is its own 1"
    assert hist.status == ["completed"] * 8
    assert np.all(hist.final("loss") < 0.05)
    assert np.all(hist.final("loss") < hist.curves["loss"][:, 0] / 5)


def test_seed003_autoencoder_single_float32_with_weight_decay():
    """The issue's own call: one network, float32 default, weight decay, mini-batches of 8."""
    x = np.eye(8, dtype=np.float32)
    model = autoencoder(seed=0)
    model.fit(x, x, loss="half_sse", optimizer=gn.SGD(lr=10.0), weight_decay=1e-5, batch_size=8, steps=1500)
    out = model.predict(x)
    assert out.dtype == np.float32
    assert np.array_equal(out.argmax(-1), np.arange(8))
    assert model.evaluate(x, x, "half_sse", metrics=["accuracy"])["accuracy"] == 1.0
