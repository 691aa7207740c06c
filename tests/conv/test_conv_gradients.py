"""Conv2D, pooling, image batch norm and Flatten->Dense against central differences (float64, M = 2).

Kinks are kept out of reach of the h = 1e-6 differences by construction: the conv networks use
smooth activations (tanh), max-pooling sits on data whose values are spread at least 0.01
apart (so no window has a near-tie), and the pools after a convolution are checked for a gap
between the two largest values of every window before the gradient is compared.
"""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn

M = 2




def spread_values(rng, shape, gap=0.01):
    """Distinct values at least ``gap`` apart, in random order: max-pool windows never tie."""
    n = int(np.prod(shape))
    return (rng.permutation(n) * gap - n * gap / 2).reshape(shape)


def model(layers, input_shape, seed=0):
    return gn.Sequential(layers, input_shape=input_shape, seed=seed, models=M, dtype="float64",
                         bias_init=gn.init.Normal(std=0.2))


@pytest.mark.parametrize("kernel,strides,padding,use_bias", [
    (3, 1, "valid", True),
    (3, 1, "same", True),
    (3, 2, "same", True),
    (3, 2, "valid", False),
    ((2, 3), (2, 1), 1, True),
    ((3, 2), 1, (2, 0), False),
    (4, 1, "same", True),    # even kernel: "same" pads one more after than before
    (1, 1, "valid", True),   # 1x1: no patch copy
    (2, 3, "same", True),    # stride larger than the kernel
])
def test_conv2d_gradients(kernel, strides, padding, use_bias, rng):
    net = model([gn.Conv2D(3, kernel, strides=strides, padding=padding, use_bias=use_bias,
                           activation="tanh"), gn.Flatten(), gn.Dense(4)], (7, 6, 2))
    x, y = rng.standard_normal((3, 7, 6, 2)), rng.integers(0, 4, 3)
    gn.gradcheck(net, x, y, "softmax_cross_entropy", max_entries=25).assert_close()


def test_conv2d_stack_per_model_data_and_kernel_regularizer(rng):
    """Two convs (the second gets dL/dx from the first's backward), per-model inputs, L2 on kernels."""
    net = model([gn.Conv2D(3, 3, padding="same", activation="tanh", kernel_regularizer=gn.L2(0.3)),
                 gn.Conv2D(2, 3, strides=2, activation="sigmoid"), gn.Flatten(), gn.Dense(3)], (6, 6, 2))
    x, y = rng.standard_normal((M, 4, 6, 6, 2)), rng.standard_normal((M, 4, 3))
    gn.gradcheck(net, x, y, "mse", weight_decay=0.1, max_entries=25).assert_close()


@pytest.mark.parametrize("pool", [
    lambda: gn.MaxPool2D(2),
    lambda: gn.MaxPool2D(3, strides=2),                   # overlapping windows
    lambda: gn.MaxPool2D(2, padding="same"),              # odd sizes: a padded row and column
    lambda: gn.MaxPool2D((2, 3), strides=(1, 2)),
    lambda: gn.AvgPool2D(2),
    lambda: gn.AvgPool2D(3, strides=2),
    lambda: gn.AvgPool2D(2, padding="same"),
    lambda: gn.AvgPool2D((3, 2), strides=1, padding="same"),
    lambda: gn.GlobalAveragePooling2D(),
], ids=["max2", "max3s2", "max2same", "max2x3", "avg2", "avg3s2", "avg2same", "avg3x2same", "gap"])
def test_pooling_gradients_on_inputs(pool, rng):
    net = model([pool(), gn.Flatten(), gn.Dense(3)], (7, 5, 2))
    x = spread_values(rng, (3, 7, 5, 2))
    y = rng.standard_normal((3, 3))
    gn.gradcheck(net, x, y, "mse", max_entries=40).assert_close()


def window_gap(conv_out, pool_size):
    """Smallest gap between the largest and second-largest value of any (non-overlapping) window."""
    M_, B, H, W, C = conv_out.shape
    p = pool_size
    win = conv_out[:, :, :H // p * p, :W // p * p].reshape(M_, B, H // p, p, W // p, p, C)
    win = np.sort(win.transpose(0, 1, 2, 4, 6, 3, 5).reshape(-1, p * p), axis=1)
    return float((win[:, -1] - win[:, -2]).min())


def test_conv_pool_conv_network_gradients(rng):
    net = model([gn.Conv2D(3, 3, padding="same", activation="tanh"), gn.MaxPool2D(2),
                 gn.Conv2D(4, 2, activation="tanh"), gn.GlobalAveragePooling2D(), gn.Dense(3)], (6, 6, 2),
                seed=4)
    x, y = rng.standard_normal((3, 6, 6, 2)), rng.integers(0, 3, 3)
    conv_out = net.layers[0].forward(x, True)
    assert window_gap(conv_out, 2) > 1e-4, "a max-pool window nearly ties; change the seed"
    gn.gradcheck(net, x, y, "softmax_cross_entropy", max_entries=25).assert_close()


@pytest.mark.parametrize("train", [True, False], ids=["train", "inference"])
def test_batchnorm_on_images_gradients(train, rng):
    net = model([gn.Conv2D(3, 3, activation="tanh"), gn.BatchNorm(momentum=0.3), gn.Flatten(),
                 gn.Dense(3)], (5, 5, 2), seed=6)
    x, y = rng.standard_normal((4, 5, 5, 2)), rng.standard_normal((4, 3))
    gn.gradcheck(net, x, y, "mse", train=train, max_entries=25).assert_close()


def test_batchnorm_first_on_images_then_flatten_dense(rng):
    net = model([gn.BatchNorm(), gn.Flatten(), gn.Dense(4, activation="tanh"), gn.Dense(3)], (3, 4, 2))
    x, y = rng.standard_normal((5, 3, 4, 2)), rng.integers(0, 3, 5)
    gn.gradcheck(net, x, y, "softmax_cross_entropy", max_entries=30).assert_close()
