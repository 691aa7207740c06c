"""Backprop trace: seed 001's hand-worked numbers, agreement with the gradient check and torch,
the three renderers, and one-line errors for bad specs."""

import copy

import numpy as np
import pytest

import glassnet as gn
from glassnet.diagnostics import gradcheck, parse_spec, spec_from_dict, trace_backprop, trace_model
from glassnet.errors import GlassnetError

SEED_001 = "x=1, y=5, w1=3, relu, w2=2, loss=half_se, lr=0.1"


def test_seed_001_numbers():
    t = trace_backprop(SEED_001)
    # seed 001: z = 3, h = 3, yhat = 6; dL/dw1 = (6-5)*2*1*1 = 2, dL/dw2 = (6-5)*3 = 3
    assert t.layers[0].z[0, 0, 0] == pytest.approx(3)
    assert t.layers[0].a[0, 0, 0] == pytest.approx(3)
    assert t.yhat[0, 0, 0] == pytest.approx(6)
    assert t.loss_value[0] == pytest.approx(0.5)
    assert t.param("w1").grad.item() == pytest.approx(2)
    assert t.param("w2").grad.item() == pytest.approx(3)
    assert t.param("w1").new_value.item() == pytest.approx(2.8)
    assert t.param("w2").new_value.item() == pytest.approx(1.7)
    # the chain's factors are the seed's local derivatives, in its order
    assert [f.value[0] for f in t.param("w1").chain] == pytest.approx([1, 2, 1, 1])
    assert [f.value[0] for f in t.param("w2").chain] == pytest.approx([1, 3])


def test_seed_001_agrees_with_gradcheck():
    t = trace_backprop(SEED_001)
    report = gradcheck(t.model, t.x, t.y, "half_sse", check_input=False)
    assert report.ok(1e-7)
    numeric = {c.name: c.numeric for c in report.params}
    for p in t.params:
        assert p.grad.ravel() == pytest.approx(numeric[p.name], rel=1e-6)
        assert p.chain_product == pytest.approx(p.grad.ravel())
    assert t.check().ok(1e-7)


def test_trace_does_not_change_the_model():
    t = trace_backprop(SEED_001)
    before = copy.deepcopy(t.model.params)
    trace_model(t.model, t.x, t.y, "half_sse", lr=0.1)
    for k, v in t.model.params.items():
        np.testing.assert_array_equal(v, before[k])


@pytest.mark.parametrize("spec", [
    "x=1, y=0.3, w1=0.5, b1=-0.2, sigmoid, w2=-1.5, b2=0.1, tanh, w3=2, loss=mse, lr=0.05",
    "x=[1, -2], y=[0.5, 1], w1=[[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]], b1=[0.1, 0, 0.2], elu, "
    "w2=[[1, 0], [0, 1], [1, -1]], sigmoid",
    "x=[[1, 2], [0, 1], [3, -1]], y=[0, 1, 1], w1=[[0.1, -0.2], [0.4, 0.5]], tanh, w2=[[1, -1], [0.5, 2]], "
    "loss=softmax_cross_entropy",
])
def test_general_networks_agree_with_gradcheck_and_recurrence(spec):
    t = trace_backprop(spec)
    report = gradcheck(t.model, t.x, t.y, t.loss, check_input=False)
    assert report.ok(1e-6)
    numeric = {c.name: c.numeric for c in report.params}
    for p in t.params:
        assert p.grad.ravel() == pytest.approx(numeric[p.name], rel=1e-5, abs=1e-9)
    # the written-out recurrence: dL/dW_k = a_{k-1}^T delta_k, delta_k = dL/da_k * f'(z_k)
    for lt in t.layers:
        W = t.param(f"W{lt.k}")
        np.testing.assert_allclose(lt.inp.swapaxes(-1, -2) @ lt.delta, W.grad, atol=1e-12)
        np.testing.assert_allclose(lt.dL_da * lt.fprime, lt.delta, atol=1e-12)
        assert W.new_value == pytest.approx(W.value - t.lr[0] * W.grad)


