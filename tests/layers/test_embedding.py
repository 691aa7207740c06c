"""Embedding and PositionalEmbedding: lookups, scatter-add gradients, PyTorch, the model axis."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import Embedding, PositionalEmbedding, from_config, layer_types


@pytest.mark.parametrize("shared", [False, True], ids=["per_model", "shared"])
def test_embedding_matches_torch(shared, lh, rng, torch):
    M, B, T, V, D = 3, 4, 5, 6, 3
    layer = lh.build(Embedding(V, D), (T,), M=M)
    x = rng.integers(0, V, (B, T) if shared else (M, B, T))  # a small vocabulary: indices repeat
    y = layer.forward(x, True)
    assert y.shape == (M, B, T, D)
    dy = rng.standard_normal(y.shape)
    layer.backward(dy)
    for m in range(M):
        emb = torch.nn.Embedding(V, D, dtype=torch.float64)
        with torch.no_grad():
            emb.weight.copy_(torch.tensor(layer.E.value[m]))
        yt = emb(torch.tensor(x if shared else x[m]))
        yt.backward(torch.tensor(dy[m]))
        np.testing.assert_array_equal(y[m], yt.detach().numpy())
        np.testing.assert_allclose(layer.E.grad[m], emb.weight.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_embedding_gradient_central_differences(lh, rng):
    layer = lh.build(Embedding(5, 2), (3, 2), M=2)  # any per-sample index shape
    x = rng.integers(0, 5, (2, 4, 3, 2)).astype(np.float64)
    dy = rng.standard_normal((2, 4, 3, 2, 2))
    dx = lh.fd_check(layer, x, dy, check_x=False)
    np.testing.assert_array_equal(dx, 0)  # a lookup is piecewise constant in its indices
    layer.need_input_grad = False
    layer.forward(x, True)
    assert layer.backward(dy) is None


def test_embedding_refuses_non_indices(lh):
    layer = lh.build(Embedding(4, 2), (3,), M=1)
    with pytest.raises(gn.GlassnetError, match="integer indices.*0.5"):
        layer.forward(np.array([[0.0, 0.5, 1.0]]), False)
    with pytest.raises(gn.GlassnetError, match="index 4 is outside"):
        layer.forward(np.array([[0, 4, 1]]), False)
    with pytest.raises(gn.GlassnetError, match="index -1 is outside"):
        layer.forward(np.array([[0, -1, 1]]), False)
    with pytest.raises(gn.GlassnetError, match="dtype"):
        layer.forward(np.array([["a", "b", "c"]]), False)
    for bad in (0, 2.5, True):
        with pytest.raises(gn.GlassnetError, match="input_dim"):
            Embedding(bad, 3)
    with pytest.raises(gn.GlassnetError, match="output_dim"):
        Embedding(3, 0)


def test_positional_embedding_adds_a_learned_row_per_step(lh, rng):
    layer = lh.build(PositionalEmbedding(6), (4, 3), M=2)
    assert layer.P.shape == (2, 6, 3) and layer.output_shape == (4, 3)
    x = rng.standard_normal((5, 4, 3))  # shared
    y = layer.forward(x, True)
    np.testing.assert_array_equal(y, x[None] + layer.P.value[:, None, :4])
    dy = rng.standard_normal(y.shape)
    lh.fd_check(layer, x, dy)
    np.testing.assert_array_equal(layer.P.grad[:, 4:], 0)  # positions beyond T get nothing


def test_positional_embedding_checks_its_sizes(lh):
    with pytest.raises(gn.GlassnetError, match="max_len=3 is shorter than the 4"):
        lh.build(PositionalEmbedding(3), (4, 2))
    with pytest.raises(gn.GlassnetError, match="dim=5 does not match"):
        lh.build(PositionalEmbedding(8, 5), (4, 2))
    with pytest.raises(gn.GlassnetError, match="steps, dim"):
        lh.build(PositionalEmbedding(8), (4,))


def token_model():
    return [Embedding(7, 4), PositionalEmbedding(8, 4), gn.LayerNorm(), gn.Flatten(), gn.Dense(2)]


@pytest.mark.parametrize("per_model_data", [False, True])
def test_token_model_ensemble_equals_separate_networks(per_model_data, lh, rng):
    x = rng.integers(0, 7, (3, 5, 6) if per_model_data else (5, 6))
    lh.ensemble_vs_separate(token_model, (6,), x, rng.standard_normal((5, 2)))


@pytest.mark.parametrize("M", [1, 2])
def test_token_model_gradcheck(M, rng):
    model = gn.Sequential(token_model(), input_shape=(6,), seed=4, models=M if M > 1 else None, dtype="float64")
    gn.gradcheck(model, rng.integers(0, 7, (5, 6)), rng.standard_normal((5, 2)), "mse",
                 check_input=False).assert_close()


def test_embedding_registry_config_and_files(rng, tmp_path, lh):
    assert layer_types.get("embedding") is Embedding
    assert layer_types.get("position_embedding") is PositionalEmbedding
    for layer in (Embedding(9, 3, embeddings_regularizer=gn.L2(0.1)), PositionalEmbedding(5),
                  PositionalEmbedding(5, 2)):
        assert from_config(layer.config()).config() == layer.config()
    model = gn.Sequential(token_model(), input_shape=(6,), seed=[3, 4], dtype="float64")
    lh.roundtrip(model, rng.integers(0, 7, (4, 6)), tmp_path)
    assert model.param_count() == 7 * 4 + 8 * 4 + 2 * 4 + 6 * 4 * 2 + 2
