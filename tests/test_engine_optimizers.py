"""Optimizers and schedules without PyTorch: one hand-worked step each, the two momentum forms,
compute/apply, freezing, per-model hyperparameters, schedule factors."""

from __future__ import annotations

import math

import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import Param
from glassnet.optimizers import optimizers

G = np.array([[0.5, -2.0], [4.0, 0.25]])  # one gradient per model (M = 2)
W0 = np.array([[1.0, -1.0], [2.0, 3.0]])
LR = [0.1, 0.01]
lr = np.array(LR)[:, None]


def one_step(opt, regularize=True, grad=G):
    p = Param("w", W0.copy(), regularize=regularize)
    opt.bind([p], 2, np.float64)
    p.grad = grad.copy()
    opt.step()
    return p.value


def test_sgd_step():
    np.testing.assert_allclose(one_step(gn.SGD(lr=LR)), W0 - lr * G, rtol=1e-15)


def test_momentum_steps_pytorch_form():
    p = Param("w", W0.copy(), regularize=True)
    opt = gn.SGD(lr=LR, momentum=0.9).bind([p], 2, np.float64)
    p.grad = G.copy()
    opt.step()
    np.testing.assert_allclose(p.value, W0 - lr * G, rtol=1e-15)  # v = g
    p.grad = 2 * G
    opt.step()  # v = 0.9 g + 2g = 2.9 g
    np.testing.assert_allclose(p.value, W0 - lr * G - lr * 2.9 * G, rtol=1e-14)


def test_nesterov_step():
    # v = g; p -= lr * (g + 0.9 v) = lr * 1.9 g
    np.testing.assert_allclose(one_step(gn.Nesterov(lr=LR, momentum=0.9)), W0 - lr * 1.9 * G, rtol=1e-15)
    np.testing.assert_allclose(one_step(gn.Nesterov(lr=LR, momentum=0.9, form="keras")), W0 - lr * 1.9 * G,
                               rtol=1e-15)


def test_adagrad_step():
    # s = g^2, so the first step is lr * g / |g| = lr * sign(g)
    np.testing.assert_allclose(one_step(gn.AdaGrad(lr=LR, eps=0.0)), W0 - lr * np.sign(G), rtol=1e-15)
    np.testing.assert_allclose(one_step(gn.AdaGrad(lr=LR, initial_accumulator=1.0, eps=0.0)),
                               W0 - lr * G / np.sqrt(1 + G * G), rtol=1e-15)


def test_rmsprop_step():
    # s = (1 - 0.9) g^2 -> p -= lr * g / (sqrt(0.1) |g|)
    np.testing.assert_allclose(one_step(gn.RMSProp(lr=LR, rho=0.9, eps=0.0)), W0 - lr * np.sign(G) / math.sqrt(0.1),
                               rtol=1e-14)


def test_adam_first_steps():
    # bias correction makes m_hat = g and v_hat = g^2 at t = 1: a step of lr * sign(g)
    np.testing.assert_allclose(one_step(gn.Adam(lr=LR, eps=0.0)), W0 - lr * np.sign(G), rtol=1e-14)
    p = Param("w", W0.copy(), regularize=True)
    opt = gn.Adam(lr=LR, beta1=0.5, beta2=0.75, eps=0.0).bind([p], 2, np.float64)
    p.grad = G.copy()
    opt.step()
    p.grad = -G  # m = 0.5*0.5g - 0.5g = -0.25g, m_hat = -g/3; v = g^2 (0.75*0.25 + 0.25), v_hat = g^2
    opt.step()
    np.testing.assert_allclose(p.value, W0 - lr * np.sign(G) + lr * np.sign(G) / 3, rtol=1e-14)


def test_adamw_step_decays_weights_only():
    wd = 0.5
    step = lr * np.sign(G)
    np.testing.assert_allclose(one_step(gn.AdamW(lr=LR, eps=0.0, weight_decay=wd)), W0 - lr * wd * W0 - step,
                               rtol=1e-14)
    np.testing.assert_allclose(one_step(gn.AdamW(lr=LR, eps=0.0, weight_decay=wd), regularize=False), W0 - step,
                               rtol=1e-14)
    np.testing.assert_allclose(one_step(gn.AdamW(lr=LR, eps=0.0, weight_decay=wd, decay_all=True),
                                        regularize=False), W0 - lr * wd * W0 - step, rtol=1e-14)


@pytest.mark.parametrize("make", [lambda: gn.SGD(LR, momentum=0.9), lambda: gn.AdamW(LR, weight_decay=0.3),
                                  lambda: gn.AdaGrad(LR)], ids=["momentum", "adamw", "adagrad"])
