"""Findings are computed: feed ``analyze`` altered measurements and the wording follows.

Each test copies a quick run's measurements, changes the numbers one finding depends on, and
re-runs only the analysis (no training, no figures) to check the sentence changes accordingly.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from glassnet.model import Sequential
from glassnet.studies import get_study
from glassnet.studies.report import Report


def _findings(name, data, settings) -> str:
    report = Report("test", out=None)
    get_study(name).analyze(data, settings, report)
    return "\n".join(report.findings)


def _delayed(curves, d):
    """Shift curves ``(S, T)`` right by ``d`` logged points (the run reaches everything later)."""
    if d == 0:
        return curves.copy()
    return np.concatenate([np.repeat(curves[:, :1], d, axis=1), curves[:, :-d]], axis=1)


def test_analysis_never_trains(quick_results, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("analyze must not train")

    monkeypatch.setattr(Sequential, "fit", no_training)
    for name, r in quick_results.items():
        report = get_study(name).make_report(r.data, r.settings, None, True, r.seconds)
        assert report.findings == r.findings  # same measurements, same sentences


def test_autoencoder_weight_decay_order_follows_the_curves(quick_results):
    r = quick_results["autoencoder-838"]
    s = r.settings
    good = min(range(len(s["learning_rates"])), key=lambda c: r.data["lr"]["loss"][c, :, -1].mean())
    fast = r.data["lr"]["loss"][good]  # a curve that does cross the threshold
    C = len(s["weight_decays"])
    for order, expect in ((range(C), "The larger lambda, the later"), (reversed(range(C)), "not monotonic")):
        data = copy.deepcopy(r.data)
        for c, k in enumerate(order):
            data["wd"]["loss"][c] = _delayed(fast, 10 * k)
        text = _findings("autoencoder-838", data, s)
        assert expect in text
    # and the quoted step is the one in the altered curves
    data = copy.deepcopy(r.data)
    data["wd"]["loss"][:] = _delayed(fast, 0)
    steps = data["wd"]["steps"]
    first = np.median([steps[np.flatnonzero(row < s["threshold"])[0]] for row in fast])
    assert f"at step {int(first):,} (median" in _findings("autoencoder-838", data, s)


def test_autoencoder_plateau_wording(quick_results):
    r = quick_results["autoencoder-838"]
    data = copy.deepcopy(r.data)
    data["base"]["loss"][:] = np.geomspace(1.0, 1e-3, data["base"]["loss"].shape[-1])  # no plateau at all
    assert "Plateau: none was detected" in _findings("autoencoder-838", data, r.settings)


def test_dead_relu_recovery_wording(quick_results):
    r = quick_results["dead-relu"]
    before = _findings("dead-relu", r.data, r.settings)
    assert "it recovered" not in before
    data = copy.deepcopy(r.data)
    data["groups"]["leaky_relu"]["final_loss"][:] = 1e-3
    assert "it recovered" in _findings("dead-relu", data, r.settings)
    data["groups"]["relu"]["w1"]["dense_0.W"][0] += 0.5  # the dead net's weight moved after all
    assert "moved by up to 0.5" in _findings("dead-relu", data, r.settings)


@pytest.mark.parametrize("factor, expect", [(1.0, "no measurable cost"), (3.0, "more than the")])
def test_dropout_inference_wording(quick_results, factor, expect):
    r = quick_results["dropout-cost"]
    data = copy.deepcopy(r.data)
    none, drop = data["runs"][0.0], data["runs"][0.5]
    for run in (none, drop):
        run["predict_median"] = run["predict_seconds"] = none["predict_seconds"]
    drop["predict_seconds"] = drop["predict_median"] = factor * none["predict_seconds"]
    assert expect in _findings("dropout-cost", data, r.settings)


def test_dropout_training_cost_wording(quick_results):
    r = quick_results["dropout-cost"]
    data = copy.deepcopy(r.data)
    none, drop = data["runs"][0.0], data["runs"][0.5]
    drop["step_seconds"] = drop["step_median"] = none["step_seconds"] + data["dropout_layer_seconds"]
    none["step_median"] = none["step_seconds"]
    text = _findings("dropout-cost", data, r.settings)
    assert "100% of that extra time: the masks are the cost" in text
    drop["step_seconds"] = drop["step_median"] = none["step_seconds"]
    assert "Dropout added no measurable time per step" in _findings("dropout-cost", data, r.settings)


def _dropout_claims(data, settings) -> Report:
    report = Report("test", out=None)
    get_study("dropout-cost").analyze(data, settings, report)
    return report


def test_dropout_claims_follow_the_measurements(quick_results):
    r = quick_results["dropout-cost"]
    data = copy.deepcopy(r.data)
    none, drop = data["runs"][0.0], data["runs"][0.5]
    for run in (none, drop):          # equal step times, a quiet machine
        run["step_seconds"] = run["step_median"] = 1e-3
    rep = _dropout_claims(data, r.settings)
    text = "\n".join(rep.findings)
    assert not rep.claims["dropout.slows_training"] and "dropout.masks_are_cost" not in rep.claims
    assert "dropout slows down training; this measurement contradicts it" in text
    drop["step_seconds"] = drop["step_median"] = 2e-3
    rep = _dropout_claims(data, r.settings)
    assert rep.claims["dropout.slows_training"] and "dropout slowed each training step" in "\n".join(rep.findings)
    # the train-test gap and the epochs to the target
    none["train_accuracy"][:], none["test_accuracy"][:] = 1.0, 0.9
    drop["train_accuracy"][:], drop["test_accuracy"][:] = 0.95, 0.9
    rep = _dropout_claims(data, r.settings)
    assert rep.claims["dropout.narrows_gap"] and "dropout narrowed the gap" in "\n".join(rep.findings)
    drop["train_accuracy"][:] = 0.995
    rep = _dropout_claims(data, r.settings)
    assert not rep.claims["dropout.narrows_gap"] and "did not narrow the gap" in "\n".join(rep.findings)
    drop["val_accuracy"] = none["val_accuracy"].copy()
    rep = _dropout_claims(data, r.settings)
    assert not rep.claims["dropout.more_epochs"] and "dropout did not need more epochs" in "\n".join(rep.findings)
    drop["val_accuracy"][:] = 0.5            # never reaches the target
    rep = _dropout_claims(data, r.settings)
    assert rep.claims["dropout.more_epochs"] and "in the number of epochs needed" in "\n".join(rep.findings)


def test_momentum_settling_wording(quick_results):
    r = quick_results["momentum"]
    before = _findings("momentum", r.data, r.settings)
    data = copy.deepcopy(r.data)
    c = data["convex"]
    c["excess"][-1] = c["excess"][1]   # the 0.999999 run behaves like the 0.9 run
    c["traj"][-1] = c["traj"][1]
    after = _findings("momentum", data, r.settings)
    assert ("hardly decays" in before) != ("hardly decays" in after)
    assert "so it still settled within the run" in after


def test_sparsity_l1_wording(quick_results):
    r = quick_results["sparsity"]
    assert "hover around zero" in _findings("sparsity", r.data, r.settings)
    data = copy.deepcopy(r.data)
    data["l1"]["sparsity"][-1][:] = 0.5
    text = _findings("sparsity", data, r.settings)
    assert "hover around zero" not in text and "50.00% of the weights were exactly zero" in text


def test_initialization_symmetry_wording(quick_results):
    r = quick_results["initialization"]
    assert "the units stayed exact copies" in _findings("initialization", r.data, r.settings)
    data = copy.deepcopy(r.data)
    data["runs"][("equal (one He draw)", "zero")]["distinct/dense_0"][:, -1] = 8
    assert "did not fully survive" in _findings("initialization", data, r.settings)


def test_image_classifier_leaky_vs_relu_wording(quick_results):
    r = quick_results["image-classifier"]
    out = {}
    for delta in (-0.05, 0.0, 0.05):
        data = copy.deepcopy(r.data)
        dense = data["dense"]
        dense["relu, batch 64"]["long_accuracy"] = np.full(r.settings["seeds"], 0.5)   # no seed spread
        dense["leaky_relu, batch 64"]["long_accuracy"] = np.full(r.settings["seeds"], 0.5 + delta)
        out[delta] = _findings("image-classifier", data, r.settings)
    assert "LeakyReLU was worse" in out[-0.05] and "than ReLU on its images; this measurement agrees" in out[-0.05]
    assert "LeakyReLU was better" in out[0.05] and "this measurement contradicts it" in out[0.05]
    assert "no clear difference" in out[0.0] and "can neither confirm nor refute it" in out[0.0]


def test_activations_linear_gap_wording(quick_results):
    r = quick_results["activations"]
    data = copy.deepcopy(r.data)
    data["runs"][("linear", "normal")]["test_accuracy"] = data["runs"][("relu", "normal")]["test_accuracy"].copy()
    assert "the linear network is not far behind" in _findings("activations", data, r.settings)


def test_image_classifier_cnn_not_learning_wording(quick_results):
    r = quick_results["image-classifier"]
    data = copy.deepcopy(r.data)
    full = data["cnn"]["full filters"]
    full["distinct_predictions"][:] = 10
    full["long_accuracy"][:] = 0.8
    text = _findings("image-classifier", data, r.settings)
    assert "The full filters CNN predicted 10 distinct classes" in text and "it learned" in text
    full["distinct_predictions"][:] = 1
    text = _findings("image-classifier", data, r.settings)
    assert "The full filters CNN predicted only 1 distinct class(es)" in text and "had not started to learn" in text
