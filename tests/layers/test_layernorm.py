"""LayerNorm: central differences, PyTorch's nn.LayerNorm (float64), the model axis, configs."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import LayerNorm, from_config, layer_types


def randomize(layer, rng):
    layer.gamma.value[...] = 1 + 0.5 * rng.standard_normal(layer.gamma.shape)
    layer.beta.value[...] = rng.standard_normal(layer.beta.shape)


@pytest.mark.parametrize("shared", [False, True], ids=["per_model", "shared"])
@pytest.mark.parametrize("shape", [(5,), (4, 3), (2, 3, 4)], ids=["flat", "sequence", "image"])
def test_layernorm_central_differences(shape, shared, lh, rng):
    layer = lh.build(LayerNorm(eps=1e-3), shape, M=2)
    randomize(layer, rng)
    x = 2 * rng.standard_normal(((3,) if shared else (2, 3)) + shape)
    dy = rng.standard_normal((2, 3) + shape)
    lh.fd_check(layer, x, dy)


def test_layernorm_matches_torch(lh, rng, torch):
    M, B, T, C = 2, 3, 4, 5
    layer = lh.build(LayerNorm(eps=1e-5), (T, C), M=M)
    randomize(layer, rng)
    x = rng.standard_normal((M, B, T, C)) * 3 + 1
    y = layer.forward(x, True)
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    for m in range(M):
        ln = torch.nn.LayerNorm(C, eps=1e-5, dtype=torch.float64)
        with torch.no_grad():
            ln.weight.copy_(torch.tensor(layer.gamma.value[m]))
            ln.bias.copy_(torch.tensor(layer.beta.value[m]))
        xt = torch.tensor(x[m], requires_grad=True)
        yt = ln(xt)
        yt.backward(torch.tensor(dy[m]))
        np.testing.assert_allclose(y[m], yt.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(dx[m], xt.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(layer.gamma.grad[m], ln.weight.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(layer.beta.grad[m], ln.bias.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_layernorm_normalizes_each_position(lh, rng):
    layer = lh.build(LayerNorm(eps=1e-12), (4, 6), M=1)
    y = layer.forward(rng.standard_normal((1, 3, 4, 6)) * 5 + 2, False)
    np.testing.assert_allclose(y.mean(axis=-1), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=-1), 1, atol=1e-9)


@pytest.mark.parametrize("M", [1, 3])
def test_layernorm_gradcheck_in_a_network(M, rng):
    model = gn.Sequential([gn.Dense(5, activation="tanh"), LayerNorm(), gn.Dense(3)], input_shape=(4,), seed=3,
                          models=M if M > 1 else None, dtype="float64")
    x, y = rng.standard_normal((6, 4)), rng.standard_normal((6, 3))
    gn.gradcheck(model, x, y, "mse").assert_close()


def test_layernorm_ensemble_equals_separate_networks(lh, rng):
    def make():
        return [gn.Dense(6, activation="tanh"), LayerNorm(), gn.Dense(2)]
    lh.ensemble_vs_separate(make, (4,), rng.standard_normal((5, 4)), rng.standard_normal((5, 2)))


def test_layernorm_registry_config_and_files(rng, tmp_path, lh):
    assert layer_types.get("layer_norm") is LayerNorm
    layer = LayerNorm(eps=1e-4, name="ln")
    assert from_config(layer.config()).config() == layer.config()
    model = gn.Sequential([LayerNorm(), gn.Flatten(), gn.Dense(2)], input_shape=(3, 4), seed=[1, 2], dtype="float64")
    model.layers[0].gamma.value[...] = rng.standard_normal(model.layers[0].gamma.shape)
    lh.roundtrip(model, rng.standard_normal((4, 3, 4)), tmp_path)


def test_layernorm_rejects_bad_eps():
    for bad in (0, -1e-5, "small", True):
        with pytest.raises(gn.GlassnetError, match="eps"):
            LayerNorm(eps=bad)
