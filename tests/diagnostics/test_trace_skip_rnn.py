"""Backprop trace through a skip connection (the gradient of a sum reaches both branches) and
through time in a SimpleRNN: hand-worked numbers, gradient checks, PyTorch, the renderers, the
CLI and one-line errors."""

import numpy as np
import pytest

import glassnet as gn
from glassnet.cli import main
from glassnet.diagnostics import gradcheck, trace_backprop, trace_model
from glassnet.diagnostics.trace_rnn import RNNTrace, trace_recurrent
from glassnet.errors import GlassnetError

SKIP = "x=1, y=5, w1=3, relu, w2=0.5, relu, skip2=1, w3=2, loss=half_se, lr=0.1"
RNN = "x=[1, 2], y=0.5, wx=0.5, wh=-1, b=0.1, tanh, wy=2, loss=half_se, lr=0.1"


# -- skip connections -----------------------------------------------------------------------------
def test_skip_connection_hand_worked_numbers():
    t = trace_backprop(SKIP)
    # a1 = relu(3) = 3; a2 = relu(0.5 * 3) + a1 = 4.5; yhat = 2 * 4.5 = 9; L = 1/2 (9 - 5)^2 = 8
    assert [lt.a.item() for lt in t.layers] == pytest.approx([3, 4.5, 9])
    assert t.loss_value[0] == pytest.approx(8)
    assert t.skips == {2: 1} and t.layers[1].branch.item() == pytest.approx(1.5)
    # dL/dyhat = 4, dL/da2 = 4 * w3 = 8; a1 is read by layer 2 and by the sum:
    # through layer 2: delta2 * w2 = 8 * 1 * 0.5 = 4; along the skip: dL/da2 = 8; together 12
    assert t.layers[1].dL_da.item() == pytest.approx(8)
    parts = t.layers[0].dL_da_parts
    assert [(kind, k) for kind, k, _ in parts] == [("layer", 2), ("skip", 2)]
    assert [v.item() for _, _, v in parts] == pytest.approx([4, 8])
    assert t.layers[0].dL_da.item() == pytest.approx(12)
    # dL/dw1 = 12 * relu'(3) * x = 12; dL/dw2 = delta2 * a1 = 8 * 3 = 24; dL/dw3 = 4 * a2 = 18
    assert [t.param(f"w{k}").grad.item() for k in (1, 2, 3)] == pytest.approx([12, 24, 18])
    assert t.param("w1").new_value.item() == pytest.approx(3 - 0.1 * 12)
    assert t.check().ok(1e-7)


def test_skip_connection_text_shows_the_sum_and_both_parts():
    text = trace_backprop(SKIP).render("text")
    assert "a2 = relu(z2) + a1 = relu(1.5) + 3 = 1.5 + 3 = 4.5" in text
    assert "dL/da1 = δ2 w2ᵀ + dL/da2 = 4 + 8 = 12" in text
    assert "a1 fans out to layer 2, the sum into a2: the gradients add" in text
    assert "Chain rule" not in text  # a sum of paths, not one product: the delta recurrence
    tex = trace_backprop(SKIP).render("latex")
    assert tex.count(r"\begin{align*}") == tex.count(r"\end{align*}") == 3
    assert "4 + 8 = 12" in trace_backprop(SKIP).render("markdown")


def _skip_graph(seeds, dtype="float64"):
    inp = gn.Input((3,))
    h1 = gn.Dense(3, activation="tanh")(inp)
    h2 = gn.Add()([h1, gn.Dense(3, activation="sigmoid")(h1)])
    h3 = gn.Add()([gn.Dense(3)(h2), inp])  # the branch first: either order is a skip
    return gn.Model(inp, gn.Dense(2)(h3), seed=seeds, dtype=dtype)


