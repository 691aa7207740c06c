"""Paired benchmark blocks (``benchmarks/sequence.py --paired``): a child set up once times one
block per request, and the driver's ratio of two such blocks is per model-step."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import harness, sequence  # noqa: E402


def test_serve_blocks_runs_one_block_per_request_and_stops_at_anything_else():
    walls = iter([0.5, 0.25, 9.0])
    lines = []
    n = harness.serve_blocks(lambda: (next(walls), 0.75), steps=5, models=16,
                             commands=io.StringIO("block\nblock\nquit\nblock\n"),
                             emit=lambda *a, **k: lines.append(" ".join(a)))
    assert n == 2
    assert lines[0] == harness.READY_PREFIX
    blocks = [json.loads(line[len(harness.BLOCK_PREFIX):]) for line in lines[1:]]
    assert [b["step_s"] for b in blocks] == [0.1, 0.05]  # per step: wall / steps
    assert [b["cpu_step_s"] for b in blocks] == [0.15, 0.15]
    assert all(b["models"] == 16 and b["steps"] == 5 for b in blocks)


def test_paired_ratio_is_per_model_step():
    a = {"step_s": 0.010, "models": 16}  # 16 models in 10 ms
    b = {"step_s": 0.040, "models": 16}  # the same 16 in 40 ms
    assert sequence.paired_ratio({"kind": "speedup"}, a, b) == pytest.approx(4.0)
    assert sequence.paired_ratio({"kind": "time"}, a, b) == pytest.approx(0.25)
    one = {"step_s": 0.005, "models": 1}  # one model in 5 ms: 0.625 ms a model-step for a
    assert sequence.paired_ratio({"kind": "speedup"}, a, one) == pytest.approx(8.0)


def test_a_served_child_times_blocks_on_request():
    """A real child (the residual case on the reference path, no compiler, no PyTorch): set up
    once, two blocks on request, then its usual result line once its input ends."""
    from benchmarks.run import child_env

    env, _ = child_env(1)
    env["GLASSNET_FAST"] = "0"
    child = sequence.ServedChild("residual", "glassnet_plain", ["--threads", "1", "--quick"], env)
    try:
        blocks = [child.block(), child.block()]
    finally:
        child.proc.stdin.close()  # end of input: the child reports and exits
        out = child.proc.stdout.read()
        child.proc.wait(timeout=120)
    assert all(b["step_s"] > 0 and b["models"] == 100 and b["steps"] == 20 for b in blocks)
    result = json.loads(next(line for line in out.splitlines() if line.startswith(harness.RESULT_PREFIX))
                        [len(harness.RESULT_PREFIX):])
    assert result["status"] == "ok" and result["repeats"] == 2
    assert result["block_s"] == pytest.approx([b["step_s"] * 20 for b in blocks])


def test_a_child_that_fails_to_start_is_one_clear_error():
    from benchmarks.run import child_env

    env, _ = child_env(1)
    with pytest.raises(RuntimeError, match="nosuch"):
        sequence.ServedChild("residual", "nosuch", [], env)


def test_run_paired_alternates_two_live_children():
    """Two children (plain and residual MLP ensembles, reference path), 3 pairs: one line and one
    ratio per pair, each the first side's time over the second's ("time" kind), no goal."""
    from benchmarks.run import child_env

    env, _ = child_env(1)
    env["GLASSNET_FAST"] = "0"
    lines = []
    ratio = {"a": "glassnet_residual", "b": "glassnet_plain", "kind": "time"}
    (rec,) = sequence.run_paired("residual", 3, ["--threads", "1", "--quick"], env,
                                 emit=lambda text, **k: lines.append(text), ratios=[ratio])
    assert len(lines) == 3 and all("pair" in line for line in lines)
    assert rec["impls"] == ["glassnet_residual", "glassnet_plain"] and len(rec["step_s"]) == 3
    assert rec["pairs"] == pytest.approx([a / b for a, b in rec["step_s"]])
    assert rec["at_goal"] is None and rec["verdict"] == ""
    assert rec["median"] == pytest.approx(sorted(rec["pairs"])[1])


def test_a_child_that_stops_answering_is_killed_and_named():
    """A served child silent for longer than the timeout is killed: one error naming it, no hang."""
    import subprocess
    import time

    child = sequence.ServedChild.__new__(sequence.ServedChild)
    child.impl, child.timeout = "sleeper", 1.0
    child.proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t0 = time.perf_counter()
    with pytest.raises(RuntimeError, match="sleeper: no answer in 1 s"):
        child.block()
    assert time.perf_counter() - t0 < 30
    child.close()


def test_a_failed_child_fails_the_paired_run_in_one_line(monkeypatch, capsys):
    def broken(case, *a, **k):
        raise RuntimeError("torch_loop: exited 1: ModuleNotFoundError: No module named 'torch'")

    monkeypatch.setattr(sequence, "run_paired", broken)
    assert sequence.main(["--only", "lstm16", "--paired", "2", "--wait-quiet", "0"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["sequence.py --paired: lstm16: torch_loop: exited 1: ModuleNotFoundError: No module named 'torch'"]


def test_a_negative_number_of_pairs_is_refused(capsys):
    with pytest.raises(SystemExit) as exc:
        sequence.main(["--paired", "-1"])
    assert exc.value.code == 2 and "--paired must be a number of pairs" in capsys.readouterr().err


def test_the_paired_run_writes_its_json_whole(monkeypatch, tmp_path):
    """--json: the records under the run's settings, written by rename (no temporary file left)."""
    rec = {"case": "lstm16", "ratio": "r", "goal": ">= 5x", "pairs": [5.5, 4.5], "median": 5.0, "verdict": "PASS",
           "at_goal": 1, "cpu_pairs": [], "cpu_median": None}
    monkeypatch.setattr(sequence, "run_paired", lambda *a, **k: [dict(rec)])
    out = tmp_path / "results" / "paired.json"
    assert sequence.main(["--only", "lstm16", "--paired", "2", "--wait-quiet", "0", "--json", str(out)]) == 0
    got = json.loads(out.read_text())
    assert got["paired"] == 2 and got["records"] == [rec]
    assert [p.name for p in out.parent.iterdir()] == ["paired.json"]
