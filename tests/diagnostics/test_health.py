"""Unit health: planted dead, duplicate and saturated units are found; healthy nets stay clean."""

import copy

import numpy as np
import pytest

import glassnet as gn
from glassnet.diagnostics import (compute_gradients, count_dead_units, dead_units, duplicate_units,
                                  gradient_norms, layer_gradient_norms, saturated_units, saturation)
from glassnet.errors import GlassnetError


def relu_net(models=None, seed=0):
    return gn.Sequential([gn.Dense(16, activation="relu"), gn.Dense(8, activation="relu"), gn.Dense(3)],
                         input_shape=(5,), init=gn.init.HeNormal(), seed=seed, models=models, dtype="float64")


@pytest.fixture
def data():
    return np.random.default_rng(0).normal(size=(200, 5))


def test_healthy_relu_net_has_no_dead_units(data):
    dead = dead_units(relu_net(models=3), data)
    assert set(dead) == {"dense_0", "dense_1"}  # the identity output layer is not a ReLU site
    assert dead["dense_0"].shape == (3, 16) and dead["dense_1"].shape == (3, 8)
    assert not any(v.any() for v in dead.values())


def test_planted_dead_unit_is_found_in_its_model_only(data):
    model = relu_net(models=3)
    model.layers[0].b.value[1, 4] = -1e3  # model 1, unit 4: z < 0 for every sample
    dead = dead_units(model, data)
    assert np.argwhere(dead["dense_0"]).tolist() == [[1, 4]]
    assert count_dead_units(model, data)["dense_0"].tolist() == [0, 1, 0]
    # a dead unit passes no gradient to its incoming weights (why it never recovers)
    compute_gradients(model, data, np.zeros((200, 3)), "half_sse")
    assert np.all(model.layers[0].W.grad[1, :, 4] == 0) and model.layers[0].b.grad[1, 4] == 0
    assert np.any(model.layers[0].W.grad[0, :, 4] != 0)


def test_seed_004_dead_relu_and_chunking():
    # seed 004: positive inputs, a negative first weight -> h1 = relu(w x) = 0 for every example
    model = gn.Sequential([gn.Dense(1, activation="relu", use_bias=False),
                           gn.Dense(1, activation="relu", use_bias=False)], input_shape=(1,), dtype="float64")
    model.layers[0].W.value[...] = -1.0
    model.layers[1].W.value[...] = 1.0
    x = np.linspace(0.1, 5, 37)[:, None]
    full = dead_units(model, x, batch_size=None)
    assert full["dense_0"].tolist() == [[True]] and full["dense_1"].tolist() == [[True]]
    chunked = dead_units(model, x, batch_size=5)
    assert all((full[k] == chunked[k]).all() for k in full)
    model.layers[0].W.value[...] = 1.0  # seed 004: set the weight to 1 and it is alive
    assert not dead_units(model, x)["dense_0"].any()


def test_dead_units_standalone_activation_and_family(data):
    model = gn.Sequential([gn.Dense(4), gn.Activation("leaky_relu"), gn.Dense(4, activation="elu")],
                          input_shape=(5,), seed=1, dtype="float64")
    assert dead_units(model, data) == {}  # no zero-slope activations
    fam = dead_units(model, data, family=True)
    assert set(fam) == {"activation_0", "dense_1"} and not any(v.any() for v in fam.values())
    model.layers[0].b.value[0, 2] = -1e3
    fam = dead_units(model, data, family=True)
    assert fam["activation_0"][0].tolist() == [False, False, True, False]


def test_duplicates_planted_pair_and_healthy(data):
    model = relu_net(models=2)
    assert duplicate_units(model) == {"dense_0": [[], []], "dense_1": [[], []], "dense_2": [[], []]}
    W, b = model.layers[0].W.value, model.layers[0].b.value
    W[1, :, 9] = W[1, :, 2]
    b[1, 9] = b[1, 2]
    assert duplicate_units(model)["dense_0"] == [[], [[2, 9]]]
    b[1, 9] += 1e-3  # the same weights but another bias: a different function
    assert duplicate_units(model)["dense_0"] == [[], []]
    assert duplicate_units(model, atol=1e-2)["dense_0"] == [[], [[2, 9]]]


