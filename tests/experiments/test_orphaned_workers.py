"""A sweep driver killed with ``kill -9`` leaves no worker behind (issue 10): its loky workers
notice that their parent is gone and exit, and the resource trackers follow them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from expt_helpers import make_raw
from glassnet.errors import GlassnetError
from glassnet.experiments import to_toml
from glassnet.experiments.executors import check_workers, max_workers

psutil = pytest.importorskip("psutil")


def _alive(procs):
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


@pytest.mark.skipif(sys.platform != "linux", reason="process tree checks are written for Linux")
def test_workers_of_a_killed_driver_exit(tmp_path):
    raw = make_raw(sweep={"grid": {"model.hidden": [[2], [3], [4], [5]]}},
                   training={"steps": 10**7, "log_every": 1000})  # far longer than the test
    cfg = tmp_path / "slow.toml"
    cfg.write_text(to_toml(raw))
    driver = subprocess.Popen([sys.executable, "-m", "glassnet.cli", "sweep", str(cfg), "--workers", "2",
                               "--store", str(tmp_path / "store"), "--no-plot", "--no-progress"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children = []
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            children = psutil.Process(driver.pid).children(recursive=True)
            if sum("LokyProcess" in " ".join(c.cmdline()) for c in _alive(children)) >= 2:
                break
            assert driver.poll() is None, "the driver ended before its workers started"
            time.sleep(0.2)
        workers = [c for c in children if "LokyProcess" in " ".join(c.cmdline())]
        assert len(workers) == 2, [c.cmdline() for c in children]
        time.sleep(1.0)  # the workers are training
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait(timeout=30)
        deadline = time.time() + 10
        while _alive(children) and time.time() < deadline:
            time.sleep(0.2)
        left = [(p.pid, " ".join(p.cmdline())[:80]) for p in _alive(children)]
        assert left == [], f"still running after the driver was killed: {left}"
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
        for p in _alive(children):
            p.kill()


def test_worker_counts_are_bounded_by_the_machine():
    cores = os.cpu_count() or 1
    assert max_workers() == 4 * cores
    check_workers(max_workers())
    check_workers(10 * max_workers(), "dask", address="tcp://cluster:8786")  # a cluster has its own cores
    with pytest.raises(GlassnetError, match=f"--workers must be at most {4 * cores} .* got {10 * max_workers()}"):
        check_workers(10 * max_workers())
    with pytest.raises(GlassnetError, match="--workers must be >= 1"):
        check_workers(0)
