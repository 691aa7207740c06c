"""MultiHeadAttention: torch.nn.MultiheadAttention with copied projections (float64), causal masks,
cross-attention, central differences, the model axis, a tiny causal transformer trained with fit."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import MultiHeadAttention, from_config, layer_types

TOL = dict(rtol=1e-9, atol=1e-11)


def randomize_biases(layer, rng):
    for short, p in layer.params.items():
        if short.endswith("_bias"):
            p.value[...] = 0.3 * rng.standard_normal(p.shape)


def torch_twin(torch, layer, m, D, Dkv):
    """torch.nn.MultiheadAttention holding model m's projections (same (out, in) layout)."""
    P = {k: p.value[m] for k, p in layer.params.items()}
    mha = torch.nn.MultiheadAttention(D, layer.num_heads, bias=layer.use_bias, batch_first=True,
                                      kdim=Dkv, vdim=Dkv, dtype=torch.float64)
    with torch.no_grad():
        if mha._qkv_same_embed_dim:
            mha.in_proj_weight.copy_(torch.tensor(np.concatenate([P["q_proj_weight"], P["k_proj_weight"],
                                                                  P["v_proj_weight"]])))
        else:
            for s in ("q", "k", "v"):
                getattr(mha, f"{s}_proj_weight").copy_(torch.tensor(P[f"{s}_proj_weight"]))
        mha.out_proj.weight.copy_(torch.tensor(P["out_proj_weight"]))
        if layer.use_bias:
            mha.in_proj_bias.copy_(torch.tensor(np.concatenate([P["q_proj_bias"], P["k_proj_bias"], P["v_proj_bias"]])))
            mha.out_proj.bias.copy_(torch.tensor(P["out_proj_bias"]))
    return mha


def torch_grads(mha, layer):
    """torch's gradients in glassnet's parameter names."""
    E = mha.embed_dim
    if mha._qkv_same_embed_dim:
        w = mha.in_proj_weight.grad.numpy()
        out = {"q_proj_weight": w[:E], "k_proj_weight": w[E:2 * E], "v_proj_weight": w[2 * E:]}
    else:
        out = {f"{s}_proj_weight": getattr(mha, f"{s}_proj_weight").grad.numpy() for s in ("q", "k", "v")}
    out["out_proj_weight"] = mha.out_proj.weight.grad.numpy()
    if layer.use_bias:
        b = mha.in_proj_bias.grad.numpy()
        out.update(q_proj_bias=b[:E], k_proj_bias=b[E:2 * E], v_proj_bias=b[2 * E:],
                   out_proj_bias=mha.out_proj.bias.grad.numpy())
    return out


@pytest.mark.parametrize("causal,shared,use_bias", [(False, False, True), (True, True, True), (True, False, False)],
                         ids=["full", "causal_shared", "causal_nobias"])
