"""activations: every finding is a claim written only when its premise holds on the measurements.

For each claim, the quick run's measurements are altered so that its premise fails (or holds),
and only the analysis runs again: the claim's sentence must be gone and the alternative (what
happened instead, with its numbers) written. Issue 11's findings 1, 2 and 11 are here: a network
"still learns" at a high rate only if its accuracy says so; a fast ReLU that fell back is called
unstable, with its dead units; ELU being slower than ReLU contradicts the seed in so many words."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from glassnet.studies import get_study
from glassnet.studies.common import first_above, steps_stats
from glassnet.studies.report import Report

NAME = "activations"
CLAIMS = {"speed.fastest_kept", "elu_faster_than_relu", "stability", "relu.fallback_dead", "linear_gap",
          "outperform_relu", "vanishing_sigmoid", "elu_mean_near_zero", "high_lr.relu_dead",
          "high_lr.learns.leaky_relu", "high_lr.learns.elu", "cost_relu_cheaper", "softmax_by_hand",
          "output_tanh_range", "output_sigmoid_probability", "output_softmax"}


def _report(data, settings) -> Report:
    return get_study(NAME).analyzed(data, settings)


def _line(report, start: str) -> str:
    return report.finding_starting(start)


def test_every_finding_is_a_claim_with_its_numbers(run):
    assert set(run.report.claims) == CLAIMS and len(run.findings) == len(CLAIMS)
    runs, s = run.data["runs"], run.settings
    for act in ("elu", "relu"):
        r = runs[(act, "normal")]
        med, _ = steps_stats([first_above(r["steps"], r["accuracy"][j], s["accuracy target"]) for j in range(s["seeds"])])
        assert run.numbers[f"elu_faster_than_relu.{act}"] == (None if med is None else float(med))
    # the high-rate claims rest on the final training accuracy, not on "passes a gradient"
    for act in ("leaky_relu", "elu"):
        acc = float(np.mean(runs[(act, "high")]["accuracy"][:, -1]))
        assert run.numbers[f"high_lr.learns.{act}.final_accuracy"] == pytest.approx(acc)
        assert run.report.claims[f"high_lr.learns.{act}"] is (acc >= s["accuracy target"])


def test_high_rate_network_that_did_not_learn_is_not_said_to_learn(run):
    data = copy.deepcopy(run.data)
    for act in ("leaky_relu", "elu"):
        data["runs"][(act, "high")]["accuracy"][:, -1] = 0.55
    report = _report(data, run.settings)
    for act in ("leaky_relu", "elu"):
        assert report.claims[f"high_lr.learns.{act}"] is False
        line = _line(report, f"{act} at lr 0.5")
        assert "it still learned" not in line and "it did not learn" in line
        assert "did not save training at this rate" in line and "training accuracy 55.0%" in line


def test_high_rate_network_that_learned(run):
    data = copy.deepcopy(run.data)
    h = data["runs"][("leaky_relu", "high")]
    h["accuracy"][:, -1] = 0.95
    report = _report(data, run.settings)
    assert report.claims["high_lr.learns.leaky_relu"] is True
    line = _line(report, "leaky_relu at lr 0.5")
    assert "it still learned" in line and "did not learn" not in line


def test_elu_saturation_is_said_only_when_measured(run):
    data = copy.deepcopy(run.data)
    h = data["runs"][("elu", "high")]
    h["accuracy"][:, -1] = 0.5
    h["saturated"][:, -1] = 1.0
    assert "the output saturated" in _line(_report(data, run.settings), "elu at lr 0.5")
    h["saturated"][:, -1] = 0.0
    assert "saturated" not in _line(_report(data, run.settings), "elu at lr 0.5")


def test_relu_at_its_high_rate_is_a_constant_guess_only_when_its_output_is_constant(run):
    assert run.report.claims["high_lr.relu_dead"] is True
    data = copy.deepcopy(run.data)
    data["runs"][("relu", "high")]["pred_spread"][0, -1] = 0.2  # one seed still answers differently per point
    report = _report(data, run.settings)
    assert report.claims["high_lr.relu_dead"] is False
    line = _line(report, "Dead units")
    assert "left nothing that could learn" not in line
    assert "still varied across the training points on 1 of 3 seeds (spread up to 0.2)" in line


def _fall_back(data, seed=0, to=0.6, dead_extra=20):
    r = data["runs"][("relu", "normal")]
    acc = r["accuracy"]
    best = int(np.argmax(acc[seed]))
    acc[seed, -1] = to
    r["dead"][seed, -1] = r["dead"][seed, best] + dead_extra
    return r


def test_fast_relu_that_fell_back_is_unstable_with_its_dead_units(run):
    data = copy.deepcopy(run.data)
    _fall_back(data)
    report = _report(data, run.settings)
    c = report.claims
    assert c["speed.fastest_kept"] is False and c["stability"] is False and c["relu.fallback_dead"] is True
    speed = _line(report, "Training speed")
    assert "Fastest: relu, but it did not stay there" in speed and "60.0%" in speed
    assert "relu reached a best training accuracy" in _line(report, "Not every run was stable")
    line = _line(report, "ReLU at lr 0.05")
    assert "fell back on 1 of 3 seeds" in line and "training at this rate was unstable, not simply fast" in line


def test_fall_back_without_more_dead_units_is_not_blamed_on_them(run):
    data = copy.deepcopy(run.data)
    _fall_back(data, dead_extra=0)
    report = _report(data, run.settings)
    assert report.claims["relu.fallback_dead"] is False
    assert "dead units do not explain the fall-back" in _line(report, "ReLU at lr 0.05")


def test_stable_runs(run):
    data = copy.deepcopy(run.data)
    for a in ("relu", "leaky_relu", "elu", "tanh", "sigmoid", "linear"):
        acc = data["runs"][(a, "normal")]["accuracy"]
        acc[:] = np.maximum.accumulate(acc, axis=1)  # never falls back
    report = _report(data, run.settings)
    assert report.claims["stability"] is True and report.claims["relu.fallback_dead"] is False
    assert _line(report, "Stability: every activation").count("ended within 5 points of its best")
    assert "it kept its accuracy" in _line(report, "ReLU at lr 0.05")


def test_elu_faster_than_relu_would_agree_with_the_seed(run):
    before = _line(run.report, "ELU against ReLU")
    assert run.report.claims["elu_faster_than_relu"] is False
    assert "this measurement contradicts it" in before and "slower in steps" in before
    data = copy.deepcopy(run.data)
    data["runs"][("elu", "normal")]["accuracy"][:] = 1.0  # at the target from the first step
    report = _report(data, run.settings)
    assert report.claims["elu_faster_than_relu"] is True
    line = _line(report, "ELU against ReLU")
    assert "faster in steps" in line and "this measurement agrees" in line


def test_elu_and_leaky_that_outperform_relu(run):
    data = copy.deepcopy(run.data)
    relu = data["runs"][("relu", "normal")]["test_accuracy"]
    for a in ("elu", "leaky_relu"):
        data["runs"][(a, "normal")]["test_accuracy"] = relu + 0.05
    report = _report(data, run.settings)
    assert report.claims["outperform_relu"] is True
    assert "both beat ReLU by more than 1 point and twice that error" in _line(report, "ELU and LeakyReLU against ReLU")
    # a mean difference inside the seeds' noise does not count
    spread = np.array([0.45, 0.99, 0.60])
    data["runs"][("relu", "normal")]["test_accuracy"] = spread
    for a in ("elu", "leaky_relu"):
        data["runs"][(a, "normal")]["test_accuracy"] = spread[::-1] + 0.03
    report = _report(data, run.settings)
    assert report.claims["outperform_relu"] is False
    assert "neither beat ReLU" in _line(report, "ELU and LeakyReLU against ReLU")


def test_linear_network_not_far_behind(run):
    data = copy.deepcopy(run.data)
    data["runs"][("linear", "normal")]["test_accuracy"] = data["runs"][("relu", "normal")]["test_accuracy"].copy()
    report = _report(data, run.settings)
    assert report.claims["linear_gap"] is False
    assert "the linear network is not far behind" in _line(report, "Test accuracy")


def test_sigmoid_not_starved(run):
    data = copy.deepcopy(run.data)
    sig, relu = data["runs"][("sigmoid", "normal")], data["runs"][("relu", "normal")]
    for k in [k for k in sig if k.startswith("grad/")]:
        sig[k] = relu[k].copy()
    report = _report(data, run.settings)
    assert report.claims["vanishing_sigmoid"] is False
    assert "was not starved relative to ReLU's" in _line(report, "Gradient norms at step 0")


def test_elu_mean_output(run):
    data = copy.deepcopy(run.data)
    elu = data["runs"][("elu", "normal")]
    for k in [k for k in elu if k.startswith("mean/")]:
        elu[k][:] = 0.0
    report = _report(data, run.settings)
    assert report.claims["elu_mean_near_zero"] is True
    assert "ELU's mean is closer to 0 than ReLU's" in _line(report, "Mean output of the hidden units")
    for k in [k for k in elu if k.startswith("mean/")]:
        elu[k][:] = 5.0
    report = _report(data, run.settings)
    assert report.claims["elu_mean_near_zero"] is False
    line = _line(report, "Mean output of the hidden units")
    assert "was not closer to 0 than ReLU's at the start or after training" in line
    assert "this measurement contradicts it" in line


def test_cost_when_sigmoid_and_tanh_are_not_dearer(run):
    data = copy.deepcopy(run.data)
    t = data["activation_seconds"]
    t["sigmoid"] = t["tanh"] = t["relu"]
    report = _report(data, run.settings)
    assert report.claims["cost_relu_cheaper"] is False
    assert "Neither sigmoid nor tanh cost more than ReLU" in _line(report, "Cost of the activation alone")


def test_softmax_that_differs_from_the_seed(run):
    assert run.report.claims["softmax_by_hand"] is True
    data = copy.deepcopy(run.data)
    data["softmax"] = np.array([0.9, 0.05, 0.05])
    report = _report(data, run.settings)
    assert report.claims["softmax_by_hand"] is False
    assert "differs by up to" in _line(report, "Softmax of z")


def test_output_layer_claims_follow_the_measurements(run):
    data = copy.deepcopy(run.data)
    outs = data["range"]["outputs"]
    outs["tanh"] = copy.deepcopy(outs["sigmoid"])  # the tanh output fits no better than the sigmoid
    for r in data["runs"].values():
        r["test_pred"][:] = 0.99                    # confident, and wrong on half the points
    data["classes"]["softmax"]["sums"] = data["classes"]["softmax"]["sums"] * 1.1
    report = _report(data, run.settings)
    c = report.claims
    assert not c["output_tanh_range"] and not c["output_sigmoid_probability"] and not c["output_softmax"]
    assert "did not fit clearly better than the sigmoid output" in _line(report, "Output layer for targets")
    assert "not calibrated probabilities here" in _line(report, "The spiral networks' sigmoid output")
    assert "did not give a usable distribution" in _line(report, "Three classes")


def test_figures_are_drawn(run, tmp_path):
    report = get_study(NAME).make_report(run.data, run.settings, tmp_path, True, run.seconds)
    assert sorted(p.name for p in report.figures) == [
        "accuracy.png", "dead_units.png", "grad_first_layer.png", "high_lr.png", "loss.png", "mean_output.png",
        "output_layers.png", "relu_fallback.png"]
    assert all(p.stat().st_size < 150_000 for p in report.figures)
