"""Every study's quick run writes a report whose numbers come from that run.

Each check reads a number back from ``report.md`` and compares it with a value recomputed here
from the raw measurements in ``result.data`` (or with a hand-worked value), never with the
report's own bookkeeping alone.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from glassnet.studies import all_studies
from glassnet.studies.report import fmt, parse_markdown_table

NAMES = [st.name for st in all_studies()]


def _text(result) -> str:
    return result.report_path.read_text(encoding="utf-8")


def _num(cell: str) -> float:
    """A formatted cell back to a number: '1,234', '96.1%', '1.00e-04', '0.0235'."""
    cell = cell.strip().replace(",", "")
    if cell.endswith("%"):
        return float(cell[:-1]) / 100
    return float(cell)


def _close(cell: str, value: float, rel: float = 6e-3, abs_: float = 0.0) -> bool:
    """Equal up to the rounding of the report (3 significant digits; 0.1 point for shares)."""
    return abs(_num(cell) - value) <= max(rel * abs(value), abs_)


@pytest.mark.parametrize("name", NAMES)
def test_report_is_written_with_findings_summary_and_figures(quick_results, name):
    r = quick_results[name]
    text = _text(r)
    assert text == r.report.render()
    assert "Mode: quick" in text and "## Key findings (computed from this run)" in text
    assert len(r.findings) >= 3 and all(f"- {f}" in text for f in r.findings)
    headers, rows = r.report.summary
    parsed = parse_markdown_table(text, headers[0])
    assert len(parsed) == len(rows) >= 1
    figures = re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", text)
    assert figures, "every study draws at least one figure"
    for f in figures:
        png = r.out / f
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert png.stat().st_size < 150_000
    assert r.seconds < 60


def test_autoencoder_numbers(quick_results):
    r = quick_results["autoencoder-838"]
    d, s, text = r.data, r.settings, _text(r)
    i0 = s["weight_decays"].index(0.0)
    rows = {row["lambda"]: row for row in parse_markdown_table(text, "lambda")}
    for c, lam in enumerate(s["weight_decays"]):
        row = rows[fmt(lam)]
        assert _close(row["final loss (mean)"], float(np.mean(d["wd"]["loss"][c, :, -1])))
    # hand-worked parameter counts: 8*3+3 + 3*8+8 = 59, the seed's 7-3-7: 7*3+3 + 3*7+7 = 52,
    # and 8*3+3 + 3*7+7 = 55 for k-1 targets on one-hot inputs
    assert ("k (8-3-8) 59; the seed's k-1 (7-3-7, k-1 inputs and targets) 52; k-1 targets on one-hot inputs "
            "(8-3-7) 55") in text
    # the plateau an input-ignoring network sits on: outputs 1/8, loss 1/2 * 8 * (1/8)(7/8)
    assert d["base"]["constant_loss"] == pytest.approx(0.5 * 8 * (1 / 8) * (7 / 8))
    # the lambda = 0 "first below threshold" step, recomputed from the raw curves
    thr = s["threshold"]
    steps = d["wd"]["steps"]
    firsts = [steps[np.flatnonzero(c < thr)[0]] if (c < thr).any() else np.inf for c in d["wd"]["loss"][i0]]
    med = np.median(firsts)
    cell = rows["0"][f"median step to loss < {thr:g}"]
    assert (cell == f"step {int(med):,}") if np.isfinite(med) else cell.startswith("not within")


def test_dead_relu_numbers(quick_results):
    r = quick_results["dead-relu"]
    x = r.data["x"][:, 0]
    rows = {row["case"]: row for row in parse_markdown_table(_text(r), "case")}
    # healthy net w1 = w2 = 1, no biases: yhat = x, y = 2x, L = mean 1/2 (yhat - y)^2,
    # dL/dw1 = mean((yhat - y) * w2 * x) = -mean(x^2), and dL/dw2 = mean((yhat - y) * h) the same
    healthy = rows["healthy (w1=1, w2=1)"]
    assert _close(healthy["dL/dw1 (backprop)"], -np.mean(x ** 2))
    assert _close(healthy["dL/dw2 (backprop)"], -np.mean(x ** 2))
    for name in ("dead first ReLU (w1=-1, w2=1)", "dead second ReLU (w1=1, w2=-1)"):
        assert rows[name]["dL/dw1 (backprop)"] == "0" and rows[name]["dL/dw2 (backprop)"] == "0"
        assert rows[name]["max weight change"] == "0"
        assert rows[name]["predicts 0 for"] == f"{len(x)}/{len(x)}"
        # the loss of predicting 0 for targets 2x: mean 1/2 (2x)^2
        assert _close(rows[name]["final loss"], np.mean(0.5 * (2 * x) ** 2))


def test_activations_softmax_matches_hand_computation(quick_results):
    text = _text(quick_results["activations"])
    z = np.array([7.0, 1.0, 2.2])
    p = np.exp(z) / np.exp(z).sum()
    assert f"({100 * p[0]:.2f}%, {100 * p[1]:.2f}%, {100 * p[2]:.2f}%)" in text
    m = re.search(r"cross-entropy for label A ([0-9.]+)", text)
    assert _close(m.group(1), -np.log(p[0]))


def test_momentum_numbers(quick_results):
    r = quick_results["momentum"]
    c = r.data["convex"]
    x, y = r.data["x"], r.data["y"][:, 0]
    w_star = np.linalg.solve(x.T @ x, x.T @ y)  # normal equations, independent of the study's lstsq
    assert np.allclose(c["w_star"], w_star)
    rows = parse_markdown_table(_text(r), "momentum")
    for m, row in enumerate(rows):
        assert _close(row["convex: final distance"], float(np.linalg.norm(c["traj"][m, -1] - w_star)), rel=1e-2)
        assert _close(row["net: final loss"], float(np.nanmean(r.data["net"]["loss"][m, :, -1])))


def test_sparsity_numbers(quick_results):
    r = quick_results["sparsity"]
    rows = parse_markdown_table(_text(r), "method")
    pr = r.data["pruning"]
    pruned = [row for row in rows if row["method"] == "magnitude pruning"]
    for level, row, acc in zip(r.settings["prune levels"], pruned, pr["accuracy"]):
        assert row["exact zeros"] == f"{100 * level:.1f}%"  # pruning hits its target exactly
        assert _close(row["test accuracy"], float(np.mean(acc)), abs_=6e-4)
    base = rows[0]
    assert _close(base["test accuracy"], float(np.mean(r.data["baseline"]["accuracy"])), abs_=6e-4)


def test_dropout_cost_numbers(quick_results):
    r = quick_results["dropout-cost"]
    rows = parse_markdown_table(_text(r), "variant")
    runs = r.data["runs"]
    assert _close(rows[0]["train step (us)"], runs[0.0]["step_seconds"] * 1e6, rel=1e-2)
    assert _close(rows[1]["train step (us)"], runs[0.5]["step_seconds"] * 1e6, rel=1e-2)
    assert _close(rows[1]["predict test set (us)"], runs[0.5]["predict_seconds"] * 1e6, rel=1e-2)
    assert _close(rows[1]["test accuracy"], float(np.mean(runs[0.5]["test_accuracy"])), abs_=6e-4)


def test_initialization_symmetry_and_accuracy(quick_results):
    r = quick_results["initialization"]
    rows = {(row["weights"], row["biases"]): row for row in parse_markdown_table(_text(r), "weights")}
    eq = rows[("equal (one He draw)", "zero")]
    # identical units get identical gradients: one distinct unit per layer, start and end
    assert eq["distinct units dense_0 (start -> end)"] == "1 -> 1"
    assert eq["distinct units dense_1"] == "1 -> 1"
    run = r.data["runs"][("He normal", "zero")]
    assert _close(rows[("He normal", "zero")]["test accuracy"], float(np.mean(run["test_accuracy"])), abs_=6e-4)


def test_playground_collapse_and_regression(quick_results):
    r = quick_results["playground-exercises"]
    d, text = r.data, _text(r)
    assert np.max(d["collapse"]["collapse_gap"]) < 1e-9
    rows = parse_markdown_table(text, "hidden activation (2-8-8-1)")
    for row in rows:
        assert _close(row["test R^2 (mean)"], float(np.mean(d["regression"][row["hidden activation (2-8-8-1)"]]["r2"])),
                      abs_=1e-3)
    xor = parse_markdown_table(text, "inputs and network")
    assert xor[1]["parameters"] == "2"  # one weight on x1x2 plus one bias


def test_image_classifier_numbers(quick_results):
    r = quick_results["image-classifier"]
    rows = {row["model"]: row for row in parse_markdown_table(_text(r), "model")}
    for name, run in r.data["dense"].items():
        assert _close(rows[name]["test accuracy"], float(np.mean(run["long_accuracy"])), abs_=6e-4)
    for name, run in r.data["cnn"].items():
        assert rows[f"CNN, {name}"]["parameters"] == f"{run['params']:,}"
