"""The playground's session and controller, without a server: training, live settings, the NaN
guard, the backprop trace (seed 001 by hand), edits, data, diagnostics and what the page draws."""

from __future__ import annotations

import base64
import math

import numpy as np
import pytest

from glassnet.data.toy2d import features
from glassnet.playground import frames
from glassnet.playground.controller import Controller


def started(**settings) -> Controller:
    c = Controller()
    replies = c.handle({"type": "set", "settings": settings})
    assert [r["type"] for r in replies if r["type"] != "notice"] == ["settings", "network", "data", "update"]
    return c


def params(c):
    return [p.value.copy() for p in c.s.model.param_list]


def decode(b64, dtype=np.uint8):
    return np.frombuffer(base64.b64decode(b64), dtype=dtype)


def test_learning_rate_and_regularization_change_without_reset():
    c = started(optimizer="adam", learningRate=0.01)
    c.s.train(4)
    before, epoch, opt = params(c), c.s.epoch, c.s.opt
    moments = [s["m"].copy() for s in opt.state.values()]
    for change in ({"learningRate": 0.1}, {"regularization": "L2"}, {"regularizationRate": 0.01}, {"beta1": 0.8}):
        replies = c.handle({"type": "set", "settings": change})
        assert replies[0]["effect"] == "live"
        assert [r["type"] for r in replies] == ["settings", "update"]  # no new network, no new data
    assert c.s.epoch == epoch and c.s.opt is opt
    assert all(np.array_equal(a, b) for a, b in zip(before, params(c)))
    assert all(np.array_equal(m, s["m"]) for m, s in zip(moments, opt.state.values()))
    assert opt.lr[0] == pytest.approx(0.1) and opt.beta1[0] == pytest.approx(0.8)
    assert c.s.reg is not None and c.s.reg.rate == 0.01
    # the next steps use the new rate: one SGD-free check, the epoch counter goes on from 4
    c.s.train(1)
    assert c.s.epoch == epoch + 1
    # a change of architecture does reset
    replies = c.handle({"type": "set", "settings": {"activation": "relu"}})
    assert replies[0]["effect"] == "model" and c.s.epoch == 0


def test_step_is_one_epoch_of_batches():
    c = started(batchSize=10, percTrainData=50)
    n_train = len(c.s.xtr)
    t0 = c.s.opt.t
    replies = c.handle({"type": "step"})
    assert c.s.epoch == 1 and replies[-1]["epoch"] == 1
    assert c.s.opt.t - t0 == math.ceil(n_train / 10)


def test_training_lowers_the_test_loss_on_circle():
    c = started()
    first = c.s.last[2]
    c.s.train(60, budget_s=30)
    assert c.s.epoch == 60
    assert c.s.last[2] < 0.2 * first and c.s.last[4] > 0.95  # test loss, test accuracy


@pytest.mark.parametrize("setup, cause", [
    ({"problem": "regression", "learningRate": 10}, "lower the learning rate"),
    ({"regularization": "L2", "regularizationRate": 10, "learningRate": 1}, "regularization rate"),
])
def test_nan_guard_pauses_restores_and_explains(setup, cause):
    c = started(**setup)
    c.s.playing = True
    events = []
    for _ in range(200):
        events = [r for r in c.tick() if r["type"] == "diverged"]
        if events:
            break
    assert events, "training at this rate should diverge"
    msg = events[0]["message"]
    assert f"learning rate {setup['learningRate']:g}" in msg and cause in msg
    assert f"epoch {events[0]['epoch']}" in msg
    assert not c.s.playing
    assert c.s.epoch == events[0]["epoch"] - 1
    assert all(np.isfinite(p).all() for p in params(c))  # last good weights are back
    update = c.update()
    assert all(np.isfinite(decode(w["W"], np.float32)).all() for w in update["weights"])


