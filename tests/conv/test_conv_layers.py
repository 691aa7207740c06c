"""Conv2D and pooling layers: shapes, parameter counts, configs and save/load, errors, dtypes,
the model axis (ensembles equal separate runs), and the scratch buffers reused between steps."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import glassnet as gn
from glassnet import zoo
from glassnet.layers import from_config, layer_types


def direct_conv(x, W, b, strides, pads):
    """Reference convolution by explicit loops over output positions (small arrays only)."""
    (pt, pb), (pl, pr) = pads
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    kh, kw, _, F = W.shape
    sh, sw = strides
    Ho, Wo = (xp.shape[1] - kh) // sh + 1, (xp.shape[2] - kw) // sw + 1
    out = np.zeros((x.shape[0], Ho, Wo, F))
    for i in range(Ho):
        for j in range(Wo):
            patch = xp[:, i * sh:i * sh + kh, j * sw:j * sw + kw, :]
            out[:, i, j] = np.tensordot(patch, W, axes=([1, 2, 3], [0, 1, 2])) + b
    return out


@pytest.mark.parametrize("shape,kwargs,out", [
    ((8, 8, 3), dict(kernel_size=3), (6, 6, 5)),
    ((8, 8, 3), dict(kernel_size=3, padding="same"), (8, 8, 5)),
    ((8, 7, 3), dict(kernel_size=3, strides=2, padding="same"), (4, 4, 5)),   # ceil(size / stride)
    ((8, 7, 3), dict(kernel_size=(3, 1), strides=(1, 2), padding=2), (10, 6, 5)),
    ((5, 5, 1), dict(kernel_size=5), (1, 1, 5)),
])
def test_conv2d_output_shape_and_values(shape, kwargs, out, rng):
    layer = gn.Conv2D(5, **kwargs)
    net = gn.Sequential([layer], input_shape=shape, dtype="float64", bias_init=gn.init.Normal())
    assert layer.output_shape == out
    x = rng.standard_normal((2,) + shape)
    y = net.predict(x)
    assert y.shape == (2,) + out
    np.testing.assert_allclose(y, direct_conv(x, layer.W.value[0], layer.b.value[0], layer.strides, layer._pads),
                               rtol=1e-12, atol=1e-12)


def test_pooling_values_by_hand():
    x = np.arange(16.0).reshape(1, 4, 4, 1)
    mx = gn.Sequential([gn.MaxPool2D(2)], input_shape=(4, 4, 1)).predict(x)
    av = gn.Sequential([gn.AvgPool2D(2)], input_shape=(4, 4, 1)).predict(x)
    gap = gn.Sequential([gn.GlobalAveragePooling2D()], input_shape=(4, 4, 1)).predict(x)
    np.testing.assert_array_equal(mx[0, ..., 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(av[0, ..., 0], [[2.5, 4.5], [10.5, 12.5]])
    np.testing.assert_array_equal(gap, [[7.5]])
    # "same" on a 3x3 image: windows at the border average only their real elements
    x3 = np.arange(9.0).reshape(1, 3, 3, 1)
    av3 = gn.Sequential([gn.AvgPool2D(2, padding="same")], input_shape=(3, 3, 1)).predict(x3)
    np.testing.assert_array_equal(av3[0, ..., 0], [[2, 3.5], [6.5, 8]])
    mx3 = gn.Sequential([gn.MaxPool2D(2, padding="same")], input_shape=(3, 3, 1)).predict(-x3)
    np.testing.assert_array_equal(mx3[0, ..., 0], [[0, -2], [-6, -8]])


def test_param_count_and_fans():
    layer = gn.Conv2D(7, (3, 2))
    seen = []

    class Spy(gn.init.Zeros):
        def __call__(self, shape, rng, dtype, fan_in, fan_out):
            seen.append((shape, fan_in, fan_out))
            return super().__call__(shape, rng, dtype, fan_in, fan_out)

    layer.kernel_init = Spy()
    gn.Sequential([layer], input_shape=(9, 9, 4))
    assert layer.param_count() == 3 * 2 * 4 * 7 + 7
    assert seen == [((3, 2, 4, 7), 3 * 2 * 4, 3 * 2 * 7)]
    nobias = gn.Conv2D(7, (3, 2), use_bias=False)
    gn.Sequential([nobias], input_shape=(9, 9, 4))
    assert nobias.param_count() == 3 * 2 * 4 * 7


def test_float32_stays_float32(rng):
    net = gn.Sequential([gn.Conv2D(3, 3, padding="same", activation="relu"), gn.MaxPool2D(2),
                         gn.AvgPool2D(2), gn.GlobalAveragePooling2D(), gn.Dense(2)], input_shape=(8, 8, 2))
    x = rng.standard_normal((4, 8, 8, 2)).astype(np.float32)
    out = net.forward(x, True)
    assert out.dtype == np.float32
    net.backward(np.ones_like(out))
    assert all(p.grad.dtype == np.float32 for p in net.param_list)


def test_config_save_and_load_roundtrip(tmp_path, rng):
    net = zoo.seed002_cnn(filters=(3, 4), pool_after=(0,), dense_units=(5,), input_shape=(8, 8, 2), classes=3,
                          batch_norm=True, l2=1e-3, seed=2)
    extra = gn.Sequential([gn.Conv2D(2, (3, 2), strides=(2, 1), padding=(1, 0), use_bias=False, activation="prelu"),
                           gn.AvgPool2D(2, strides=1, padding="same"), gn.MaxPool2D(3, strides=2),
                           gn.GlobalAveragePooling2D()], input_shape=(9, 9, 2), seed=4)
    x = rng.standard_normal((3, 8, 8, 2))
    net.fit(x, rng.integers(0, 3, 3), loss="softmax_cross_entropy", steps=2, batch_size=3)
    for model, xin in ((net, x), (extra, rng.standard_normal((3, 9, 9, 2)))):
        for layer in model.layers:
            clone = from_config(layer.config())
            assert type(clone) is type(layer) and clone.config() == layer.config()
        loaded = gn.Sequential.load(model.save(tmp_path / f"{model.name}.npz"))
        np.testing.assert_array_equal(loaded.predict(xin), model.predict(xin))
        assert repr(loaded) == repr(model)
    conv = net.layers[0]
    assert isinstance(conv.kernel_regularizer, gn.L2) and conv.W.regularizer is conv.kernel_regularizer


@pytest.mark.parametrize("make,shape,match", [
    (lambda: gn.Conv2D(0), (8, 8, 1), "filters"),
    (lambda: gn.Conv2D(2, kernel_size=(3, 0)), (8, 8, 1), "kernel_size"),
    (lambda: gn.Conv2D(2, strides=1.5), (8, 8, 1), "strides"),
    (lambda: gn.Conv2D(2, padding="full"), (8, 8, 1), "padding"),
    (lambda: gn.Conv2D(2, padding=-1), (8, 8, 1), "padding"),
    (lambda: gn.Conv2D(2, 5), (4, 8, 1), "does not fit"),
    (lambda: gn.Conv2D(2), (8, 8), "height, width, channels"),
    (lambda: gn.MaxPool2D(5), (4, 4, 1), "does not fit"),
    (lambda: gn.AvgPool2D(2, padding=1), (4, 4, 1), "padding"),
    (lambda: gn.MaxPool2D(2), (16,), "height, width, channels"),
    (lambda: gn.GlobalAveragePooling2D(), (16,), "height, width, channels"),
])
def test_bad_arguments_fail_with_one_clear_line(make, shape, match):
    with pytest.raises(gn.GlassnetError, match=match) as info:
        gn.Sequential([make()], input_shape=shape)
    assert "\n" not in str(info.value)


def test_registered_names():
    for name, cls in [("conv2d", gn.Conv2D), ("Conv2D", gn.Conv2D), ("max_pool2d", gn.MaxPool2D),
                      ("MaxPooling2D", gn.MaxPool2D), ("avg_pool2d", gn.AvgPool2D),
                      ("AveragePooling2D", gn.AvgPool2D), ("GlobalAveragePooling2D", gn.GlobalAveragePooling2D)]:
        assert layer_types.get(name) is cls


def cnn(**kw):
    return gn.Sequential([gn.Conv2D(3, 3, padding="same", activation="relu"), gn.MaxPool2D(2),
                          gn.Conv2D(4, 3, strides=2, activation="tanh"), gn.BatchNorm(), gn.Flatten(),
                          gn.Dense(3)], input_shape=(8, 8, 2), dtype="float64", **kw)


def test_ensemble_of_cnns_equals_separate_runs(rng):
    x, y = rng.standard_normal((10, 8, 8, 2)), rng.integers(0, 3, 10)
    fit = dict(loss="softmax_cross_entropy", optimizer=gn.SGD(lr=0.05, momentum=0.9), steps=6, batch_size=4,
               shuffle=True, weight_decay=1e-3)
    ens = cnn(seed=7, models=3)
    hist = ens.fit(x, y, **fit)
    for m in range(3):
        single = cnn(seed=7 + m)
        h1 = single.fit(x, y, **{**fit, "optimizer": gn.SGD(lr=0.05, momentum=0.9)})
        np.testing.assert_allclose(hist.curves["loss"][m], h1.curves["loss"][0], rtol=1e-12)
        for p_ens, p_one in zip(ens.param_list, single.param_list):
            np.testing.assert_allclose(p_ens.value[m], p_one.value[0], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(ens.predict(x)[m], single.predict(x), rtol=1e-12, atol=1e-14)


def test_shared_and_per_model_inputs_agree(rng):
    net = cnn(seed=1, models=2)
    x = rng.standard_normal((5, 8, 8, 2))
    shared = net.forward(x, True)
    net.backward(np.ones_like(shared))
    g_shared = [p.grad.copy() for p in net.param_list]
    per_model = net.forward(np.stack([x, x]), True)
    net.backward(np.ones_like(per_model))
    np.testing.assert_allclose(shared, per_model, rtol=1e-13)
    for a, p in zip(g_shared, net.param_list):
        np.testing.assert_allclose(a, p.grad, rtol=1e-12, atol=1e-13)


def test_reused_buffers_give_fresh_results(rng):
    """Training steps reuse the padded-input and patch buffers: a second batch must not see the
    first one or an inference pass in between (as fit's validation), and outputs are new arrays."""
    net = cnn(seed=2)
    ref = copy.deepcopy(net)
    xa, xb = rng.standard_normal((2, 4, 8, 8, 2))
    ya = net.forward(xa, True)
    ya_copy = ya.copy()
    net.backward(np.ones_like(ya))
    net.predict(rng.standard_normal((7, 8, 8, 2)))
    yb = net.forward(xb, True)
    net.layers[0].need_input_grad = ref.layers[0].need_input_grad = True
    dx = net.backward(np.ones_like(yb))
    np.testing.assert_array_equal(ya, ya_copy)  # the first output was not overwritten
    yb_ref = ref.forward(xb, True)
    dx_ref = ref.backward(np.ones_like(yb_ref))
    np.testing.assert_allclose(yb, yb_ref, rtol=1e-14)
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-14)
    for p, q in zip(net.param_list, ref.param_list):
        np.testing.assert_allclose(p.grad, q.grad, rtol=1e-13, atol=1e-15)


