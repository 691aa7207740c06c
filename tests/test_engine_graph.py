"""Graph models (issue 13): skip connections, fan-out, several inputs and outputs, on the model axis."""

import numpy as np
import pytest

import glassnet as gn
from glassnet.errors import GlassnetError


def residual(seed=0, models=None, dtype="float64"):
    x = gn.Input((4,))
    h = gn.Dense(4, activation="tanh")(x)
    s = gn.Add()([x, gn.Dense(4)(h)])          # x fans out: Dense and Add both read it
    y = gn.Dense(3)(gn.Activation("relu")(s))
    return gn.Model(x, y, seed=seed, models=models, dtype=dtype)


def data(n=12, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4))
    return x, np.tanh(x[:, :3] * 2)


def test_gradients_through_a_skip_connection_match_finite_differences():
    x, y = data()
    model = residual(models=2)
    report = gn.gradcheck(model, x, y, "mse", check_input=False)
    report.assert_close(rtol=1e-6)


def test_fan_out_inside_the_graph_sums_the_gradients():
    """h feeds two branches that are added: dL/dh = sum of both branches' gradients."""
    x = gn.Input((3,))
    h = gn.Dense(3, activation="tanh")(x)
    y = gn.Dense(2)(gn.Concatenate()([gn.Dense(2, activation="sigmoid")(h), gn.Multiply()([h, h])]))
    model = gn.Model(x, y, seed=1, dtype="float64")
    xs, _ = data(n=6)
    gn.gradcheck(model, xs[:, :3], xs[:, :2], "mse", check_input=False).assert_close(rtol=1e-6)


def test_residual_net_matches_torch():
    torch = pytest.importorskip("torch")
    x, y = data()
    model = residual()
    W1, b1, W2, b2, W3, b3 = (torch.tensor(p.value[0].copy(), requires_grad=True) for p in model.param_list)
    xt = torch.tensor(x)
    out = torch.relu(xt + torch.tanh(xt @ W1 + b1) @ W2 + b2) @ W3 + b3
    loss = torch.nn.functional.mse_loss(out, torch.tensor(y))
    loss.backward()
    pred = model.forward(model.prepare_inputs(x), True)
    lossf = gn.losses.get("mse")
    assert lossf.value(pred, y)[0] == pytest.approx(loss.item(), rel=1e-12)
    model.backward(lossf.grad(pred, y))
    for p, t in zip(model.param_list, (W1, b1, W2, b2, W3, b3)):
        np.testing.assert_allclose(p.grad[0], t.grad.numpy(), rtol=1e-10, atol=1e-13)


def test_an_ensemble_of_residual_nets_equals_separate_runs():
    x, y = data()
    kw = dict(loss="mse", steps=15, batch_size=5, weight_decay=1e-3)
    ens = residual(seed=[3, 4, 5])
    ens.fit(x, y, optimizer=gn.SGD([0.1, 0.2, 0.05], momentum=0.9), **kw)
    for m, (seed, lr) in enumerate([(3, 0.1), (4, 0.2), (5, 0.05)]):
        single = residual(seed=seed)
        single.fit(x, y, optimizer=gn.SGD(lr, momentum=0.9), **kw)
        for a, b in zip(single.param_list, ens.param_list):
            np.testing.assert_allclose(a.value[0], b.value[m], rtol=0, atol=1e-12)


def test_a_chain_as_a_graph_trains_exactly_like_sequential():
    x, y = data()
    seq = gn.Sequential([gn.Dense(5, activation="relu"), gn.Dense(3)], input_shape=(4,), seed=7, dtype="float64")
    inp = gn.Input((4,))
    graph = gn.Model(inp, gn.Dense(3)(gn.Dense(5, activation="relu")(inp)), seed=7, dtype="float64")
    for m in (seq, graph):
        m.fit(x, y, loss="mse", optimizer=gn.Adam(0.01), steps=20, batch_size=4)
    for a, b in zip(seq.param_list, graph.param_list):
        np.testing.assert_array_equal(a.value, b.value)


def two_in_two_out(seed=0):
    a, b = gn.Input((3,), name="a"), gn.Input((2,), name="b")
    h = gn.Concatenate()([gn.Dense(4, activation="relu")(a), b])
    h = gn.BatchNorm()(h)
    return gn.Model([a, b], [gn.Dense(1, name="reg")(h), gn.Dense(3, name="cls")(h)], seed=seed, dtype="float64")


def test_several_inputs_and_outputs_with_loss_weights():
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((20, 3)), rng.standard_normal((20, 2))
    yr, yc = A[:, :1] + B[:, :1], rng.integers(0, 3, 20)
    model = two_in_two_out()
    hist = model.fit([A, B], [yr, yc], loss={"reg": "mse", "cls": "softmax_cross_entropy"}, loss_weights=[2.0, 0.5],
                     steps=30, batch_size="full", optimizer=gn.SGD(0.1), log_every=1)
    np.testing.assert_allclose(hist["data_loss"], 2.0 * hist["reg_loss"] + 0.5 * hist["cls_loss"], rtol=1e-12)
    assert hist["reg_loss"][-1] < hist["reg_loss"][0]
    ev = model.evaluate([A, B], [yr, yc], ["mse", "softmax_cross_entropy"])
    assert set(ev) == {"loss", "reg_loss", "cls_loss"}
    with pytest.raises(GlassnetError, match="list of 2 arrays"):
        model.predict(A)
    with pytest.raises(GlassnetError, match="every output"):
        model.fit([A, B], [yr, yc], loss={"reg": "mse"})


def test_save_and_load_round_trip_a_graph(tmp_path):
    rng = np.random.default_rng(1)
    A, B = rng.standard_normal((10, 3)), rng.standard_normal((10, 2))
    model = two_in_two_out(seed=4)
    model.fit([A, B], [A[:, :1], rng.integers(0, 3, 10)], loss=["mse", "softmax_cross_entropy"], steps=3)
    loaded = gn.load_model(model.save(tmp_path / "g.npz"))
    assert isinstance(loaded, gn.Model) and repr(loaded) == repr(model)
    for a, b in zip(model.predict([A, B]), loaded.predict([A, B])):
        np.testing.assert_array_equal(a, b)
    res = residual(seed=[1, 2])
    back = gn.load_model(res.save(tmp_path / "r.npz"))
    x, _ = data()
    np.testing.assert_array_equal(res.predict(x), back.predict(x))


def test_summary_and_repr_show_the_graph():
    text = residual().summary(print_fn=None)
    assert "add_0" in text and "input_0, dense_1" in text and "reads" in text
    assert "add_0 = Add()(input_0, dense_1)" in repr(residual())


def test_graph_mistakes_are_one_line():
    x = gn.Input((4,))
    dense = gn.Dense(2)
    y = dense(x)
    with pytest.raises(GlassnetError, match="already called once"):
        dense(x)
    with pytest.raises(GlassnetError, match="not among the model's inputs"):
        gn.Model(gn.Input((4,)), y)
    with pytest.raises(GlassnetError, match="not used by any output"):
        gn.Model([x, gn.Input((2,))], y)
    with pytest.raises(GlassnetError, match="one shape"):
        gn.Add()([x, y])
    with pytest.raises(GlassnetError, match="differ only in the last axis"):
        gn.Concatenate()([gn.Input((2, 3)), gn.Input((3, 3))])
    with pytest.raises(GlassnetError, match="glassnet tensor"):
        gn.Dense(2)(np.zeros((3, 4)))
    with pytest.raises(GlassnetError, match="inputs must be a tensor"):
        gn.Model([], y)
