"""Conv2D, pooling and image batch norm against PyTorch (float64, 1e-9), on random shapes.

glassnet is channels-last ``(M, B, H, W, C)`` with kernels ``(M, kh, kw, cin, cout)``; PyTorch is
``(B, C, H, W)`` with weights ``(cout, cin, kh, kw)``. Each model of the model axis is compared
with its own PyTorch run. Also: CNN training trajectories against PyTorch, and the seed 002
CNNs' parameter counts against PyTorch's count of the same architecture.
"""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet import zoo

torch = pytest.importorskip("torch")
F = torch.nn.functional
TOL = dict(rtol=1e-9, atol=1e-9)


def to_nchw(a):
    return torch.tensor(np.ascontiguousarray(np.moveaxis(a, -1, -3)), dtype=torch.float64)


def to_nhwc(t):
    return np.moveaxis(t.detach().numpy(), -3, -1)


def kernel_to_torch(W):
    """(kh, kw, cin, cout) -> (cout, cin, kh, kw)."""
    return torch.tensor(np.ascontiguousarray(W.transpose(3, 2, 0, 1)), requires_grad=True)


def torch_pad(layer):
    """glassnet's (top, bottom), (left, right) padding as F.pad's (left, right, top, bottom)."""
    (pt, pb), (pl, pr) = layer._pads
    return (pl, pr, pt, pb)


def run_layer(layer, input_shape, x, M, rng):
    """Forward in training mode and backward a random dL/dy through a lone layer of M models."""
    net = gn.Sequential([layer], input_shape=input_shape, models=M, seed=int(rng.integers(1000)),
                        dtype="float64", bias_init=gn.init.Normal(std=0.5))
    layer.need_input_grad = True
    y = net.forward(x, True)
    dy = rng.standard_normal(y.shape)
    dx = net.backward(dy)
    return y, dy, dx


def random_conv_case(seed):
    rng = np.random.default_rng(seed)
    kh, kw = (int(k) for k in rng.integers(1, 5, 2))
    sh, sw = (int(s) for s in rng.integers(1, 4, 2))
    padding = ["valid", "same", int(rng.integers(0, 3)), (int(rng.integers(0, 3)), int(rng.integers(0, 3)))][seed % 4]
    H, W = int(rng.integers(kh, 10)), int(rng.integers(kw, 10))
    return dict(filters=int(rng.integers(1, 6)), kernel_size=(kh, kw), strides=(sh, sw), padding=padding,
                use_bias=bool(seed % 3), shape=(H, W, int(rng.integers(1, 5))), B=int(rng.integers(1, 5)))


@pytest.mark.parametrize("seed", range(12))
def test_conv2d_matches_torch(seed):
    case = random_conv_case(seed)
    rng = np.random.default_rng(100 + seed)
    M, B, shape = 2, case.pop("B"), case.pop("shape")
    layer = gn.Conv2D(**case)
    x = rng.standard_normal((B,) + shape)  # shared by the models
    y, dy, dx = run_layer(layer, shape, x, M, rng)
    for m in range(M):
        xt = to_nchw(x).requires_grad_()
        Wt = kernel_to_torch(layer.W.value[m])
        bt = torch.tensor(layer.b.value[m], requires_grad=True) if layer.use_bias else None
        yt = F.conv2d(F.pad(xt, torch_pad(layer)), Wt, bt, stride=layer.strides)
        yt.backward(to_nchw(dy[m]))
        np.testing.assert_allclose(y[m], to_nhwc(yt), **TOL)
        np.testing.assert_allclose(dx[m], to_nhwc(xt.grad), **TOL)
        np.testing.assert_allclose(layer.W.grad[m], Wt.grad.numpy().transpose(2, 3, 1, 0), **TOL)
        if layer.use_bias:
            np.testing.assert_allclose(layer.b.grad[m], bt.grad.numpy(), **TOL)


def torch_pool(kind, xt, layer):
    (ph, pw), (sh, sw) = layer.pool_size, layer.strides
    if kind == "max":
        return F.max_pool2d(F.pad(xt, torch_pad(layer), value=-np.inf), (ph, pw), (sh, sw))
    # mean over the real elements only: window sums over window counts
    total = F.avg_pool2d(F.pad(xt, torch_pad(layer)), (ph, pw), (sh, sw), divisor_override=1)
    count = F.avg_pool2d(F.pad(torch.ones_like(xt), torch_pad(layer)), (ph, pw), (sh, sw), divisor_override=1)
    return total / count


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("seed", range(8))
def test_pooling_matches_torch(kind, seed):
    rng = np.random.default_rng(200 + seed)
    p = tuple(int(v) for v in rng.integers(1, 4, 2))
    strides = None if seed % 2 else tuple(int(v) for v in rng.integers(1, 4, 2))
    padding = ["valid", "same"][seed % 3 == 0]
    shape = (int(rng.integers(p[0], 9)), int(rng.integers(p[1], 9)), int(rng.integers(1, 4)))
    layer = (gn.MaxPool2D if kind == "max" else gn.AvgPool2D)(p, strides=strides, padding=padding)
    M, B = 2, 3
    x = rng.standard_normal((M, B) + shape)  # per model; continuous values: no ties
    y, dy, dx = run_layer(layer, shape, x, M, rng)
    for m in range(M):
        xt = to_nchw(x[m]).requires_grad_()
        yt = torch_pool(kind, xt, layer)
        yt.backward(to_nchw(dy[m]))
        np.testing.assert_allclose(y[m], to_nhwc(yt), **TOL)
        np.testing.assert_allclose(dx[m], to_nhwc(xt.grad), **TOL)