def test_backward_after_inference_forward(rng):
    """Backward follows the last forward, also in inference mode (gradients for saliency maps)."""
    net = cnn(seed=3)
    x = rng.standard_normal((3, 8, 8, 2))
    net.layers[0].need_input_grad = True
    net.forward(rng.standard_normal((5, 8, 8, 2)), True)
    out = net.forward(x, False)
    dx = net.backward(np.ones_like(out))
    h = 1e-6
    x2 = x.copy()
    x2[1, 3, 4, 0] += h
    numeric = (net.forward(x2, False).sum() - out.sum()) / h
    assert dx.shape == (1, 3, 8, 8, 2)
    np.testing.assert_allclose(dx[0, 1, 3, 4, 0], numeric, rtol=1e-4, atol=1e-6)


def test_seed002_builders():
    cnn_model = zoo.seed002_cnn(seed=0, models=2)
    assert cnn_model.M == 2 and cnn_model.output_shape == (10,)
    convs = [l for l in cnn_model.layers if isinstance(l, gn.Conv2D)]
    assert [c.filters for c in convs] == [64, 128, 128, 256, 256]
    assert all(isinstance(c.kernel_regularizer, gn.L2) and c.kernel_regularizer.rate == 5e-4 for c in convs)
    assert all(c.padding == "same" and c.kernel_size == (3, 3) for c in convs)
    dense = zoo.seed002_dense(activation="leaky_relu", batch_norm=True, input_shape=(8, 8, 1), classes=4)
    assert dense.output_shape == (4,)
    assert sum(isinstance(l, gn.BatchNorm) for l in dense.layers) == 2
    assert dense.param_count() == 64 * 512 + 512 + 512 * 256 + 256 + 256 * 4 + 4 + 2 * (512 + 256)
    with pytest.raises(gn.GlassnetError, match="pool_after"):
        zoo.seed002_cnn(pool_after=(5,))
    with pytest.raises(gn.GlassnetError, match="filters"):
        zoo.seed002_cnn(filters=(64, 0))