def test_self_attention_matches_torch(causal, shared, use_bias, lh, rng, torch):
    M, B, T, D, heads = 2, 3, 5, 6, 3
    layer = lh.build(MultiHeadAttention(heads, D // heads, causal=causal, use_bias=use_bias), (T, D), M=M)
    randomize_biases(layer, rng)
    x = rng.standard_normal((B, T, D) if shared else (M, B, T, D))
    y = layer.forward(x, True)
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    assert layer.attention_weights.shape == (M, B, heads, T, T)
    for m in range(M):
        mha = torch_twin(torch, layer, m, D, D)
        xt = torch.tensor(x if shared else x[m], requires_grad=True)
        mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1) if causal else None  # True = not allowed
        yt, wt = mha(xt, xt, xt, attn_mask=mask, need_weights=True, average_attn_weights=False)
        yt.backward(torch.tensor(dy[m]))
        np.testing.assert_allclose(y[m], yt.detach().numpy(), **TOL)
        np.testing.assert_allclose(layer.attention_weights[m], wt.detach().numpy(), **TOL)
        np.testing.assert_allclose(dx[m], xt.grad.numpy(), **TOL)
        for short, g in torch_grads(mha, layer).items():
            np.testing.assert_allclose(layer.params[short].grad[m], g, err_msg=short, **TOL)


def test_cross_attention_matches_torch(lh, rng, torch):
    M, B, T, S, D, Dkv, heads = 2, 2, 4, 6, 4, 3, 2
    layer = lh.build(MultiHeadAttention(heads, D // heads, kv_dim=Dkv), (T, D), M=M)
    randomize_biases(layer, rng)
    x, s = rng.standard_normal((M, B, T, D)), rng.standard_normal((B, S, Dkv))
    y = layer.forward(x, True, kv=s)
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    assert layer.attention_weights.shape == (M, B, heads, T, S) and layer.kv_grad.shape == (M, B, S, Dkv)
    for m in range(M):
        mha = torch_twin(torch, layer, m, D, Dkv)
        xt, st = torch.tensor(x[m], requires_grad=True), torch.tensor(s, requires_grad=True)
        yt, _ = mha(xt, st, st)
        yt.backward(torch.tensor(dy[m]))
        np.testing.assert_allclose(y[m], yt.detach().numpy(), **TOL)
        np.testing.assert_allclose(dx[m], xt.grad.numpy(), **TOL)
        np.testing.assert_allclose(layer.kv_grad[m], st.grad.numpy(), **TOL)
        for short, g in torch_grads(mha, layer).items():
            np.testing.assert_allclose(layer.params[short].grad[m], g, err_msg=short, **TOL)


def test_attention_weights_are_inspectable_and_causal(lh, rng):
    layer = lh.build(MultiHeadAttention(2, 3, causal=True), (5, 4), M=3)
    layer.forward(rng.standard_normal((2, 5, 4)), False)
    A = layer.attention_weights
    np.testing.assert_allclose(A.sum(axis=-1), 1, rtol=1e-12)
    np.testing.assert_array_equal(A[..., np.triu_indices(5, 1)[0], np.triu_indices(5, 1)[1]], 0)
    np.testing.assert_allclose(A[..., 0, 0], 1)  # the first step sees only itself


@pytest.mark.parametrize("kwargs", [dict(), dict(causal=True, value_dim=2, output_dim=3), dict(use_bias=False)],
                         ids=["plain", "causal_value_output_dims", "nobias"])
@pytest.mark.parametrize("shared", [False, True], ids=["per_model", "shared"])
def test_attention_central_differences(kwargs, shared, lh, rng):
    M, B, T, D = 2, 2, 3, 4
    layer = lh.build(MultiHeadAttention(2, 2, **kwargs), (T, D), M=M)
    randomize_biases(layer, rng)
    x = rng.standard_normal((B, T, D) if shared else (M, B, T, D))
    dy = rng.standard_normal((M, B) + layer.output_shape)
    lh.fd_check(layer, x, dy)


def test_cross_attention_central_differences(lh, rng):
    layer = lh.build(MultiHeadAttention(2, 2, kv_dim=3, causal=True), (3, 4), M=2)
    randomize_biases(layer, rng)
    x, s = rng.standard_normal((2, 2, 3, 4)), rng.standard_normal((2, 2, 4, 3))
    dy = rng.standard_normal((2, 2, 3, 4))
    lh.fd_check(layer, x, dy, kv=s)
    layer.forward(x, True, kv=s)
    layer.backward(dy)
    analytic = layer.kv_grad.copy()
    numeric = lh.central_diff(lambda: float(np.sum(layer.forward(x, True, kv=s) * dy)), s)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


def tiny_transformer():
    return [gn.Embedding(5, 4), gn.PositionalEmbedding(6), MultiHeadAttention(2, 2, causal=True), gn.LayerNorm(),
            gn.Flatten(), gn.Dense(2)]


def test_attention_ensemble_equals_separate_networks(lh, rng):
    def make():
        return [MultiHeadAttention(2, 3), gn.LayerNorm(), gn.Flatten(), gn.Dense(2)]
    y = rng.standard_normal((3, 2))
    lh.ensemble_vs_separate(make, (4, 5), rng.standard_normal((3, 4, 5)), y)
    lh.ensemble_vs_separate(make, (4, 5), rng.standard_normal((3, 3, 4, 5)), y)
    lh.ensemble_vs_separate(tiny_transformer, (6,), rng.integers(0, 5, (3, 6)), y, seeds=(2, 7))


def test_attention_gradcheck_in_a_network(rng):
    model = gn.Sequential([gn.Conv1D(4, 1, activation="tanh"), MultiHeadAttention(2, 2, causal=True), gn.Flatten(),
                           gn.Dense(2)], input_shape=(3, 3), seed=5, models=2, dtype="float64",
                          bias_init=gn.init.Normal(std=0.3))
    gn.gradcheck(model, rng.standard_normal((3, 3, 3)), rng.standard_normal((3, 2)), "mse").assert_close()


def test_fit_trains_a_tiny_causal_transformer(rng):
    """Does the sequence contain token 1 (the last position sees every step)? The loss falls."""
    x = rng.integers(0, 5, (64, 6))
    y = (x == 1).any(axis=1).astype(int)
    model = gn.Sequential(tiny_transformer(), input_shape=(6,), seed=[0, 1])
    hist = model.fit(x, y, loss="softmax_cross_entropy", optimizer=gn.Adam(lr=0.02), epochs=15, batch_size=16)
    loss = hist["loss"]
    assert np.all(loss[:, -1] < 0.6 * loss[:, 0]), loss[:, [0, -1]]
    model.predict(x[:5])
    assert model.layers[2].attention_weights.shape == (2, 5, 2, 6, 6)


def test_attention_errors_config_and_files(lh, rng, tmp_path):
    assert layer_types.get("mha") is MultiHeadAttention
    layer = MultiHeadAttention(2, 3, value_dim=4, output_dim=5, causal=True, kernel_regularizer=gn.L2(0.1))
    assert from_config(layer.config()).config() == layer.config()
    built = lh.build(MultiHeadAttention(2, 3), (4, 5))
    with pytest.raises(gn.GlassnetError, match="kv has shape"):
        built.forward(np.zeros((2, 4, 5)), False, kv=np.zeros((2, 3, 4)))
    with pytest.raises(gn.GlassnetError, match="steps, features"):
        lh.build(MultiHeadAttention(2, 3), (5,))
    with pytest.raises(gn.GlassnetError, match="num_heads"):
        MultiHeadAttention(0, 3)
    model = gn.Sequential(tiny_transformer(), input_shape=(6,), seed=[3, 4], dtype="float64")
    lh.roundtrip(model, rng.integers(0, 5, (2, 6)), tmp_path)
    D, h, dk = 4, 2, 2
    assert model.layers[2].param_count() == 3 * (h * dk * D + h * dk) + D * h * dk + D
