"""The benchmark harness's contention meter counts only processes OUTSIDE the benchmark's tree.

A benchmark's own children and grandchildren (a sweep's pool workers, loky/joblib workers) are
its work, not contention; any other busy process is. Each test burns CPU in a real process and
compares the meter with that process's own CPU time read from /proc, so the assertions hold on a
loaded machine too (they bound the meter by what the burner actually got).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import harness  # noqa: E402

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs Linux /proc")

BURN = "import time\nwhile True: time.process_time()\n"
# a child that starts a burning grandchild, prints its pid and then only sleeps
PARENT_OF_BURNER = (
    "import subprocess, sys, time\n"
    f"p = subprocess.Popen([sys.executable, '-c', {BURN!r}])\n"
    "print(p.pid, flush=True)\n"
    "try:\n    time.sleep(60)\nfinally:\n    p.kill()\n")
# a child that starts a burner and exits without waiting: the burner is orphaned, re-parented
# outside this test's process tree (its output goes nowhere, so the starter's pipe closes)
ORPHAN_BURNER = (
    "import subprocess, sys\n"
    f"p = subprocess.Popen([sys.executable, '-c', {BURN!r}], stdin=subprocess.DEVNULL,\n"
    "                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
    "print(p.pid, flush=True)\n")
WINDOW = 1.5


def _cpu(pid):
    st = harness._proc_stat(pid)
    assert st is not None, f"process {pid} is gone"
    return st[1]


def _measure(pid):
    """Meter over WINDOW seconds of this process sleeping; also the CPU ``pid`` used meanwhile."""
    meter = harness.CpuMeter()
    c0 = _cpu(pid)
    meter.start()
    t0 = time.perf_counter()
    time.sleep(WINDOW)
    foreign = meter.stop(time.perf_counter() - t0)
    burned = _cpu(pid) - c0
    if burned < 0.2:
        pytest.skip(f"the burner got only {burned:.2f} CPU-s in {WINDOW} s (machine too busy)")
    return meter, foreign, burned


def _stop(proc, *pids):
    for pid in pids:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
    if proc is not None:
        proc.kill()
        proc.wait()


def test_own_child_is_not_contention():
    child = subprocess.Popen([sys.executable, "-c", BURN])
    try:
        time.sleep(0.2)
        meter, foreign, burned = _measure(child.pid)
    finally:
        _stop(child)
    assert meter.own_cpu_s >= 0.8 * burned, (meter.own_cpu_s, burned)
    assert meter.busy_cpu_s - meter.own_cpu_s <= meter.busy_cpu_s - 0.8 * burned


def test_own_grandchild_is_not_contention():
    child = subprocess.Popen([sys.executable, "-c", PARENT_OF_BURNER], stdout=subprocess.PIPE, text=True)
    grandchild = int(child.stdout.readline())
    try:
        time.sleep(0.2)
        meter, foreign, burned = _measure(grandchild)
    finally:
        _stop(child, grandchild)
    assert meter.own_cpu_s >= 0.8 * burned, (meter.own_cpu_s, burned)


def test_finished_children_count_as_own():
    """A child that finishes (and is reaped) inside the block still counts as the tree's time."""
    meter = harness.CpuMeter()
    meter.start()
    t0 = time.perf_counter()
    before = os.times()
    subprocess.run([sys.executable, "-c",
                    "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.5: pass\n"],
                   check=True)
    after = os.times()
    meter.stop(time.perf_counter() - t0)
    burned = (after.children_user + after.children_system) - (before.children_user + before.children_system)
    assert burned >= 0.4
    assert meter.own_cpu_s >= 0.8 * burned, (meter.own_cpu_s, burned)


def test_outside_process_is_contention():
    starter = subprocess.run([sys.executable, "-c", ORPHAN_BURNER], capture_output=True, text=True,
                             check=True, timeout=30)
    outsider = int(starter.stdout.split()[0])
    try:
        assert outsider not in _descendants(os.getpid())
        time.sleep(0.2)
        meter, foreign, burned = _measure(outsider)
    finally:
        _stop(None, outsider)
    assert meter.own_cpu_s < 0.5 * burned, (meter.own_cpu_s, burned)
    assert foreign is not None
    assert foreign * WINDOW >= 0.8 * burned, (foreign, burned)


def _descendants(root):
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = harness._proc_stat(int(d))
            if st is not None:
                kids.setdefault(st[0], []).append(int(d))
    out, todo = set(), [root]
    while todo:
        for k in kids.get(todo.pop(), ()):
            out.add(k)
            todo.append(k)
    return out
