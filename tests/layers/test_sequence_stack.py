"""Every new layer in one stack: float32 kept end to end, reprs and the summary, inputs untouched,
and every layer type reachable by name."""

from __future__ import annotations

import numpy as np

import glassnet as gn
from glassnet.layers import from_config, layer_types


def stack():
    return [gn.Embedding(5, 4), gn.PositionalEmbedding(6), gn.MultiHeadAttention(2, 2, causal=True), gn.LayerNorm(),
            gn.Conv1D(3, 2, padding="causal"), gn.LSTM(3, return_sequences=True),
            gn.GRU(3, return_sequences=True), gn.SimpleRNN(2), gn.Dense(2)]


def test_float32_stays_float32_and_inputs_are_untouched(rng):
    model = gn.Sequential(stack(), input_shape=(6,), seed=[0, 1])
    x = model.prepare_inputs(rng.integers(0, 5, (4, 6)))
    x0 = x.copy()
    out = model.forward(x, True)
    assert out.dtype == np.float32 and out.shape == (2, 4, 2)
    dy = np.ones_like(out)
    model.backward(dy)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(dy, 1)
    assert all(p.grad.dtype == np.float32 and p.grad.shape == p.value.shape for p in model.param_list)
    for layer in model.layers[5:8]:
        assert layer.step_grad_norms.dtype == np.float32 and layer.step_grad_norms.shape == (2, 6)


def test_reprs_and_summary():
    model = gn.Sequential(stack(), input_shape=(6,), seed=0)
    text = model.summary(print_fn=None)
    for line in ("Embedding(5, 4)", "PositionalEmbedding(max_len=6)", "MultiHeadAttention(2, 2, causal=True)",
                 "LayerNorm(eps=1e-05)", "Conv1D(3, 2, padding='causal', activation='identity')",
                 "LSTM(3, return_sequences=True)", "GRU(3, return_sequences=True)", "SimpleRNN(2)"):
        assert line in text
    assert gn.SimpleRNN(2, activation="relu", mask_value=0).__repr__() == "SimpleRNN(2, activation='relu', mask_value=0.0)"
    assert f"Total params: {model.param_count():,}" in text


def test_every_new_layer_type_rebuilds_from_its_config():
    for layer in stack()[:-1]:
        assert layer_types.get(layer.kind) is type(layer)
        again = from_config(layer.config())
        assert type(again) is type(layer) and again.config() == layer.config()
