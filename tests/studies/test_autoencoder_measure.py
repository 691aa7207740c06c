"""How the autoencoder-838 study trains: its weight decay and learning rate sweeps share one
ensemble, its independent fits run side by side, and neither changes what is measured."""

import time

import numpy as np
import pytest

from glassnet.studies.autoencoder_838 import (Autoencoder838, _subset, lr_log_steps, recipe, shared_ensemble,
                                              train)
from glassnet.studies.common import grid, side_by_side
from glassnet.studies.recording import Recorder


def _settings(steps=2000, log_every=400, lr_log_every=40, lr_fine_until=1000):
    s = Autoencoder838().settings(False, 2)
    s.update(steps=steps, log_every=log_every, lr_log_every=lr_log_every, lr_fine_until=lr_fine_until)
    return s


def _assert_same(ref: dict, got: dict, tol: float):
    assert ref.keys() == got.keys()
    for key, r in ref.items():
        g = got[key]
        if key == "seconds":
            continue
        if isinstance(r, dict):
            for name in r:
                np.testing.assert_allclose(g[name], r[name], rtol=0, atol=tol, err_msg=f"{key}/{name}")
        elif isinstance(r, np.ndarray) and r.dtype.kind == "f":
            assert r.shape == g.shape, key
            np.testing.assert_allclose(g, r, rtol=0, atol=tol, err_msg=key)
        elif isinstance(r, np.ndarray):
            np.testing.assert_array_equal(g, r, err_msg=key)
        else:
            assert g == r, key


def test_the_shared_ensemble_gives_each_sweep_what_it_gives_alone():
    """Weight decay (logged every 400) and learning rate (every 40 up to step 1,000, then every
    400) trained as one ensemble, then split, equal the two sweeps trained apart: same logged
    steps, curves and weights to rounding (the logged steps run on the reference path, so where
    they fall moves rounding only). The learning rate sweep's base-rate runs are the weight decay
    sweep's lambda = 0 runs, trained once."""
    s = _settings()
    wds, wd_seeds = grid(s["weight_decays"], 2)
    lrs, lr_seeds = grid(s["learning_rates"], 2)
    alone_wd = train("k", wd_seeds, s["base_lr"], wds, 8, s)
    alone_lr = train("k", lr_seeds, lrs, 0.0, 8, s, log_every=lr_log_steps(s))
    shared = shared_ensemble(s)
    assert len(shared["seeds"]) == len(wds) + len(lrs) - 2  # the base rate's 2 seeds trained once
    both = train("k", shared["seeds"], shared["lr"], shared["lambda"], 8, s, log_every=lr_log_steps(s))
    wd = _subset(both, shared["wd_models"], s["log_every"], s["lr_log_every"])
    lr = _subset(both, shared["lr_models"])
    assert list(wd["steps"]) == list(alone_wd["steps"]) == [0, 400, 800, 1200, 1600, 1999]
    assert list(lr["steps"]) == list(range(0, 1000, 40)) + [1200, 1600, 1999]
    _assert_same(alone_wd, wd, 1e-12)
    _assert_same(alone_lr, lr, 1e-12)


def test_without_a_base_rate_in_the_learning_rate_sweep_nothing_is_shared():
    s = _settings()
    s["learning_rates"] = [0.1, 1.0]
    shared = shared_ensemble(s)
    n_wd = 2 * len(s["weight_decays"])
    assert shared["lr_models"].tolist() == list(range(n_wd, n_wd + 4))
    assert shared["lr"][n_wd:] == [0.1, 0.1, 1.0, 1.0] and shared["lambda"][n_wd:] == [0.0] * 4


