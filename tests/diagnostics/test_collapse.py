"""Linear collapse: a network with identity activations is one matrix (seed 001's 2-3-2-1)."""

import numpy as np
import pytest

import glassnet as gn
from glassnet.diagnostics import check_collapse, collapse_linear
from glassnet.errors import GlassnetError


def linear_2321(models=None):
    return gn.Sequential([gn.Dense(3), gn.Dense(2), gn.Dense(1)], input_shape=(2,), seed=3, models=models,
                         bias_init=gn.init.Normal(std=0.5), dtype="float64")


def test_collapse_equals_network_output():
    model = linear_2321(models=3)
    W, b = collapse_linear(model)
    assert W.shape == (3, 2, 1) and b.shape == (3, 1)
    # read the affine map off the network itself: f(0) = b, f(e_i) - f(0) = W[i]
    f0 = model.predict(np.zeros((1, 2)))[:, 0]
    np.testing.assert_allclose(b, f0, atol=1e-12)
    for i in range(2):
        e = np.zeros((1, 2))
        e[0, i] = 1
        np.testing.assert_allclose(W[:, i], model.predict(e)[:, 0] - f0, atol=1e-12)
    x = np.random.default_rng(0).normal(size=(50, 2))
    assert np.all(check_collapse(model, x) < 1e-12)


def test_collapse_with_flatten_and_dropout():
    model = gn.Sequential([gn.Flatten(), gn.Dense(4), gn.Dropout(0.5), gn.Activation("linear"), gn.Dense(2)],
                          input_shape=(2, 3), seed=0, dtype="float64")
    W, b = collapse_linear(model)
    assert W.shape == (1, 6, 2)
    x = np.random.default_rng(1).normal(size=(7, 2, 3))
    assert check_collapse(model, x)[0] < 1e-12


def test_nonlinear_network_is_refused_by_name():
    model = gn.Sequential([gn.Dense(3, activation="relu"), gn.Dense(1)], input_shape=(2,))
    with pytest.raises(GlassnetError, match="dense_0.*relu"):
        collapse_linear(model)
    model = gn.Sequential([gn.Dense(3), gn.BatchNorm(), gn.Dense(1)], input_shape=(2,))
    with pytest.raises(GlassnetError, match="batchnorm_0"):
        collapse_linear(model)