@pytest.mark.parametrize("shape,padding", [((6, 4, 3), "valid"), ((7, 5, 2), "valid"), ((7, 5, 2), "same")])
def test_max_pool_2x2_stride_2_matches_torch(shape, padding, rng):
    """The 2x2/2 pool has its own path (winner bits from the forward pass), tiling or not."""
    layer = gn.MaxPool2D(2, padding=padding)
    x = rng.standard_normal((2, 3) + shape)
    y, dy, dx = run_layer(layer, shape, x, 2, rng)
    for m in range(2):
        xt = to_nchw(x[m]).requires_grad_()
        yt = torch_pool("max", xt, layer)
        yt.backward(to_nchw(dy[m]))
        np.testing.assert_allclose(y[m], to_nhwc(yt), **TOL)
        np.testing.assert_allclose(dx[m], to_nhwc(xt.grad), **TOL)


@pytest.mark.parametrize("pool_size", [2, 3])
def test_max_pool_ties_route_to_the_first_maximum_like_torch(pool_size):
    x = np.zeros((1, 6, 6, 2))
    x[0, 0, 0, 0] = x[0, 1, 1, 0] = x[0, 0, 1, 1] = 1.0  # tied maxima; the rest: all-zero windows
    layer = gn.MaxPool2D(pool_size)
    y, dy, dx = run_layer(layer, (6, 6, 2), x, 1, np.random.default_rng(0))
    xt = to_nchw(x).requires_grad_()
    F.max_pool2d(xt, pool_size).backward(to_nchw(dy[0]))
    np.testing.assert_array_equal(dx[0], to_nhwc(xt.grad))
    assert np.count_nonzero(dx) == y.size  # every window's gradient goes to exactly one input


def test_global_average_pooling_matches_torch(rng):
    x = rng.standard_normal((3, 5, 4, 3))
    y, dy, dx = run_layer(gn.GlobalAveragePooling2D(), (5, 4, 3), x, 2, rng)
    for m in range(2):
        xt = to_nchw(x).requires_grad_()
        yt = xt.mean(dim=(2, 3))
        yt.backward(torch.tensor(dy[m]))
        np.testing.assert_allclose(y[m], yt.detach().numpy(), **TOL)
        np.testing.assert_allclose(dx[m], to_nhwc(xt.grad), **TOL)


def test_batchnorm_on_images_matches_torch_batchnorm2d(rng):
    """Three training steps (outputs, input and parameter gradients, running statistics), then
    inference with the running statistics, per model."""
    M, B, shape, C = 2, 4, (5, 3, 3), 3
    layer = gn.BatchNorm(momentum=0.2, eps=1e-3)
    net = gn.Sequential([layer], input_shape=shape, models=M, dtype="float64")
    layer.need_input_grad = True
    layer.gamma.value[...] = rng.uniform(0.5, 2, (M, C))
    layer.beta.value[...] = rng.standard_normal((M, C))
    steps = []
    for _ in range(3):
        x = rng.standard_normal((M, B) + shape) * 3 + 1
        y = net.forward(x, True)
        dy = rng.standard_normal(y.shape)
        dx = net.backward(dy)
        steps.append((x, y, dy, dx, layer.gamma.grad.copy(), layer.beta.grad.copy()))
    x_eval = rng.standard_normal((B,) + shape)
    y_eval = net.forward(x_eval, False)
    for m in range(M):
        bn = torch.nn.BatchNorm2d(C, eps=1e-3, momentum=0.2).double()
        with torch.no_grad():
            bn.weight.copy_(torch.tensor(layer.gamma.value[m]))
            bn.bias.copy_(torch.tensor(layer.beta.value[m]))
        for x, y, dy, dx, dgamma, dbeta in steps:
            xt = to_nchw(x[m]).requires_grad_()
            yt = bn(xt)
            bn.zero_grad()
            yt.backward(to_nchw(dy[m]))
            np.testing.assert_allclose(y[m], to_nhwc(yt), **TOL)
            np.testing.assert_allclose(dx[m], to_nhwc(xt.grad), **TOL)
            np.testing.assert_allclose(dgamma[m], bn.weight.grad.numpy(), **TOL)
            np.testing.assert_allclose(dbeta[m], bn.bias.grad.numpy(), **TOL)
        np.testing.assert_allclose(layer.buffers["running_mean"][m], bn.running_mean.numpy(), **TOL)
        np.testing.assert_allclose(layer.buffers["running_var"][m], bn.running_var.numpy(), **TOL)
        bn.eval()
        np.testing.assert_allclose(y_eval[m], to_nhwc(bn(to_nchw(x_eval))), **TOL)