def test_trace_is_seed_001_by_hand():
    """x = 1, y = 5, w1 = 3, relu, w2 = 2: yhat = 6, dL/dw1 = 2, dL/dw2 = 3, lr 0.1 -> 2.8, 1.7."""
    c = started(problem="regression", x=True, y=False, networkShape=[1], activation="relu", init="zeros",
                learningRate=0.1)
    for edit in ({"layer": 0, "param": "W", "i": 0, "j": 0, "value": 3}, {"layer": 1, "param": "W", "i": 0, "j": 0, "value": 2}):
        c.handle({"type": "edit", **edit})
    t = c.handle({"type": "trace", "x1": 1.0, "x2": 0.0, "label": 5})[0]
    hidden, out = t["columns"]
    assert hidden["z"] == [3.0] and hidden["a"] == [3.0] and out["a"] == [6.0] and t["loss"] == 0.5
    assert hidden["dW"] == [[2.0]] and out["dW"] == [[3.0]]
    assert hidden["newW"] == [[2.8]] and out["newW"] == [[1.7]]
    replies = c.handle({"type": "trace", "x1": 1.0, "x2": 0.0, "label": 5, "apply": True})
    assert [r["type"] for r in replies] == ["trace", "update"]
    w = c.s.groups
    assert w[0].dense.W.value[0, 0, 0] == pytest.approx(2.8) and w[1].dense.W.value[0, 0, 0] == pytest.approx(1.7)


@pytest.mark.parametrize("settings", [{}, {"problem": "multiclass", "dropout": 0.2, "activation": "elu"},
                                      {"regularization": "L1", "regularizationRate": 0.03}])
def test_trace_gradients_match_model_backward(settings):
    c = started(networkShape=[5, 3], **settings)
    c.s.train(2)
    s = c.s
    label = int(s.train_pts.y[0])
    x1, x2 = s.train_pts.x[0]
    t = c.handle({"type": "trace", "x1": float(x1), "x2": float(x2), "label": label})[0]
    x = features(np.array([[x1, x2]]), s.feature_names)
    pred = s.model.forward(x, False)
    s.model.backward(s.loss.grad(pred, s._targets(np.array([label]))))
    for g, col in zip(s.groups, t["columns"]):
        expected = g.dense.W.grad[0] + (s.reg.grad(g.dense.W.value)[0] if s.reg else 0)
        np.testing.assert_allclose(col["dW"], expected, atol=2e-6)
        np.testing.assert_allclose(col["db"], g.dense.b.grad[0], atol=2e-6)
    assert t["prediction"] == pytest.approx(pred[0, 0].tolist(), abs=1e-6)


def test_edit_sets_one_weight_and_bias():
    c = started()
    c.handle({"type": "edit", "layer": 1, "param": "W", "i": 3, "j": 1, "value": -2.5})
    c.handle({"type": "edit", "layer": 2, "param": "b", "i": 0, "value": 0.75})
    u = c.update()
    W1 = decode(u["weights"][1]["W"], np.float32).reshape(u["weights"][1]["shape"])
    assert W1[3, 1] == -2.5 and decode(u["weights"][2]["b"], np.float32)[0] == 0.75
    err = c.handle({"type": "edit", "layer": 1, "param": "W", "i": 4, "j": 0, "value": 1.0})[0]
    assert err["type"] == "error" and "i in [0, 4)" in err["message"]


def test_update_heatmap_and_thumbnails_match_the_model():
    c = started(networkShape=[3, 2], xTimesY=True)
    c.s.train(3)
    u = c.update()
    heat = decode(u["heatmap"]).reshape(100, 100)
    # cell (row 10, col 70): x1 = -6 + 12 * 70.5 / 100, x2 = 6 - 12 * 10.5 / 100
    x1, x2 = -6 + 12 * 70.5 / 100, 6 - 12 * 10.5 / 100
    out = c.s.model.predict(features(np.array([[x1, x2]]), ["x1", "x2", "x1x2"]))[0, 0]
    assert abs(int(heat[10, 70]) - round((out + 1) * 127.5)) <= 1
    thumbs = u["thumbs"]
    assert thumbs["count"] == 3 + 3 + 2 and len(decode(thumbs["data"])) == 8 * thumbs["size"] ** 2
    assert [w["shape"] for w in u["weights"]] == [[3, 3], [3, 2], [2, 1]]
    assert u["curve"]["epoch"] == [1, 2, 3]  # every epoch since the last update (0 came with the set)