def test_subset_keeps_only_the_coarser_interval_and_the_off_interval_logs():
    steps = np.array([0, 40, 80, 120, 160, 170])
    run = {"steps": steps, "loss": np.arange(12.0).reshape(2, 6), "status": np.array(["ok", "x"]),
           "params": {"W": np.arange(4.0).reshape(2, 2)}, "param_count": 7}
    out = _subset(run, slice(1, 2), 80, 40)
    assert list(out["steps"]) == [0, 80, 160, 170]
    assert out["loss"].tolist() == [[6.0, 8.0, 10.0, 11.0]]
    assert out["status"].tolist() == ["x"] and out["params"]["W"].tolist() == [[2.0, 3.0]]
    assert out["param_count"] == 7


def test_side_by_side_returns_every_result_and_reraises_a_failure():
    assert side_by_side({"a": lambda: 1, "b": lambda: 2}) == {"a": 1, "b": 2}

    def boom():
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        side_by_side({"a": lambda: 1, "b": boom})


def test_side_by_side_runs_one_thread_per_core_longest_job_first_each_alone(monkeypatch):
    """Two cores, three jobs: two threads; the first two jobs start at once, unsplit, and the third
    waits for a free thread; once it is the last job left, it may split again."""
    import threading

    from glassnet import fast
    from glassnet.studies import common

    monkeypatch.setattr(common, "usable_cores", lambda: 2)
    started, release, long_done = [], threading.Event(), threading.Event()

    def long():
        started.append("long")
        split = fast.may_split()
        release.wait(5)
        long_done.set()
        return threading.current_thread().name, split

    def short():
        started.append("short")
        split = fast.may_split()
        release.wait(0.2)  # "third" must not have started: both threads are busy
        started.append("checked")
        release.set()
        return threading.current_thread().name, split

    def third():
        started.append("third")
        long_done.wait(5)
        deadline = time.monotonic() + 5  # long's thread counts it as ended just after it returns
        while not fast.may_split() and time.monotonic() < deadline:
            time.sleep(0.01)
        return threading.current_thread().name, fast.may_split()

    out = side_by_side({"long": long, "short": short, "third": third})
    assert started.index("checked") < started.index("third")
    assert len({name for name, _ in out.values()}) == 2
    assert not out["long"][1] and not out["short"][1]  # two jobs on two cores: unsplit
    assert out["third"][1]  # the last one left: the other core is idle
    assert fast.may_split()
    monkeypatch.setattr(common, "usable_cores", lambda: 1)
    assert side_by_side({"a": lambda: threading.current_thread().name}) == {"a": threading.current_thread().name}


def test_fits_are_numbered_and_stored_in_the_order_they_were_set_up(tmp_path):
    """Side by side, the second fit may end first: the store still lists fit 1 first."""
    s = _settings(steps=20, log_every=10, lr_log_every=10)
    rec = Recorder("autoencoder-838", s)
    first = rec.callback(recipe("k"), "first")
    second = rec.callback(recipe("k-1"), "second")
    train("k-1", [0], 0.1, 0.0, 8, s, second)   # ends first
    train("k", [0, 1], 0.1, 0.0, 8, s, first)
    assert [r["fit"] for r in rec.runs] == [2, 1, 1]
    from glassnet.experiments.store import RunStore
    with RunStore(tmp_path / "runs.db") as st:
        sweep = rec.write(st, quick=True)
        rows = st.runs(sweep)
    notes = [str(r) for r in rows]
    assert "fit 1" in notes[0] and "fit 1" in notes[1] and "fit 2" in notes[2]


def test_the_learning_rate_sweep_is_logged_finely_only_up_to_its_fine_limit():
    s = _settings(steps=400_000, log_every=400, lr_log_every=40, lr_fine_until=40_000)
    steps = lr_log_steps(s)
    assert steps[:3].tolist() == [0, 40, 80] and 39_960 in steps and 40_040 not in steps
    assert np.all(np.diff(steps[steps >= 40_000]) == 400) and steps[-1] == 399_600
    assert steps.size == 1_000 + 900
    short = lr_log_steps(dict(s, steps=8_000))   # the quick form: fine all the way
    assert np.all(np.diff(short) == 40) and short[-1] == 7_960
