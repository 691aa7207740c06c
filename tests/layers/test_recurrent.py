"""SimpleRNN, LSTM and GRU: torch.nn.RNN/LSTM/GRU with copied weights (float64, 1e-9), packed
sequences for masking, torch's unrolled cells for the per-step gradient norms, central
differences, the model axis, training with fit, configs and files."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import GRU, LSTM, SimpleRNN, from_config, layer_types

CLASSES = [SimpleRNN, LSTM, GRU]
TOL = dict(rtol=1e-9, atol=1e-11)
TORCH_NAME = {SimpleRNN: "RNN", LSTM: "LSTM", GRU: "GRU"}


def ids(cls):
    return cls.__name__


def randomize_biases(layer, rng):
    """Biases away from zero, so that a bias gradient bug cannot hide behind a zero bias."""
    if layer.use_bias:
        layer.bias_ih.value[...] = 0.5 * rng.standard_normal(layer.bias_ih.shape)
        layer.bias_hh.value[...] = 0.5 * rng.standard_normal(layer.bias_hh.shape)


def torch_module(torch, layer, m, cell=False):
    """``torch.nn.RNN/LSTM/GRU`` (or its ``...Cell``) holding model ``m``'s weights: the layouts are
    the same, so the arrays are copied as they are."""
    C, H = layer.input_shape[-1], layer.units
    name = TORCH_NAME[type(layer)] + ("Cell" if cell else "")
    kw = {"nonlinearity": layer.fn.name} if isinstance(layer, SimpleRNN) else {}
    if cell:
        mod = getattr(torch.nn, name)(C, H, bias=layer.use_bias, dtype=torch.float64, **kw)
        names = {"weight_ih": "weight_ih", "weight_hh": "weight_hh", "bias_ih": "bias_ih", "bias_hh": "bias_hh"}
    else:
        mod = getattr(torch.nn, name)(C, H, batch_first=True, bias=layer.use_bias, dtype=torch.float64, **kw)
        names = {k: f"{k}_l0" for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    with torch.no_grad():
        for short, p in layer.params.items():
            getattr(mod, names[short]).copy_(torch.tensor(p.value[m]))
    return mod, names


def torch_state(torch, layer, state, m, B):
    """A glassnet initial state (arrays of (B, H) or (M, B, H)) as torch's (1, B, H) leaf tensors."""
    parts = state if isinstance(layer, LSTM) else (state,)
    out = [torch.tensor(np.broadcast_to(p if p.ndim == 2 else p[m], (B, layer.units)).copy()[None],
                        requires_grad=True) for p in parts]
    return out


CASES = [  # (return_sequences, shared input, initial state: None / "attribute" / "argument", use_bias)
    (True, False, None, True),
    (False, True, None, True),
    (True, True, "argument", True),
    (False, False, "attribute", False),
]


@pytest.mark.parametrize("case", CASES, ids=["seq", "last_shared", "seq_h0_arg", "last_h0_attr_nobias"])
@pytest.mark.parametrize("cls", CLASSES, ids=ids)
def test_recurrent_matches_torch(cls, case, lh, rng, torch):
    return_sequences, shared, init_mode, use_bias = case
    M, B, T, C, H = 2, 3, 5, 3, 4
    layer = lh.build(cls(H, return_sequences=return_sequences, use_bias=use_bias), (T, C), M=M, seed=7)
    randomize_biases(layer, rng)
    x = rng.standard_normal((B, T, C) if shared else (M, B, T, C))
    n_states = 2 if cls is LSTM else 1
    state = tuple(rng.standard_normal((M, B, H) if i == 0 else (B, H)) for i in range(n_states))
    state = state if cls is LSTM else state[0]
    kw = {}
    if init_mode == "attribute":
        layer.initial_state = state
    elif init_mode == "argument":
        kw["initial_state"] = state
    y = layer.forward(x, True, **kw)
    assert y.shape == ((M, B, T, H) if return_sequences else (M, B, H))
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    for m in range(M):
        mod, names = torch_module(torch, layer, m)
        xt = torch.tensor(x if shared else x[m], requires_grad=True)
        s0 = torch_state(torch, layer, state, m, B) if init_mode else None
        out, _ = mod(xt, None if s0 is None else (tuple(s0) if cls is LSTM else s0[0]))
        (out if return_sequences else out[:, -1]).backward(torch.tensor(dy[m]))
        np.testing.assert_allclose(y[m], (out if return_sequences else out[:, -1]).detach().numpy(), **TOL)
        np.testing.assert_allclose(dx[m], xt.grad.numpy(), **TOL)
        for short, p in layer.params.items():
            np.testing.assert_allclose(p.grad[m], getattr(mod, names[short]).grad.numpy(), err_msg=short, **TOL)
        if s0 is not None:
            grads = layer.initial_state_grad if cls is LSTM else (layer.initial_state_grad,)
            for g, t0 in zip(grads, s0):
                np.testing.assert_allclose(g[m], t0.grad.numpy()[0], **TOL)


