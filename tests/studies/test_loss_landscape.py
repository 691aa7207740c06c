"""Study ``loss-landscape``: its quick run's report quotes numbers recomputed here from the raw
measurements, its networks are in the run store, and its findings change with the numbers
(``analyze`` on hand-made measurements, no training)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from glassnet import landscape as L
from glassnet.experiments.store import RunStore
from glassnet.studies import get_study
from glassnet.studies.report import fmt, parse_markdown_table

STUDY = get_study("loss-landscape")


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    root = tmp_path_factory.mktemp("loss-landscape")
    return STUDY.run(quick=True, out=root / "out", store=root / "runs.db"), root / "runs.db"


def _close(cell: str, value: float, rel: float = 6e-3) -> bool:
    return abs(float(cell.replace(",", "")) - value) <= rel * abs(value) + 1e-12


@pytest.mark.slow  # one quick run of the study: ~6 s measuring, ~12 s with figures on a busy machine
def test_quick_report_numbers_come_from_the_measurements(quick):
    r, _ = quick
    d, s = r.data, r.settings
    text = r.report_path.read_text(encoding="utf-8")
    assert r.seconds < 30 and len(r.findings) >= 4
    rows = {row["networks / path"]: row for row in parse_markdown_table(text, "networks / path")}
    for key, label in (("small", f"batch {s['small batch']}"), ("full", "full batch")):
        assert _close(rows[label]["training loss"], float(np.mean(d[key]["loss"])))
        # the rise, recomputed from the stored 1-D slices: loss at +-radius minus the center
        sl = d[key]["slices"]
        a = d[key]["alphas"]
        idx = [int(np.argmin(np.abs(a - v))) for v in (-s["radius"], 0.0, s["radius"])]
        rise = float(np.mean((sl[..., idx[0]] + sl[..., idx[2]]) / 2 - sl[..., idx[1]]))
        assert _close(rows[label][f"loss rise at {fmt(s['radius'])}"], rise)
    p = d["paths"]
    for key, label in (("raw", "path, not aligned"), ("activations", "path, aligned on activations")):
        bar = np.mean([L.barrier(p["ts"], row) for row in p[key]])
        assert _close(rows[label]["barrier"], float(bar))
    # every path starts and ends at the same two networks, aligned or not
    np.testing.assert_allclose(p["activations"][:, [0, -1]], p["raw"][:, [0, -1]], rtol=1e-4)
    for f in re.findall(r"\]\(([^)]+\.png)\)", text):
        assert (r.out / f).stat().st_size < 150_000


@pytest.mark.slow
def test_quick_networks_are_recorded(quick):
    r, db = quick
    with RunStore(db, create=False) as st:
        runs = st.runs(r.extra["sweep_id"])
    S = r.settings["seeds"]
    assert len(runs) == 2 * S
    assert {run["config"]["training"]["batch_size"] for run in runs} == {8, "full"}
    assert all(run["params"]["re_runnable"] for run in runs)


def _fake(rise_small=0.3, rise_full=0.6, loss_small=0.05, loss_full=0.05, raw=0.5, act=0.001, wts=0.02):
    """Hand-made measurements in the shape ``measure`` returns (3 seeds, 4 directions)."""
    rng = np.random.default_rng(0)
    S, D, A = 3, 4, 5
    alphas = np.linspace(-1, 1, A)
    g = np.linspace(-1, 1, 5)
    plane = np.add.outer(g ** 2, g ** 2) + 0.05

    def part(loss, rise):
        return {"batch": 8, "steps": 10, "loss": np.full(S, loss), "accuracy": np.full(S, 0.9),
                "curve_steps": np.arange(3), "curves": np.ones((S, 3)), "status": np.array(["completed"] * S),
                "rise": rise + 0.01 * rng.standard_normal((S, D)), "width": np.full((S, D), 0.5 / (1 + rise)),
                "alphas": alphas, "slices": np.ones((S, D, A)), "plane": plane, "plane_axis": g, "plane_models": 25,
                "plane_chunks": 1, "plane_seconds": 0.01, "slices_seconds": 0.01}

    ts = np.linspace(0, 1, 5)
    bump = np.sin(np.pi * ts)

    def paths(h):
        return np.array([0.05 + h * bump] * 3)

    return {"small": part(loss_small, rise_small), "full": part(loss_full, rise_full),
            "paths": {"ts": ts, "pairs": [(0, 1), (0, 2), (1, 2)], "raw": paths(raw), "weights": paths(wts),
                      "activations": paths(act),
                      "similarity": {"weights": np.full((3, 2), 0.7), "activations": np.full((3, 2), 0.8)}}}


def _report(data):
    s = STUDY.settings(True, 3)
    return STUDY.make_report(data, s, None, True, 0.0)


def test_claims_follow_the_numbers():
    r = _report(_fake())
    assert r.claims == {"full_batch_sharper": True, "small_batch_wider": True, "alignment_removes_barrier": True,
                        "activations_match_better": True, "trained_network_lowest": True}
    assert "2x sharper than the batch 8 minima, as Keskar et al." in r.findings[0]
    assert r.numbers["full_batch_sharper.rise_full"] == pytest.approx(0.6, abs=0.02)
    r = _report(_fake(rise_small=0.6, rise_full=0.3))
    assert not r.claims["full_batch_sharper"] and "the opposite of Keskar" in r.findings[0]
    r = _report(_fake(rise_small=0.45, rise_full=0.452))
    assert not r.claims["full_batch_sharper"] and "No clear difference" in r.findings[0]
    r = _report(_fake(loss_full=0.5))
    assert not r.claims["full_batch_sharper"] and "more than a factor 2 apart" in r.findings[0]
    r = _report(_fake(act=0.2))
    assert not r.claims["alignment_removes_barrier"] and "60.0% lower, but not below 0.0125" in r.findings[2]
    r = _report(_fake(act=0.6, wts=0.3))
    assert not r.claims["alignment_removes_barrier"] and "(no lower)" in r.findings[2]
    assert not r.claims["activations_match_better"]
    d = _fake()
    g = d["small"]["plane_axis"]
    d["small"]["plane"] = np.add.outer((g - 0.5) ** 2, g ** 2)   # its lowest point away from the center
    r = _report(d)
    assert not r.claims["trained_network_lowest"] and "near, not at" in r.findings[4]
