"""Study measurements as tables: ``gn.study(...).tables()`` / ``.table(name)`` give tidy pandas
DataFrames (dicts of NumPy columns without pandas), and the notebook display previews them."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import glassnet as gn
from glassnet import notebook
from glassnet.measurement_tables import measurement_tables

NAME = "dead-relu"              # the fastest study: a quick run measures in well under a second


@pytest.fixture(scope="module")
def result():
    """The quick run of ``NAME`` through ``gn.study``, without figures (measured once)."""
    return gn.study(NAME, quick=True, write=False)


def test_study_returns_a_study_result_with_tables(result):
    from glassnet.studies import StudyResult

    assert isinstance(result, StudyResult) and type(result).__name__ == "NotebookStudyResult"
    assert result.findings and result.data
    names = list(result.tables(as_frame=False))
    assert names[0] == "summary" and len(names) > 3
    assert notebook.with_tables(result) is result


def test_tables_are_the_measured_arrays_one_number_per_row(result):
    data = result.data
    t = result.table("w1_grid", as_frame=False)
    assert list(t) == ["axis0", "w1_grid", "w1_loss"]          # arrays of one shape side by side
    np.testing.assert_array_equal(t["w1_loss"], data["w1_loss"])
    np.testing.assert_array_equal(t["axis0"], np.arange(len(data["w1_grid"])))
    # an alike dict (groups = {"relu": {...}, "leaky_relu": {...}}) becomes a key column; a
    # per-configuration curve (configs, steps) becomes one row per (key, axis0, axis1)
    loss = result.table("groups:loss", as_frame=False)
    groups = data["groups"]
    assert list(loss)[:3] == ["groups", "axis0", "axis1"] and "loss" in loss
    assert len(loss["loss"]) == sum(g["loss"].size for g in groups.values())
    for key, g in groups.items():
        rows = loss["groups"] == key
        np.testing.assert_array_equal(loss["loss"][rows], g["loss"].reshape(-1))
        m, s = g["loss"].shape
        pick = rows & (loss["axis0"] == m - 1) & (loss["axis1"] == s - 1)
        assert loss["loss"][pick].tolist() == [g["loss"][m - 1, s - 1]]
    # nested dicts name their columns by path; a column one key lacks is NaN in its rows
    keys = result.table("groups:keys", as_frame=False)
    assert "grads0/dense_0.W" in keys and "dead0/dense_0" in keys
    lacking = [k for k, g in groups.items() if not g["dead0"]]
    assert lacking and np.isnan(keys["dead0/dense_0"][keys["groups"] == lacking[0]]).all()
    # the report's summary table, as written
    headers, rows = result.report.summary
    summary = result.table("summary", as_frame=False)
    assert list(summary) == headers and summary[headers[0]].tolist() == [r[0] for r in rows]


def test_tables_are_dataframes_with_pandas(result):
    pd = pytest.importorskip("pandas")
    frames = result.tables()
    assert all(isinstance(f, pd.DataFrame) for f in frames.values())
    loss = result.table("groups:loss")
    relu = loss[loss["groups"] == "relu"].pivot(index="axis1", columns="axis0", values="loss")
    np.testing.assert_array_equal(relu.to_numpy().T, result.data["groups"]["relu"]["loss"])


def test_without_pandas_tables_are_dicts_of_arrays(result, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)           # "import pandas" now fails
    tables = result.tables()
    assert all(isinstance(t, dict) and all(isinstance(c, np.ndarray) for c in t.values())
               for t in tables.values())
    with pytest.raises(gn.GlassnetError, match="needs pandas"):
        result.tables(as_frame=True)


def test_unknown_table_lists_the_valid_names(result):
    with pytest.raises(gn.GlassnetError, match="no table 'nope'; its tables: summary, "):
        result.table("nope")


def test_study_html_shows_the_summary_and_previews_every_table(result):
    html = result._repr_html_()
    names = [n for n in result.tables(as_frame=False) if n != "summary"]
    assert "<h4>Summary</h4>" in html and "<h4>Measurements</h4>" in html
    assert html.count("<details>") == len(names)
    for n in names:
        assert f"<code>{n}</code>" in html
    assert "result.table(name)" in html


def test_measurement_tables_rules():
    data = {"runs": {("relu", 0.1): {"loss": np.arange(6.0).reshape(2, 3), "status": ["ok", "nan"],
                                     "extra": {"n": 3}},
                     ("tanh", 0.1): {"loss": np.zeros((1, 3)), "status": ["ok"], "extra": {"n": 4}}},
            "pairs": [{"d": 1.0}, {"d": 2.0}],
            "big": np.zeros(50), "seconds": 1.5, "label": "x", "nothing": None}
    tables, skipped = measurement_tables(data, max_cells=20)
    assert set(tables) == {"runs:loss", "runs:status", "runs:extra/n", "pairs", "scalars"}
    loss = tables["runs:loss"]
    assert list(loss) == ["runs[0]", "runs[1]", "axis0", "axis1", "loss"]    # a tuple key: two columns
    assert loss["runs[0]"].tolist() == ["relu"] * 6 + ["tanh"] * 3
    assert loss["loss"].tolist() == [0, 1, 2, 3, 4, 5, 0, 0, 0]
    assert tables["runs:status"]["status"].tolist() == ["ok", "nan", "ok"]
    assert tables["runs:extra/n"]["extra/n"].tolist() == [3, 4]
    assert tables["pairs"]["pairs"].tolist() == [0, 1] and tables["pairs"]["d"].tolist() == [1.0, 2.0]
    assert {k: v.tolist() for k, v in tables["scalars"].items()} == {"seconds": [1.5], "label": ["x"]}
    assert skipped == ["big (50,)"]
