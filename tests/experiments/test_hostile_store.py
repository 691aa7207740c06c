"""The run store under hostile or careless use (issue 10): weights files written atomically and
never rewritten once finished, damaged weights reported and retrained, a damaged or unusable
store path refused in one line, runs claimed so two drivers never train one run twice, ids taken
literally (no LIKE wildcards)."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from expt_helpers import make_raw
from glassnet.errors import GlassnetError
from glassnet.experiments import RunStore, expand, run_sweep, to_toml, validate
from glassnet.experiments.store import FINISHED
from glassnet.experiments.worker import run_job
from glassnet.model import Sequential


def _plan(steps=300, seeds=2):
    return expand(validate(make_raw(training={"steps": steps, "seeds": seeds})))


def _weights(path):
    return dict(Sequential.load(path).params)


# ----------------------------------------------------------------------------- weights files
KILLED_WRITER = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    sys.path.insert(0, sys.argv[2])
    from expt_helpers import make_raw
    from glassnet.experiments import RunStore, expand, validate
    from glassnet.experiments.worker import run_job

    plan = expand(validate(make_raw(training={"steps": 300, "seeds": 2})))
    st = RunStore(sys.argv[1])
    st.add_sweep(plan)
    st.finished_ids(plan.sweep_id)
    result = run_job(plan.jobs(1)[0])
    real = np.savez

    def dying_savez(file, **arrays):  # half a file, then the process is killed
        real(file, **arrays)
        if hasattr(file, "fileno"):
            file.flush()
            os.ftruncate(file.fileno(), os.fstat(file.fileno()).st_size // 2)
        else:
            os.truncate(file, os.path.getsize(file) // 2)
        os.kill(os.getpid(), signal.SIGKILL)

    np.savez = dying_savez
    st.write_result(result, {r.id: r.seed for r in plan.runs})
""")


def test_a_kill_while_writing_weights_leaves_no_partial_file_and_the_run_is_trained_again(tmp_path):
    proc = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(tmp_path / "store"),
                           os.path.dirname(__file__)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    plan = _plan()
    weights = tmp_path / "store" / "weights"
    assert not [p.name for p in weights.glob("*.npz") if not p.name.startswith(".")]  # no half file in place
    with RunStore(tmp_path / "store") as st:
        assert all(r["status"] not in FINISHED for r in st.runs(plan.sweep_id))  # the row was not committed
        report = run_sweep(validate(make_raw(training={"steps": 300, "seeds": 2})), st, workers=1, progress=False,
                           echo=None)
        assert sorted(report.trained) == sorted(r.id for r in plan.runs)  # the killed driver's claims are taken
        for r in plan.runs:
            assert st.weights_problem(r.id) is None
            _weights(st.weights_path(r.id))


def test_a_finished_runs_weights_file_is_never_written_again(store):
    plan = _plan()
    store.add_sweep(plan)
    result = run_job(plan.jobs(1)[0])
    seeds = {r.id: r.seed for r in plan.runs}
    store.write_result(result, seeds)
    rid = plan.runs[0].id
    path = store.weights_path(rid)
    before, stat = path.read_bytes(), path.stat()
    row = store.run(rid)
    other = {**result, "runs": [{**r, "weights": {k: v + 1.0 for k, v in r["weights"].items()},
                                 "metrics": {"loss": -1.0}} for r in result["runs"]]}
    store.write_result(other, seeds)  # a second driver's result for the same runs
    after = path.stat()
    assert path.read_bytes() == before
    assert (after.st_ino, after.st_mtime_ns) == (stat.st_ino, stat.st_mtime_ns)
    assert store.run(rid)["metrics"] == row["metrics"]


