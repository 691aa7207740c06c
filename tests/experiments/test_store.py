"""The SQLite run store: compact curves, lookups, concurrent writers, Ctrl-C and resume."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from expt_helpers import make_raw
from glassnet.errors import GlassnetError
from glassnet.experiments import RunStore, run_sweep, validate
from glassnet.experiments.store import FINISHED

WRITER = textwrap.dedent("""
    import sys, numpy as np
    from glassnet.experiments.store import RunStore
    from glassnet.experiments.planner import Plan, RunSpec
    path, tag, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    st = RunStore(path)
    runs = [RunSpec(i, {"i": i}, f"{tag}{i}", {"tag": tag}, i, id=f"{tag}-{i:04d}") for i in range(n)]
    st.add_sweep(Plan("shared", "shared", ["tag"], runs, {}))     # both writers upsert one sweep row
    for r in runs:                                                # one transaction per result
        st.write_result({"job": tag, "runs": [{"id": r.id, "status": "completed", "metrics": {"i": r.index},
                         "curves": {"loss": (np.arange(20), np.arange(20.0) + r.index)}}]})
""")


def test_two_processes_writing_one_store_lose_nothing(tmp_path):
    n = 150
    path = tmp_path / "shared.db"
    RunStore(path).close()  # create the schema first, as a sweep's driver would
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), tag, str(n)]) for tag in ("a", "b")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    with RunStore(path) as st:
        runs = st.runs("shared")
        assert len(runs) == 2 * n
        assert all(r["status"] == "completed" for r in runs)
        assert sorted(r["metrics"]["i"] for r in runs) == sorted(list(range(n)) * 2)
        for r in runs[:: 37]:
            steps, vals = st.curves(r["id"])["loss"]
            np.testing.assert_array_equal(vals, np.arange(20.0) + r["metrics"]["i"])
        assert st.db.execute("SELECT COUNT(*) FROM curves").fetchone()[0] == 2 * n
        assert st.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_curves_are_compact_and_exact(store):
    from glassnet.experiments.planner import Plan, RunSpec

    store.add_sweep(Plan("s1", "s", [], [RunSpec(0, {}, "h", {}, 0, id="r1"), RunSpec(1, {}, "h2", {}, 1, id="r2")], {}))
    steps = np.array([0, 10, 20, 2**40])
    small = np.array([1.5, 0.25, np.nan, 1e-3])
    huge = np.array([1.0, 1e30, 1e200, np.inf])  # a diverging curve overflows float32
    store.write_result({"job": "j", "runs": [
        {"id": "r1", "status": "completed", "curves": {"loss": (steps, small)}},
        {"id": "r2", "status": "diverged", "curves": {"loss": (steps, huge)}}]})
    s, v = store.curves("r1")["loss"]
    assert s.dtype == np.int64 and v.dtype == np.float32
    np.testing.assert_array_equal(s, steps)
    np.testing.assert_array_equal(v, small.astype(np.float32))
    blob = store.db.execute("SELECT vals FROM curves WHERE run_id = 'r1'").fetchone()[0]
    assert len(blob) == 4 * len(small)
    _, v2 = store.curves("r2")["loss"]
    np.testing.assert_array_equal(v2, huge)


def test_resolve_ids_by_prefix(store):
    from glassnet.experiments.planner import Plan, RunSpec

    store.add_sweep(Plan("abc123", "s", [], [RunSpec(0, {}, "h", {}, 0, id="abd999"),
                                             RunSpec(1, {}, "h2", {}, 1, id="ffe000")], {}))
    assert store.resolve("abc") == ("sweep", "abc123")
    assert store.resolve("ff") == ("run", "ffe000")
    with pytest.raises(GlassnetError, match="ambiguous"):
        store.resolve("ab")
    with pytest.raises(GlassnetError, match="no sweep or run matches 'zz'"):
        store.resolve("zz")


class _InterruptAfter:
    """A mirror that presses Ctrl-C after ``n`` jobs are stored."""

    def __init__(self, n):
        self.n = n

    def log_job(self, store, result):
        self.n -= 1
        if self.n == 0:
            raise KeyboardInterrupt


def test_ctrl_c_keeps_finished_runs_and_resume_trains_only_the_rest(store):
    raw = make_raw(sweep={"seeds": 2, "grid": {"model.hidden": [[2], [3], [4]]}})
    cfg = validate(raw)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(cfg, store, workers=1, progress=False, echo=None, mirrors=[_InterruptAfter(1)])
    runs = store.runs()
    done = {r["id"]: r["finished"] for r in runs if r["status"] in FINISHED}
    assert len(runs) == 6 and len(done) == 2  # the first group's two seeds
    assert store.sweeps()[0]["status"] == "interrupted"
    report = run_sweep(cfg, store, workers=1, progress=False, echo=None)
    assert sorted(report.skipped) == sorted(done) and len(report.trained) == 4
    assert not set(report.trained) & set(done)
    after = {r["id"]: r for r in store.runs()}
    assert all(r["status"] == "completed" for r in after.values())
    assert all(after[i]["finished"] == t for i, t in done.items())  # not trained again
    again = run_sweep(cfg, store, workers=1, progress=False, echo=None)
    assert again.trained == [] and len(again.skipped) == 6


def test_diverged_runs_are_finished_and_fresh_trains_again(store):
    raw = make_raw(model={"hidden": [], "output_activation": "identity", "init": "zeros", "dtype": "float64"},
                   training={"loss": "mse", "steps": 200, "log_every": 1},
                   sweep={"grid": {"training.optimizer.lr": [0.01, 80.0]}})
    cfg = validate(raw)
    first = run_sweep(cfg, store, workers=1, progress=False, echo=None)
    status = {r["params"]["training.optimizer.lr"]: r for r in store.runs()}
    assert status[80.0]["status"] == "diverged" and status[0.01]["status"] == "completed"
    steps, _ = store.curves(status[80.0]["id"])["loss"]
    assert steps[-1] == status[80.0]["stopped_at"] < 199
    assert run_sweep(cfg, store, workers=1, progress=False, echo=None).trained == []
    fresh = run_sweep(cfg, store, workers=1, progress=False, echo=None, fresh=True)
    assert sorted(fresh.trained) == sorted(first.trained)
