"""sequence-memory: the task, a quick run with its numbers recomputed from the raw measurements,
and every claim's premise broken on altered measurements (only the analysis runs again)."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from glassnet.studies import get_study
from glassnet.studies.report import Report
from glassnet.studies.sequence_memory import ARCHS, task

NAME = "sequence-memory"


def _report(data, settings) -> Report:
    return get_study(NAME).analyzed(data, settings)


def _text(report) -> str:
    return report.findings_text


def _set_accuracy(data, arch, values):
    for lag, v in zip(sorted(data["runs"]), values):
        data["runs"][lag][arch]["test_accuracy"][:] = v


def test_task_shows_the_symbol_once_then_noise():
    x, y = task(50, 6, 4, seed=0)
    assert x.shape == (50, 7, 5) and y.shape == (50,)
    np.testing.assert_array_equal(x[:, 0, :4].argmax(1), y)       # step 0: the symbol, one-hot
    assert np.all(x[:, 0, 4] == 1) and np.all(x[:, 1:, 4] == 0)    # the cue flag only at step 0
    assert np.all(np.round(x[:, 1:, :4], 2) == x[:, 1:, :4])       # noise written to 0.01
    assert np.array_equal(task(50, 6, 4, seed=0)[0], x)            # seeded


def test_quick_run_measures_every_network_and_lag(run):
    s, runs = run.settings, run.data["runs"]
    assert run.seconds < 30  # about 8 s on a busy 2-core machine
    assert sorted(runs) == s["lags"]
    for lag in s["lags"]:
        T = lag + 1
        for arch in ARCHS:
            r = runs[lag][arch]
            assert r["test_accuracy"].shape == (s["seeds"],)
            for when in ("init", "trained"):
                assert r[when]["input_norms"].shape == (s["seeds"], T)
                if arch != "attention":
                    assert r[when]["step_norms"].shape == (s["seeds"], T)
        att = runs[lag]["attention"]["trained"]
        assert att["attention"].shape[-2:] == (T, T) and att["cue_attention"].shape == (s["seeds"],)
    # the LSTM's forget gate starts near sigmoid(0) = 0.5 (biases drawn around 0)
    assert 0.4 < float(np.median(runs[s["lags"][-1]]["LSTM"]["init"]["gate"])) < 0.6
    assert len(run.findings) == 6


def test_quoted_numbers_are_the_measured_ones(run):
    runs, lag = run.data["runs"], run.settings["lags"][-1]
    norms = runs[lag]["SimpleRNN"]["init"]["step_norms"]
    assert run.numbers["simple_rnn.gradient_vanishes.ratio"] == pytest.approx(
        float(np.median(norms[:, 0] / norms[:, -1])))
    acc = runs[run.settings["lags"][0]]["SimpleRNN"]["test_accuracy"]
    assert run.numbers["simple_rnn.fails_at_long_lag.shortest"] == pytest.approx(float(np.median(acc)))
    focus = run.numbers["gating.helps.lag"] if run.report.claims["gating.helps"] else lag
    assert run.numbers["gates_open.lstm_trained"] == pytest.approx(
        float(np.median(run.data["runs"][int(focus)]["LSTM"]["trained"]["gate_max"])))


def test_simple_rnn_claim_follows_the_accuracies(run):
    data = copy.deepcopy(run.data)
    _set_accuracy(data, "SimpleRNN", [1.0, 0.25])
    report = _report(data, run.settings)
    assert report.claims["simple_rnn.fails_at_long_lag"] is True
    assert "SimpleRNN recalled the symbol at lag 2 (100.0%) but not at lag 8 (25.0%" in _text(report)
    _set_accuracy(data, "SimpleRNN", [1.0, 0.9])
    report = _report(data, run.settings)
    assert report.claims["simple_rnn.fails_at_long_lag"] is False
    assert "it still recalled above chance at the longest lag" in _text(report)


def test_gating_claim_needs_a_20_point_gap(run):
    data = copy.deepcopy(run.data)
    _set_accuracy(data, "SimpleRNN", [1.0, 0.3])
    _set_accuracy(data, "GRU", [1.0, 0.95])
    _set_accuracy(data, "LSTM", [1.0, 0.6])
    report = _report(data, run.settings)
    assert report.claims["gating.helps"] is True
    assert "At lag 8 the gated cells recalled the symbol far better than SimpleRNN: LSTM 60.0%, GRU 95.0%" in \
        _text(report)
    _set_accuracy(data, "GRU", [1.0, 0.4])
    _set_accuracy(data, "LSTM", [1.0, 0.4])
    report = _report(data, run.settings)
    assert report.claims["gating.helps"] is False and "largest gap 10.0 points at lag 8" in _text(report)


def test_attention_claim_needs_every_lag(run):
    data = copy.deepcopy(run.data)
    _set_accuracy(data, "attention", [1.0, 1.0])
    assert _report(data, run.settings).claims["attention.lag_free"] is True
    _set_accuracy(data, "attention", [1.0, 0.5])
    report = _report(data, run.settings)
    assert report.claims["attention.lag_free"] is False and "not at every lag" in _text(report)


def test_gradient_claims_follow_the_norms_and_gates(run):
    data = copy.deepcopy(run.data)
    for arch in ARCHS:  # no gating gain: the gradient claims look at the longest lag
        _set_accuracy(data, arch, [1.0, 1.0])
    lag = run.settings["lags"][-1]
    r = data["runs"][lag]
    r["SimpleRNN"]["init"]["step_norms"][:] = 1.0            # no decay at all
    for arch in ("LSTM", "GRU"):  # the gates did not move
        r[arch]["trained"]["gate_max"][:] = r[arch]["init"]["gate_max"]
    r["LSTM"]["trained"]["step_norms"][:, 0] = r["LSTM"]["trained"]["step_norms"][:, -1] * 50
    r["SimpleRNN"]["trained"]["step_norms"][:, 0] = r["SimpleRNN"]["trained"]["step_norms"][:, -1] * 0.5
    report = _report(data, run.settings)
    assert report.claims["simple_rnn.gradient_vanishes"] is False
    assert "not a vanishing gradient" in _text(report)
    assert report.claims["gates_open"] is False and "no gate opened by 0.1 or more" in _text(report)
    r["GRU"]["trained"]["gate_max"][:] = 0.97
    report = _report(data, run.settings)
    assert report.claims["gates_open"] is True and "the GRU's update gate z from" in _text(report)
    assert "to 0.97 (so a gradient carried by that unit keeps 0.97^8 = 0.784 over 8 steps" in _text(report)
    assert report.claims["gating.keeps_gradient"] is True
    assert "the LSTM's gradient through time" in _text(report) and "is 50 against SimpleRNN's 0.5" in _text(report)


def test_report_figures_from_the_measurements(run, tmp_path):
    report = get_study(NAME).make_report(run.data, run.settings, tmp_path, True, run.seconds)
    names = sorted(p.name for p in report.figures)
    assert names == ["accuracy_vs_lag.png", "attention.png", "gradient_through_time_init.png",
                     "gradient_through_time_trained.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size < 150_000 for p in report.figures)
