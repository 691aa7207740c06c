"""Backprop against central finite differences, in float64, for every registered piece.

Two independent checks:
* each activation's ``backward`` (and ``derivative``) against central differences of its value,
  and each loss's ``grad`` against central differences of its ``value``;
* whole networks through :func:`glassnet.diagnostics.gradcheck`: every activation, loss and layer
  type, with L1/L2 penalties, per-model data and ensembles of 3.

Kinks (relu-like functions at 0, L1 at 0) are avoided by construction: inputs are drawn at least
0.2 away from 0, and where a kink sits inside a network the test first asserts that no
pre-activation is within 1e-4 of it (a central difference with h = 1e-6 cannot cross it then).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

import glassnet as gn
from glassnet import activations as acts
from glassnet import losses as losses_mod
from glassnet.layers import PReLU

H = 1e-6


def central_diff(f, z, h=H):
    """d sum(f(z)) / dz entry by entry (f returns a scalar)."""
    z = z.copy()
    flat = z.reshape(-1)
    out = np.zeros(flat.size)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        hi = f(z)
        flat[i] = old - h
        lo = f(z)
        flat[i] = old
        out[i] = (hi - lo) / (2 * h)
    return out.reshape(z.shape)




def kinked_preactivations(model, x, kinked, train=True):
    """Pre-activations that feed a kinked function, from one forward pass of a copy of ``model``."""
    m = copy.deepcopy(model)
    m.forward(np.asarray(x, np.float64), train)
    out = []
    for layer in m.layers:
        inner = getattr(layer, "act", layer)
        if isinstance(inner, PReLU) and inner._z is not None:
            out.append(inner._z)
        elif isinstance(inner, gn.Activation) and inner.fn.name in kinked:
            out.append(inner._z)
    return out


def assert_away_from_kinks(model, x, kinked, margin=1e-4, train=True):
    for z in kinked_preactivations(model, x, kinked, train):
        assert np.abs(z).min() > margin, "test data puts a pre-activation on a kink; change the seed"


def standalone_activation(spec):
    return PReLU(alpha_init=0.3) if spec == "prelu" else gn.Activation(spec)


# -- the activation functions themselves ------------------------------------------------------

def test_every_activation_is_covered(cases):
    names = {cases.spec_name(s) for s in cases.activation_specs()}
    assert set(acts.activations.names()) <= names


def test_activation_backward_matches_central_differences(activation_spec, rng, cases):
    if activation_spec == "prelu":
        pytest.skip("prelu is a layer with a parameter: checked by the layer tests below")
    fn = acts.get(activation_spec)
    kinked = cases.spec_name(activation_spec) in cases.KINKED
    z = cases.away_from_zero(rng, (2, 5, 4)) if kinked else 2.0 * rng.standard_normal((2, 5, 4))
    da = rng.standard_normal(z.shape)
    z0, da0 = z.copy(), da.copy()
    a = fn(z)
    analytic = fn.backward(z, a, da)
    numeric = central_diff(lambda zz: float(np.sum(fn(zz) * da)), z)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)
    np.testing.assert_array_equal(z, z0)  # backward never modifies its inputs
    np.testing.assert_array_equal(da, da0)
    if fn.elementwise:
        # the elementwise derivative is backward with da = 1
        np.testing.assert_allclose(fn.derivative(z, a), fn.backward(z, a, np.ones_like(z)), rtol=1e-12)
        np.testing.assert_allclose(fn.derivative(z, a) * da, numeric, rtol=1e-6, atol=1e-8)
    else:
        with pytest.raises(gn.GlassnetError):
            fn.derivative(z, a)


def test_activation_keeps_float32(activation_spec, rng):
    if activation_spec == "prelu":
        pytest.skip("prelu is a layer with a parameter: its dtype is checked by the layer tests")
    fn = acts.get(activation_spec)
    z = rng.standard_normal((1, 3, 4)).astype(np.float32)
    a = fn(z)
    assert a.dtype == np.float32
    assert fn.backward(z, a, np.ones_like(z)).dtype == np.float32
    if fn.elementwise:
        assert fn.derivative(z, a).dtype == np.float32


def test_loss_grad_matches_central_differences(loss_case, rng):
    """loss.grad against central differences of loss.value, on raw predictions (M = 2)."""
    loss = losses_mod.get(loss_case.name)
    M, B, K = 2, 5, 3
    z = rng.standard_normal((M, B, K))
    if loss_case.output_activation == "sigmoid":
        z = 1 / (1 + np.exp(-z))
    elif loss_case.output_activation == "softmax":
        z = acts.softmax(z)
    for y in (loss_case.targets(rng, B, K), loss_case.targets(rng, B, K, M=M)):
        y = loss.prepare_targets(y, (K,))
        value, grad = loss.value_and_grad(z.copy(), y)
        assert value.shape == (M,)
        np.testing.assert_allclose(value, loss.value(z, y), rtol=1e-14)
        np.testing.assert_allclose(grad, loss.grad(z, y), rtol=1e-14)
        numeric = central_diff(lambda p: float(loss.value(p, y).sum()), z)
        np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)


# -- whole networks through gradcheck ---------------------------------------------------------

@pytest.mark.parametrize("M", [1, 3])
def test_gradcheck_activation_inside_dense(activation_spec, M, rng, cases):
    model = gn.Sequential([gn.Dense(6, activation=activation_spec), gn.Dense(3)], input_shape=(4,),
                          seed=11, models=M if M > 1 else None, dtype="float64",
                          bias_init=gn.init.Normal(std=0.3))
    x, y = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    assert_away_from_kinks(model, x, cases.KINKED)
    gn.gradcheck(model, x, y, "mse").assert_close()


def test_gradcheck_activation_layer_on_inputs(activation_spec, rng, cases):
    """The activation applied straight to the data, which is drawn away from kinks."""
    model = gn.Sequential([standalone_activation(activation_spec), gn.Dense(3)], input_shape=(4,),
                          seed=2, models=2, dtype="float64")
    x, y = cases.away_from_zero(rng, (6, 4)), rng.standard_normal((6, 3))
    gn.gradcheck(model, x, y, "half_sse").assert_close()


@pytest.mark.parametrize("M", [1, 3])
def test_gradcheck_loss(loss_case, M, rng):
    K = 3
    model = gn.Sequential([gn.Dense(5, activation="tanh"), gn.Dense(K, activation=loss_case.output_activation)],
                          input_shape=(4,), seed=5, models=M if M > 1 else None, dtype="float64",
                          init=gn.init.Normal(std=0.8))
    x = rng.standard_normal((6, 4))
    gn.gradcheck(model, x, loss_case.targets(rng, 6, K), loss_case.name).assert_close()


@pytest.mark.parametrize("train", [True, False], ids=["train", "inference"])
@pytest.mark.parametrize("M", [1, 3])
def test_gradcheck_layer(layer_case, M, train, rng, cases):
    if layer_case.error:
        pytest.fail(layer_case.error)
    model = layer_case.build(seed=3, models=M if M > 1 else None, dtype="float64", bias_init=gn.init.Normal(std=0.2))
    x = layer_case.data(rng, 6, cases.away_from_zero)
    y = rng.standard_normal((6, 3))
    assert_away_from_kinks(model, x, cases.KINKED, train=train)
    gn.gradcheck(model, x, y, "mse", train=train, check_input=layer_case.check_input).assert_close()


def test_gradcheck_through_dropout_and_batchnorm_together(rng, cases):
    model = gn.Sequential([gn.Dense(6, activation="swish"), gn.BatchNorm(), gn.Dropout(0.3),
                           gn.Dense(5, activation="elu"), gn.BatchNorm(), gn.Dense(3)],
                          input_shape=(4,), seed=[4, 9, 1], dtype="float64")
    x, y = rng.standard_normal((8, 4)), rng.integers(0, 3, 8)
    assert_away_from_kinks(model, x, cases.KINKED)
    gn.gradcheck(model, x, y, "softmax_cross_entropy").assert_close()


@pytest.mark.parametrize("weight_decay,l1", [(0.3, 0.0), (0.0, 0.05), ([0.1, 0.0, 0.7], [0.02, 0.05, 0.0])])
def test_gradcheck_penalties(weight_decay, l1, rng):
    model = gn.Sequential([gn.Dense(5, activation="sigmoid"), gn.Dense(3)], input_shape=(4,), seed=8,
                          models=3, dtype="float64")
    for p in model.param_list:  # L1's kink at W = 0 is far from every weight
        assert np.abs(p.value).min() > 1e-4 or not p.regularize
    x, y = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    gn.gradcheck(model, x, y, "half_sse", weight_decay=weight_decay, l1=l1).assert_close()


def test_gradcheck_per_layer_regularizers(rng):
    model = gn.Sequential([
        gn.Dense(5, activation="tanh", kernel_regularizer=gn.L1L2(l1=0.02, l2=0.3), bias_regularizer=gn.L2(0.5)),
        gn.Dense(3, kernel_regularizer=gn.L1(0.1)),
    ], input_shape=(4,), seed=8, dtype="float64", bias_init=gn.init.Normal(std=0.5))
    x, y = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    gn.gradcheck(model, x, y, "mse", weight_decay=0.2).assert_close()


@pytest.mark.parametrize("loss_name", ["mse", "softmax_cross_entropy"])
def test_gradcheck_per_model_data(loss_name, rng):
    M, B = 3, 6
    model = gn.Sequential([gn.Dense(5, activation="tanh"), gn.BatchNorm(), gn.Dense(3)], input_shape=(4,),
                          seed=0, models=M, dtype="float64")
    x = rng.standard_normal((M, B, 4))
    y = rng.standard_normal((M, B, 3)) if loss_name == "mse" else rng.integers(0, 3, (M, B))
    gn.gradcheck(model, x, y, loss_name).assert_close()


def test_gradcheck_detects_a_wrong_derivative(rng):
    """The check can fail: a tanh whose derivative forgot the square is caught."""

    class BrokenTanh(acts.Tanh):
        def backward(self, z, a, da):
            return da * (1 - a)

    model = gn.Sequential([gn.Dense(5, activation=BrokenTanh()), gn.Dense(2)], input_shape=(3,), seed=0,
                          dtype="float64")
    report = gn.gradcheck(model, rng.standard_normal((4, 3)), rng.standard_normal((4, 2)), "mse")
    assert not report.ok(1e-3)
    assert report.params[0].max_rel_error > 1e-2
    with pytest.raises(AssertionError):
        report.assert_close()


def test_gradcheck_runs_on_a_float32_model_as_float64(rng):
    model = gn.Sequential([gn.Dense(4, activation="tanh"), gn.Dense(2)], input_shape=(3,), seed=0)
    report = gn.gradcheck(model, rng.standard_normal((4, 3)), rng.standard_normal((4, 2)), "mse")
    report.assert_close()
    assert model.param_list[0].value.dtype == np.float32  # the model itself is untouched
