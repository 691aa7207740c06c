"""Sparse models three ways: L1 shrinks weights, pruning hits its target exactly, proximal
optimizers produce exact zeros; fine-tuning keeps pruned weights at zero."""

import copy

import numpy as np
import pytest

import glassnet as gn
from glassnet.diagnostics import near_zero_share, sparsity
from glassnet.errors import GlassnetError
from glassnet.diagnostics.pruning import fine_tune, prune_magnitude, sparsity_report
from glassnet.optimizers import FTRLProximal, ProximalSGD, soft_threshold


@pytest.fixture(scope="module")
def task():
    """A 3-class problem that depends on 2 of 10 inputs: room for sparse weights."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 10))
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0.5).astype(int)
    return x, y


def net(models=None, seed=0):
    return gn.Sequential([gn.Dense(16, activation="relu"), gn.Dense(3)], input_shape=(10,), seed=seed,
                         models=models, dtype="float64")


def n_weights(model):
    return sum(p.value[0].size for p in model.param_list if p.regularize)


@pytest.mark.parametrize("per_layer", [False, True])
def test_pruning_hits_the_target_exactly(per_layer):
    model = net(models=3)
    original = copy.deepcopy(model)
    targets = [0.0, 0.5, 0.9]
    masks = prune_magnitude(model, targets, per_layer=per_layer)
    if per_layer:
        expected = [sum(round(t * p.value[0].size) for p in model.param_list if p.regularize) / n_weights(model)
                    for t in targets]
    else:
        expected = [round(t * n_weights(model)) / n_weights(model) for t in targets]
    assert sparsity(model).tolist() == pytest.approx(expected, abs=0)
    for p, po in zip(model.param_list, original.param_list):
        if not p.regularize:
            np.testing.assert_array_equal(p.value, po.value)  # biases untouched
            continue
        np.testing.assert_array_equal(p.value, po.value * masks[p.name])
    # the kept weights are the largest ones: per model, min |kept| >= max |pruned| (global ranking)
    if not per_layer:
        for m in (1, 2):
            kept = np.concatenate([np.abs(po.value[m][masks[po.name][m]]) for po in original.param_list
                                   if po.regularize])
            gone = np.concatenate([np.abs(po.value[m][~masks[po.name][m]]) for po in original.param_list
                                   if po.regularize])
            assert kept.min() >= gone.max()


def test_pruning_rejects_bad_targets():
    with pytest.raises(GlassnetError, match="sparsity"):
        prune_magnitude(net(), 1.0)
    with pytest.raises(GlassnetError, match="sparsity"):
        prune_magnitude(net(models=2), [0.1, 0.2, 0.3])


def test_fine_tune_keeps_pruned_weights_at_zero(task):
    x, y = task
    model = net()
    model.fit(x, y, loss="softmax_cross_entropy", optimizer=gn.SGD(0.1), steps=100, batch_size=32)
    masks = prune_magnitude(model, 0.8)
    before = model.evaluate(x, y, "softmax_cross_entropy")["loss"]
    hist = fine_tune(model, x, y, masks, loss="softmax_cross_entropy", optimizer=gn.SGD(0.1, momentum=0.9),
                     steps=100, batch_size=32)
    after = model.evaluate(x, y, "softmax_cross_entropy")["loss"]
    assert sparsity(model)[0] == pytest.approx(round(0.8 * n_weights(model)) / n_weights(model), abs=0)
    for p in model.param_list:
        if p.name in masks:
            assert np.all(p.value[~masks[p.name]] == 0)
    assert after < before and hist.status == ["completed"]


def test_soft_threshold_and_one_proximal_step():
    assert soft_threshold(np.array([0.5, -0.05, 0.02, -2.0]), 0.1).tolist() == pytest.approx([0.4, 0, 0, -1.9])
    model = gn.Sequential([gn.Dense(3, use_bias=True)], input_shape=(1,), dtype="float64")
    model.layers[0].W.value[0, 0] = [0.5, -0.05, 0.02]
    model.layers[0].b.value[0] = [0.01, 0.01, 0.01]
    model.layers[0].W.grad[0, 0] = [0.1, 0.1, -0.1]
    model.layers[0].b.grad[0] = [0.1, 0.1, 0.1]
    opt = ProximalSGD(lr=0.1, l1=1.0).bind(model.param_list, 1, np.float64)
    opt.step()
    # hand-worked: w - lr g = [0.49, -0.06, 0.03], threshold lr*l1 = 0.1 -> [0.39, 0, 0]
    assert model.layers[0].W.value[0, 0].tolist() == pytest.approx([0.39, 0, 0])
    assert np.sum(model.layers[0].W.value == 0) == 2
    assert model.layers[0].b.value[0].tolist() == pytest.approx([0.0, 0.0, 0.0], abs=1e-15)  # plain SGD


def test_proximal_sgd_produces_exact_zeros_and_l1_only_shrinks(task):
    x, y = task
    kw = dict(loss="softmax_cross_entropy", steps=300, batch_size=32)
    plain, l1, prox = net(), net(), net()
    plain.fit(x, y, optimizer=gn.SGD(0.1), **kw)
    l1.fit(x, y, optimizer=gn.SGD(0.1), l1=0.02, **kw)
    hist = prox.fit(x, y, optimizer=ProximalSGD(lr=0.1, l1=0.02), metrics=["accuracy"], **kw)
    mean_abs = [np.mean(np.abs(m.params["dense_0.W"])) for m in (plain, l1, prox)]
    # L1 by subgradient shrinks weights and gathers many near zero, but almost none exactly zero
    assert mean_abs[1] < 0.7 * mean_abs[0]
    assert near_zero_share(l1, 1e-2)[0] > 2 * near_zero_share(plain, 1e-2)[0]
    assert sparsity(l1)[0] < 0.02
    # the proximal step lands them exactly on zero, and the net still learns
    assert sparsity(prox)[0] > 0.4
    assert hist.final("accuracy") > 0.75


def test_proximal_optimizers_are_registered(task):
    x, y = task
    assert isinstance(gn.optimizers.get({"name": "proximal_sgd", "lr": 0.1, "l1": 0.01}), ProximalSGD)
    assert isinstance(gn.optimizers.get("ftrl"), FTRLProximal)
    model = net(models=2)
    model.fit(x, y, loss="softmax_cross_entropy", optimizer=ProximalSGD(lr=0.1, l1=[0.0, 0.02]), steps=150,
              batch_size=32)
    s = sparsity(model)
    assert s[0] == 0 and s[1] > 0.3  # per-model l1: only the second model gets sparse


def test_ftrl_first_step_by_hand_and_exact_zeros(task):
    model = gn.Sequential([gn.Dense(2, use_bias=False)], input_shape=(1,), dtype="float64")
    model.layers[0].W.value[0, 0] = [0.3, 0.3]
    model.layers[0].W.grad[0, 0] = [0.5, 0.04]
    opt = FTRLProximal(lr=0.1, l1=0.1, beta=1.0).bind(model.param_list, 1, np.float64)
    opt.step()
    # coordinate 0: sigma = 0.5/0.1 = 5, zeta = 0.5 - 5*0.3 = -1, n = 0.25
    #   w = -(-1 + 0.1) / ((1 + 0.5)/0.1) = 0.9/15 = 0.06
    # coordinate 1: sigma = 0.4, zeta = 0.04 - 0.12 = -0.08, |zeta| <= l1 -> w = 0 exactly
    assert model.layers[0].W.value[0, 0].tolist() == pytest.approx([0.06, 0.0])
    assert model.layers[0].W.value[0, 0, 1] == 0
    x, y = task
    m2 = net()
    hist = m2.fit(x, y, loss="softmax_cross_entropy", optimizer=FTRLProximal(lr=0.1, l1=0.25), steps=300,
                  batch_size=32, metrics=["accuracy"])
    assert sparsity(m2)[0] > 0.5 and hist.final("accuracy") > 0.7


def test_sparsity_report(task):
    x, y = task
    model = net()
    model.fit(x, y, loss="softmax_cross_entropy", optimizer=gn.SGD(0.1), steps=100, batch_size=32)
    before = copy.deepcopy(model.params)
    rep = sparsity_report(model, x, y, levels=(0.5, 0.99))
    assert rep.loss_name == "softmax_cross_entropy"
    assert np.isnan(rep.targets[0]) and rep.targets[1:].tolist() == [0.5, 0.99]
    assert rep.sparsity[0, 0] == 0
    assert rep.sparsity[1:, 0] == pytest.approx([round(t * n_weights(model)) / n_weights(model)
                                                 for t in (0.5, 0.99)], abs=0)
    ev = model.evaluate(x, y, "softmax_cross_entropy")
    assert rep.accuracy[0, 0] == pytest.approx(ev["accuracy"]) and rep.loss[0, 0] == pytest.approx(ev["loss"])
    assert rep.accuracy[2, 0] < rep.accuracy[0, 0]  # 99% pruned loses accuracy
    for k, v in model.params.items():
        np.testing.assert_array_equal(v, before[k])
    assert "accuracy" in str(rep)
