"""momentum: every finding is a claim written only when its premise holds on the measurements.

For each claim, the quick run's measurements are altered so that its premise fails (or holds),
and only the analysis runs again: the sentence follows the numbers."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from glassnet.studies import get_study
from glassnet.studies.report import Report, parse_markdown_table

NAME = "momentum"


def _report(data, settings) -> Report:
    return get_study(NAME).analyzed(data, settings)


def _finding(report, start: str) -> str:
    return report.finding_starting(start)


def test_claims_of_the_quick_run(run):
    claims = run.report.claims
    assert set(claims) == {"convex.momentum_faster", "convex.overshoot", "convex.top_keeps_swinging",
                           "net.momentum_helps", "net.top_worse"}
    assert claims["convex.momentum_faster"] and claims["convex.overshoot"] and claims["convex.top_keeps_swinging"]
    # the small-net comparison rests on the whole training set, not the last minibatch
    net = run.data["net"]
    top = float(np.mean(net["train_loss"][-1, :, -1]))
    assert run.numbers["net.top_worse.loss"] == pytest.approx(top)
    assert run.numbers["net.top_worse.accuracy"] == pytest.approx(float(np.mean(net["train_accuracy"][-1, :, -1])))


def test_settings_table_keeps_0_999999(run):
    report = get_study(NAME).make_report(run.data, run.settings, None, True, run.seconds)
    rows = {r["setting"]: r["value"] for r in parse_markdown_table(report.render(), "setting")}
    assert rows["momenta"] == "0, 0.9, 0.99, 0.999999"
    assert rows["convex lr"] == "0.1" and rows["net steps"] == "1,000"


def test_momentum_not_faster_than_plain_gd(run):
    data = copy.deepcopy(run.data)
    c = data["convex"]
    c["excess"][1] = c["excess"][-1]  # 0.9 behaves like 0.999999: never converges
    report = _report(data, run.settings)
    assert report.claims["convex.momentum_faster"] is False
    line = _finding(report, "Quadratic bowl")
    assert "did not reach the minimum before plain gradient descent" in line
    assert "this measurement contradicts it" in line


def test_plain_gd_that_overshoots(run):
    data = copy.deepcopy(run.data)
    c = data["convex"]
    c["traj"][0] = c["traj"][1]  # plain GD swings like momentum 0.9
    report = _report(data, run.settings)
    assert report.claims["convex.overshoot"] is False
    line = _finding(report, "Times the weights crossed")
    assert "never overshot" not in line and "plain gradient descent crossed the minimum too" in line


def test_swings_not_ordered_by_momentum(run):
    data = copy.deepcopy(run.data)
    c = data["convex"]
    c["traj"][2], c["traj"][3] = c["traj"][3].copy(), c["traj"][2].copy()
    report = _report(data, run.settings)
    assert report.claims["convex.overshoot"] is False
    assert "the swings left over are not ordered by the momentum" in _finding(report, "Times the weights crossed")


def test_top_momentum_that_settles(run):
    data = copy.deepcopy(run.data)
    c = data["convex"]
    c["excess"][-1], c["traj"][-1] = c["excess"][1], c["traj"][1]
    report = _report(data, run.settings)
    assert report.claims["convex.top_keeps_swinging"] is False
    line = _finding(report, "Momentum 0.999999: in the second half")
    assert "hardly decays" not in line and "so it still settled within the run" in line


def test_momentum_that_does_not_help_the_net(run):
    data = copy.deepcopy(run.data)
    net = data["net"]
    net["train_loss"][1:] = net["train_loss"][0] * 2  # every momentum worse than plain SGD
    report = _report(data, run.settings)
    assert report.claims["net.momentum_helps"] is False
    line = _finding(report, "Small network")
    assert "no momentum beat plain SGD" in line and "this measurement contradicts it" in line


@pytest.mark.parametrize("loss_factor, acc_drop, claim, expect", [
    (10.0, 0.10, True, "it ended worse in both"),
    (10.0, 0.0, False, "a higher loss at nearly the same accuracy"),
    (1.0, 0.0, False, "it did not end worse"),
])
def test_top_momentum_worse_needs_loss_and_accuracy(run, loss_factor, acc_drop, claim, expect):
    data = copy.deepcopy(run.data)
    net = data["net"]
    best = 2  # 0.99
    net["train_loss"][:] = net["train_loss"][best]
    net["train_accuracy"][:] = net["train_accuracy"][best]
    net["train_loss"][:2] *= 30  # plain SGD and 0.9 clearly behind, so 0.99 is the best
    net["train_loss"][-1] *= loss_factor
    net["train_accuracy"][-1] -= acc_drop
    report = _report(data, run.settings)
    assert report.claims["net.top_worse"] is claim
    line = _finding(report, "Momentum 0.999999 against the best")
    assert expect in line
    assert "(0.99)" in line  # the best momentum is named


def test_figures_are_drawn(run, tmp_path):
    report = get_study(NAME).make_report(run.data, run.settings, tmp_path, True, run.seconds)
    assert sorted(p.name for p in report.figures) == ["excess_loss.png", "net_loss.png", "trajectories.png"]
    assert all(p.stat().st_size < 150_000 for p in report.figures)
