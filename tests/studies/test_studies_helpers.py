"""The report helpers and the solution matcher, on hand-worked cases."""

from __future__ import annotations

import numpy as np
import pytest

from glassnet.errors import GlassnetError
from glassnet.studies import get_study, run_study
from glassnet.studies.common import by_config, first_below, grid, steps_stats
from glassnet.studies.report import (Report, compare_phrase, fmt, markdown_table, parse_markdown_table, pct,
                                     ratio_phrase, step_text)
from glassnet.studies.solutions import match_hidden, random_baseline


def test_fmt_and_pct():
    assert fmt(123000) == "123,000"
    assert fmt(0.43687) == "0.437"
    assert fmt(1e-4) == "1.00e-04"
    assert fmt(None) == "—" and fmt(float("nan")) == "—"
    assert pct(0.257) == "25.7%"
    assert step_text(None, 400_000) == "not within 400,000 steps"
    assert step_text(123_000) == "step 123,000"


@pytest.mark.parametrize("a, b, expect", [(369_000, 123_000, "3x later"), (100, 400, "4x earlier"),
                                          (100, 102, "same"), (2_000, 100, "20x later")])
def test_ratio_phrase(a, b, expect):
    assert ratio_phrase(a, b, "later", "earlier", "same") == expect


def test_compare_phrase():
    assert compare_phrase(1.0, 0.5, "up", "down", "flat") == "up"
    assert compare_phrase(0.5, 1.0, "up", "down", "flat") == "down"
    assert compare_phrase(1.0, 1.01, "up", "down", "flat") == "flat"


def test_markdown_table_round_trip():
    text = "intro\n\n" + markdown_table(["a", "b"], [["x", 0.5], ["y", 1234]]) + "\n\nafter"
    assert parse_markdown_table(text, "a") == [{"a": "x", "b": "0.5"}, {"a": "y", "b": "1,234"}]
    with pytest.raises(KeyError):
        parse_markdown_table(text, "zzz")
    piped = markdown_table(["k", "|w| <= 1e-3"], [["a|b", 1]])
    assert parse_markdown_table(piped, "k") == [{"k": "a|b", "|w| <= 1e-3": "1"}]


def test_report_without_folder_draws_nothing():
    rep = Report("t", out=None)
    rep.figure("f.png", lambda fig: 1 / 0, "caption")  # never called
    assert "![caption](f.png)" in rep.render() and rep.figures == []


def test_grid_and_by_config():
    vals, seeds = grid([0.1, 0.2], 3)
    assert vals == [0.1] * 3 + [0.2] * 3 and seeds == [0, 1, 2, 0, 1, 2]
    a = np.arange(6)
    assert by_config(a, 2).tolist() == [[0, 1, 2], [3, 4, 5]]


def test_first_below_and_steps_stats():
    steps = np.array([0, 10, 20, 30])
    assert first_below(steps, [1.0, 0.5, 0.04, 0.01], 0.05) == 20
    assert first_below(steps, [1.0, 0.5, 0.4, 0.1], 0.05) is None
    assert steps_stats([10, 20, None]) == (20.0, 2)
    assert steps_stats([10, None, None]) == (None, 1)  # the median seed never got there


def test_match_hidden_finds_a_permuted_flipped_copy():
    """A permuted and flipped copy computes the same function and scores r = 1."""
    rng = np.random.default_rng(0)
    W1, b1, W2, b2 = rng.normal(size=(8, 3)), rng.normal(size=3), rng.normal(size=(3, 8)), rng.normal(size=8)
    perm, signs = [2, 0, 1], np.array([1.0, -1.0, 1.0])
    W1c, b1c = W1[:, perm] * signs, b1[perm] * signs
    W2c = W2[perm] * signs[:, None]
    b2c = b2 + (W2[perm] * (signs[:, None] < 0)).sum(axis=0)  # sigmoid(-z) = 1 - sigmoid(z)
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    x = np.eye(8)
    assert np.allclose(sig(sig(x @ W1 + b1) @ W2 + b2), sig(sig(x @ W1c + b1c) @ W2c + b2c))
    r, _, _ = match_hidden(W1, W2, W1c, W2c)
    assert r == pytest.approx(1.0)
    assert match_hidden(W1, W2, W1c, W2c, flips=False)[0] < 1 - 1e-6
    assert random_baseline(8, 3, 8, pairs=20) < 0.6


def test_run_study_validates_seeds_and_names():
    with pytest.raises(GlassnetError, match="seeds"):
        run_study("dead-relu", quick=True, seeds=-1, write=False)
    with pytest.raises(GlassnetError, match="valid names: .*autoencoder-838"):
        get_study("autoencoder838x")


def test_run_without_writing_returns_results(tmp_path):
    r = run_study("dead-relu", quick=True, out=tmp_path / "x", write=False)
    assert r.report_path is None and not (tmp_path / "x").exists()
    assert r.findings and r.numbers


def test_a_claim_is_written_only_when_its_premise_holds():
    from glassnet.studies.report import Report

    r = Report("t")
    assert r.claim("fast", 3 < 5, "A is faster (3 vs 5 s).", "A is not faster (3 vs 5 s).", {"a": 3, "b": 5})
    assert not r.claim("slow", 7 < 5, "B is faster.", "B is slower (7 vs 5 s).", seed="B is faster")
    assert r.findings == ["A is faster (3 vs 5 s).",
                          "B is slower (7 vs 5 s). (The seed says B is faster; this measurement contradicts it.)"]
    assert r.claims == {"fast": True, "slow": False} and r.numbers["fast.a"] == 3.0
