"""Every claim of study ``image-classifier`` is written only when its premise holds.

The quick mode's measurement (seconds) is altered so that each claim's premise holds or fails,
and only the analysis is re-run: the claim's sentence must follow, the alternative otherwise.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from glassnet.studies import get_study
from glassnet.studies.image_classifier import seed_sizes
from glassnet.studies.image_report import _gap, _trend_noise
from glassnet.studies.recording import Recorder
from glassnet.studies.report import Report

STUDY = get_study("image-classifier")


@pytest.fixture(scope="module")
def measured():
    s = STUDY.settings(True, 2)
    return s, STUDY.measure(s, Recorder(STUDY.name, s, enabled=False))


def _analyze(data, s) -> Report:
    return STUDY.analyzed(data, s)


def _text(report) -> str:
    return report.findings_text


def _set(run, key, value):
    """Every seed of ``run[key]`` set to ``value`` (no seed spread)."""
    run[key] = np.full(np.shape(run[key]), value, dtype=float)


def test_gap_counts_only_differences_beyond_the_seed_noise():
    d, margin = _gap([0.5, 0.5], [0.4, 0.4])
    assert d == pytest.approx(0.1) and margin == 0.01
    d, margin = _gap([0.3, 0.7], [0.4, 0.4])          # SE of the difference: 0.2
    assert d == pytest.approx(0.1) and margin == pytest.approx(0.4)


def test_trend_noise_is_scatter_around_the_trend_not_the_trend():
    x = np.arange(1, 201, dtype=float)
    smooth = 3.0 * x ** -0.3
    assert _trend_noise(x, smooth, 0) < 1e-3           # a falling curve has no scatter
    jitter = smooth * np.exp(0.05 * np.random.default_rng(0).standard_normal(x.size))
    assert 0.03 < _trend_noise(x, jitter, 0) < 0.07
    assert np.isnan(_trend_noise(x[:4], smooth[:4], 0))


def test_epochs_claim(measured):
    s, data = measured
    short = s["short epochs"]
    d = copy.deepcopy(data)
    ref = d["dense"]["leaky_relu, batch 64"]
    _set(ref, f"accuracy@{short}", 0.5)
    _set(ref, "long_accuracy", 0.51)
    r = _analyze(d, s)
    assert r.claims["dense.epochs_little_gain"] and "added little" in _text(r)
    _set(ref, "long_accuracy", 0.4)
    r = _analyze(d, s)
    assert r.claims["dense.epochs_little_gain"] and "cost LeakyReLU accuracy" in _text(r)
    _set(ref, "long_accuracy", 0.6)
    r = _analyze(d, s)
    assert not r.claims["dense.epochs_little_gain"]
    assert "still paid off" in _text(r) and "added little" not in _text(r)
    assert "no major improvement over 25 (65.7% -> 66.9%); this measurement contradicts it" in _text(r)


def test_batch_norm_claim(measured):
    s, data = measured
    d = copy.deepcopy(data)
    _set(d["dense"]["leaky_relu, batch 64"], "long_accuracy", 0.5)
    _set(d["dense"]["leaky_relu + batch norm, batch 64"], "long_accuracy", 0.6)
    r = _analyze(d, s)
    assert not r.claims["dense.batch_norm_no_gain"] and ": an improvement." in _text(r)
    _set(d["dense"]["leaky_relu + batch norm, batch 64"], "long_accuracy", 0.505)
    r = _analyze(d, s)
    assert r.claims["dense.batch_norm_no_gain"] and "no clear improvement" in _text(r)


def test_minibatch_timing_claims(measured):
    s, data = measured
    d = copy.deepcopy(data)
    d["sgd"][64]["seconds_per_update"] = 1e-3
    d["sgd"][1]["seconds_per_update"] = 1e-3     # equal per update: 64x longer per epoch for batch 1
    r = _analyze(d, s)
    assert not r.claims["sgd.update_faster"] and "a single mini-batch update is not faster" in _text(r)
    assert "iterations are faster; this measurement contradicts it" in _text(r)
    assert r.claims["sgd.epoch_faster"] and "mini-batches are faster" in _text(r)
    d["sgd"][64]["seconds_per_update"] = 1e-4
    r = _analyze(d, s)
    assert r.claims["sgd.update_faster"] and "mini-batch updates were faster" in _text(r)
    d["sgd"][64]["seconds_per_update"] = 1e-3 * d["sgd"][1]["updates_per_epoch"] / d["sgd"][64]["updates_per_epoch"]
    r = _analyze(d, s)                            # the same time per epoch
    assert not r.claims["sgd.epoch_faster"] and "were not clearly faster" in _text(r)


def test_minibatch_noise_claim(measured):
    s, data = measured
    d = copy.deepcopy(data)
    n = data["n_train"]
    for b, scatter in ((64, 0.0), (1, 0.1)):
        run = d["sgd"][b]
        run["epochs"] = np.linspace(0, 3, 60)
        trend = 2.3 * (1 + run["epochs"] * n) ** -0.1
        rng = np.random.default_rng(b)
        run["val_loss"] = np.stack([trend * np.exp(scatter * rng.standard_normal(60)) for _ in range(2)])
    r = _analyze(d, s)
    assert r.claims["sgd.less_noise"] and "the mini-batch path was smoother" in _text(r)
    d["sgd"][64]["val_loss"], d["sgd"][1]["val_loss"] = d["sgd"][1]["val_loss"], d["sgd"][64]["val_loss"]
    r = _analyze(d, s)
    assert not r.claims["sgd.less_noise"] and "not clearly smoother" in _text(r)
    assert "less prone to noise than SGD, thus more stable; this measurement contradicts it" in _text(r)
    # the quick run has too few evaluations: said so, and not read as a contradiction
    r = _analyze(data, s)
    assert not r.claims["sgd.less_noise"] and "Too few test evaluations" in _text(r)
    assert "thus more stable; this measurement" not in _text(r)


def test_parameter_count_claim(measured):
    s, data = measured
    sizes = data["seed_sizes"]
    # hand-worked (glassnet.zoo): 1,108,480 + 8,389,120 + 262,656 + 5,130 and 1,573,376 + 131,328 + 2,570
    assert (sizes["cnn"], sizes["dense"], sizes["cnn conv"]) == (9_765_386, 1_707_274, 1_108_480)
    assert sizes == seed_sizes()
    r = _analyze(data, s)
    assert not r.claims["cnn.fewer_params"] and "the CNN has 5.7x more" in _text(r)
    assert "8,389,120 (86%) sit in the first dense layer" in _text(r)
    d = copy.deepcopy(data)
    d["seed_sizes"]["cnn"] = 1_000_000
    r = _analyze(d, s)
    assert r.claims["cnn.fewer_params"] and "the CNN has 1.7x fewer" in _text(r)
    assert "fewer parameters than a fully connected network; this measurement agrees" in _text(r)


def test_half_filters_and_cnn_vs_dense_claims(measured):
    s, data = measured
    d = copy.deepcopy(data)
    full, half = d["cnn"]["full filters"], d["cnn"]["half filters"]
    _set(full, "long_accuracy", 0.6)
    _set(half, "long_accuracy", 0.6)
    for run in d["dense"].values():
        _set(run, "long_accuracy", 0.3)
    r = _analyze(d, s)
    assert r.claims["cnn.half_costs_little"] and "cost no clear accuracy" in _text(r)
    assert r.claims["cnn.beats_dense"] and "the CNN beat it" in _text(r)
    _set(half, "long_accuracy", 0.4)
    for run in d["dense"].values():
        _set(run, "long_accuracy", 0.6)
    r = _analyze(d, s)
    assert not r.claims["cnn.half_costs_little"] and "the full CNN was clearly better" in _text(r)
    assert not r.claims["cnn.beats_dense"] and "no clear difference" in _text(r) and "beat it" not in _text(r)


def test_mismatched_preprocessing_claim(measured):
    s, data = measured
    d = copy.deepcopy(data)
    full = d["cnn"]["full filters"]
    _set(full, "long_accuracy", 0.6)
    full["mismatch_accuracy"][:] = 0.12
    r = _analyze(d, s)
    assert r.claims["cnn.mismatch_chance"]
    assert "the mismatched preprocessing alone put it near chance" in _text(r)
    assert "preprocessed differently from the validation images; this measurement agrees" in _text(r)
    full["mismatch_accuracy"][:] = 0.5       # the mismatch hurts, but not down to chance
    r = _analyze(d, s)
    assert not r.claims["cnn.mismatch_chance"] and "did not put the CNN near chance" in _text(r)
    assert "validation images; this measurement contradicts it" in _text(r)
    _set(full, "long_accuracy", 0.12)        # the CNN never learned: the cause cannot be tested
    full["mismatch_accuracy"][:] = 0.1
    r = _analyze(d, s)
    assert not r.claims["cnn.mismatch_chance"] and "did not learn enough here" in _text(r)
    assert "validation images; this measurement" not in _text(r)


def test_the_test_set_is_the_same_images_preprocessed_two_ways(measured):
    s, data = measured
    pix = data["pixels"]
    assert abs(pix["standardized test mean"]) < 0.2 and 0.5 < pix["standardized test std"] < 1.5
    assert 0.3 < pix["raw test mean"] < 0.7 and pix["raw test std"] < 0.5
    run = data["cnn"]["full filters"]
    # curves end at exactly the budget: the last point is the network after the last update
    assert run["epochs"][-1] == s["long epochs"]
    np.testing.assert_allclose(run["val_accuracy"][:, -1], run["long_accuracy"])
    assert run["mismatch_accuracy"].shape == run["val_accuracy"].shape
