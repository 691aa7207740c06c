"""The ensemble view on the server: N copies as one model-axis program.

Each copy trains exactly as the single network it stands for (the same seed and swept value,
trained alone by ``fit``); a copy that diverges stops while the others train on; the main view
follows the chosen copy (weights, edits, export); the update carries every copy's map, the
disagreement map, the curves and the counts.
"""

from __future__ import annotations

import base64
import math

import numpy as np
import pytest

import glassnet as gn
from glassnet.playground import ensemble, network
from glassnet.playground.controller import Controller
from glassnet.playground.session import PlaygroundSession

from test_playground_trainer import fit_args, reference_path, training_data  # noqa: F401 - a fixture


def decode(b64: str, dtype=np.uint8) -> np.ndarray:
    return np.frombuffer(base64.b64decode(b64), dtype=dtype)


class _Settings:
    def __init__(self, settings):
        self.settings = settings


@pytest.mark.parametrize("sweep", ensemble.SWEEPS)
def test_each_copy_trains_as_the_single_network_it_stands_for(sweep, reference_path):
    extra = {"regularization": "L2"} if sweep == "regularizationRate" else {}
    s = PlaygroundSession({"ensemble": 8, "ensembleSweep": sweep, **extra})
    assert s.model.M == 8 and s.trainer.model is s.model  # one program, one Trainer
    epochs = 3
    s.train(epochs, budget_s=math.inf)
    x, y = training_data(s)
    for m, member in enumerate(s.members):
        settings = {**ensemble.member_settings(s.settings, member), "ensemble": 1}
        single, _ = network.build(settings, len(s.feature_names), member.seed)
        steps = epochs * math.ceil(len(x) / settings["batchSize"])
        gn.training.fit(single, x, y, steps=steps, **fit_args(_Settings(settings)))
        for p, q in zip(single.param_list, s.model.param_list):
            np.testing.assert_allclose(q.value[m], p.value[0], rtol=0, atol=1e-12, err_msg=f"copy {m}: {p.name}")


def test_copies_take_the_sweeps_values_in_turn():
    s = PlaygroundSession({"ensemble": 10, "ensembleSweep": "learningRate"})
    lrs = ensemble.SWEEP_VALUES["learningRate"]
    assert [m.value for m in s.members] == [lrs[m % len(lrs)] for m in range(10)]
    assert s.members[3].label == "lr 0.03" and len({m.seed for m in s.members}) == 10
    np.testing.assert_array_equal(s.opt.lr, [lrs[m % len(lrs)] for m in range(10)])
    s.set({"learningRate": 0.3})  # the page's rate does not touch a swept one
    np.testing.assert_array_equal(s.opt.lr, [lrs[m % len(lrs)] for m in range(10)])
    acts = PlaygroundSession({"ensemble": 4, "ensembleSweep": "activation", "layerActivations": ["", "relu"]})
    assert [g.activations for g in acts.groups[:2]] == [[m.value for m in acts.members], ["relu"] * 4]


def test_a_single_network_is_the_ensembles_first_copy():
    eight = PlaygroundSession({"ensemble": 8})
    one, _ = network.build({**eight.settings, "ensemble": 1}, len(eight.feature_names), eight.model_seed)
    assert one.M == 1 and not one.ensemble and eight.members[0].seed == eight.model_seed
    for p, q in zip(one.param_list, eight.model.param_list):
        np.testing.assert_array_equal(p.value[0], q.value[0])


def test_a_diverging_copy_stops_and_the_others_train_on():
    s = PlaygroundSession({"ensemble": 8, "ensembleSweep": "learningRate", "problem": "regression"})
    events = s.train(30, budget_s=math.inf)
    assert events == [] and s.epoch == 30  # training went on
    lrs = [m.value for m in s.members]
    assert s.stopped.any() and not s.stopped.all(), (lrs, s.stopped)
    assert all(lr >= 0.3 for lr, bad in zip(lrs, s.stopped) if bad)
    assert any("diverged" in n and "train on" in n for n in s.notes)
    frozen = [p.value[s.stopped].copy() for p in s.model.param_list]
    moving = [p.value[~s.stopped].copy() for p in s.model.param_list]
    assert all(np.isfinite(f).all() for f in frozen)
    s.set({"batchSize": 20})  # a new Trainer at the next epoch: the stopped stay stopped
    s.train(5, budget_s=math.inf)
    assert all(np.array_equal(p.value[s.stopped], f) for p, f in zip(s.model.param_list, frozen))
    assert any(not np.array_equal(p.value[~s.stopped], f) for p, f in zip(s.model.param_list, moving))


