"""Figures: mean and band over seeds, axis choices, legends, heatmaps, file formats."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.errors import GlassnetError
from glassnet.plots import curves_figure, label_of, mean_band, save, weights_figure


def test_mean_band_aligns_seeds_of_different_lengths():
    a = (np.array([0, 10, 20]), np.array([1.0, 2.0, 3.0]))
    b = (np.array([0, 10]), np.array([3.0, 4.0]))  # stopped (diverged) after step 10
    steps, mean, low, high = mean_band([a, b])
    np.testing.assert_array_equal(steps, [0, 10, 20])
    np.testing.assert_allclose(mean, [2.0, 3.0, 3.0])
    np.testing.assert_allclose(low, [1.0, 2.0, 3.0])
    np.testing.assert_allclose(high, [3.0, 4.0, 3.0])


def test_mean_band_ignores_non_finite_points():
    steps, mean, *_ = mean_band([(np.arange(3), np.array([1.0, np.inf, 2.0])), (np.arange(3), np.array([3.0, 5.0, 4.0]))])
    np.testing.assert_allclose(mean, [2.0, 5.0, 3.0])


def _groups(values):
    t = np.arange(0, 100, 10)
    return {label_of({"training.weight_decay": v}, ["training.weight_decay"]): [(t, np.geomspace(1, 1e-3 * (1 + v), 10)),
                                                                               (t, np.geomspace(1.2, 2e-3, 10))]
            for v in values}


def test_curves_figure_lines_legend_and_log_axis():
    fig = curves_figure(_groups([0.0, 1e-3, 0.1]), "loss", "wd", legend_title="λ")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["λ = 0", "λ = 0.001", "λ = 0.1"]
    assert len(ax.get_lines()) == 3 and len(ax.collections) == 3  # a band per group
    assert ax.get_yscale() == "log"  # three decades
    acc = curves_figure({"a": [(np.arange(5), np.linspace(0.1, 1.0, 5))]}, "accuracy")
    assert acc.axes[0].get_yscale() == "linear" and len(acc.axes[0].collections) == 0  # one seed: no band


def test_curves_figure_panels():
    fig = curves_figure({"lr = 0.1": _groups([0.0]), "lr = 1": _groups([0.0, 0.1])}, "loss", logx=True)
    assert len(fig.axes) == 2 and [a.get_title() for a in fig.axes] == ["lr = 0.1", "lr = 1"]
    assert fig.axes[1].get_xscale() == "symlog"


def test_weights_figure_shows_the_weights_and_biases():
    model = gn.Sequential([gn.Dense(3, activation="sigmoid"), gn.Dense(2)], input_shape=(4,), seed=3,
                          bias_init=gn.init.Constant(0.25))
    fig = weights_figure(model)
    heat = [a for a in fig.axes if a.images]
    assert len(heat) == 2
    w0 = model.params["dense_0.W"]
    assert heat[0].images[0].get_array().shape == (5, 3)  # 4 inputs + the bias row
    np.testing.assert_allclose(heat[0].images[0].get_array()[:4], w0)
    texts = [t.get_text() for t in heat[0].texts]
    assert texts[0] == f"{w0[0, 0]:.2f}" and texts[-1] == "0.25"


def test_save_formats(tmp_path):
    fig = curves_figure(_groups([0.0]), "loss")
    png, svg = save(fig, tmp_path / "a", "png"), save(fig, tmp_path / "a", "svg")
    assert png.read_bytes()[:4] == b"\x89PNG" and b"<svg" in svg.read_bytes()[:500]
    with pytest.raises(GlassnetError, match="png, svg"):
        save(fig, tmp_path / "a", "jpg")