def test_freeze_stops_a_model_even_after_set_lr(make):
    p = Param("w", W0.copy(), True)
    opt = make().bind([p], 2, np.float64)
    p.grad = G.copy()
    opt.step()
    opt.freeze(np.array([True, False]))
    frozen = p.value[0].copy()
    opt.set_lr([1.0, 1.0])  # a schedule cannot wake a frozen model
    for _ in range(3):
        p.grad = G.copy()
        opt.step()
    np.testing.assert_array_equal(p.value[0], frozen)
    assert not np.allclose(p.value[1], W0[1])
    assert opt.lr[0] == 0 and opt.lr[1] == 1.0


# -- the two momentum forms -------------------------------------------------------------------

A = np.array([[3.0, 0.5], [0.5, 1.0]])


def run_quadratic(opt, lrs, nesterov_hand=None):
    """Minimise 1/2 w^T A w per model with the optimizer (set_lr before each step) and return the
    trajectory."""
    p = Param("w", W0.copy(), True)
    opt.bind([p], 2, np.float64)
    out = []
    for lr_t in lrs:
        opt.set_lr(np.full(2, lr_t))
        p.grad = p.value @ A
        opt.step()
        out.append(p.value.copy())
    return np.array(out)


def hand_momentum(lrs, mu, form, nesterov):
    w, v, out = W0.copy(), np.zeros_like(W0), []
    for lr_t in lrs:
        g = w @ A
        if form == "pytorch":
            v = mu * v + g
            w = w - lr_t * (g + mu * v if nesterov else v)
        else:
            v = mu * v - lr_t * g
            w = w + (mu * v - lr_t * g if nesterov else v)
        out.append(w)
    return np.array(out)


@pytest.mark.parametrize("nesterov", [False, True])
def test_keras_and_pytorch_forms(nesterov):
    constant = [0.05] * 40
    stepped = [0.1] * 10 + [0.01] * 30  # a StepDecay-like drop at step 10
    runs = {}
    for form in ("pytorch", "keras"):
        for name, lrs in (("constant", constant), ("stepped", stepped)):
            traj = run_quadratic(gn.SGD(0.1, momentum=0.9, nesterov=nesterov, form=form), lrs)
            np.testing.assert_allclose(traj, hand_momentum(lrs, 0.9, form, nesterov), rtol=1e-12, atol=1e-15)
            runs[form, name] = traj
    np.testing.assert_allclose(runs["keras", "constant"], runs["pytorch", "constant"], rtol=1e-11, atol=1e-14)
    # after the drop the pytorch form scales its whole velocity by the new rate, keras keeps it
    np.testing.assert_allclose(runs["keras", "stepped"][:10], runs["pytorch", "stepped"][:10], rtol=1e-11)
    assert np.abs(runs["keras", "stepped"][10:] - runs["pytorch", "stepped"][10:]).max() > 1e-3


def test_keras_form_with_step_decay_through_fit():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 1))

    def train(form, schedule):
        model = gn.Sequential([gn.Dense(1)], input_shape=(3,), seed=0, dtype="float64")
        cbs = [gn.StepDecay(step_size=5, gamma=0.1)] if schedule else []
        model.fit(x, y, loss="mse", optimizer=gn.SGD(0.1, momentum=0.9, form=form), steps=15, batch_size="full",
                  callbacks=cbs)
        return model.params["dense_0.W"]

    np.testing.assert_allclose(train("keras", False), train("pytorch", False), rtol=1e-11)
    assert np.abs(train("keras", True) - train("pytorch", True)).max() > 1e-4


# -- schedules --------------------------------------------------------------------------------

class LrRecorder(gn.Callback):
    def __init__(self):
        self.lrs = []

    def on_step_begin(self, state):
        self.lrs.append(state.optimizer.lr.copy())


def test_schedule_factors_by_hand():
    assert [gn.StepDecay(3, 0.5).factor(t) for t in range(8)] == [1, 1, 1, .5, .5, .5, .25, .25]
    assert gn.ExponentialDecay(0.9).factor(3) == pytest.approx(0.729)
    cos = gn.CosineDecay(10, min_factor=0.1)
    assert cos.factor(0) == 1.0 and cos.factor(5) == pytest.approx(0.55) and cos.factor(10) == pytest.approx(0.1)
    assert cos.factor(25) == pytest.approx(0.1)  # held at the minimum after the end
    assert gn.ConstantLR().factor(99) == 1.0


