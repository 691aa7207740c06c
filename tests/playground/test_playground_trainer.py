"""The playground trains through the engine's Trainer: a session and ``fit`` with the same settings
and seed give bit-identical weights; live settings keep the weights and the optimizer's state;
the NaN guard and the stop rules are the session's Trainer callbacks."""

from __future__ import annotations

import math

import numpy as np
import pytest

import glassnet as gn
from glassnet.data.toy2d import features
from glassnet.playground.session import PlaygroundSession


def same_network(s: PlaygroundSession) -> gn.Sequential:
    """The session's network built again from the public API: hidden tanh layers of the page's
    shape, TF Playground's init (U(-0.5, 0.5), biases 0.1), the session's seed."""
    hidden = [gn.Dense(units, activation=s.settings["activation"]) for units in s.settings["networkShape"]]
    if s.settings["problem"] == "multiclass":
        out = gn.Dense(s.settings["classes"])
    else:
        out = gn.Dense(1, activation="tanh" if s.settings["problem"] == "classification" else None)
    return gn.Sequential(hidden + [out], input_shape=(len(s.feature_names),), init=gn.init.Uniform(-0.5, 0.5),
                         bias_init=gn.init.Constant(0.1), seed=s.model_seed, dtype="float64")


def training_data(s: PlaygroundSession):
    """The session's training points as fit takes them: features, and -1/+1 targets for the tanh
    output (integer labels for K classes)."""
    x = features(s.train_pts.x, s.feature_names)
    y = s.train_pts.y
    if s.settings["problem"] == "classification":
        y = (2.0 * y - 1.0)[:, None]
    return x, y


def fit_args(s: PlaygroundSession) -> dict:
    st = s.settings
    rate = st["regularizationRate"]
    opt = {"name": st["optimizer"], "lr": st["learningRate"]}
    if st["optimizer"] in ("momentum", "nesterov"):
        opt["momentum"] = st["momentum"]
    if st["optimizer"] == "adam":
        opt.update(beta1=st["beta1"], beta2=st["beta2"])
    return {"loss": "softmax_cross_entropy" if st["problem"] == "multiclass" else "half_sse",
            "optimizer": gn.optimizers.get(opt), "batch_size": st["batchSize"], "shuffle": True,
            "weight_decay": rate if st["regularization"] == "L2" else 0.0,
            "l1": rate if st["regularization"] == "L1" else 0.0}


def assert_same_weights(a, b):
    assert len(a.param_list) == len(b.param_list)
    for p, q in zip(a.param_list, b.param_list):
        np.testing.assert_array_equal(p.value, q.value, err_msg=p.name)


CASES = [
    {"optimizer": "sgd", "learningRate": 0.1},
    {"optimizer": "momentum", "momentum": 0.95, "learningRate": 0.03, "regularization": "L2",
     "regularizationRate": 0.003, "batchSize": 7, "xTimesY": True},
    {"optimizer": "adam", "learningRate": 0.01, "beta2": 0.99, "regularization": "L1", "regularizationRate": 0.001,
     "networkShape": [5, 3], "activation": "relu"},
    {"optimizer": "sgd", "learningRate": 0.3, "regularization": "L2", "regularizationRate": 0.01,
     "problem": "multiclass", "classes": 4, "batchSize": 16},
]


@pytest.fixture
def reference_path():
    """Bit-identity between a session and ``fit`` holds on the reference path. With the fast path,
    the compiled segments fall at different steps (a session trains in frame-sized chunks, whose
    last step is a reference step), so the two agree to rounding only; tests/fast holds the
    kernels to the reference."""
    with gn.fast.reference():
        yield


@pytest.mark.parametrize("settings", CASES, ids=["sgd", "momentum-L2", "adam-L1", "multiclass-L2"])
def test_session_and_fit_give_bit_identical_weights(settings, reference_path):
    s = PlaygroundSession(settings)
    model = same_network(s)
    assert_same_weights(s.model, model)  # the same start
    epochs = 3
    s.train(epochs, budget_s=math.inf)
    steps = epochs * math.ceil(len(s.xtr) / s.settings["batchSize"])
    assert s.epoch == epochs and s.opt.t == steps
    x, y = training_data(s)
    gn.training.fit(model, x, y, steps=steps, **fit_args(s))
    assert_same_weights(s.model, model)


