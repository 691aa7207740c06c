"""Every claim of study ``sparsity`` is written only when its premise holds.

One small measurement (quick settings, fewer steps, rates, levels and seeds) is altered so that
each claim's premise fails (or holds), and the analysis is re-run on it: the claim's sentence must
then be absent and its alternative present. Nothing here trains but the fixture.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from glassnet.studies import get_study
from glassnet.studies.recording import Recorder
from glassnet.studies.report import Report
from glassnet.studies.sparsity_report import points

STUDY = get_study("sparsity")


@pytest.fixture(scope="module")
def measured():
    s = STUDY.settings(True, 2)
    s.update({"steps": 200, "fine-tune steps": 60, "l1 rates": [1e-3, 1e-2], "prune levels": [0.8, 0.9]})
    return s, STUDY.measure(s, Recorder(STUDY.name, s, enabled=False))


def _analyze(data, s, out=None) -> Report:
    return STUDY.analyzed(data, s, out)


def _text(report) -> str:
    return report.findings_text


def _copy(measured):
    s, data = measured
    return s, copy.deepcopy(data)


def test_every_claim_is_decided_with_equal_budgets(measured):
    s, data = measured
    r = _analyze(data, s)
    assert set(r.claims) == {"l1.hover", "prox.exact", "prune.fine_tune", "prune.dense_gap", "best80"}
    assert len(r.findings) == len(r.claims)
    total = s["steps"] + s["fine-tune steps"]
    # every model ranked has had the same number of updates, and the summary says so
    rows = r.summary[1]
    assert {row[2] for row in rows if row[0] != "magnitude pruning" and "before pruning" not in row[0]} == {f"{total:,}"}
    assert {row[2] for row in rows if row[0] == "magnitude pruning"} == {f"{s['steps']:,}"}


def test_l1_hover_claim(measured):
    s, data = _copy(measured)
    assert _analyze(data, s).claims["l1.hover"]
    data["l1"]["sparsity"][-1][:] = 0.3
    r = _analyze(data, s)
    assert not r.claims["l1.hover"]
    assert "hover around zero" not in _text(r) and "30.00% of the weights were exactly zero and" in _text(r)


def test_proximal_claim_needs_ten_times_the_exact_zeros(measured):
    s, data = _copy(measured)
    data["proximal"]["sparsity"] = data["l1"]["sparsity"].copy()
    r = _analyze(data, s)
    assert not r.claims["prox.exact"]
    assert "did not give clearly more exact zeros" in _text(r) and "set weights to exactly zero where" not in _text(r)


def test_fine_tuning_claim_needs_a_point_of_accuracy(measured):
    s, data = _copy(measured)
    pr = data["pruning"]
    pr["tuned_accuracy"] = pr["accuracy"].copy()
    r = _analyze(data, s)
    assert not r.claims["prune.fine_tune"]
    assert "fine-tuning steps did not gain a point" in _text(r) and "brought it to" not in _text(r)


@pytest.mark.parametrize("gap, holds", [(0.0, True), (0.05, False)])
def test_dense_gap_claim_compares_at_the_same_budget(measured, gap, holds):
    s, data = _copy(measured)
    i = s["prune levels"].index(0.9)
    data["pruning"]["tuned_accuracy"][i][:] = np.mean(data["dense"]["accuracy"]) - gap
    r = _analyze(data, s)
    assert r.claims["prune.dense_gap"] == holds
    total = s["steps"] + s["fine-tune steps"]
    assert f"trained for the same {total:,} steps" in _text(r)
    assert ("were not needed" in _text(r)) == holds and ("costs more than a point" in _text(r)) != holds


def test_best80_ranks_only_when_two_methods_reach_80_percent(measured):
    s, data = _copy(measured)
    for key in ("l1_thresholded", "proximal"):
        data[key]["sparsity"][:] = 0.5
    r = _analyze(data, s)
    assert not r.claims["best80"]
    text = _text(r)
    assert "Only pruning + fine-tuning reached 80% sparsity" in text and "the most accurate came from" not in text
    data["proximal"]["sparsity"][:] = 0.85
    data["proximal"]["accuracy"][:] = 0.999
    r = _analyze(data, s)
    assert r.claims["best80"] and "the most accurate came from proximal SGD" in _text(r)
    assert max(p[2] for ps in points(data, s).values() for p in ps if p[1] >= 0.8) == pytest.approx(0.999)


def test_figures_are_drawn(measured, tmp_path):
    s, data = measured
    r = _analyze(data, s, out=tmp_path)
    assert sorted(p.name for p in r.figures) == ["exact_zeros.png", "l1_weights.png", "pruning.png",
                                                 "sparsity_vs_accuracy.png"]
