"""Glassnet against PyTorch autograd: outputs, losses and every gradient agree to 1e-9 (float64).

Every registered activation and loss, every core layer, and random networks mixing them, with
shared and per-model data and several models on the model axis; batch norm's training outputs
and running statistics against ``torch.nn.BatchNorm1d``/``BatchNorm2d`` over several steps.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import glassnet as gn  # noqa: E402
from glassnet.activations import activations  # noqa: E402
from glassnet.losses import losses  # noqa: E402

RTOL = 1e-9


def compare_with_torch(twin, model, x, y, loss_name, train=True, rtol=RTOL):
    """One forward/backward of every model of ``model`` against its torch twin."""
    twins = [twin.TorchTwin(model, m) for m in range(model.M)]  # before glassnet moves BN's buffers
    loss = gn.losses.get(loss_name)
    x = np.asarray(x, dtype=np.float64)
    per_model_x = x.ndim == len(model.input_shape) + 2
    y = loss.prepare_targets(y, model.output_shape)
    per_model_y = y.ndim > (1 if np.issubdtype(y.dtype, np.integer) else len(model.output_shape) + 1)
    model.layers[0].need_input_grad = True
    pred = model.forward(x, train)
    value, grad = loss.value_and_grad(pred, y)
    dx = model.backward(grad)
    assert value.shape == (model.M,)
    for m, tw in enumerate(twins):
        tw.train(train)
        xt = twin.tensor(x[m] if per_model_x else x).requires_grad_()
        ym = y[m] if per_model_y else y
        yt = torch.tensor(ym) if np.issubdtype(ym.dtype, np.integer) else twin.tensor(ym)
        out = tw(xt)
        ref = twin.loss(loss_name, out, yt)
        ref.backward()
        twin.assert_close(pred[m], out.detach().numpy(), rtol, f"model {m} output")
        twin.assert_close(value[m], ref.item(), rtol, f"model {m} loss")
        scale = max(float(t.grad.abs().max()) for t in tw.tensors())  # the size of this model's gradient
        for p, t, to_gn in tw.links:
            twin.assert_close(p.grad[m], to_gn(t.grad.numpy()), rtol, f"model {m} {p.name} grad", scale)
        dxm = dx[m] if dx.ndim == x.ndim + (0 if per_model_x else 1) else dx
        twin.assert_close(dxm, xt.grad.numpy(), rtol, f"model {m} input grad")
        for layer, bn in tw.batchnorms:
            twin.assert_close(layer.buffers["running_mean"][m], bn.running_mean.numpy(), rtol, "running_mean")
            twin.assert_close(layer.buffers["running_var"][m], bn.running_var.numpy(), rtol, "running_var")
    return twins


def test_twins_cover_every_registered_activation_and_loss(twin):
    assert set(activations.names()) <= twin.ACTIVATIONS, "add torch twins for new activations"
    assert set(losses.names()) <= twin.LOSSES, "add torch twins for new losses"


def test_activation_networks(twin, activation_spec, rng):
    act = activation_spec
    model = gn.Sequential([gn.Dense(5, activation=act), gn.BatchNorm(), gn.Dense(4, activation=act),
                           gn.Dropout(0.3), gn.Dense(3)], input_shape=(4,), seed=1, models=2, dtype="float64",
                          bias_init=gn.init.Normal(std=0.3))
    compare_with_torch(twin, model, rng.standard_normal((7, 4)), rng.standard_normal((7, 3)), "mse")


@pytest.mark.parametrize("per_model", [False, True], ids=["shared", "per_model"])
def test_loss_networks(twin, loss_case, per_model, rng):
    M, B, K = 3, 6, 4
    model = gn.Sequential([gn.Dense(5, activation="tanh"), gn.Dense(K, activation=loss_case.output_activation)],
                          input_shape=(3,), seed=2, models=M, dtype="float64", init=gn.init.Normal(std=0.7))
    x = rng.standard_normal((M, B, 3) if per_model else (B, 3))
    y = loss_case.targets(rng, B, K, M=M if per_model else None)
    compare_with_torch(twin, model, x, y, loss_case.name)


@pytest.mark.parametrize("train", [True, False], ids=["train", "inference"])
def test_layer_networks(twin, layer_case, train, rng, cases):
    if layer_case.error:
        pytest.fail(layer_case.error)
    if layer_case.graph is not None or layer_case.inputs is not None:
        pytest.skip(f"{layer_case.id}: graph and token-input layers have their PyTorch oracles in tests/layers "
                    "and tests/test_engine_graph.py")
    model = layer_case.build(seed=4, models=2, dtype="float64", bias_init=gn.init.Normal(std=0.2))
    x = layer_case.data(rng, 5, cases.away_from_zero)
    compare_with_torch(twin, model, x, rng.standard_normal((5, 3)), "half_sse", train=train)


def random_network(seed, cases):
    """A random stack drawn from every activation, loss and core layer."""
    rng = np.random.default_rng(seed)
    specs = cases.activation_specs()
    pick = lambda seq: seq[rng.integers(len(seq))]  # noqa: E731
    loss_case = pick(cases.loss_cases())
    image = rng.random() < 0.4
    layers = []
    if image:
        layers += [pick([gn.BatchNorm(momentum=0.2), gn.PReLU(alpha_init=0.2), gn.Dropout(0.2),
                         gn.Activation("tanh")]), gn.Flatten()]
    for _ in range(rng.integers(1, 4)):
        layers.append(gn.Dense(int(rng.integers(2, 6)), activation=pick(specs), use_bias=bool(rng.random() < 0.8)))
        extra = pick(["none", "batchnorm", "dropout", "activation", "prelu"])
        if extra == "batchnorm":
            layers.append(gn.BatchNorm(momentum=float(rng.uniform(0, 1)), eps=float(rng.choice([1e-5, 1e-3]))))
        elif extra == "dropout":
            layers.append(gn.Dropout(float(rng.uniform(0.1, 0.6))))
        elif extra == "activation":
            layers.append(gn.Activation(pick([s for s in specs if s != "prelu"])))
        elif extra == "prelu":
            layers.append(gn.PReLU(alpha_init=float(rng.uniform(0, 0.5))))
    K = int(rng.integers(2, 5))
    layers.append(gn.Dense(K, activation=loss_case.output_activation))
    M = int(rng.integers(1, 4))
    input_shape = (3, 2, 2) if image else (int(rng.integers(1, 5)),)
    model = gn.Sequential(layers, input_shape=input_shape, seed=seed, models=M, dtype="float64",
                          bias_init=gn.init.Normal(std=0.1))
    B = int(rng.integers(2, 8))
    per_model = rng.random() < 0.5
    x = rng.standard_normal(((M,) if per_model else ()) + (B,) + input_shape)
    y = loss_case.targets(rng, B, K, M=M if per_model and rng.random() < 0.5 else None)
    return model, x, y, loss_case.name


@pytest.mark.parametrize("seed", range(16))
def test_random_networks(twin, seed, cases):
    model, x, y, loss_name = random_network(seed, cases)
    compare_with_torch(twin, model, x, y, loss_name)


@pytest.mark.parametrize("input_shape", [(3,), (3, 2, 4)], ids=["dense", "image"])
def test_batchnorm_steps_and_inference_match_torch(twin, input_shape, rng):
    """Five training steps on different batches (outputs, gradients and running statistics each
    step, PyTorch's momentum and unbiased running variance), then inference with the averages."""
    model = gn.Sequential([gn.BatchNorm(momentum=0.3, eps=1e-3)], input_shape=input_shape, seed=0, models=2,
                          dtype="float64")
    bn = model.layers[0]
    bn.gamma.value[...] = rng.uniform(0.5, 2, bn.gamma.value.shape)
    bn.beta.value[...] = rng.standard_normal(bn.beta.value.shape)
    twins = [twin.TorchTwin(model, m) for m in range(2)]
    perm = (0, len(input_shape)) + tuple(range(1, len(input_shape)))  # channels-last -> channels-first
    for step in range(5):
        x = 1.5 + 2.0 * rng.standard_normal((2, 4 + step) + input_shape)
        dy = rng.standard_normal(x.shape)
        y = model.forward(x, train=True)
        dx = bn.backward(dy)
        for m, tw in enumerate(twins):
            torch_bn = tw.batchnorms[0][1]
            torch_bn.train()
            xt = twin.tensor(x[m]).requires_grad_()
            yt = tw(xt)
            (yt * twin.tensor(dy[m])).sum().backward()
            twin.assert_close(y[m], yt.detach().numpy(), RTOL, "output")
            twin.assert_close(dx[m], xt.grad.numpy(), RTOL, "input grad")
            twin.assert_close(bn.gamma.grad[m], torch_bn.weight.grad.numpy(), RTOL, "gamma grad")
            twin.assert_close(bn.beta.grad[m], torch_bn.bias.grad.numpy(), RTOL, "beta grad")
            twin.assert_close(bn.buffers["running_mean"][m], torch_bn.running_mean.numpy(), RTOL, "running_mean")
            twin.assert_close(bn.buffers["running_var"][m], torch_bn.running_var.numpy(), RTOL, "running_var")
            torch_bn.weight.grad = torch_bn.bias.grad = None
            # the functional form agrees with the module (channels-first)
            ref = torch.nn.functional.batch_norm(twin.tensor(x[m]).permute(*perm), None, None,
                                                 torch_bn.weight, torch_bn.bias, training=True, eps=1e-3)
            twin.assert_close(y[m], ref.permute(*np.argsort(perm)).detach().numpy(), RTOL, "functional")
    x = rng.standard_normal((2, 3) + input_shape)
    out = model.predict(x)
    for m, tw in enumerate(twins):
        tw.eval()
        twin.assert_close(out[m], tw(twin.tensor(x[m])).detach().numpy(), RTOL, "inference")


def image_layers():
    """Convolution and pooling networks, when those layers are registered."""
    from glassnet.layers import layer_types

    if "conv2d" not in layer_types:
        return []
    conv = layer_types.get("conv2d")
    pool = {k: layer_types.get(k) for k in ("max_pool2d", "avg_pool2d", "global_average_pooling2d") if k in layer_types}
    nets = [
        ("conv_valid", lambda: [conv(3, kernel_size=3, activation="tanh"), gn.Flatten(), gn.Dense(3)], (5, 6, 2)),
        ("conv_same_stride2_prelu", lambda: [conv(4, kernel_size=(3, 2), strides=2, padding="same", activation="prelu"),
                                             gn.Flatten(), gn.Dense(3)], (5, 6, 2)),
        ("conv_nobias_bn", lambda: [conv(3, kernel_size=2, use_bias=False), gn.BatchNorm(),
                                    conv(2, kernel_size=1, activation="relu"), gn.Flatten(), gn.Dense(3)], (4, 4, 3)),
    ]
    if "max_pool2d" in pool:
        nets.append(("conv_maxpool_same", lambda: [conv(3, kernel_size=3, padding="same", activation="elu"),
                                                   pool["max_pool2d"](pool_size=2, strides=2, padding="same"),
                                                   gn.Flatten(), gn.Dense(3)], (5, 5, 2)))
        nets.append(("maxpool_overlap", lambda: [pool["max_pool2d"](pool_size=3, strides=1), gn.Flatten(),
                                                 gn.Dense(3)], (5, 4, 2)))
    if "avg_pool2d" in pool:
        nets.append(("avgpool_same", lambda: [pool["avg_pool2d"](pool_size=2, strides=2, padding="same"),
                                              gn.Flatten(), gn.Dense(3)], (5, 5, 2)))
    if "global_average_pooling2d" in pool:
        nets.append(("conv_gap", lambda: [conv(4, kernel_size=3, padding="same", activation="swish"),
                                          pool["global_average_pooling2d"](), gn.Dense(3)], (4, 5, 2)))
    return nets


@pytest.mark.parametrize("make,input_shape", [n[1:] for n in image_layers()], ids=[n[0] for n in image_layers()])
def test_image_networks(twin, make, input_shape, rng):
    model = gn.Sequential(make(), input_shape=input_shape, seed=6, models=2, dtype="float64",
                          bias_init=gn.init.Normal(std=0.2))
    compare_with_torch(twin, model, rng.standard_normal((4,) + input_shape), rng.integers(0, 3, 4),
                       "softmax_cross_entropy")
