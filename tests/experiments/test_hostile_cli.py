"""``glassnet`` used carelessly (issue 10): failed runs exit non-zero, and unusable paths, damaged
stores and damaged weights files are one line (or a warning), never a traceback."""

from __future__ import annotations

import json

import numpy as np
import pytest

from expt_helpers import make_raw
from glassnet.cli import main
from glassnet.experiments import RunStore, to_toml


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code, err, *words):
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    for w in words:
        assert w in err, err


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A store with one 2-point x 2-seed sweep (weights and curves), built once."""
    import contextlib
    import io

    root = tmp_path_factory.mktemp("trained")
    cfg = root / "sweep.toml"
    cfg.write_text(to_toml(make_raw(sweep={"seeds": 2, "grid": {"training.weight_decay": [0.0, 0.01]}},
                                    training={"steps": 100})))
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["sweep", str(cfg), "--store", str(root / "store"), "--workers", "1", "--no-plot",
                     "--no-progress"]) == 0
    with RunStore(root / "store") as st:
        sweep = st.sweeps()[0]["id"]
        runs = [r["id"] for r in st.runs(sweep)]
    return root / "store", sweep, runs


@pytest.fixture
def store(trained, tmp_path):
    """A private copy of the trained store."""
    import shutil

    path, sweep, runs = trained
    shutil.copytree(path, tmp_path / "store")
    return tmp_path / "store", sweep, runs


# ----------------------------------------------------------------------------- exit codes
def _failing_worker(monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("the worker could not train this")

    monkeypatch.setattr("glassnet.experiments.worker.train_group", boom)


def test_a_train_whose_run_failed_exits_1(capsys, tmp_path, monkeypatch):
    _failing_worker(monkeypatch)
    code, out, err = run(capsys, "train", "--store", tmp_path / "s", "--set", "training.seeds=2", "--no-progress")
    assert code == 1, (out, err)
    assert sum(line.split()[1:2] == ["failed"] for line in out.splitlines()) == 2  # the table's rows
    assert err.count("\n") == 1 and err.startswith("error: 2 of 2 runs failed") and "could not train" in err


def test_a_sweep_with_failed_runs_exits_1(capsys, tmp_path, monkeypatch):
    _failing_worker(monkeypatch)
    cfg = tmp_path / "s.toml"
    cfg.write_text(to_toml(make_raw(sweep={"grid": {"model.hidden": [[2], [3], [4]]}})))
    code, out, err = run(capsys, "sweep", cfg, "--store", tmp_path / "s", "--workers", "1", "--no-progress",
                         "--no-plot")
    assert code == 1, (out, err)
    assert "3 failed" in out
    assert err.count("\n") == 1 and err.startswith("error: 3 of 3 runs failed")
    monkeypatch.undo()  # the same command again retries and succeeds
    code, out, err = run(capsys, "sweep", cfg, "--store", tmp_path / "s", "--workers", "1", "--no-progress",
                         "--no-plot")
    assert code == 0 and err == "", err


# ----------------------------------------------------------------------------- paths
def test_plot_into_a_folder_that_cannot_be_made_is_one_line(capsys, store, tmp_path):
    path, sweep, runs = store
    (tmp_path / "afile").write_text("x")
    for ident in (sweep, runs[0]):
        code, _, err = run(capsys, "plot", ident, "--store", path, "--out", tmp_path / "afile" / "figs")
        one_line_error(code, err, "cannot write the figure", "Not a directory")


def test_export_out_to_a_folder_or_a_missing_folder_is_one_line(capsys, store, tmp_path):
    path, _, _ = store
    (tmp_path / "afile").write_text("x")
    for out, words in ((tmp_path, "is a folder"), (tmp_path / "nope" / "runs.csv", "does not exist"),
                       (tmp_path / "afile" / "runs.csv", "is not a folder")):
        code, _, err = run(capsys, "runs", "export", "--store", path, "--out", out)
        one_line_error(code, err, "--out", words)
    code, _, err = run(capsys, "runs", "export", "--store", path, "--out", tmp_path / "runs.csv")
    assert code == 0 and (tmp_path / "runs.csv").read_text().startswith("run,sweep,status")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left


def test_explain_plot_never_creates_folders(capsys, tmp_path):
    target = tmp_path / "missing" / "deeper" / "elu.png"
    code, _, err = run(capsys, "explain", "activation", "elu", "--plot", target)
    one_line_error(code, err, "--plot", "does not exist", str(tmp_path / "missing" / "deeper"))
    assert not (tmp_path / "missing").exists()
    code, out, _ = run(capsys, "explain", "activation", "elu", "--plot", tmp_path / "elu.png")
    assert code == 0 and (tmp_path / "elu.png").is_file()


def test_unusable_stores_are_one_line_for_every_reading_command(capsys, store, tmp_path):
    good, sweep, runs = store
    (tmp_path / "folder.db").mkdir()
    (tmp_path / "notes.db").write_text("my notes\n" * 20)
    (tmp_path / "empty.db").touch()
    truncated = tmp_path / "truncated.db"
    truncated.write_bytes((good / "runs.db").read_bytes()[:8192])
    cases = {tmp_path / "folder.db": "is a folder", tmp_path / "notes.db": "not an SQLite database",
             tmp_path / "empty.db": "empty file (0 bytes)", truncated: "is damaged"}
    for path, words in cases.items():
        for argv in (["runs", "list"], ["runs", "list", sweep], ["runs", "show", runs[0]], ["plot", sweep],
                     ["runs", "export"]):
            code, _, err = run(capsys, *argv, "--store", path)
            if path == truncated and argv == ["runs", "list"]:
                continue  # the sweeps table may survive in the first pages
            one_line_error(code, err, "run store", words)
    assert (tmp_path / "empty.db").stat().st_size == 0
    code, _, err = run(capsys, "train", "--store", tmp_path / "empty.db", "--set", "training.steps=5")
    one_line_error(code, err, "empty file (0 bytes)")


def test_runs_show_takes_percent_and_underscore_literally(capsys, store):
    path, _, _ = store
    for ident in ("%", "_", "%%"):
        code, _, err = run(capsys, "runs", "show", ident, "--store", path)
        one_line_error(code, err, f"no sweep or run matches {ident!r}")


def test_workers_beyond_the_machine_are_refused(capsys, tmp_path):
    import os

    cfg = tmp_path / "s.toml"
    cfg.write_text(to_toml(make_raw(sweep={"grid": {"model.hidden": [[2], [3]]}})))
    cap = 4 * (os.cpu_count() or 1)
    code, _, err = run(capsys, "sweep", cfg, "--workers", cap + 1, "--dry-run")
    one_line_error(code, err, f"--workers must be at most {cap}", f"got {cap + 1}")
    code, out, _ = run(capsys, "sweep", cfg, "--workers", cap, "--dry-run")
    assert code == 0


# ----------------------------------------------------------------------------- weights files
def test_runs_show_flags_a_missing_or_damaged_weights_file(capsys, store):
    path, _, runs = store
    code, out, _ = run(capsys, "runs", "show", runs[0], "--store", path)
    assert code == 0 and "PROBLEM" not in out
    (path / "weights" / f"{runs[0]}.npz").unlink()
    code, out, _ = run(capsys, "runs", "show", runs[0], "--store", path)
    assert code == 0 and "PROBLEM: weights file" in out and "is missing" in out
    (path / "weights" / f"{runs[1]}.npz").write_bytes(b"junk")
    code, out, _ = run(capsys, "runs", "show", runs[1], "--store", path)
    assert "PROBLEM: weights file" in out and "is damaged" in out


def test_plot_reports_damaged_weights_and_draws_the_rest(capsys, store, tmp_path):
    path, sweep, runs = store
    with RunStore(path) as st:
        by_point = {}
        for r in st.runs(sweep):
            by_point.setdefault(r["params"]["training.weight_decay"], []).append(r["id"])
    first, second = sorted(by_point)
    junk = by_point[first][0]  # the first seed of the first point: the one drawn
    (path / "weights" / f"{junk}.npz").write_bytes(b"PK\x03\x04 not really a zip")
    gone = by_point[second][0]
    (path / "weights" / f"{gone}.npz").unlink()
    code, out, err = run(capsys, "plot", sweep, "--store", path, "--out", tmp_path / "figs", "--format", "svg")
    assert code == 0, err
    assert any(line.endswith(f"{sweep}_weights.svg") for line in out.split())
    warnings = err.splitlines()
    assert len(warnings) == 2 and all(w.startswith("warning: run ") for w in warnings)
    assert any(junk in w and "damaged" in w for w in warnings) and any(gone in w and "missing" in w for w in warnings)
    svg = (tmp_path / "figs" / f"{sweep}_weights.svg").read_text()
    assert "seed 1" in svg  # each point drawn from its other seed
    code, out, err = run(capsys, "plot", gone, "--store", path, "--out", tmp_path / "one")
    assert code == 0 and "missing" in err and f"{gone}_loss.png" in out


# ----------------------------------------------------------------------------- export
def test_export_json_has_no_infinity_or_nan(capsys, tmp_path):
    with RunStore(tmp_path / "s") as st:
        sweep = st.record_external("odd", [
            {"config": {"x": 1}, "params": {"training.weight_decay": float("inf")}, "status": "diverged",
             "metrics": {"loss": float("nan")},
             "curves": {"loss": (np.arange(4), np.array([1.0, 1e300, np.inf, np.nan]))}},
            {"config": {"x": 2}, "params": {"training.weight_decay": 0.5}, "metrics": {"loss": 0.25},
             "curves": {"loss": (np.arange(4), np.array([1.0, 0.5, -np.inf, 0.25]))}}])
    code, out, err = run(capsys, "runs", "export", sweep, "--format", "json", "--curves", "--store", tmp_path / "s")
    assert code == 0, err

    def refuse(name):
        raise AssertionError(f"not JSON: {name}")

    records = json.loads(out, parse_constant=refuse)
    assert records[0]["training.weight_decay"] is None and records[0]["loss"] is None
    assert records[0]["curves"]["loss"]["values"] == [1.0, 1e300, None, None]
    assert records[1]["curves"]["loss"]["values"] == [1.0, 0.5, None, 0.25]