@pytest.mark.parametrize("explicit_mask", [False, True], ids=["mask_value", "mask_argument"])
@pytest.mark.parametrize("cls", CLASSES, ids=ids)
def test_right_padding_matches_torch_packed_sequences(cls, explicit_mask, lh, rng, torch):
    M, B, T, C, H = 2, 4, 6, 2, 3
    layer = lh.build(cls(H, mask_value=None if explicit_mask else -1.0), (T, C), M=M, seed=2)
    randomize_biases(layer, rng)
    lengths = np.array([6, 2, 4, 1])
    keep = np.arange(T)[None, :] < lengths[:, None]  # (B, T)
    x = rng.standard_normal((M, B, T, C))
    x[:, ~keep] = -1.0
    y = layer.forward(x, True, **({"mask": keep} if explicit_mask else {}))
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    pack = torch.nn.utils.rnn.pack_padded_sequence
    for m in range(M):
        mod, names = torch_module(torch, layer, m)
        xt = torch.tensor(x[m], requires_grad=True)
        _, hn = mod(pack(xt, torch.tensor(lengths), batch_first=True, enforce_sorted=False))
        hn = hn[0] if cls is LSTM else hn
        hn[0].backward(torch.tensor(dy[m]))
        np.testing.assert_allclose(y[m], hn[0].detach().numpy(), **TOL)
        np.testing.assert_allclose(dx[m], xt.grad.numpy(), **TOL)
        for short, p in layer.params.items():
            np.testing.assert_allclose(p.grad[m], getattr(mod, names[short]).grad.numpy(), err_msg=short, **TOL)
    np.testing.assert_array_equal(dx[:, ~keep], 0)