def test_training_split_over_frames_is_the_same_training():
    """A frame's time budget ends a run mid-epoch; the next run goes on from that step."""
    whole, frames = PlaygroundSession({"optimizer": "adam"}), PlaygroundSession({"optimizer": "adam"})
    whole.train(4, budget_s=math.inf)
    while frames.epoch < 4:
        frames.train(4 - frames.epoch, budget_s=0.0)  # one step per call
    assert frames.opt.t == whole.opt.t
    assert_same_weights(whole.model, frames.model)
    assert [p[0] for p in frames.pending] == [0, 1, 2, 3, 4]


def test_a_batch_size_change_keeps_the_optimizer_state():
    """Changing the batch size is live: the next epoch trains with it, the optimizer (Adam's
    moments, its step count) goes on, as two fits with the same optimizer do."""
    s = PlaygroundSession({"optimizer": "adam", "learningRate": 0.01, "batchSize": 10})
    model = same_network(s)
    s.train(2, budget_s=math.inf)
    opt = s.opt
    assert s.set({"batchSize": 25}) == "live" and s.opt is opt
    s.train(2, budget_s=math.inf)
    assert s.opt is opt and s.epoch == 4
    n = len(s.xtr)
    x, y = training_data(s)
    args = fit_args(s)
    args.pop("batch_size")
    gn.training.fit(model, x, y, steps=2 * math.ceil(n / 10), batch_size=10, **args)
    gn.training.fit(model, x, y, steps=2 * math.ceil(n / 25), batch_size=25, **args)  # the same optimizer object
    assert opt.t == args["optimizer"].t == 2 * math.ceil(n / 10) + 2 * math.ceil(n / 25)
    assert_same_weights(s.model, model)


def test_batch_norm_never_makes_a_batch_of_one_point():
    s = PlaygroundSession({"batchNorm": True, "batchSize": 1})
    assert s.trainer.batcher.b == 2
    n = len(s.xtr)
    s.set({"batchSize": next(b for b in range(3, 40) if n % b == 1)})  # a last batch of one point
    b = s.settings["batchSize"]
    t0 = s.opt.t
    s.train(1, budget_s=math.inf)
    assert s.trainer.drop_last and s.opt.t - t0 == n // b


def test_the_session_loops_through_the_trainer_only():
    """The session has no batches, penalties or accuracy of its own: the Trainer's parts."""
    s = PlaygroundSession({"regularization": "L2", "regularizationRate": 0.01})
    assert isinstance(s.trainer, gn.training.Trainer) and s.trainer.optimizer is s.opt
    assert [type(reg).__name__ for _, reg in s.trainer.terms] == ["L2"] * 3  # the three weight matrices
    assert s.metric is not None and s.metric.name == "accuracy"
    for gone in ("_perm_rng", "_accuracy", "_divergence"):
        assert not hasattr(s, gone)


def test_divergence_restores_and_a_fresh_trainer_goes_on():
    s = PlaygroundSession({"problem": "regression", "learningRate": 10})
    events = []
    for _ in range(50):
        events = s.train(5, budget_s=math.inf)
        if events:
            break
    assert events and events[0]["type"] == "diverged"
    assert s.epoch == events[0]["epoch"] - 1 and s.trainer.state.active.all() and s.opt.t == 0
    assert all(np.isfinite(p.value).all() for p in s.model.param_list)
    s.set({"learningRate": 0.001})
    assert s.train(2, budget_s=math.inf) == [] and s.epoch == events[0]["epoch"] + 1


def test_stop_loss_is_a_stop_rule():
    s = PlaygroundSession({"stopLoss": 0.5, "learningRate": 0.1})
    events = s.train(200, budget_s=math.inf)
    assert events and events[0]["type"] == "stopped" and "test loss" in events[0]["reason"]
    assert s.last[2] < 0.5