def test_multiclass_confusion_matches_accuracy():
    c = started(problem="multiclass", dataset="blobs", classes=4, networkShape=[6])
    c.s.train(10)
    u = c.update()
    m = np.array(u["confusion"])
    assert m.shape == (4, 4) and m.sum() == len(c.s.xte)
    assert np.trace(m) / m.sum() == pytest.approx(u["accuracy"]["test"])
    assert len(decode(u["heatmap"])) == 10_000 and decode(u["heatmapConf"]).max() <= 255


def test_two_class_data_set_for_multiclass_is_replaced_with_a_notice():
    c = Controller()
    replies = c.handle({"type": "set", "settings": {"problem": "multiclass", "dataset": "xor"}})
    assert c.s.settings["dataset"] == "spiral"
    assert any(r["type"] == "notice" and "two classes" in r["message"] for r in replies)


def test_stop_condition_epochs():
    c = started(stopEpochs=4, epochsPerUpdate=3)
    c.s.playing = True
    replies = c.tick() + c.tick()
    stopped = [r for r in replies if r["type"] == "stopped"]
    assert stopped and c.s.epoch == 4 and not c.s.playing and "epoch 4" in stopped[0]["reason"]


def test_points_drawn_and_uploaded():
    c = started()
    n = len(c.s.xtr) + len(c.s.xte)
    c.handle({"type": "add_point", "x1": 1.5, "x2": -2.0, "label": 1})
    assert c.s.settings["dataset"] == "custom" and len(c.s.custom) == n + 1
    csv = "x1,x2,label\n" + "\n".join(f"{i % 7 - 3},{i % 5 * 3},{1 if i % 2 else -1}" for i in range(40))
    replies = c.handle({"type": "upload_csv", "text": csv})
    assert len(c.s.custom) == 40 and set(c.s.custom.y) == {0, 1}
    assert any(r["type"] == "notice" and "scaled" in r["message"] for r in replies)  # |x2| up to 12 > 6
    assert np.abs(c.s.custom.x).max() == pytest.approx(6.0)
    for bad, words in [("1,2\n", "three numbers"), ("1,2,0.5\n", "integers"), ("1,2,3\n", "0/1"),
                       ("\n".join(["1,1,1"] * 2001), "2000")]:
        err = c.handle({"type": "upload_csv", "text": bad})[0]
        assert err["type"] == "error" and words in err["message"]
    c.handle({"type": "clear_points"})
    assert len(c.s.custom) == 0
    assert c.handle({"type": "play"})[0]["type"] == "error"


def test_multiclass_csv_sets_the_number_of_classes():
    c = started(problem="multiclass")
    c.handle({"type": "upload_csv", "text": "\n".join(f"{k},{-k},{k % 5}" for k in range(-5, 6))})
    assert c.s.settings["classes"] == 5 and c.s.model.output_shape == (5,)


def test_diagnostics_find_symmetric_and_dead_units():
    c = started(init="equal", networkShape=[3, 2], showDiagnostics=True)
    d = c.update()["diagnostics"]
    assert d["duplicates"] == [[[0, 1, 2]], [[0, 1]]]  # equal weights: identical units
    c.handle({"type": "set", "settings": {"init": "zeros", "activation": "relu"}})
    d = c.update()["diagnostics"]
    assert d["dead"] == [[0, 1, 2], [0, 1]] and d["counts"]["dead"] == 5  # z = 0 everywhere: never positive


def test_frames_are_json_safe_after_divergence():
    from glassnet.playground.server import dumps
    c = started(problem="regression", learningRate=10, activation="relu")
    c.s.playing = True
    for _ in range(30):
        for r in c.tick():
            assert "NaN" not in dumps(r) and "Infinity" not in dumps(r)
    assert frames.num(float("nan")) is None