def test_graph_model_trace_agrees_with_gradcheck_and_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    model = _skip_graph(7)
    t = trace_model(model, x, y, "mse", lr=0.05)
    assert t.skips == {2: 1, 3: 0}
    report = gradcheck(model, x, y, "mse", check_input=False)
    assert report.ok(1e-6)
    W = [torch.tensor(lt.W[0], requires_grad=True) for lt in t.layers]
    b = [torch.tensor(lt.b[0], requires_grad=True) for lt in t.layers]
    xt = torch.tensor(x)
    a1 = torch.tanh(xt @ W[0] + b[0])
    a2 = torch.sigmoid(a1 @ W[1] + b[1]) + a1
    a3 = (a2 @ W[2] + b[2]) + xt
    pred = a3 @ W[3] + b[3]
    loss = torch.nn.functional.mse_loss(pred, torch.tensor(y))
    a1.retain_grad(), a2.retain_grad()
    loss.backward()
    assert t.loss_value[0] == pytest.approx(loss.item(), rel=1e-12)
    for k in range(4):
        np.testing.assert_allclose(t.param(f"W{k + 1}").grad[0], W[k].grad.numpy(), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(t.layers[0].dL_da[0], a1.grad.numpy(), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(t.layers[1].dL_da[0], a2.grad.numpy(), rtol=1e-10, atol=1e-13)
    # the parts add up to the whole, and the skip part is the sum's gradient passed on unchanged
    lt = t.layers[0]
    np.testing.assert_allclose(sum(v for _, _, v in lt.dL_da_parts), lt.dL_da, atol=1e-14)
    np.testing.assert_array_equal(lt.dL_da_parts[1][2], t.layers[1].dL_da)
    text = t.render()
    assert "ŷ = z4" in text and "a3 = z3 + x" in text and "skip connections a1 -> a2, a0 -> a3" in text


def test_graph_trace_keeps_the_model_axis():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((2, 3)), rng.standard_normal((2, 2))
    t = trace_model(_skip_graph([3, 4]), x, y, "half_sse", lr=[0.1, 0.2])
    for m, seed in enumerate([3, 4]):
        ts = trace_model(_skip_graph(seed), x, y, "half_sse", lr=[0.1, 0.2][m])
        for p, ps in zip(t.params, ts.params):
            np.testing.assert_allclose(p.grad[m], ps.grad[0], rtol=1e-12)
            np.testing.assert_allclose(p.new_value[m], ps.new_value[0], rtol=1e-12)
    assert "network 1" in t.render()


def test_skip_spec_and_graph_errors():
    with pytest.raises(GlassnetError, match="'skip2=3'") as err:
        trace_backprop("x=1, y=5, w1=3, relu, w2=2, skip2=3")
    assert "\n" not in str(err.value)
    with pytest.raises(GlassnetError, match="one width"):
        trace_backprop("x=1, y=[1, 2], w1=3, w2=[1, 2], skip2=1")
    with pytest.raises(GlassnetError, match="no weight w3"):
        trace_backprop("x=1, y=5, w1=3, w2=2, skip3=1")
    inp = gn.Input((2,))
    out = gn.Dense(1)(gn.Concatenate()([inp, gn.Dense(2)(inp)]))
    with pytest.raises(GlassnetError, match="concatenate"):
        trace_model(gn.Model(inp, out), np.ones((1, 2)), np.ones((1, 1)))


def test_skip_from_toml_layer_tables():
    from glassnet.diagnostics import spec_from_dict

    s = spec_from_dict({"x": 1, "y": 5, "loss": "half_sse",
                        "layer": [{"w": 3, "activation": "relu"}, {"w": 0.5, "activation": "relu", "skip": 1},
                                  {"w": 2}]})
    assert s.skips == {2: 1}
    assert trace_backprop(s).param("w1").grad.item() == pytest.approx(12)


# -- backprop through time ----------------------------------------------------------------------
def _by_hand(x, y, wx, wh, b, wy):
    """Two-step tanh RNN, scalar, written out independently of glassnet."""
    h, hs, As = 0.0, [0.0], []
    for xt in x:
        a = wx * xt + wh * h + b
        h = np.tanh(a)
        As.append(a)
        hs.append(h)
    yhat = wy * h
    dyhat = yhat - y
    dh = dyhat * wy
    deltas = [0.0] * len(x)
    dhs = [0.0] * len(x)
    for t in reversed(range(len(x))):
        dhs[t] = dh
        deltas[t] = dh * (1 - np.tanh(As[t]) ** 2)
        dh = deltas[t] * wh
    return dict(yhat=yhat, L=0.5 * dyhat ** 2, deltas=deltas, dhs=dhs,
                wx=sum(d * xt for d, xt in zip(deltas, x)), wh=sum(d * hp for d, hp in zip(deltas, hs[:-1])),
                b=sum(deltas), wy=dyhat * hs[-1], dh0=dh)


def test_two_rnn_steps_hand_worked():
    t = trace_backprop(RNN)
    assert isinstance(t, RNNTrace) and t.T == 2
    ref = _by_hand([1.0, 2.0], 0.5, 0.5, -1.0, 0.1, 2.0)
    assert t.yhat.item() == pytest.approx(ref["yhat"], rel=1e-12)
    assert t.loss_value[0] == pytest.approx(ref["L"], rel=1e-12)
    assert [s.delta.item() for s in t.steps] == pytest.approx(ref["deltas"], rel=1e-12)
    assert [s.dL_dh.item() for s in t.steps] == pytest.approx(ref["dhs"], rel=1e-12)
    assert t.steps[0].dL_dh_prev.item() == pytest.approx(ref["dh0"], rel=1e-12)
    for name in ("wx", "wh", "wy"):
        assert t.param(name).grad.item() == pytest.approx(ref[name], rel=1e-12)
    assert t.param("b_ih").grad.item() == pytest.approx(ref["b"], rel=1e-12)
    assert t.param("b_hh").grad.item() == pytest.approx(ref["b"], rel=1e-12)
    # the layer's own per-step record is |dL/dh_t| for one unit and one sample
    np.testing.assert_allclose(t.step_grad_norms[0], np.abs(ref["dhs"]), rtol=1e-12)
    assert t.param("wx").new_value.item() == pytest.approx(0.5 - 0.1 * ref["wx"])
    assert t.check().ok(1e-6)


def test_two_rnn_steps_text():
    text = trace_backprop(RNN).render()
    assert "a1 = wx·x1 + wh·h0 + b = 0.5 · 1 + (-1) · 0 + 0.1 = 0.6" in text
    assert "Backward through time" in text and "[one step back in time, through wh]" in text
    assert "dL/dh1 = δ2 · wh = 0.769806 · (-1) = -0.769806" in text
    assert "dL/dwx = δ1 · x1 + δ2 · x2 = (-0.547777) · 1 + 0.769806 · 2 = 0.991835" in text
    assert "||dL/dh_t||, t = 1..2 = [0.769806, 1.04065]" in text
    tex = trace_backprop(RNN).render("latex")
    assert tex.count(r"\begin{align*}") == tex.count(r"\end{align*}") == 4 and r"\delta_{2}" in tex


def test_rnn_trace_matches_torch_with_units_and_batch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    B, T, C, H, K = 3, 4, 2, 3, 2
    model = gn.Sequential([gn.SimpleRNN(H), gn.Dense(K)], input_shape=(T, C), seed=5, dtype="float64")
    x, y = rng.standard_normal((B, T, C)), rng.standard_normal((B, K))
    t = trace_recurrent(model, x, y, "mse", lr=0.1)
    cell = torch.nn.RNNCell(C, H, dtype=torch.float64)  # unrolled by hand: dL/dh_t of every step
    head = torch.nn.Linear(H, K, dtype=torch.float64)
    layer, out = model.layers
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(torch.tensor(layer.params[name].value[0]))
        head.weight.copy_(torch.tensor(out.W.value[0].T))
        head.bias.copy_(torch.tensor(out.b.value[0]))
    h, hs = torch.zeros(B, H, dtype=torch.float64), []
    for step in range(T):
        h = cell(torch.tensor(x[:, step]), h)
        h.retain_grad()
        hs.append(h)
    loss = torch.nn.functional.mse_loss(head(h), torch.tensor(y))
    loss.backward()
    assert t.loss_value[0] == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(t.param("wx").grad[0], cell.weight_ih.grad.numpy().T, rtol=1e-10)
    np.testing.assert_allclose(t.param("wh").grad[0], cell.weight_hh.grad.numpy().T, rtol=1e-10)
    np.testing.assert_allclose(t.param("b_ih").grad[0], cell.bias_ih.grad.numpy(), rtol=1e-10)
    for s, ht in zip(t.steps, hs):  # dL/dh_t at every step, through time
        np.testing.assert_allclose(s.dL_dh[0], ht.grad.numpy(), rtol=1e-10, atol=1e-14)
    # the per-step numbers add up to the engine's weight gradient (sums over steps and samples)
    Wx = sum(s.x[0].T @ s.delta[0] for s in t.steps)
    np.testing.assert_allclose(Wx, t.param("wx").grad[0], rtol=1e-12)
    assert "dL/dWx = Σ_t xtᵀ δt" in t.render()


def test_rnn_trace_keeps_the_model_axis_and_is_dispatched_by_trace_model():
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((2, 3, 1)), rng.standard_normal((2, 1))

    def net(seed):
        return gn.Sequential([gn.SimpleRNN(2), gn.Dense(1)], input_shape=(3, 1), seed=seed, dtype="float64")

    t = trace_model(net([0, 1]), x, y)
    assert isinstance(t, RNNTrace) and t.M == 2 and "network 1" in t.render()
    for m in range(2):
        ts = trace_model(net(m), x, y)
        for p, ps in zip(t.params, ts.params):
            np.testing.assert_allclose(p.grad[m], ps.grad[0], rtol=1e-12)


def test_rnn_spec_and_model_errors():
    with pytest.raises(GlassnetError, match="needs wy"):
        trace_backprop("x=[1, 2], y=0.5, wx=0.5, wh=-1")
    with pytest.raises(GlassnetError, match="'wx=\\[1, 2, 3\\]'") as err:
        trace_backprop("x=[1, 2], y=0.5, wx=[1, 2, 3], wh=-1, wy=2")
    assert "\n" not in str(err.value)
    with pytest.raises(GlassnetError, match="'q=1'"):
        trace_backprop("x=[1, 2], y=0.5, wx=0.5, wh=-1, wy=2, q=1")
    masked = gn.Sequential([gn.SimpleRNN(2, mask_value=0.0), gn.Dense(1)], input_shape=(3, 1))
    with pytest.raises(GlassnetError, match="masking"):
        trace_recurrent(masked, np.ones((1, 3, 1)), np.ones((1, 1)))
    lstm = gn.Sequential([gn.LSTM(2), gn.Dense(1)], input_shape=(3, 1))
    with pytest.raises(GlassnetError, match="SimpleRNN"):
        trace_recurrent(lstm, np.ones((1, 3, 1)), np.ones((1, 1)))


def test_cli_explain_backprop_through_a_skip_and_through_time(capsys):
    assert main(["explain", "backprop", SKIP, "--check"]) == 0
    out = capsys.readouterr().out
    assert "dL/da1 = δ2 w2ᵀ + dL/da2 = 4 + 8 = 12" in out and "(ok)" in out
    assert main(["explain", "backprop", RNN, "--check", "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert "**Backward through time**" in out and "(ok)" in out