@pytest.mark.parametrize("damage", ["truncate", "delete", "junk"])
def test_damaged_weights_are_reported_and_the_run_is_trained_again(store, damage):
    cfg = validate(make_raw(training={"steps": 300, "seeds": 3}))
    first = run_sweep(cfg, store, workers=1, progress=False, echo=None)
    rid = sorted(first.trained)[1]
    path = store.weights_path(rid)
    original = _weights(path)
    if damage == "truncate":  # what a kill during an in-place write left behind
        with open(path, "r+b") as fh:
            fh.truncate(path.stat().st_size // 2)
    elif damage == "delete":
        path.unlink()
    else:
        path.write_bytes(b"not a zip file at all")
    problem = store.weights_problem(rid)
    assert problem is not None and str(path) in problem and ("missing" in problem or "damaged" in problem)
    with pytest.raises(GlassnetError, match="model file|not a glassnet model"):
        Sequential.load(path)
    again = run_sweep(cfg, store, workers=1, progress=False, echo=None)
    assert again.trained == [rid] and store.damaged.keys() == {rid}
    assert store.run(rid)["status"] == "completed" and store.weights_problem(rid) is None
    retrained = _weights(path)
    for k in original:
        np.testing.assert_array_equal(retrained[k], original[k])
    assert run_sweep(cfg, store, workers=1, progress=False, echo=None).trained == []


# ----------------------------------------------------------------------------- store paths
def _filled_store(path, n=120):
    from glassnet.experiments.planner import Plan, RunSpec

    with RunStore(path) as st:
        runs = [RunSpec(i, {"i": i}, f"h{i}", {"i": i}, i, id=f"r{i:04d}") for i in range(n)]
        st.add_sweep(Plan("s1", "s", ["i"], runs, {}))
        for r in runs:
            st.write_result({"job": "j", "runs": [{"id": r.id, "status": "completed", "metrics": {"i": r.index},
                                                   "curves": {"loss": (np.arange(200), np.arange(200.0))}}]})


def _use(path, create=False):
    with RunStore(path, create=create) as st:
        st.sweeps()
        st.runs()


@pytest.mark.parametrize("create", [False, True])
def test_unusable_store_paths_are_one_line(tmp_path, create):
    folder = tmp_path / "folder.db"
    folder.mkdir()
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "runs.db").mkdir()
    text = tmp_path / "notes.db"
    text.write_text("these are my notes, not a database\n" * 10)
    empty = tmp_path / "empty.db"
    empty.touch()
    afile = tmp_path / "afile"
    afile.write_text("x")
    cases = {folder: "is a folder", tmp_path / "store": "is a folder", text: "not an SQLite database",
             empty: r"empty file \(0 bytes\)", afile / "runs.db": "is a file, not a folder",
             afile / "sub" / "x.db": "is a file, not a folder"}
    for path, words in cases.items():
        with pytest.raises(GlassnetError, match=words) as info:
            _use(path, create)
        assert "\n" not in str(info.value) and "run store" in str(info.value)
    assert empty.stat().st_size == 0  # not silently made into a new store


def test_another_programs_sqlite_file_is_not_taken_for_a_store(tmp_path):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE notes (text TEXT)")
    before = path.read_bytes()
    with pytest.raises(GlassnetError, match="not a glassnet run store .its tables: notes"):
        _use(path)
    assert path.read_bytes() == before


def test_a_truncated_database_is_one_line(tmp_path):
    path = tmp_path / "runs.db"
    _filled_store(path)
    size = path.stat().st_size
    assert size > 5 * 4096
    with open(path, "r+b") as fh:
        fh.truncate(2 * 4096)
    with pytest.raises(GlassnetError, match=r"is damaged \(.*malformed") as info:
        _use(path)
    assert "\n" not in str(info.value)


def test_a_store_sqlite_opens_read_only_reads_and_refuses_writes_in_one_line(tmp_path, monkeypatch):
    path = tmp_path / "runs.db"
    _filled_store(path, n=3)
    real = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda p, **kw: real(f"file:{p}?mode=ro", uri=True, **kw))
    with RunStore(path, create=False) as st:
        assert len(st.runs()) == 3
        with pytest.raises(GlassnetError, match="cannot write .*readonly.* must be writable") as info:
            st.mark(["r0000"], "failed")
    assert "\n" not in str(info.value)


CAPS = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-dac_override,-dac_read_search"]


@pytest.mark.skipif(not shutil.which("setpriv") or os.geteuid() != 0, reason="needs root and setpriv")
def test_a_store_in_a_read_only_folder_is_read_and_never_a_traceback(tmp_path):
    """Root ignores file modes; without the DAC capabilities it obeys them, as a user would."""
    folder = tmp_path / "ro"
    _filled_store(folder / "runs.db", n=3)
    os.chmod(folder / "runs.db", 0o444)
    os.chmod(folder, 0o555)
    try:
        probe = subprocess.run([*CAPS, "touch", str(folder / "x")], capture_output=True)
        if probe.returncode == 0:
            pytest.skip("dropping the DAC capabilities does not make folders read-only here")
        glassnet = [*CAPS, sys.executable, "-m", "glassnet.cli"]
        listed = subprocess.run([*glassnet, "runs", "list", "s1", "--store", str(folder)], capture_output=True,
                                text=True, timeout=120)
        assert listed.returncode == 0 and "r0002" in listed.stdout, listed.stderr
        for argv in (["train", "--store", str(folder), "--set", "training.steps=5", "--no-progress"],
                     ["train", "--store", str(folder / "new"), "--set", "training.steps=5", "--no-progress"]):
            proc = subprocess.run([*glassnet, *argv], capture_output=True, text=True, timeout=120)
            assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
            assert proc.stderr.startswith(f"error: run store '{folder}") and "Traceback" not in proc.stderr
    finally:
        os.chmod(folder, 0o755)


def test_a_new_store_in_a_read_only_folder_is_one_line(tmp_path, monkeypatch):
    import tempfile

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(GlassnetError, match="Permission denied"):
        _use(tmp_path / "new", create=True)


