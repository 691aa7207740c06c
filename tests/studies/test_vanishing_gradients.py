"""vanishing-gradients: a quick run, its numbers recomputed from the raw measurements, and every
claim's premise broken on altered measurements (only the analysis runs again)."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from glassnet.studies import get_study
from glassnet.studies.report import Report

NAME = "vanishing-gradients"


def _report(data, settings) -> Report:
    return get_study(NAME).analyzed(data, settings)


def _line(report, start: str) -> str:
    return next(f for f in report.findings if f.startswith(start))


def test_quick_run_measures_every_configuration(run):
    s, runs = run.settings, run.data["runs"]
    assert run.seconds < 30  # about 5 s on a quiet machine
    D, S = s["depth"], s["seeds"]
    for act in ("sigmoid", "tanh", "relu"):
        for v in ("plain", "residual", "normalized"):
            r = runs[act][v]
            assert r["init"].shape == (S, D) and np.all(np.isfinite(r["init"]))
            assert r["during"].shape == (len(r["steps"]), S, D)
            assert r["loss"].shape[0] == S and len(r["status"]) == S
    # twenty sigmoid layers: the textbook picture, robust for any seed
    assert run.report.claims["sigmoid.plain.vanishes"] is True
    assert run.report.claims["sigmoid.residual.healthy"] is True
    assert len(run.findings) == 13


def test_quoted_ratios_are_the_measured_ones(run):
    runs = run.data["runs"]
    for act in ("sigmoid", "tanh", "relu"):
        init = runs[act]["plain"]["init"]
        assert run.numbers[f"{act}.plain.vanishes.ratio"] == pytest.approx(float(np.median(init[:, 1] / init[:, -1])))
        res = runs[act]["residual"]["init"]
        assert run.numbers[f"{act}.residual.healthy.ratio"] == pytest.approx(float(np.median(res[:, 1] / res[:, -1])))
    acc = runs["tanh"]["plain"]["accuracy"][:, -1]
    assert run.numbers["tanh.training.fix_helps.plain_accuracy"] == pytest.approx(float(np.median(acc)))


def test_no_vanishing_when_the_plain_net_gets_equal_gradients(run):
    data = copy.deepcopy(run.data)
    data["runs"]["sigmoid"]["plain"]["init"][:] = 1.0
    report = _report(data, run.settings)
    assert report.claims["sigmoid.plain.vanishes"] is False
    line = _line(report, "Plain sigmoid")
    assert "layer 2 gets 1 times the gradient" in line and "no vanishing at this depth" in line
    data["runs"]["sigmoid"]["plain"]["init"][:, :10] = 1e3  # the input side gets far more: exploding
    assert "it grows toward the input (exploding)" in _line(_report(data, run.settings), "Plain sigmoid")


def test_a_residual_net_whose_gradient_vanishes_is_not_called_healthy(run):
    data = copy.deepcopy(run.data)
    data["runs"]["sigmoid"]["residual"]["init"][:, 1] *= 1e-6
    report = _report(data, run.settings)
    assert report.claims["sigmoid.residual.healthy"] is False
    line = _line(report, "sigmoid with residual connections")
    assert "the gradient still vanishes toward the input" in line and "every layer gets" not in line


def test_a_gradient_that_recovers_during_training_is_said(run):
    data = copy.deepcopy(run.data)
    data["runs"]["sigmoid"]["plain"]["during"][:] = 0.5
    report = _report(data, run.settings)
    assert report.claims["sigmoid.plain.stays_vanished"] is False
    assert "ratio was 1 (median over logged steps and seeds): the gradient did not stay vanished" in \
        "\n".join(report.findings)


def test_training_claim_follows_the_accuracies(run):
    data = copy.deepcopy(run.data)
    sig = data["runs"]["sigmoid"]
    sig["plain"]["accuracy"][:, -1] = 0.5
    sig["residual"]["accuracy"][:, -1] = 1.0
    report = _report(data, run.settings)
    assert report.claims["sigmoid.training.fix_helps"] is True
    assert "the plain net was at 50.0% training accuracy, while residual learned the circle" in \
        _line(report, "sigmoid: after")
    sig["plain"]["accuracy"][:, -1] = 1.0  # the plain net learned as well: no fix needed
    report = _report(data, run.settings)
    assert report.claims["sigmoid.training.fix_helps"] is False
    assert "the plain net learned too" in _line(report, "sigmoid: after")


def test_report_figures_from_the_measurements(run, tmp_path):
    report = get_study(NAME).make_report(run.data, run.settings, tmp_path, True, run.seconds)
    names = sorted(p.name for p in report.figures)
    assert names == ["init_gradients.png", "ratio_during_training.png", "training_accuracy.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size < 150_000 for p in report.figures)
    assert "| activation | variant |" in report.render()