# -- whole networks --------------------------------------------------------------------------------

def small_cnn(**kw):
    return gn.Sequential([
        gn.Conv2D(4, 3, padding="same", activation="relu"), gn.MaxPool2D(2),
        gn.Conv2D(6, 3, strides=2, padding=1, activation="tanh"), gn.BatchNorm(),
        gn.AvgPool2D(2, padding="same"), gn.Flatten(), gn.Dense(5, activation="relu"), gn.Dense(3),
    ], input_shape=(8, 8, 2), dtype="float64", **kw)


def torch_twin(net, m):
    """The same architecture in PyTorch with model m's weights (avg-pool 'same' on 2x2 -> 1x1)."""
    nn = torch.nn
    conv1, _, conv2, bn, _, _, d1, d2 = net.layers
    tw = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                       nn.Conv2d(4, 6, 3, stride=2, padding=1), nn.Tanh(), nn.BatchNorm2d(6),
                       nn.AvgPool2d(2), nn.Flatten(), nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3)).double()
    with torch.no_grad():
        for mod, layer in ((tw[0], conv1), (tw[3], conv2)):
            mod.weight.copy_(torch.tensor(layer.W.value[m].transpose(3, 2, 0, 1)))
            mod.bias.copy_(torch.tensor(layer.b.value[m]))
        for mod, layer in ((tw[8], d1), (tw[10], d2)):
            mod.weight.copy_(torch.tensor(layer.W.value[m].T))
            mod.bias.copy_(torch.tensor(layer.b.value[m]))
    return tw


def test_cnn_sgd_trajectory_matches_torch(rng):
    """Five SGD steps of an ensemble of 2 CNNs, model by model against PyTorch (the feature map
    before Flatten is 1x1, so the (h, w, c) and (c, h, w) flatten orders agree)."""
    x, y = rng.standard_normal((6, 8, 8, 2)), rng.integers(0, 3, 6)
    net = small_cnn(models=2, seed=3, bias_init=gn.init.Normal(std=0.1))
    twins = [torch_twin(net, m) for m in range(2)]
    hist = net.fit(x, y, loss="softmax_cross_entropy", optimizer=gn.SGD(lr=0.1, momentum=0.9), steps=5,
                   batch_size=6, shuffle=False, log_every=1)
    for m, tw in enumerate(twins):
        opt = torch.optim.SGD(tw.parameters(), lr=0.1, momentum=0.9)
        losses = []
        for _ in range(5):
            opt.zero_grad()
            loss = F.cross_entropy(tw(to_nchw(x)), torch.tensor(y))
            losses.append(loss.item())
            loss.backward()
            opt.step()
        np.testing.assert_allclose(hist.curves["loss"][m], losses, rtol=1e-9)
        np.testing.assert_allclose(net.layers[0].W.value[m], tw[0].weight.detach().numpy().transpose(2, 3, 1, 0),
                                   rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(net.layers[3].buffers["running_var"][m], tw[5].running_var.numpy(), rtol=1e-9)


def torch_seed002_cnn(filters, batch_norm, dense_units=(512, 512), classes=10, pool_after=(2, 4)):
    nn = torch.nn
    layers, cin, size = [], 3, 32
    for i, f in enumerate(filters):
        layers += [nn.Conv2d(cin, f, 3, padding=1), nn.ReLU()] + ([nn.BatchNorm2d(f)] if batch_norm else [])
        if i in pool_after:
            layers.append(nn.MaxPool2d(2))
            size //= 2
        cin = f
    n = cin * size * size
    layers.append(nn.Flatten())
    for u in dense_units:
        layers += [nn.Linear(n, u), nn.ReLU()]
        n = u
    layers.append(nn.Linear(n, classes))
    return nn.Sequential(*layers)


@pytest.mark.parametrize("batch_norm", [False, True])
@pytest.mark.parametrize("half", [False, True], ids=["filters", "half_filters"])
def test_seed002_cnn_parameter_count_matches_torch(half, batch_norm):
    net = zoo.seed002_cnn(halve_filters=half, batch_norm=batch_norm)
    filters = (32, 64, 64, 128, 128) if half else (64, 128, 128, 256, 256)
    assert [l.filters for l in net.layers if isinstance(l, gn.Conv2D)] == list(filters)
    tw = torch_seed002_cnn(filters, batch_norm)
    assert net.param_count() == sum(p.numel() for p in tw.parameters() if p.requires_grad)
    assert f"Total params: {net.param_count():,}" in net.summary(print_fn=None)
    # each conv layer alone: kh*kw*cin*filters + filters
    convs = [l for l in net.layers if isinstance(l, gn.Conv2D)]
    tconvs = [mod for mod in tw if isinstance(mod, torch.nn.Conv2d)]
    assert [l.param_count() for l in convs] == [sum(p.numel() for p in c.parameters()) for c in tconvs]
    tw(torch.zeros(1, 3, 32, 32))  # the torch twin is a valid network for 32x32 inputs
