"""The same jobs give identical numbers in this process, in the loky pool, on Ray and on Dask."""

from __future__ import annotations

import numpy as np
import pytest

from expt_helpers import make_raw
from glassnet.errors import GlassnetError
from glassnet.experiments import RunStore, expand, run_sweep, validate
from glassnet.experiments.executors import execute
from glassnet.model import Sequential

RAW = make_raw(sweep={"seeds": 2, "grid": {"model.hidden": [[2], [3]], "training.optimizer.lr": [0.5, 3.0]}},
               training={"steps": 200, "batch_size": 4, "weight_decay": 1e-4})


@pytest.fixture(scope="module")
def jobs():
    plan = expand(validate(RAW))
    jobs = plan.jobs(3)
    assert len(jobs) == 3 and len({j.group for j in jobs}) == 2
    return jobs


@pytest.fixture(scope="module")
def in_process(jobs):
    return _collect(execute(jobs, "local", workers=1), jobs)


def _collect(results, jobs):
    out = {}
    results = list(results)
    assert sorted(r["job"] for r in results) == sorted(j.id for j in jobs)
    for res in results:
        for run in res["runs"]:
            assert run["status"] == "completed", run
            out[run["id"]] = run
    return out


def _assert_same(a, b):
    assert a.keys() == b.keys() and len(a) == 8
    for rid in a:
        for key, w in a[rid]["weights"].items():
            np.testing.assert_array_equal(w, b[rid]["weights"][key])
        for name, (steps, vals) in a[rid]["curves"].items():
            np.testing.assert_array_equal(steps, b[rid]["curves"][name][0])
            np.testing.assert_array_equal(vals, b[rid]["curves"][name][1])


def test_in_process_results_differ_between_runs(in_process):
    # guard: the comparison below would be empty if every run computed the same thing
    finals = {round(r["metrics"]["train_loss"], 9) for r in in_process.values()}
    assert len(finals) == 8


def test_process_pool(jobs, in_process):
    _assert_same(in_process, _collect(execute(jobs, "local", workers=2), jobs))


def test_ray(jobs, in_process):
    pytest.importorskip("ray")
    _assert_same(in_process, _collect(execute(jobs, "ray", workers=2), jobs))


def test_dask_local_cluster(jobs, in_process):
    pytest.importorskip("dask.distributed")
    _assert_same(in_process, _collect(execute(jobs, "dask", workers=2), jobs))


def test_unknown_executor_and_bad_address(jobs):
    with pytest.raises(GlassnetError, match="--executor must be one of local, dask, ray"):
        list(execute(jobs, "spark"))
    dask = pytest.importorskip("dask")
    pytest.importorskip("dask.distributed")
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        with pytest.raises(GlassnetError, match="cannot reach a Dask scheduler"):
            list(execute(jobs, "dask", address="tcp://127.0.0.1:9"))


def test_sweep_in_process_and_in_the_pool_store_the_same_weights(tmp_path):
    cfg = validate(make_raw(sweep={"seeds": 3, "grid": {"training.optimizer.lr": [0.5, 2.0]}}))
    with RunStore(tmp_path / "one") as a, RunStore(tmp_path / "two") as b:
        ra = run_sweep(cfg, a, workers=1, progress=False, echo=None)
        rb = run_sweep(cfg, b, workers=2, progress=False, echo=None)
        assert (ra.jobs, rb.jobs) == (1, 2)
        for run in a.runs():
            wa = Sequential.load(a.root / run["weights"]).params
            wb = Sequential.load(b.root / b.run(run["id"])["weights"]).params
            for k in wa:
                np.testing.assert_array_equal(wa[k], wb[k])
