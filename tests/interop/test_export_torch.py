"""PyTorch export: the equivalent nn.Module gives predict's outputs; a state_dict loads back."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)  # tiny tensors: extra threads only contend on a shared machine
pytestmark = pytest.mark.torch

import glassnet as gn  # noqa: E402
from glassnet.export import load_state_dict_into, to_torch  # noqa: E402

from .export_models import ACTIVATIONS, act_id, dense_model, image_models, trained  # noqa: E402


def run_torch(module, x):
    with torch.no_grad():
        return module(torch.from_numpy(x)).numpy()


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=act_id)
def test_every_activation_float32_and_float64(activation):
    model, x = trained(dense_model(activation).layers, (5,))
    np.testing.assert_allclose(run_torch(to_torch(model), x), model.predict(x), rtol=1e-5, atol=1e-5)
    model, x = trained(dense_model(activation, dtype="float64").layers, (5,), dtype="float64")
    np.testing.assert_allclose(run_torch(to_torch(model), x), model.predict(x), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(image_models()[0]))
def test_conv_pooling_batchnorm_models(name):
    layers, shape = image_models(dtype="float64")
    model, x = trained(layers[name], shape, dtype="float64")
    module = to_torch(model)
    assert not module.training
    np.testing.assert_allclose(run_torch(module, x), model.predict(x), rtol=1e-10, atol=1e-12)


def test_module_structure_and_names():
    layers, shape = image_models()
    model, _ = trained(layers["batchnorm_gap"], shape)
    module = to_torch(model)
    names = [n for n, _ in module.named_children()]
    assert names == ["to_channels_first_0", "conv2d_0", "conv2d_0_act", "batchnorm_0", "activation_0",
                     "global_average_pooling2d_0", "batchnorm_1", "dense_0", "dense_0_act"]
    assert isinstance(module.conv2d_0, torch.nn.Conv2d) and isinstance(module.batchnorm_1, torch.nn.BatchNorm1d)
    assert np.array_equal(module.dense_0.weight.detach().numpy(), model.params["dense_0.W"].T)


def test_state_dict_trained_in_torch_loads_back_into_a_chosen_network():
    layers, shape = image_models()
    model, x = trained(layers["conv_same_stride2_prelu"], shape, models=3, seed=[0, 1, 2])
    before = model.predict(x)
    module = to_torch(model, model_index=2)
    module.train()
    xt = torch.from_numpy(x)
    for _ in range(5):  # fine-tune in PyTorch (plain SGD by hand: torch.optim's first use imports for seconds)
        module.zero_grad()
        module(xt).square().mean().backward()
        with torch.no_grad():
            for p in module.parameters():
                p -= 0.1 * p.grad
    module.eval()
    load_state_dict_into(model, module.state_dict(), model_index=0)
    after = model.predict(x)
    np.testing.assert_allclose(after[0], run_torch(module, x), rtol=1e-5, atol=1e-6)
    assert not np.allclose(after[0], before[0])
    assert np.array_equal(after[1:], before[1:])  # the other networks are untouched


def test_batchnorm_statistics_load_back():
    model = gn.Sequential([gn.Dense(4), gn.BatchNorm(), gn.Dense(2)], input_shape=(3,), dtype="float64")
    module = to_torch(model)
    module.train()
    with torch.no_grad():
        module(torch.randn(32, 3, dtype=torch.float64) * 3 + 1)  # updates running statistics
    module.eval()
    load_state_dict_into(model, module.state_dict())
    assert np.allclose(model.layers[1].buffers["running_mean"][0], module.batchnorm_0.running_mean.numpy())
    x = np.random.default_rng(0).standard_normal((6, 3))
    np.testing.assert_allclose(model.predict(x), run_torch(module, x), rtol=1e-12, atol=1e-12)


def test_mismatched_state_dicts_are_refused_before_writing():
    model = dense_model("prelu")
    good = to_torch(model).state_dict()
    snapshot = {k: v.copy() for k, v in model.params.items()}
    missing = {k: v for k, v in good.items() if k != "dense_1.bias"}
    with pytest.raises(gn.GlassnetError, match=r"missing \['dense_1.bias'\]"):
        load_state_dict_into(model, missing)
    extra = {**good, "head.weight": torch.zeros(2)}
    with pytest.raises(gn.GlassnetError, match=r"unexpected \['head.weight'\]"):
        load_state_dict_into(model, extra)
    wrong = {**good, "dense_0.weight": torch.zeros(5, 7)}
    with pytest.raises(gn.GlassnetError, match=r"state_dict\['dense_0.weight'\] has shape \(5, 7\); network 0 "
                                               r"needs \(7, 5\)"):
        load_state_dict_into(model, wrong)
    nan = {**good, "dense_0.bias": torch.full((7,), float("nan"))}
    with pytest.raises(gn.GlassnetError, match="NaN"):
        load_state_dict_into(model, nan)
    for k, v in model.params.items():
        assert np.array_equal(v, snapshot[k])
    with pytest.raises(gn.GlassnetError, match="model_index must be"):
        to_torch(model, model_index=1)
