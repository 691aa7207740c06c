"""Conv1D: torch.nn.functional.conv1d (float64) on random strides, paddings and dilations; central
differences; the model axis; configs and files."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import Conv1D, from_config, layer_types

PADDINGS = ["valid", "same", "causal", 0, 1, 2]


def random_case(seed):
    rng = np.random.default_rng(seed)
    k, s, d = int(rng.integers(1, 4)), int(rng.integers(1, 4)), int(rng.integers(1, 3))
    padding = PADDINGS[seed % len(PADDINGS)]
    T = int(rng.integers(d * (k - 1) + 1, 11))
    return dict(filters=int(rng.integers(1, 5)), kernel_size=k, strides=s, dilation_rate=d, padding=padding,
                use_bias=bool(seed % 4)), T, int(rng.integers(1, 4)), int(rng.integers(1, 4))


def torch_padding(padding, T, k, s, d):
    """(left, right) zeros worked out here independently of glassnet."""
    span = d * (k - 1) + 1
    if padding == "valid":
        return 0, 0
    if padding == "causal":
        return span - 1, 0
    if padding == "same":
        total = max((-(-T // s) - 1) * s + span - T, 0)
        return total // 2, total - total // 2
    return padding, padding


@pytest.mark.parametrize("seed", range(12))
def test_conv1d_matches_torch(seed, lh, torch):
    args, T, C, B = random_case(seed)
    rng = np.random.default_rng(50 + seed)
    M = 2
    layer = lh.build(Conv1D(**args), (T, C), M=M, bias_init=gn.init.Normal(std=0.5))
    x = rng.standard_normal((B, T, C) if seed % 2 else (M, B, T, C))
    y = layer.forward(x, True)
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    F = torch.nn.functional
    for m in range(M):
        xt = torch.tensor(np.ascontiguousarray((x if x.ndim == 3 else x[m]).transpose(0, 2, 1)),
                          requires_grad=True)
        Wt = torch.tensor(np.ascontiguousarray(layer.W.value[m].transpose(2, 1, 0)), requires_grad=True)
        bt = torch.tensor(layer.b.value[m], requires_grad=True) if layer.use_bias else None
        pads = torch_padding(args["padding"], T, args["kernel_size"], args["strides"], args["dilation_rate"])
        yt = F.conv1d(F.pad(xt, pads), Wt, bt, stride=args["strides"], dilation=args["dilation_rate"])
        yt.backward(torch.tensor(np.ascontiguousarray(dy[m].transpose(0, 2, 1))))
        tol = dict(rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(y[m], yt.detach().numpy().transpose(0, 2, 1), **tol)
        np.testing.assert_allclose(dx[m], xt.grad.numpy().transpose(0, 2, 1), **tol)
        np.testing.assert_allclose(layer.W.grad[m], Wt.grad.numpy().transpose(2, 1, 0), **tol)
        if layer.use_bias:
            np.testing.assert_allclose(layer.b.grad[m], bt.grad.numpy(), **tol)


def test_conv1d_same_is_torch_same_for_stride_1(lh, rng, torch):
    """PyTorch's own padding='same' (stride 1), with an even dilated span so the sides differ."""
    layer = lh.build(Conv1D(3, kernel_size=4, padding="same", dilation_rate=2), (9, 2), M=1)
    x = rng.standard_normal((2, 9, 2))
    y = layer.forward(x, False)
    assert y.shape == (1, 2, 9, 3)
    W = torch.tensor(np.ascontiguousarray(layer.W.value[0].transpose(2, 1, 0)))
    yt = torch.nn.functional.conv1d(torch.tensor(x.transpose(0, 2, 1)), W, torch.tensor(layer.b.value[0]),
                                    padding="same", dilation=2)
    np.testing.assert_allclose(y[0], yt.numpy().transpose(0, 2, 1), rtol=1e-10, atol=1e-12)


def test_conv1d_causal_output_ignores_the_future(lh, rng):
    layer = lh.build(Conv1D(2, kernel_size=3, padding="causal", dilation_rate=2), (8, 1), M=1)
    x = rng.standard_normal((1, 8, 1))
    later = x.copy()
    later[:, 5:] += 1.0
    np.testing.assert_array_equal(layer.forward(x, False)[..., :5, :], layer.forward(later, False)[..., :5, :])


@pytest.mark.parametrize("padding", ["valid", "same", "causal", 1])
@pytest.mark.parametrize("shared", [False, True], ids=["per_model", "shared"])
def test_conv1d_central_differences(padding, shared, lh, rng):
    layer = lh.build(Conv1D(2, kernel_size=3, strides=2, padding=padding, dilation_rate=1, activation="tanh"),
                     (7, 2), M=2, bias_init=gn.init.Normal(std=0.5))
    x = rng.standard_normal((3, 7, 2) if shared else (2, 3, 7, 2))
    dy = rng.standard_normal((2, 3) + layer.output_shape)
    lh.fd_check(layer, x, dy)


def test_conv1d_gradcheck_and_ensemble(lh, rng):
    def make():
        return [Conv1D(3, 3, padding="same", activation="tanh"), Conv1D(2, 2, strides=2, dilation_rate=2),
                gn.Flatten(), gn.Dense(2)]
    x, y = rng.standard_normal((4, 8, 2)), rng.standard_normal((4, 2))
    model = gn.Sequential(make(), input_shape=(8, 2), seed=1, models=2, dtype="float64",
                          bias_init=gn.init.Normal(std=0.3))
    gn.gradcheck(model, x, y, "mse").assert_close()
    lh.ensemble_vs_separate(make, (8, 2), x, y)
    lh.ensemble_vs_separate(make, (8, 2), rng.standard_normal((3, 4, 8, 2)), y)  # per-model data


def test_conv1d_shapes_errors_config_and_files(rng, tmp_path, lh):
    assert layer_types.get("convolution1d") is Conv1D
    layer = Conv1D(4, 5, strides=2, padding="causal", dilation_rate=3, activation="relu", use_bias=False)
    assert from_config(layer.config()).config() == layer.config()
    assert repr(layer) == "Conv1D(4, 5, strides=2, padding='causal', dilation_rate=3, use_bias=False, activation='relu')"
    assert lh.build(Conv1D(2, 3, strides=2, padding="same"), (7, 1)).output_shape == (4, 2)
    assert lh.build(Conv1D(2, 3, dilation_rate=2), (7, 1)).output_shape == (3, 2)
    with pytest.raises(gn.GlassnetError, match="does not fit"):
        lh.build(Conv1D(2, 3, dilation_rate=3), (6, 1))
    with pytest.raises(gn.GlassnetError, match="steps, channels"):
        lh.build(Conv1D(2), (6,))
    for bad in ("full", -1, 1.5, True):
        with pytest.raises(gn.GlassnetError, match="padding"):
            Conv1D(2, padding=bad)
    with pytest.raises(gn.GlassnetError, match="dilation_rate"):
        Conv1D(2, dilation_rate=0)
    model = gn.Sequential([Conv1D(3, 2, padding="causal"), gn.Flatten(), gn.Dense(2)], input_shape=(5, 2),
                          seed=[0, 1], dtype="float64")
    lh.roundtrip(model, rng.standard_normal((3, 5, 2)), tmp_path)
    assert model.param_count() == 2 * 2 * 3 + 3 + 15 * 2 + 2
