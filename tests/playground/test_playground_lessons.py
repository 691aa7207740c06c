"""The guided lessons (one per exercise of seed 001): every setup is valid, and what each lesson
tells the student to look for is what the page shows (checked on the numbers)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from glassnet.playground import settings as st
from glassnet.playground.controller import Controller
from glassnet.playground.lessons import BY_ID, LESSONS
from glassnet.playground.session import PlaygroundSession

pytestmark = pytest.mark.timeout(120)


def trained(settings: dict, epochs: int) -> PlaygroundSession:
    s = PlaygroundSession(settings)
    s.train(epochs, budget_s=math.inf)
    return s


def test_every_exercise_has_a_lesson_with_a_valid_setup():
    assert [lesson["exercise"] for lesson in LESSONS] == ["1a", "1b", "1c", "1d", "1e", "2", "3", "4", "NN"]
    assert len(BY_ID) == len(LESSONS) and st.choices("lesson") == [""] + list(BY_ID)
    for lesson in LESSONS:
        assert lesson["title"] and lesson["try"] and lesson["look"]
        for key, value in lesson["settings"].items():
            assert st.validate(key, value) == value, (lesson["id"], key)
        PlaygroundSession({**lesson["settings"], "lesson": lesson["id"]})


def test_the_backprop_lesson_gives_the_hand_computed_numbers():
    c = Controller()
    c.handle({"type": "set", "settings": {**BY_ID["backprop"]["settings"], "lesson": "backprop"}})
    for action in BY_ID["backprop"]["actions"]:
        replies = c.handle(action)
        assert not [r for r in replies if r["type"] == "error"], replies
    t = replies[-1]
    assert t["type"] == "trace" and t["x"] == [1.0] and t["target"] == 5
    hidden, out = t["columns"]
    assert hidden["z"] == [3.0] and hidden["a"] == [3.0] and t["prediction"] == [6.0] and t["loss"] == 0.5
    assert out["dW"] == [[3.0]] and hidden["dW"] == [[2.0]]  # dL/dw2 = 3, dL/dw1 = 2
    assert out["newW"][0][0] == pytest.approx(1.7) and hidden["newW"][0][0] == pytest.approx(2.8)


def test_the_linear_lesson():
    linear = trained(BY_ID["linear"]["settings"], 200)
    tanh = trained({**BY_ID["linear"]["settings"], "activation": "tanh"}, 200)
    assert linear.last[4] < 0.7 and tanh.last[4] > 0.95


def test_the_xor_lesson():
    plain = trained(BY_ID["xor"]["settings"], 100)
    product = trained({**BY_ID["xor"]["settings"], "xTimesY": True}, 100)
    assert not plain.groups[:-1] and plain.last[4] < 0.65 and product.last[4] > 0.95


def test_the_regression_lesson():
    linear = trained(BY_ID["regression"]["settings"], 200)
    tanh = trained({**BY_ID["regression"]["settings"], "activation": "tanh"}, 200)
    assert tanh.last[2] < 0.6 * linear.last[2]


def _test_curve(settings: dict, epochs: int) -> np.ndarray:
    s = PlaygroundSession(settings)
    out = []
    for _ in range(epochs):
        s.train(1, budget_s=math.inf)
        out.append(s.last[2])
    return np.array(out)


def test_the_learning_rate_lessons():
    low = PlaygroundSession(BY_ID["lr-low"]["settings"])
    start = low.last[1]
    low.train(100, budget_s=math.inf)
    assert abs(low.last[1] - start) < 0.05 * start  # 0.0001 hardly moves
    high, good = _test_curve(BY_ID["lr-high"]["settings"], 100), _test_curve(
        {**BY_ID["lr-high"]["settings"], "learningRate": 0.03}, 100)
    rises = lambda c: np.clip(np.diff(c[20:]), 0, None).sum()  # how far the test loss climbs back
    assert rises(high) > 5 * rises(good) and (np.diff(high[20:]) > 0).mean() > 0.3  # up and down
    assert _test_curve({**BY_ID["lr-high"]["settings"], "learningRate": 3}, 60)[-1] > 0.5  # stuck high


def test_the_batch_size_lesson():
    one = _test_curve(BY_ID["batch"]["settings"], 60)
    thirty = _test_curve({**BY_ID["batch"]["settings"], "batchSize": 30}, 60)
    rough = lambda c: np.abs(np.diff(c[10:])).sum()
    assert rough(one) > 2 * rough(thirty)


def test_the_initialization_lesson():
    s = trained(BY_ID["init"]["settings"], 300)
    losses = s.last_all.train
    assert s.model.M == 8 and losses.max() > 10 * max(losses.min(), 1e-3)  # different ends, some stuck
