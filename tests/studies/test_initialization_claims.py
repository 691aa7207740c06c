"""initialization: every finding is a claim written only when its premise holds on the measurements.

For each claim, the quick run's measurements are altered so that its premise fails (or holds),
and only the analysis runs again: the claim's sentence must be gone and the alternative written."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from glassnet.studies import get_study
from glassnet.studies.report import Report

NAME = "initialization"
EQ, EQB = ("equal (one He draw)", "zero"), ("equal (one He draw)", "N(0, var 0.01)")
HE, HEB = ("He normal", "zero"), ("He normal", "N(0, var 0.01)")
SMALL = ("N(0, var 0.01)", "zero")


def _report(data, settings) -> Report:
    return get_study(NAME).analyzed(data, settings)


def _text(report) -> str:
    return report.findings_text


def test_claims_of_the_quick_run(run):
    c = run.report.claims
    assert set(c) == {"equal.symmetry", "equal.fails", "equal_random_bias.breaks", "he.bias_no_difference",
                      "small_init_slower", "seed001.final_weights_differ", "seed001.not_convex",
                      "seed001.separate_minima", "seed001.low_lr_slower", "seed001.low_lr_stuck"}
    assert c["equal.symmetry"] and c["equal.fails"] and c["seed001.not_convex"] and c["seed001.low_lr_slower"]
    # the too-low rate is slow, not stuck: the seed's "stuck in a local minimum" is contradicted, in so many words
    assert c["seed001.low_lr_stuck"] is False
    line = next(f for f in run.findings if f.startswith("At lr 0.01"))
    assert "nothing was stuck, it was slow" in line and "this measurement contradicts it" in line
    # the numbers: the barrier is recomputed from the stored path
    mn = run.data["minima"]
    raw = max(p["raw_barrier"] for p in mn["pairs"])
    assert run.numbers["seed001.not_convex.raw_barrier_max"] == pytest.approx(raw)
    p = mn["pairs"][0]
    chord = (1 - mn["ts"]) * p["raw_path"][0] + mn["ts"] * p["raw_path"][-1]
    assert p["raw_barrier"] == pytest.approx(max(0.0, float(np.max(p["raw_path"] - chord))))


def test_symmetry_that_did_not_survive(run):
    data = copy.deepcopy(run.data)
    data["runs"][EQ]["distinct/dense_0"][:, -1] = 8
    report = _report(data, run.settings)
    assert report.claims["equal.symmetry"] is False
    assert "did not fully survive" in _text(report) and "the units stayed exact copies" not in _text(report)


def test_equal_weights_that_learned(run):
    data = copy.deepcopy(run.data)
    data["runs"][EQ]["test_accuracy"] = data["runs"][HE]["test_accuracy"].copy()
    report = _report(data, run.settings)
    assert report.claims["equal.fails"] is False
    text = _text(report)
    assert "could not learn" not in text and "Equal weights still learned" in text


def test_random_biases_that_did_not_break_the_symmetry(run):
    data = copy.deepcopy(run.data)
    data["runs"][EQB]["spread/dense_0"][:] = 0.0
    report = _report(data, run.settings)
    assert report.claims["equal_random_bias.breaks"] is False
    text = _text(report)
    assert "the biases alone broke" not in text and "stayed (nearly) identical despite the random biases" in text


def test_random_biases_that_cost_accuracy(run):
    data = copy.deepcopy(run.data)
    data["runs"][HEB]["test_accuracy"] = data["runs"][HE]["test_accuracy"] - 0.1
    report = _report(data, run.settings)
    assert report.claims["he.bias_no_difference"] is False
    line = next(f for f in report.findings if f.startswith("Zero vs random biases"))
    assert "points worse with random biases" in line and "this measurement contradicts it" in line


def test_small_weights_that_are_not_slower(run):
    data = copy.deepcopy(run.data)
    data["runs"][SMALL]["accuracy"] = data["runs"][HE]["accuracy"].copy()
    report = _report(data, run.settings)
    assert report.claims["small_init_slower"] is False
    assert "were not slower than He" in _text(report)


def test_one_solution_relabelled(run):
    data = copy.deepcopy(run.data)
    for p in data["minima"]["pairs"]:
        p["aligned_distance"] = 0.01
    report = _report(data, run.settings)
    assert report.claims["seed001.final_weights_differ"] is False
    assert "essentially one solution, relabelled" in _text(report)


def test_no_barrier_means_no_claim_of_non_convexity_or_separate_minima(run):
    data = copy.deepcopy(run.data)
    for p in data["minima"]["pairs"]:
        p["raw_barrier"] = p["aligned_barrier"] = 0.0
    report = _report(data, run.settings)
    assert report.claims["seed001.not_convex"] is False and report.claims["seed001.separate_minima"] is False
    text = _text(report)
    assert "this loss is not convex" not in text and "no sign of a non-convex loss" in text
    assert "separate minima, not joined" not in text and "lie in one valley up to a relabelling" in text


def test_low_rate_that_is_not_slower(run):
    data = copy.deepcopy(run.data)
    data["low_lr"]["loss"] = data["runs"][HE]["loss"].copy()
    report = _report(data, run.settings)
    assert report.claims["seed001.low_lr_slower"] is False
    assert "not worse" in _text(report)


def test_low_rate_that_really_stalls(run):
    data = copy.deepcopy(run.data)
    low = data["low_lr"]["loss"]
    T = low.shape[1]
    low[:, T // 3:] = 0.6  # flat from a third of the run on, far above the normal rate's loss
    report = _report(data, run.settings)
    assert report.claims["seed001.low_lr_stuck"] is True
    line = next(f for f in report.findings if f.startswith("At lr 0.01"))
    assert "the loss stalled" in line and "this measurement agrees" in line


def test_figures_are_drawn(run, tmp_path):
    report = get_study(NAME).make_report(run.data, run.settings, tmp_path, True, run.seconds)
    assert sorted(p.name for p in report.figures) == ["distinct_units.png", "loss.png", "low_lr.png", "minima.png",
                                                      "weight_spread.png"]
    assert all(p.stat().st_size < 150_000 for p in report.figures)