def test_a_new_store_appears_complete(tmp_path):
    with RunStore(tmp_path / "s") as st:
        assert st.sweeps() == []
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["runs.db"]  # no temporary left behind


# ----------------------------------------------------------------------------- ids
def test_ids_are_prefixes_not_like_patterns(store):
    from glassnet.experiments.planner import Plan, RunSpec

    store.add_sweep(Plan("abc123", "s", [], [RunSpec(0, {}, "h", {}, 0, id="abd999")], {}))
    for pattern in ("%", "_", "a%", "a_c", "%9", "ab%"):
        with pytest.raises(GlassnetError, match=f"no sweep or run matches {pattern!r}"):
            store.resolve(pattern)
    assert store.resolve("abc") == ("sweep", "abc123") and store.resolve("abd") == ("run", "abd999")


# ----------------------------------------------------------------------------- claims
HOLDER = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[2])
    from expt_helpers import make_raw
    from glassnet.experiments import RunStore, expand, validate

    plan = expand(validate(make_raw(training={"steps": 300, "seeds": 3})))
    st = RunStore(sys.argv[1])
    st.add_sweep(plan)
    print(len(plan.runs) - len(st.finished_ids(plan.sweep_id)), flush=True)  # what this driver trains
    sys.stdin.readline()  # "training" until told to go, or killed
""")


def test_a_run_claimed_by_a_live_driver_is_left_to_it_and_taken_over_when_it_dies(tmp_path):
    cfg = validate(make_raw(training={"steps": 300, "seeds": 3}))
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path / "store"), os.path.dirname(__file__)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "3"
        with RunStore(tmp_path / "store") as st:
            report = run_sweep(cfg, st, workers=1, progress=False, echo=None)
            assert report.trained == []  # all three are the holder's
            assert set(st.busy) == {r.id for r in report.plan.runs}
            assert all(who == f"pid {holder.pid} on {os.uname().nodename}" for who in st.busy.values())
            assert {r["status"] for r in st.runs(report.sweep_id)} == {"running"}
            assert st.sweep(report.sweep_id)["status"] == "running"
            run_sweep(cfg, st, workers=1, progress=False, echo=None, fresh=True)  # --fresh leaves them too
            assert {r["status"] for r in st.runs(report.sweep_id)} == {"running"}
    finally:
        holder.kill()
        holder.wait()
    with RunStore(tmp_path / "store") as st:
        report = run_sweep(cfg, st, workers=1, progress=False, echo=None)
        assert len(report.trained) == 3 and st.busy == {}
        assert {r["status"] for r in st.runs(report.sweep_id)} == {"completed"}
        assert all(r["claim_pid"] is None for r in st.runs(report.sweep_id))
        assert st.sweep(report.sweep_id)["status"] == "done"


def test_an_old_claim_is_taken_over_and_an_interrupted_drivers_claims_are_released(store, monkeypatch):
    plan = _plan(seeds=2)
    store.add_sweep(plan)
    ids = {r.id for r in plan.runs}
    store.db.execute("UPDATE runs SET status = 'running', claim_pid = 1, claim_host = ?, claim_time = ?",
                     (os.uname().nodename, time.time()))  # pid 1 is alive: a live claim
    assert store.claim(plan.sweep_id) == ([], {rid: f"pid 1 on {os.uname().nodename}" for rid in ids})
    monkeypatch.setattr(RunStore, "CLAIM_TIMEOUT", 0.0)
    mine, busy = store.claim(plan.sweep_id)
    assert set(mine) == ids and busy == {}
    store.finish_sweep(plan.sweep_id, "interrupted")
    assert {r["status"] for r in store.runs(plan.sweep_id)} == {"pending"}


def test_two_drivers_of_one_sweep_train_each_run_once(tmp_path):
    raw = make_raw(sweep={"seeds": 2, "grid": {"model.hidden": [[2], [3]]}},
                   training={"steps": 20000, "log_every": 500})
    cfg = tmp_path / "sweep.toml"
    cfg.write_text(to_toml(raw))
    cmd = [sys.executable, "-m", "glassnet.cli", "sweep", str(cfg), "--workers", "1", "--store",
           str(tmp_path / "store"), "--no-plot", "--no-progress"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    trained = []
    for (out, err), p in zip(outs, procs):
        line = next(line for line in out.splitlines() if " to train" in line)
        trained.append(int(line.split(" to train")[0].rsplit(" ", 1)[1]))
        assert p.returncode in (0, 1), err
        if p.returncode == 1:
            assert "being trained by another glassnet process" in err and err.count("\n") == 1
    assert sum(trained) == 4, (trained, outs)
    with RunStore(tmp_path / "store") as st:
        assert {r["status"] for r in st.runs()} == {"completed"}