@pytest.mark.parametrize("cls", CLASSES, ids=ids)
def test_masked_steps_carry_the_state_through(cls, lh, rng):
    """Padding anywhere (before, between, after) gives the state of the sequence without it."""
    B, T, C = 3, 6, 2
    layer = lh.build(cls(3, return_sequences=True), (T, C), M=1, seed=5)
    x = rng.standard_normal((B, T, C))
    keep = np.array([[0, 0, 1, 1, 1, 1], [1, 0, 1, 0, 1, 0], [1, 1, 1, 0, 0, 0]], bool)
    y = layer.forward(x, False, mask=keep)
    for b in range(B):
        alone = layer.forward(x[b:b + 1, keep[b]], False)  # the real steps only
        real = np.flatnonzero(keep[b])
        np.testing.assert_allclose(y[0, b, real], alone[0, 0], rtol=1e-13, atol=1e-14)
        for t in range(T):  # every output is the state after the last real step so far (zeros before any)
            done = real[real <= t]
            expected = alone[0, 0, len(done) - 1] if len(done) else np.zeros(3)
            np.testing.assert_allclose(y[0, b, t], expected, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("cls", CLASSES, ids=ids)
def test_step_grad_norms_match_torch_unrolled_cells(cls, lh, rng, torch):
    M, B, T, C, H = 2, 3, 7, 2, 3
    layer = lh.build(cls(H, return_sequences=True), (T, C), M=M, seed=3)
    x = rng.standard_normal((B, T, C))
    y = layer.forward(x, True)
    dy = rng.standard_normal(y.shape)
    dy[:, :, :-1] *= 0.1  # mostly the last step's loss: the norms then show the decay back in time
    layer.backward(dy)
    assert layer.step_grad_norms.shape == (M, T)
    for m in range(M):
        cell, _ = torch_module(torch, layer, m, cell=True)
        h = torch.zeros(B, H, dtype=torch.float64)
        c = torch.zeros(B, H, dtype=torch.float64)
        hs = []
        for t in range(T):
            if cls is LSTM:
                h, c = cell(torch.tensor(x[:, t]), (h, c))
            else:
                h = cell(torch.tensor(x[:, t]), h)
            h.retain_grad()
            hs.append(h)
        sum((hs[t] * torch.tensor(dy[m, :, t])).sum() for t in range(T)).backward()
        expected = [float(torch.linalg.norm(hs[t].grad)) for t in range(T)]
        np.testing.assert_allclose(layer.step_grad_norms[m], expected, **TOL)


@pytest.mark.parametrize("cls", CLASSES, ids=ids)
def test_step_grad_norms_are_the_latest_backwards_and_copies_keep_them(cls, lh, rng):
    """The norms are computed when read: what a read returns is the latest backward's (not a
    stale first read), and a copy or pickle carries the numbers without the per-step arrays."""
    import copy
    import pickle

    layer = lh.build(cls(3, return_sequences=True), (5, 2), M=2, seed=1)
    assert layer.step_grad_norms is None
    x = rng.standard_normal((4, 5, 2))
    y = layer.forward(x, True)
    layer.backward(np.ones_like(y))
    first = layer.step_grad_norms.copy()
    layer.forward(x, True)
    layer.backward(3 * np.ones_like(y))  # three times the gradient at every step: three times the norms
    np.testing.assert_allclose(layer.step_grad_norms, 3 * first, rtol=1e-12)
    for twin in (copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))):
        assert twin._dh_steps is None
        np.testing.assert_array_equal(twin.step_grad_norms, layer.step_grad_norms)


@pytest.mark.parametrize("cls", CLASSES, ids=ids)
def test_recurrent_central_differences(cls, lh, rng):
    M, B, T, C, H = 2, 2, 4, 2, 3
    layer = lh.build(cls(H, return_sequences=True), (T, C), M=M, seed=1)
    randomize_biases(layer, rng)
    x = rng.standard_normal((M, B, T, C))
    dy = rng.standard_normal((M, B, T, H))
    state = tuple(rng.standard_normal((B, H)) for _ in range(2)) if cls is LSTM else rng.standard_normal((M, B, H))
    keep = np.array([[1, 0, 1, 1], [1, 1, 1, 0]], bool)
    lh.fd_check(layer, x, dy, initial_state=state, mask=keep)
    layer.return_sequences = False
    lh.fd_check(layer, x[0], dy[:, :, -1])  # shared input, last state only


def sequence_models():
    return {
        "lstm": lambda: [LSTM(4), gn.Dense(2)],
        "gru_seq": lambda: [GRU(3, return_sequences=True), gn.Flatten(), gn.Dense(2)],
        "rnn_stack": lambda: [SimpleRNN(3, return_sequences=True, mask_value=0.0), LSTM(3, return_sequences=True),
                              GRU(2), gn.Dense(2)],
        "conv_norm_lstm": lambda: [gn.Conv1D(3, 2, padding="causal", activation="tanh"),
                                             gn.LayerNorm(), LSTM(3), gn.Dense(2)],
    }


@pytest.mark.parametrize("name", sorted(sequence_models()))
def test_sequence_models_ensemble_equals_separate_networks(name, lh, rng):
    make = sequence_models()[name]
    T, C = 5, 3
    x = rng.standard_normal((4, T, C))
    x[1, 3:] = 0.0  # padding for the masked stack
    y = rng.standard_normal((4, 2))
    lh.ensemble_vs_separate(make, (T, C), x, y, seeds=(0, 1))
    lh.ensemble_vs_separate(make, (T, C), rng.standard_normal((3, 4, T, C)), y, seeds=(4, 5, 6))


