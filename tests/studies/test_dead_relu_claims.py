"""dead-relu: every finding is a claim written only when its premise holds on the measurements.

For each claim, the quick run's measurements are altered so that its premise fails, and only the
analysis runs again: the claim's sentence must be gone and the alternative (what happened
instead, with its numbers) written."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from glassnet.studies import get_study
from glassnet.studies.report import Report

NAME = "dead-relu"


def _report(data, settings) -> Report:
    return get_study(NAME).analyzed(data, settings)


def _text(report) -> str:
    return report.findings_text


def test_every_claim_holds_on_the_quick_run_except_recovery(run):
    claims = run.report.claims
    assert claims == {"dead_first.never_learns": True, "dead_second.never_learns": True,
                      "dead_second.any_input": True, "healthy.learns": True, "leaky.gradient": True,
                      "leaky.recovers": False, "w1_scan": True}
    text = _text(run.report)
    assert "a dead network gets no gradient and never learns" in text
    assert "it did not recover within this budget" in text and "more steps to reach 0" in text
    # the numbers each claim rests on are recorded under its key
    assert run.numbers["dead_first.never_learns.grad_w1"] == 0.0
    assert run.numbers["dead_second.any_input.first_zeros_negated"] == 0.0
    assert run.numbers["leaky.recovers.steps_to_zero"] > 1000


@pytest.mark.parametrize("m, key", [(0, "dead_first"), (1, "dead_second")])
def test_a_network_that_moved_is_not_called_dead(run, m, key):
    data = copy.deepcopy(run.data)
    data["groups"]["relu"]["w1"]["dense_0.W"][m] += 0.5  # its weight moved after all
    report = _report(data, run.settings)
    assert report.claims[f"{key}.never_learns"] is False
    text = _text(report)
    label = data["groups"]["relu"]["labels"][m]
    line = next(f for f in report.findings if f.startswith(label))
    assert "never learns" not in line and "moved by up to 0.5" in line and "this network was not dead" in line
    assert "this measurement contradicts it" in line
    assert report.numbers[f"{key}.never_learns.moved"] == pytest.approx(0.5)
    assert "not dead" in text


def test_a_nonzero_gradient_means_not_dead(run):
    data = copy.deepcopy(run.data)
    data["groups"]["relu"]["grads0"]["dense_0.W"][0] = -0.25
    report = _report(data, run.settings)
    assert report.claims["dead_first.never_learns"] is False
    assert "dL/dw1 = -0.25" in _text(report)


def test_whatever_the_input_needs_zeros_for_negated_inputs_too(run):
    data = copy.deepcopy(run.data)
    data["groups"]["relu"]["pred_neg"][1][:5] = 0.3  # the w2 < 0 network answered some negated inputs
    report = _report(data, run.settings)
    assert report.claims["dead_second.any_input"] is False
    text = _text(report)
    assert "Whatever the input" not in text
    assert "predicted 0 for 27 of 32 negated inputs" in text and "it was not dead for every input" in text


def test_healthy_that_did_not_learn(run):
    data = copy.deepcopy(run.data)
    g = data["groups"]["relu"]
    g["final_loss"][2] = 0.5 * g["loss0"][2]
    report = _report(data, run.settings)
    assert report.claims["healthy.learns"] is False
    text = _text(report)
    assert "positive weights learns" not in text and "it did not learn within 300 steps" in text


def test_leaky_with_zero_gradient_and_leaky_that_recovered(run):
    data = copy.deepcopy(run.data)
    lk = data["groups"]["leaky_relu"]
    lk["grads0"]["dense_0.W"][0] = 0.0
    lk["final_loss"][:] = 1e-3
    report = _report(data, run.settings)
    assert report.claims["leaky.gradient"] is False and report.claims["leaky.recovers"] is True
    text = _text(report)
    assert "so the unit is not dead" not in text and "zero, so LeakyReLU did not help here" in text
    assert "it recovered." in text and "did not recover" not in text


def test_w1_scan_not_flat_or_not_lower(run):
    data = copy.deepcopy(run.data)
    data["w1_loss"] = data["w1_loss"].copy()
    data["w1_loss"][0] += 1.0  # w1 = -2 costs more: the loss is not flat below 0
    report = _report(data, run.settings)
    assert report.claims["w1_scan"] is False
    assert "not constant for w1 <= 0" in _text(report)
    data = copy.deepcopy(run.data)
    grid = data["w1_grid"]
    data["w1_loss"] = np.where(grid > 0, 10.0, data["w1_loss"])  # raising w1 makes it worse
    report = _report(data, run.settings)
    assert report.claims["w1_scan"] is False
    assert "raising w1 above 0 did not lower the loss here" in _text(report)


def test_the_figure_has_one_row_per_network_finding(run, tmp_path):
    report = get_study(NAME).make_report(run.data, run.settings, tmp_path, True, run.seconds)
    assert sorted(p.name for p in report.figures) == ["loss_vs_w1.png", "training.png"]
    assert all(p.stat().st_size < 150_000 for p in report.figures)