def test_the_main_view_follows_the_chosen_copy():
    c = Controller()
    c.handle({"type": "set", "settings": {"ensemble": 4}})
    c.s.train(2, budget_s=math.inf)
    replies = c.handle({"type": "set", "settings": {"focus": 2}})
    kinds = [r["type"] for r in replies]
    assert kinds[:2] == ["settings", "network"] and replies[1]["focusOnly"] and replies[1]["focus"] == 2
    update = replies[-1]
    assert update["focus"] == 2 and update["ensemble"]["focus"] == 2
    W0 = decode(update["weights"][0]["W"], np.float32).reshape(update["weights"][0]["shape"])
    np.testing.assert_array_equal(W0, c.s.groups[0].dense.W.value[2].astype(np.float32))
    assert update["loss"]["train"] == pytest.approx(float(c.s.last_all.train[2]))
    before = c.s.groups[0].dense.W.value.copy()
    c.handle({"type": "edit", "layer": 0, "param": "W", "i": 0, "j": 1, "value": 2.5})
    after = c.s.groups[0].dense.W.value
    assert after[2, 0, 1] == 2.5 and np.array_equal(np.delete(after, 2, 0), np.delete(before, 2, 0))
    npz = c.handle({"type": "export", "format": "npz"})[0]["content"]
    single = Controller()
    single.handle({"type": "set", "settings": {}})
    assert single.handle({"type": "import", "format": "npz", "content": npz})[0]["type"] == "notice"
    for p, q in zip(single.s.model.param_list, c.s.model.param_list):
        np.testing.assert_array_equal(p.value[0], q.value[2])
    # a focus beyond the copies falls back to the first
    assert c.handle({"type": "set", "settings": {"ensemble": 2}})[0]["settings"]["focus"] == 0


def test_the_update_carries_the_ensemble_view():
    c = Controller()
    replies = c.handle({"type": "set", "settings": {"ensemble": 6, "dataset": "xor"}})
    net = next(r for r in replies if r["type"] == "network")
    assert len(net["members"]["labels"]) == 6 and net["members"]["sweep"] == "seed"
    e = replies[-1]["ensemble"]
    size = ensemble.MAP_SIZE
    assert e["n"] == 6 and e["size"] == size
    assert len(decode(e["maps"])) == 6 * size * size and len(decode(e["disagreement"])) == size * size
    assert 0 < e["share"] <= 1 and 0 < e["mean"] <= 1  # untrained copies disagree
    assert e["status"] == ["training"] * 6 and set(e["counts"]) == {"converged", "diverged", "dead", "training"}
    assert e["curves"]["epoch"] == [0] and len(e["curves"]["train"][0]) == 6
    c.s.playing = True
    u = c.tick(budget_s=10)[0]
    assert len(u["ensemble"]["curves"]["epoch"]) >= 1 and u["ensemble"]["curves"]["epoch"][0] >= 1
    # each copy's map is its own output over the coarser grid
    from glassnet.data.toy2d import features
    from glassnet.playground.frames import grid_points, to_byte

    out = c.s.model.forward(features(grid_points(size), c.s.feature_names), False)
    maps = decode(u["ensemble"]["maps"]).reshape(6, size * size).astype(int)
    assert np.abs(maps - to_byte(out[..., 0]).astype(int)).max() <= 1


def test_disagreement_is_the_share_outside_the_majority():
    def out(votes):  # (M, cells=1, 1): +1 or -1 per copy
        return np.array(votes, float).reshape(-1, 1, 1)

    everyone = np.ones(16, bool)
    assert ensemble.disagreement(out([1] * 16), "classification", everyone)[0] == 0
    assert ensemble.disagreement(out([1] * 8 + [-1] * 8), "classification", everyone)[0] == 1
    assert ensemble.disagreement(out([1] * 15 + [-1]), "classification", everyone)[0] == pytest.approx(1 / 8)
    # diverged copies do not vote
    mask = np.array([True] * 15 + [False])
    assert ensemble.disagreement(out([1] * 15 + [-1]), "classification", mask)[0] == 0
    three = np.eye(3)[[0, 1, 2]].reshape(3, 1, 3)  # three copies, three classes: an even split
    assert ensemble.disagreement(three, "multiclass", np.ones(3, bool))[0] == pytest.approx(1)


def test_dead_neurons_are_counted_per_copy():
    s = PlaygroundSession({"ensemble": 3, "activation": "relu"})
    dense = s.groups[0].dense
    dense.W.value[1] = 0.0
    dense.b.value[1, :2] = -1.0  # copy 1: two units never positive, two constant at 0.1 ...
    c = Controller()
    c.session = s
    e = c.update()["ensemble"]
    assert e["dead"][1] == 4 + 2 and e["dead"][1] > max(e["dead"][0], e["dead"][2])  # ... and so the next layer
    assert e["counts"]["dead"] >= 1
