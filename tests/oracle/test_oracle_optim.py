"""Glassnet's optimizers and schedules against torch.optim, float64.

100 mini-batch steps (batches of 4, 4 and 2, no shuffling) of every optimizer, with per-model
hyperparameters on a 2-model ensemble and weight decay, give the parameters, batch-norm running
statistics and loss curves of the matching ``torch.optim`` run for each model to 1e-8.
Glassnet's ``weight_decay`` is an L2 penalty on weights only, so torch gets two parameter groups:
the weights with ``weight_decay=lambda`` and everything else (biases, PReLU slopes, batch-norm
scales) with 0. AdamW's decoupled decay works the same way (weights only unless ``decay_all``).
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import glassnet as gn  # noqa: E402
from glassnet.optimizers import optimizers  # noqa: E402

STEPS, BATCH, N = 100, 4, 10
WD = [1e-2, 3e-3]
optim = torch.optim


def problem():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, 3))
    return x, np.tanh(x @ rng.standard_normal((3, 2))) + 0.1 * rng.standard_normal((N, 2))


def network():
    return gn.Sequential([gn.Dense(5, activation="prelu"), gn.BatchNorm(momentum=0.2), gn.Dense(2)],
                         input_shape=(3,), seed=[11, 12], dtype="float64", bias_init=gn.init.Normal(std=0.1))


# id: (glassnet optimizer, torch optimizer for model m given its parameter groups, coupled L2 rates)
CASES = {
    "sgd": (lambda: gn.SGD(lr=[0.05, 0.02]),
            lambda g, m: optim.SGD(g, lr=[0.05, 0.02][m]), WD),
    "momentum": (lambda: gn.SGD(lr=[0.05, 0.02], momentum=[0.9, 0.5]),
                 lambda g, m: optim.SGD(g, lr=[0.05, 0.02][m], momentum=[0.9, 0.5][m]), WD),
    "momentum_keras_form": (lambda: gn.SGD(lr=[0.05, 0.02], momentum=[0.9, 0.5], form="keras"),
                            lambda g, m: optim.SGD(g, lr=[0.05, 0.02][m], momentum=[0.9, 0.5][m]), WD),
    "nesterov": (lambda: gn.SGD(lr=[0.05, 0.02], momentum=[0.9, 0.7], nesterov=True),
                 lambda g, m: optim.SGD(g, lr=[0.05, 0.02][m], momentum=[0.9, 0.7][m], nesterov=True), WD),
    "nesterov_keras_form": (lambda: gn.Nesterov(lr=[0.05, 0.02], momentum=0.8, form="keras"),
                            lambda g, m: optim.SGD(g, lr=[0.05, 0.02][m], momentum=0.8, nesterov=True), WD),
    "adagrad": (lambda: gn.AdaGrad(lr=[0.1, 0.05]),
                lambda g, m: optim.Adagrad(g, lr=[0.1, 0.05][m], eps=1e-10), WD),
    "rmsprop": (lambda: gn.RMSProp(lr=[0.01, 0.003], rho=[0.99, 0.9]),
                lambda g, m: optim.RMSprop(g, lr=[0.01, 0.003][m], alpha=[0.99, 0.9][m], eps=1e-8), WD),
    "adam": (lambda: gn.Adam(lr=[0.01, 0.003], beta1=[0.9, 0.8], beta2=[0.999, 0.99]),
             lambda g, m: optim.Adam(g, lr=[0.01, 0.003][m], betas=[(0.9, 0.999), (0.8, 0.99)][m], eps=1e-8), WD),
    "adamw": (lambda: gn.AdamW(lr=[0.01, 0.003], weight_decay=[0.1, 0.02]),
              lambda g, m: optim.AdamW(_wd(g, [0.1, 0.02][m]), lr=[0.01, 0.003][m]), [0.0, 0.0]),
    "adamw_decay_all": (lambda: gn.AdamW(lr=0.01, weight_decay=0.05, decay_all=True),
                        lambda g, m: optim.AdamW([p for group in g for p in group["params"]], lr=0.01,
                                                 weight_decay=0.05), [0.0, 0.0]),
}
TORCH_MATCH = {"sgd", "adagrad", "rmsprop", "adam", "adamw"}  # registered names with a torch counterpart


def _wd(groups, rate):
    return [{**groups[0], "weight_decay": rate}, {**groups[1], "weight_decay": 0.0}]


def batches():
    for step in range(STEPS):
        lo = (step * BATCH) % (N + (-N) % BATCH)  # 0, 4, 8, 0, ... (epochs of 3 batches)
        yield step, slice(lo, min(lo + BATCH, N))


def test_every_torch_counterpart_is_exercised():
    assert TORCH_MATCH <= set(optimizers.names())
    assert {k.split("_")[0] for k in CASES} >= TORCH_MATCH


@pytest.mark.parametrize("case", list(CASES))
def test_100_steps_match_torch_optim(twin, case):
    make_gn, make_torch, l2 = CASES[case]
    x, y = problem()
    model = network()
    twins = [twin.TorchTwin(model, m) for m in range(2)]
    hist = model.fit(x, y, loss="mse", optimizer=make_gn(), steps=STEPS, batch_size=BATCH, shuffle=False,
                     weight_decay=l2, log_every=10)
    np.testing.assert_array_equal(hist.steps, [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 99])
    xt, yt = twin.tensor(x), twin.tensor(y)
    for m, tw in enumerate(twins):
        opt = make_torch(tw.param_groups(l2[m]), m)
        logged = []
        tw.train()
        for step, b in batches():
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(tw(xt[b]), yt[b])
            if step in hist.steps:
                weights = [t for p, t, _ in tw.links if p.regularize]
                penalty = sum(float((w.detach() ** 2).sum()) for w in weights)
                logged.append(loss.item() + 0.5 * l2[m] * penalty)
            loss.backward()
            opt.step()
        twin.assert_close(hist.curves["loss"][m], logged, 1e-8, f"model {m} loss curve")
        for p, t, to_gn in tw.links:
            twin.assert_close(p.value[m], to_gn(t.detach().numpy()), 1e-8, f"model {m} {p.name}")
        for layer, bn in tw.batchnorms:
            twin.assert_close(layer.buffers["running_mean"][m], bn.running_mean.numpy(), 1e-8, "running_mean")
            twin.assert_close(layer.buffers["running_var"][m], bn.running_var.numpy(), 1e-8, "running_var")
        # 100 steps moved the parameters well beyond the tolerance: the comparison has teeth
        assert not np.allclose(model.params["dense_0.W"][m], network().params["dense_0.W"][m], rtol=1e-3)


class LrRecorder(gn.Callback):
    def __init__(self):
        self.lrs = []

    def on_step_begin(self, state):
        self.lrs.append(state.optimizer.lr.copy())


SCHEDULES = {
    "step": (lambda: gn.StepDecay(step_size=7, gamma=0.5),
             lambda o, lr0: optim.lr_scheduler.StepLR(o, step_size=7, gamma=0.5)),
    "exponential": (lambda: gn.ExponentialDecay(0.93),
                    lambda o, lr0: optim.lr_scheduler.ExponentialLR(o, gamma=0.93)),
    "cosine": (lambda: gn.CosineDecay(30, min_factor=0.1),
               lambda o, lr0: optim.lr_scheduler.CosineAnnealingLR(o, T_max=30, eta_min=0.1 * lr0)),
}


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_schedules_match_torch_lr_schedulers(twin, name):
    """The learning rate before each of 31 steps (cosine: up to its T_max), per-model base rates."""
    make_gn, make_torch = SCHEDULES[name]
    x, y = problem()
    rec = LrRecorder()
    base = [0.1, 0.03]
    network().fit(x, y, loss="mse", optimizer=gn.SGD(lr=base), steps=31, batch_size=BATCH,
                  callbacks=[make_gn(), rec])
    ours = np.array(rec.lrs)
    for m, lr0 in enumerate(base):
        opt = optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr0)
        sched = make_torch(opt, lr0)
        theirs = []
        for _ in range(31):
            theirs.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        np.testing.assert_allclose(ours[:, m], theirs, rtol=1e-12)


@pytest.mark.parametrize("form", ["pytorch", "keras"])
def test_momentum_with_step_decay_against_torch(twin, form):
    """With lr changing (StepDecay every 20 steps), the pytorch form equals torch.optim.SGD with
    StepLR, and the keras form equals Keras' rule v <- mu v - lr g, p <- p + v written in torch."""
    x, y = problem()
    model = network()
    twins = [twin.TorchTwin(model, m) for m in range(2)]
    lrs, mu = [0.1, 0.04], 0.9
    model.fit(x, y, loss="mse", optimizer=gn.SGD(lr=lrs, momentum=mu, form=form), steps=STEPS, batch_size=BATCH,
              shuffle=False, weight_decay=WD, callbacks=[gn.StepDecay(step_size=20, gamma=0.3)])
    xt, yt = twin.tensor(x), twin.tensor(y)
    for m, tw in enumerate(twins):
        opt = optim.SGD(tw.param_groups(WD[m]), lr=lrs[m], momentum=mu)
        sched = optim.lr_scheduler.StepLR(opt, step_size=20, gamma=0.3)
        velocity = [torch.zeros_like(t) for t in tw.tensors()]
        for step, b in batches():
            opt.zero_grad()
            torch.nn.functional.mse_loss(tw(xt[b]), yt[b]).backward()
            if form == "pytorch":
                opt.step()
                sched.step()
                continue
            lr_t = lrs[m] * 0.3 ** (step // 20)
            with torch.no_grad():
                for (p, t, _), v in zip(tw.links, velocity):
                    g = t.grad + (WD[m] * t if p.regularize else 0)
                    v.mul_(mu).sub_(lr_t * g)
                    t.add_(v)
        for p, t, to_gn in tw.links:
            twin.assert_close(p.value[m], to_gn(t.detach().numpy()), 1e-8, f"model {m} {p.name}")


def test_keras_form_differs_from_torch_when_lr_changes(twin):
    """As documented: the two momentum forms part ways once a schedule changes the rate."""
    x, y = problem()
    finals = {}
    for form in ("pytorch", "keras"):
        model = network()
        model.fit(x, y, loss="mse", optimizer=gn.SGD(lr=0.1, momentum=0.9, form=form), steps=60, batch_size=BATCH,
                  shuffle=False, callbacks=[gn.StepDecay(step_size=20, gamma=0.1)])
        finals[form] = model.params["dense_0.W"]
    assert np.abs(finals["pytorch"] - finals["keras"]).max() > 1e-4
