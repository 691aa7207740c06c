"""explain_softmax, count_params, count_conv_params, explain_activation: seed 004's numbers,
the engine's counts, and finite-difference derivatives."""

import math

import numpy as np
import pytest

import glassnet as gn
from glassnet.errors import GlassnetError
from glassnet.diagnostics.explain import count_conv_params, count_params, explain_activation, explain_softmax


def test_softmax_seed_004():
    e = explain_softmax([7, 1, 2.2], label=0, names="ABC")
    # seed 004: e^7 ~ 1097, e^1 ~ 2.72, e^2.2 ~ 9.03 -> 98.9%, 0.25%, 0.81%; CE = -log 0.989 ~ 0.011
    assert e.exp.round(2).tolist() == [1096.63, 2.72, 9.03]
    assert round(e.probs[0] * 100, 1) == 98.9
    assert round(e.probs[1] * 100, 2) == 0.25
    assert round(e.probs[2] * 100, 2) == 0.81
    assert e.predicted == 0
    assert round(e.cross_entropy, 3) == 0.011
    total = math.exp(7) + math.exp(1) + math.exp(2.2)
    assert e.cross_entropy == pytest.approx(-math.log(math.exp(7) / total), rel=1e-12)
    text = str(e)
    assert "98.94%" in text and "0.25%" in text and "0.81%" in text and "predicted class: A" in text


def test_softmax_large_scores_and_errors():
    e = explain_softmax([1000.0, 0.0], label=1)
    assert e.probs[0] == pytest.approx(1.0) and np.isfinite(e.exp).all()
    assert e.cross_entropy == pytest.approx(1000.0)
    for bad in ([1.0], [[1, 2]], [1, float("nan")]):
        with pytest.raises(GlassnetError, match="z must"):
            explain_softmax(bad)
    with pytest.raises(GlassnetError, match="label"):
        explain_softmax([1, 2, 3], label=3)


def test_param_counts_seed_004_and_the_engine():
    c = count_params([6, 32, 32, 32, 4])
    # seed 004: 32*6+32 = 224, 32*32+32 = 1056 (twice), 4*32+4 = 132, total 2468
    assert [l.total for l in c.layers] == [224, 1056, 1056, 132]
    assert c.total == 2468 and "2,468" in str(c)
    model = gn.Sequential([gn.Dense(32), gn.Dense(32), gn.Dense(32), gn.Dense(4)], input_shape=(6,))
    assert [l.param_count() for l in model.layers] == [l.total for l in c.layers]
    assert count_params([3, 5], use_bias=False).total == 15
    with pytest.raises(GlassnetError, match="sizes"):
        count_params([6])
    with pytest.raises(GlassnetError, match="sizes"):
        count_params([6, 0, 3])


def test_conv_param_counts_formula_and_conv2d():
    chans = [3, 64, 128, 128, 256, 256]  # seed 002's five conv layers
    c = count_conv_params(chans, 3)
    assert [l.total for l in c.layers] == [3 * 3 * a * b + b for a, b in zip(chans[:-1], chans[1:])]
    assert count_conv_params([1, 4], (3, 5)).total == 3 * 5 * 1 * 4 + 4
    assert count_conv_params([2, 4, 8], [1, (2, 3)], use_bias=False).total == 2 * 4 + 2 * 3 * 4 * 8
    Conv2D = getattr(gn.layers, "Conv2D", None)
    if Conv2D is not None:
        model = gn.Sequential([Conv2D(4, 3, padding="same"), Conv2D(6, (3, 5), padding="same")],
                              input_shape=(8, 8, 2))
        ours = count_conv_params([2, 4, 6], [3, (3, 5)])
        assert [l.param_count() for l in model.layers] == [l.total for l in ours.layers]
    with pytest.raises(GlassnetError, match="kernel_size"):
        count_conv_params([3, 4, 5], [3, 3, 3])


@pytest.mark.parametrize("name", sorted(set(gn.activations.activations.names()) - {"softmax"}))
def test_activation_values_and_derivatives(name):
    pts = np.array([-2.0, -0.7, 0.3, 1.0, 2.5])
    e = explain_activation(name, points=pts)
    assert e.formula.startswith("f(z)") and e.derivative_formula.startswith("f'(z)") and e.output_range
    h = 1e-6
    fn = gn.activations.get(name)
    numeric = (fn(pts + h) - fn(pts - h)) / (2 * h)
    np.testing.assert_allclose(e.derivatives, numeric, rtol=1e-5, atol=1e-7)
    assert len(str(e).splitlines()) >= 5 + len(pts)


def test_activation_known_values_and_softmax():
    e = explain_activation("sigmoid", points=[0.0])
    assert e.values.tolist() == [0.5] and e.derivatives.tolist() == [0.25]
    s = explain_activation("softmax", points=[0.0, 0.0])
    assert s.values.tolist() == [0.5, 0.5] and s.derivatives.tolist() == [0.25, 0.25] and s.note
    with pytest.raises(GlassnetError, match="unknown activation"):
        explain_activation("nope")


def test_activation_plot(tmp_path):
    path = tmp_path / "figs" / "tanh.png"
    e = explain_activation("tanh", plot=path)
    assert path.exists() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and e.plot == str(path)
    explain_activation("softmax", plot=tmp_path / "softmax.png")
    assert (tmp_path / "softmax.png").exists()
