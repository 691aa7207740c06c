"""A worker killed mid-sweep: every finished run stays stored, and the same command resumes
without training any finished run again."""

from __future__ import annotations

import os
import subprocess
import sys

from expt_helpers import make_raw
from glassnet.experiments import RunStore, expand, to_toml, validate
from glassnet.experiments.store import FINISHED
from glassnet.experiments.worker import KILL_ENV


def _sweep(cfg_path, store, env=None):
    cmd = [sys.executable, "-m", "glassnet.cli", "sweep", str(cfg_path), "--workers", "2", "--store", str(store),
           "--no-plot", "--no-progress"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=240, env={**os.environ, **(env or {})})


def test_killed_worker_loses_no_finished_run_and_resume_repeats_none(tmp_path):
    raw = make_raw(sweep={"seeds": 2, "grid": {"model.hidden": [[2], [3], [4], [5]]}}, training={"steps": 1500})
    cfg_path = tmp_path / "sweep.toml"
    cfg_path.write_text(to_toml(raw))
    plan = expand(validate(raw))
    jobs = plan.jobs(2)
    assert len(jobs) == 4
    doomed = jobs[-1].runs[0].id  # the last job: its worker dies after training, before returning

    first = _sweep(cfg_path, tmp_path / "store", {KILL_ENV: doomed})
    assert first.returncode == 2, first.stderr
    last_line = first.stderr.strip().splitlines()[-1]
    assert last_line.startswith(f"error: sweep {plan.sweep_id}: ") and "run the same command again" in last_line

    with RunStore(tmp_path / "store") as st:
        runs = {r["id"]: r for r in st.runs(plan.sweep_id)}
        done = {i: r["finished"] for i, r in runs.items() if r["status"] in FINISHED}
        assert len(runs) == 8
        assert 2 <= len(done) <= 6  # the first jobs finished and were stored; the doomed one was not
        assert doomed not in done
        assert {r["status"] for i, r in runs.items() if i not in done} == {"failed"}
        assert st.sweep(plan.sweep_id)["status"] == "incomplete"

    second = _sweep(cfg_path, tmp_path / "store")
    assert second.returncode == 0, second.stderr
    assert f"8 runs, {len(done)} already finished, {8 - len(done)} to train" in second.stdout
    with RunStore(tmp_path / "store") as st:
        after = {r["id"]: r for r in st.runs(plan.sweep_id)}
        assert all(r["status"] == "completed" for r in after.values())
        assert all(after[i]["finished"] == t for i, t in done.items())  # none trained twice
        assert st.sweep(plan.sweep_id)["status"] == "done"