def test_mlp_trace_matches_torch():
    torch = pytest.importorskip("torch")
    t = trace_backprop("x=[[1, 2], [-1, 0.5]], y=[[1], [0]], w1=[[0.3, -0.2, 0.1], [0.2, 0.4, -0.5]], "
                       "b1=[0.1, -0.1, 0], relu, w2=[0.7, -0.3, 0.2], b2=0.05, sigmoid, "
                       "loss=binary_cross_entropy")
    spec = t.spec
    x = torch.tensor(spec.x)
    W1, W2 = (torch.tensor(w, requires_grad=True) for w in spec.weights)
    b1, b2 = (torch.tensor(b, requires_grad=True) for b in spec.biases)
    p = torch.sigmoid(torch.relu(x @ W1 + b1) @ W2 + b2)
    loss = torch.nn.functional.binary_cross_entropy(p, torch.tensor(spec.y))
    loss.backward()
    assert t.loss_value[0] == pytest.approx(loss.item(), rel=1e-12)
    for name, ref in [("W1", W1), ("b1", b1), ("W2", W2), ("b2", b2)]:
        np.testing.assert_allclose(t.param(name).grad[0], ref.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_ensemble_trace_is_per_model():
    model = gn.Sequential([gn.Dense(3, activation="tanh"), gn.Dense(1)], input_shape=(2,), seed=5,
                          models=2, dtype="float64")
    x, y = np.array([[0.5, -1.0]]), np.array([[0.2]])
    t = trace_model(model, x, y, "half_sse", lr=[0.1, 0.2])
    for m, seed in enumerate([5, 6]):
        single = gn.Sequential([gn.Dense(3, activation="tanh"), gn.Dense(1)], input_shape=(2,), seed=seed,
                               dtype="float64")
        ts = trace_model(single, x, y, "half_sse", lr=[0.1, 0.2][m])
        for p, ps in zip(t.params, ts.params):
            np.testing.assert_allclose(p.grad[m], ps.grad[0], rtol=1e-12)
            np.testing.assert_allclose(p.new_value[m], ps.new_value[0], rtol=1e-12)
    assert "network 1" in t.render()


def test_other_optimizer_first_step():
    t = trace_backprop(SEED_001)
    ta = trace_model(t.model, t.x, t.y, "half_sse", optimizer=gn.Adam(lr=0.01))
    # Adam's first step is -lr * g / (|g| + eps) = -lr * sign(g)
    for p in ta.params:
        assert p.delta.ravel() == pytest.approx(-0.01 * np.sign(p.grad.ravel()), rel=1e-6)
    assert "adam" in ta.render()


def test_text_rendering_shows_the_seed_chain():
    text = trace_backprop(SEED_001).render("text")
    assert "ŷ = z2 = w2·a1 = 2 · 3 = 6" in text
    assert "dL/dw1 = dL/dŷ · dŷ/da1 · da1/dz1 · dz1/dw1 = 1 · 2 · 1 · 1 = 2" in text
    assert "dL/dw2 = dL/dŷ · dŷ/dw2 = 1 · 3 = 3" in text
    assert "w1 ← w1 - lr·dL/dw1 = 3 - 0.1 · 2 = 2.8" in text
    assert "w2 ← w2 - lr·dL/dw2 = 2 - 0.1 · 3 = 1.7" in text


def test_markdown_and_latex_rendering():
    t = trace_backprop(SEED_001)
    md = t.render("markdown")
    assert "**Chain rule**" in md and "`dL/dw1 = " in md
    tex = t.render("latex")
    assert r"\frac{\partial L}{\partial w_{1}}" in tex
    assert tex.count(r"\begin{align*}") == tex.count(r"\end{align*}") == 4
    assert "2.8" in tex and "1.7" in tex
    big = trace_backprop("x=[1, 2], y=[0, 1], w1=[[1, 0], [0, 1]], relu, w2=[[1, 2], [3, 4]]").render("latex")
    assert r"\begin{bmatrix}" in big and r"\delta_{1}" in big
    with pytest.raises(GlassnetError, match="format"):
        t.render("html")


def test_spec_forms_agree():
    a = parse_spec(SEED_001)
    b = spec_from_dict({"x": 1, "y": 5, "w1": 3, "f1": "relu", "w2": 2, "loss": "half_se", "lr": 0.1})
    c = spec_from_dict({"x": 1, "y": 5, "loss": "half_sse", "lr": 0.1,
                        "layer": [{"w": 3, "activation": "relu"}, {"w": 2}]})
    d = spec_from_dict({"spec": SEED_001})
    for s in (b, c, d):
        assert s.activations == a.activations == ["relu", "identity"]
        assert s.loss == a.loss == "half_sse" and s.lr == a.lr
        for w, wa in zip(s.weights, a.weights):
            np.testing.assert_array_equal(w, wa)


def test_spec_shapes():
    s = parse_spec("x=[1, 2], y=3, w1=[4, 5], b1=1")
    assert s.weights[0].shape == (2, 1) and s.x.shape == (1, 2) and s.y.shape == (1, 1)
    s = parse_spec("x=2, y=[1, 2, 3], w1=[1, 2, 3]")
    assert s.weights[0].shape == (1, 3) and s.y.shape == (1, 3)
    assert trace_backprop("x=2, y=[1, 2, 3], w1=[1, 2, 3]").yhat[0].tolist() == [[2, 4, 6]]


@pytest.mark.parametrize("spec, token", [
    ("x=1, y=5, w1=3, relux, w2=2", "'relux'"),
    ("x=1, y=5, w1=abc", "'w1=abc'"),
    ("relu, x=1, y=5, w1=3", "'relu'"),
    ("x=1, y=5, w1=3, loss=nope", "'loss=nope'"),
    ("x=1, y=5, w1=3, q=2", "'q=2'"),
    ("x=[1, 2], y=5, w1=[[1, 2, 3]]", "w1="),
    ("x=1, y=5, w1=3, b1=[1, 2]", "'b1=[1, 2]'"),
    ("x=1, y=[5, 6], w1=3", "'y=[5, 6]'"),
    ("x=1, y=5, w1=3, w1=4", "'w1=4'"),
    ("x=1, y=5, w2=3", "w1"),
    ("x=1, y=5, w1=3, lr=-1", "'lr=-1'"),
    ("x=[1, 2, y=5, w1=3", "unbalanced"),
])
def test_bad_specs_name_the_token(spec, token):
    with pytest.raises(GlassnetError) as err:
        trace_backprop(spec)
    msg = str(err.value)
    assert token in msg and "\n" not in msg


def test_trace_model_rejects_other_layers():
    model = gn.Sequential([gn.Dense(2), gn.Dropout(0.5), gn.Dense(1)], input_shape=(2,))
    with pytest.raises(GlassnetError, match="dropout"):
        trace_model(model, np.ones((1, 2)), np.ones((1, 1)))