def test_duplicates_symmetric_init_all_units_and_stay_so(data):
    # seed 000 q1: all weights equal -> every unit of a layer is the same unit, and training keeps it so
    model = gn.Sequential([gn.Dense(4, activation="tanh"), gn.Dense(2)], input_shape=(5,),
                          init=gn.init.Constant(0.3), dtype="float64")
    y = np.random.default_rng(1).normal(size=(200, 2))
    model.fit(data, y, loss="mse", optimizer=gn.SGD(0.05), steps=50, batch_size="full")
    dups = duplicate_units(model)
    assert dups["dense_0"] == [[[0, 1, 2, 3]]]
    assert dups["dense_1"] == [[]]  # the output units see different targets and separate


def test_conv_layers_are_checked_too():
    model = gn.Sequential([gn.Conv2D(4, 3, activation="relu"), gn.Flatten(), gn.Dense(2)],
                          input_shape=(6, 6, 2), seed=0, dtype="float64")
    W, b = model.layers[0].W.value, model.layers[0].b.value
    W[0, ..., 3] = W[0, ..., 0]
    b[0, 3] = b[0, 0]
    b[0, 1] = -1e3
    x = np.random.default_rng(0).normal(size=(10, 6, 6, 2))
    assert duplicate_units(model)["conv2d_0"] == [[[0, 3]]]
    assert dead_units(model, x)["conv2d_0"][0].tolist() == [False, True, False, False]


def test_saturated_units(data):
    model = gn.Sequential([gn.Dense(6, activation="sigmoid"), gn.Dense(6, activation="tanh"), gn.Dense(1)],
                          input_shape=(5,), init=gn.init.Normal(std=0.1), seed=0, dtype="float64")
    assert not any(v.any() for v in saturated_units(model, data).values())
    model.layers[0].b.value[0, 1] = 20.0   # sigmoid(z) ~ 1 on every sample
    model.layers[1].b.value[0, 5] = -20.0  # tanh(z) ~ -1
    sat = saturated_units(model, data)
    assert np.flatnonzero(sat["dense_0"][0]).tolist() == [1]
    assert np.flatnonzero(sat["dense_1"][0]).tolist() == [5]
    share = saturation(model, data, threshold=0.99)
    assert share["dense_0"][0, 1] == 1.0 and share["dense_0"][0, 0] == 0.0
    with pytest.raises(GlassnetError, match="threshold"):
        saturation(model, data, threshold=1.5)


def test_gradient_norms_match_numpy(data):
    model = relu_net(models=2)
    compute_gradients(model, data, np.ones((200, 3)), "mse")
    norms = gradient_norms(model)
    for p in model.param_list:
        ref = [np.linalg.norm(p.grad[m].ravel()) for m in range(2)]
        assert norms[p.name] == pytest.approx(ref, rel=1e-12)
    layer = layer_gradient_norms(model)
    ref0 = [np.sqrt(np.sum(model.layers[0].W.grad[m] ** 2) + np.sum(model.layers[0].b.grad[m] ** 2))
            for m in range(2)]
    assert layer["dense_0"] == pytest.approx(ref0, rel=1e-12)
    assert set(layer) == {"dense_0", "dense_1", "dense_2"}


def test_vanishing_gradients_in_a_deep_sigmoid_stack(data):
    layers = [gn.Dense(16, activation="sigmoid") for _ in range(8)] + [gn.Dense(1)]
    model = gn.Sequential(layers, input_shape=(5,), seed=0, dtype="float64")
    compute_gradients(model, data, np.ones((200, 1)), "mse")
    norms = layer_gradient_norms(model)
    # each sigmoid layer multiplies the backward signal by at most 1/4 times the weights
    assert norms["dense_0"][0] < 1e-2 * norms["dense_7"][0]


def test_compute_gradients_leaves_parameters(data):
    model = relu_net()
    before = copy.deepcopy(model.params)
    value = compute_gradients(model, data, np.zeros((200, 3)), "half_sse")
    assert value.shape == (1,) and value[0] > 0
    for k, v in model.params.items():
        np.testing.assert_array_equal(v, before[k])