@pytest.mark.parametrize("unit", ["step", "epoch"])
def test_schedule_keeps_per_model_base_rates(unit):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((10, 3)), rng.standard_normal((10, 1))
    rec = LrRecorder()
    model = gn.Sequential([gn.Dense(1)], input_shape=(3,), seed=0, models=2, dtype="float64")
    model.fit(x, y, loss="mse", optimizer=gn.SGD(lr=[0.2, 0.05]), steps=9, batch_size=4,
              callbacks=[gn.StepDecay(2, 0.5, unit=unit), rec])
    t = np.arange(9) if unit == "step" else np.arange(9) // 3  # 3 steps per epoch
    np.testing.assert_allclose(np.array(rec.lrs), np.array([[0.2, 0.05]]) * 0.5 ** (t // 2)[:, None], rtol=1e-15)


# -- every registered optimizer ---------------------------------------------------------------

def quadratic_problem():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((12, 3))
    return x, x @ rng.standard_normal((3, 2)) + 0.1


def small_net(seed, dtype="float64"):
    return gn.Sequential([gn.Dense(4, activation="tanh"), gn.Dense(2)], input_shape=(3,), seed=seed, dtype=dtype)


def test_every_optimizer_per_model_rates_equal_separate_runs(optimizer_name):
    cls = optimizers.get(optimizer_name)
    x, y = quadratic_problem()
    lrs, seeds = [0.05, 0.01, 0.002], [1, 2, 3]
    kw = dict(loss="mse", steps=12, batch_size=5, weight_decay=[0.0, 1e-2, 1e-3], log_every=1)
    ens = small_net(seeds)
    eh = ens.fit(x, y, optimizer=cls(lr=lrs), **kw)
    for m in range(3):
        single = small_net(seeds[m])
        sh = single.fit(x, y, optimizer=cls(lr=lrs[m]), **{**kw, "weight_decay": kw["weight_decay"][m]})
        np.testing.assert_allclose(eh.curves["loss"][m], sh["loss"], rtol=1e-12)
        for name, value in single.params.items():
            np.testing.assert_allclose(ens.params[name][m], value, rtol=1e-12, atol=1e-15)


def test_every_optimizer_lowers_a_regression_loss(optimizer_name):
    x, y = quadratic_problem()
    hist = small_net(0).fit(x, y, loss="mse", optimizer=optimizers.get(optimizer_name)(lr=0.01), steps=60,
                            batch_size="full", log_every=1)
    assert hist["loss"][-1] < hist["loss"][0]


def test_every_optimizer_compute_apply_and_freeze(optimizer_name):
    cls = optimizers.get(optimizer_name)
    a, b = Param("w", W0.copy(), True), Param("w", W0.copy(), True)
    oa, ob = cls(lr=LR).bind([a], 2, np.float64), cls(lr=LR).bind([b], 2, np.float64)
    for k in range(3):
        a.grad, b.grad = G * (k + 1), G * (k + 1)
        before = a.value.copy()
        deltas = oa.compute_updates()
        np.testing.assert_array_equal(a.value, before)  # computing does not move the parameter
        oa.apply_updates(deltas)
        ob.step()
        np.testing.assert_allclose(a.value, b.value, rtol=1e-14)
    oa.freeze(np.array([False, True]))
    frozen = a.value[1].copy()
    oa.set_lr([0.5, 0.5])
    for _ in range(2):
        a.grad = G.copy()
        oa.step()
    np.testing.assert_array_equal(a.value[1], frozen)
    assert not np.array_equal(a.value[0], b.value[0])


def test_every_optimizer_keeps_float32(optimizer_name):
    x, y = quadratic_problem()
    model = gn.Sequential([gn.Dense(4, activation="gelu"), gn.BatchNorm(), gn.Dense(2)], input_shape=(3,), models=2)
    opt = optimizers.get(optimizer_name)(lr=[0.01, 0.02])
    hist = model.fit(x, y, loss="mse", optimizer=opt, steps=3, batch_size=4, weight_decay=[1e-3, 0.0], l1=1e-4,
                     callbacks=[gn.ExponentialDecay(0.9)])
    assert hist.status == ["completed"] * 2
    for p in model.param_list:
        assert p.value.dtype == np.float32, p.name
    for state in opt.state.values():
        for v in state.values():
            assert getattr(v, "dtype", np.float32) == np.float32


@pytest.mark.parametrize("make", [lambda: gn.SGD(0.1, momentum=0.9), lambda: gn.Adam(0.01),
                                  lambda: gn.RMSProp(0.01)], ids=["momentum", "adam", "rmsprop"])
def test_state_survives_a_second_fit_with_the_same_optimizer(make):
    """fit(5) then fit(5) with one optimizer equals fit(10): momentum and moments are kept."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 4))
    y = x @ rng.normal(size=(4, 2))

    def net():
        return gn.Sequential([gn.Dense(3, activation="tanh"), gn.Dense(2)], input_shape=(4,),
                             dtype="float64", seed=1)

    twice, once = net(), net()
    opt = make()
    twice.fit(x, y, optimizer=opt, steps=5, batch_size="full")
    twice.fit(x, y, optimizer=opt, steps=5, batch_size="full")
    once.fit(x, y, optimizer=make(), steps=10, batch_size="full")
    for name in once.params:
        np.testing.assert_array_equal(twice.params[name], once.params[name])
    # a fresh optimizer on the second call starts from zero state: different parameters
    fresh = net()
    fresh.fit(x, y, optimizer=make(), steps=5, batch_size="full")
    fresh.fit(x, y, optimizer=make(), steps=5, batch_size="full")
    assert any(not np.array_equal(fresh.params[n], once.params[n]) for n in once.params)
