"""``glassnet train | sweep | runs | plot`` end to end, in this process (``glassnet.cli.main``)."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from expt_helpers import make_raw
from glassnet.cli import main
from glassnet.experiments import to_toml
from glassnet.model import Sequential


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def store(tmp_path):
    return str(tmp_path / "store")


def test_train_default_then_show_config_reruns_exactly(capsys, tmp_path, store):
    code, out, _ = run(capsys, "train", "--store", store, "--set", "training.steps=400", "--set", "training.seeds=2",
                       "--no-progress")
    assert code == 0 and out.count("completed") == 2
    code, out, _ = run(capsys, "runs", "list", "--store", store, "--status", "completed")
    rid = out.splitlines()[2].split()[0]
    code, toml_text, _ = run(capsys, "runs", "show", rid, "--config", "--store", store)
    assert code == 0 and "[training.optimizer]" in toml_text and "\nseeds =" not in toml_text
    cfg = tmp_path / "again.toml"
    cfg.write_text(toml_text)
    code, out, _ = run(capsys, "train", str(cfg), "--store", str(tmp_path / "other"), "--no-progress")
    assert code == 0
    rid2 = [line.split()[0] for line in out.splitlines() if "completed" in line][0]
    w1 = Sequential.load(tmp_path / "store" / "weights" / f"{rid}.npz").params
    w2 = Sequential.load(tmp_path / "other" / "weights" / f"{rid2}.npz").params
    assert w1.keys() == w2.keys()
    for k in w1:
        np.testing.assert_array_equal(w1[k], w2[k])
    # the same command again trains nothing
    code, out, _ = run(capsys, "train", str(cfg), "--store", str(tmp_path / "other"), "--no-progress")
    assert "already trained" in out


def test_sweep_runs_list_show_compare_export_plot(capsys, tmp_path, store):
    cfg = tmp_path / "sweep.toml"
    cfg.write_text(to_toml(make_raw(sweep={"seeds": 2, "grid": {"training.weight_decay": [0.0, 0.01]}})))
    code, out, _ = run(capsys, "sweep", str(cfg), "--store", store, "--workers", "1", "--no-progress",
                       "--format", "svg", "--set", "training.steps=200")
    assert code == 0, out
    assert "4 runs, 0 already finished, 4 to train in 1 job" in out
    figures = [line.split("figure: ")[1] for line in out.splitlines() if line.startswith("figure: ")]
    assert any(f.endswith("_loss.svg") for f in figures) and any(f.endswith("_weights.svg") for f in figures)
    assert open(figures[0]).read(200).lstrip().startswith("<?xml")
    sweep_id = out.split("sweep ")[1].split()[0]

    code, out, _ = run(capsys, "runs", "list", "--store", store)
    assert sweep_id in out and "tiny" in out
    code, out, _ = run(capsys, "runs", "list", sweep_id[:4], "--store", store)
    assert out.count("completed") == 4 and "λ" in out
    code, out, _ = run(capsys, "runs", "compare", sweep_id, "--store", store)
    assert "train_loss (mean ± sd)" in out and "2 completed" in out

    code, out, _ = run(capsys, "runs", "export", sweep_id, "--format", "csv", "--store", store)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 4 and {r["training.weight_decay"] for r in rows} == {"0.0", "0.01"}
    out_json = tmp_path / "runs.json"
    code, _, err = run(capsys, "runs", "export", "--format", "json", "--curves", "--out", str(out_json), "--store", store)
    recs = json.loads(out_json.read_text())
    assert len(recs) == 4 and recs[0]["curves"]["loss"]["steps"] == list(range(0, 200, 10)) + [199] and "config" in recs[0]

    code, out, _ = run(capsys, "plot", recs[0]["run"], "--store", store, "--out", str(tmp_path / "figs"))
    pngs = out.split()
    assert code == 0 and len(pngs) == 3
    for p in pngs:
        assert open(p, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_bad_config_is_one_line_and_exit_2(capsys, tmp_path, store):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(to_toml(make_raw(training={"optimizer": {"name": "sgd", "lr": -0.5}})))
    code, out, err = run(capsys, "sweep", str(cfg), "--store", store)
    assert code == 2
    assert err.strip() == f"error: {cfg}: training.optimizer.lr = -0.5: lr must be >= 0, got -0.5"
    code, _, err = run(capsys, "train", "--set", "training.batch_size=lots", "--store", store)
    assert code == 2 and err.count("\n") == 1 and 'training.batch_size = "lots"' in err
    code, _, err = run(capsys, "runs", "show", "nope", "--store", store)
    assert code == 2 and "no run store" in err


def test_dry_run_prints_the_plan(capsys, tmp_path):
    cfg = tmp_path / "s.toml"
    cfg.write_text(to_toml(make_raw(sweep={"seeds": 5, "grid": {"training.batch_size": [1, 8],
                                                                "training.optimizer.lr": [0.1, 1.0]}})))
    code, out, _ = run(capsys, "sweep", str(cfg), "--dry-run", "--workers", "2")
    assert code == 0 and "20 runs" in out and "2 groups, 2 jobs" in out