@pytest.mark.parametrize("name", sorted(sequence_models()))
def test_sequence_models_gradcheck(name, rng):
    model = gn.Sequential(sequence_models()[name](), input_shape=(4, 2), seed=3, models=2, dtype="float64",
                          bias_init=gn.init.Normal(std=0.3))
    x = rng.standard_normal((3, 4, 2))
    x[0, 2:] = 0.0  # padding for the masked stack, whose input is then not differentiable there
    gn.gradcheck(model, x, rng.standard_normal((3, 2)), "mse", check_input=name != "rnn_stack",
                 max_entries=24).assert_close()


@pytest.mark.parametrize("cls", CLASSES, ids=ids)
def test_fit_trains_a_token_sequence_classifier(cls, rng):
    """Embedding -> recurrent layer -> Dense: is token 1 in the sequence? The loss falls."""
    x = rng.integers(0, 4, (64, 6))
    y = (x == 1).any(axis=1).astype(int)
    model = gn.Sequential([gn.Embedding(4, 4), cls(8), gn.Dense(2)], input_shape=(6,), seed=[0, 1])
    hist = model.fit(x, y, loss="softmax_cross_entropy", optimizer=gn.Adam(lr=0.02), epochs=15, batch_size=16)
    loss = hist["loss"]
    assert loss.shape[0] == 2
    assert np.all(loss[:, -1] < 0.6 * loss[:, 0]), loss[:, [0, -1]]
    assert model.predict(x).shape == (2, 64, 2)


def test_recurrent_errors(lh):
    layer = lh.build(LSTM(3), (4, 2), M=2)
    x = np.zeros((5, 4, 2))
    with pytest.raises(gn.GlassnetError, match="mask has shape"):
        layer.forward(x, False, mask=np.ones((5, 3)))
    with pytest.raises(gn.GlassnetError, match=r"initial_state must be a pair \(h0, c0\)"):
        layer.forward(x, False, initial_state=np.zeros((5, 3)))
    with pytest.raises(gn.GlassnetError, match="initial state c has shape"):
        layer.forward(x, False, initial_state=(np.zeros((5, 3)), np.zeros((4, 3))))
    gru = lh.build(GRU(3), (4, 2), M=1)
    with pytest.raises(gn.GlassnetError, match="initial state h has shape"):
        gru.forward(x, False, initial_state=np.zeros((2, 3)))
    with pytest.raises(gn.GlassnetError, match="steps, features"):
        lh.build(GRU(3), (4,))
    with pytest.raises(gn.GlassnetError, match="mask_value"):
        LSTM(3, mask_value="pad")
    with pytest.raises(gn.GlassnetError, match="elementwise"):
        SimpleRNN(3, activation="softmax")
    with pytest.raises(gn.GlassnetError, match="units"):
        GRU(0)


def test_recurrent_registry_config_and_files(rng, tmp_path, lh):
    assert layer_types.get("rnn") is SimpleRNN and layer_types.get("LSTM") is LSTM and layer_types.get("gru") is GRU
    for layer in (SimpleRNN(3, activation="relu", return_sequences=True, mask_value=0),
                  LSTM(4, use_bias=False, kernel_regularizer=gn.L2(0.1)), GRU(2, recurrent_regularizer=gn.L1(0.01))):
        assert from_config(layer.config()).config() == layer.config()
    model = gn.Sequential([SimpleRNN(3, return_sequences=True), LSTM(3, return_sequences=True), GRU(2), gn.Dense(2)],
                          input_shape=(4, 2), seed=[0, 1], dtype="float64")
    lh.roundtrip(model, rng.standard_normal((3, 4, 2)), tmp_path)
    H, C = 3, 2
    assert model.layers[0].param_count() == H * C + H * H + 2 * H  # PyTorch's count (two biases)
    assert model.layers[1].param_count() == 4 * (H * H + H * H + 2 * H)
    assert model.layers[2].param_count() == 3 * (2 * H + 2 * 2 + 2 * 2)
