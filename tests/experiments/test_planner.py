"""Sweep expansion (grid x zip x random x seeds), grouping into ensembles, chunking into jobs."""

from __future__ import annotations

import itertools
import math

import pytest

from expt_helpers import make_raw
from glassnet.errors import GlassnetError
from glassnet.experiments import expand, validate
from glassnet.experiments.planner import chunk, group, group_key


def plan_of(sweep, **sections):
    return expand(validate(make_raw(sweep=sweep, **sections)))


def test_no_sweep_is_one_run_with_the_training_seed():
    plan = plan_of(None, training={"seed": 7})
    assert len(plan.runs) == 1 and plan.runs[0].seed == 7 and plan.runs[0].params == {}


def test_training_seeds_replicate():
    plan = plan_of(None, training={"seed": 3, "seeds": 4})
    assert [r.seed for r in plan.runs] == [3, 4, 5, 6]
    assert [r.config.training.seed for r in plan.runs] == [3, 4, 5, 6]
    assert all("seeds" not in r.config.as_dict()["training"] and r.config.training.seeds is None for r in plan.runs)


def test_grid_is_the_cartesian_product_in_order_times_seeds():
    wd, lr = [0.0, 0.01, 0.1], [0.5, 2.0]
    plan = plan_of({"seeds": [10, 20], "grid": {"training.weight_decay": wd, "training.optimizer.lr": lr}})
    assert len(plan.runs) == len(wd) * len(lr) * 2
    expected = [(w, l, s) for w, l in itertools.product(wd, lr) for s in (10, 20)]
    got = [(r.config.training.weight_decay, r.config.training.optimizer.lr, r.seed) for r in plan.runs]
    assert got == expected
    assert plan.swept == ["training.weight_decay", "training.optimizer.lr"]
    assert plan.runs[3].params == {"training.weight_decay": 0.0, "training.optimizer.lr": 2.0}


def test_zip_is_one_axis_and_multiplies_with_the_grid():
    plan = plan_of({"grid": {"training.l1": [0.0, 1e-3]},
                    "zip": {"training.optimizer.lr": [0.1, 1.0, 5.0], "training.batch_size": [1, 4, 8]}})
    assert len(plan.runs) == 2 * 3
    pairs = {(r.config.training.optimizer.lr, r.config.training.batch_size) for r in plan.runs}
    assert pairs == {(0.1, 1), (1.0, 4), (5.0, 8)}


def test_nested_toml_tables_are_key_paths():
    # [sweep.grid] training.weight_decay = [...] parses as nested tables
    plan = plan_of({"grid": {"training": {"weight_decay": [0.0, 0.5]}}})
    assert [r.config.training.weight_decay for r in plan.runs] == [0.0, 0.5]


def test_random_search_is_seeded_and_in_bounds():
    sweep = {"random": {"n": 20, "seed": 3, "params": {
        "training.optimizer.lr": {"log_uniform": [1e-3, 5.0]}, "training.batch_size": {"int_uniform": [1, 8]},
        "training.weight_decay": {"choice": [0.0, 0.1]}, "training.l1": {"uniform": [0.0, 0.01]}}}}
    a, b = plan_of(sweep), plan_of(sweep)
    assert [r.params for r in a.runs] == [r.params for r in b.runs]
    c = plan_of({**sweep, "random": {**sweep["random"], "seed": 4}})
    assert [r.params for r in a.runs] != [r.params for r in c.runs]
    lrs = [r.params["training.optimizer.lr"] for r in a.runs]
    assert all(1e-3 <= v <= 5.0 for v in lrs)
    # log-uniform: spread over decades, not bunched at the top
    assert min(lrs) < 0.05 and max(lrs) > 0.1
    assert {r.params["training.batch_size"] for r in a.runs} <= set(range(1, 9))
    assert {r.params["training.weight_decay"] for r in a.runs} <= {0.0, 0.1}


def test_each_point_is_validated_with_its_path():
    with pytest.raises(GlassnetError, match=r"sweep point training.optimizer.lr=-1.*training.optimizer.lr = -1"):
        plan_of({"grid": {"training.optimizer.lr": [0.1, -1]}})
    with pytest.raises(GlassnetError, match=r"training.lrr: unknown key"):
        plan_of({"grid": {"training.lrr": [0.1]}})
    with pytest.raises(GlassnetError, match="sweep.seeds"):
        plan_of({"grid": {"training.seed": [1, 2]}})


def test_ids_are_stable_and_unique():
    sweep = {"seeds": 3, "grid": {"training.weight_decay": [0.0, 0.1]}}
    a, b = plan_of(sweep), plan_of(sweep)
    assert a.sweep_id == b.sweep_id and [r.id for r in a.runs] == [r.id for r in b.runs]
    assert len({r.id for r in a.runs}) == len({r.hash for r in a.runs}) == 6
    other = plan_of({"seeds": 3, "grid": {"training.weight_decay": [0.0, 0.2]}})
    assert other.sweep_id != a.sweep_id


def test_per_model_hyperparameters_share_one_group():
    plan = plan_of({"seeds": 2, "grid": {"training.weight_decay": [0.0, 0.1], "training.optimizer.lr": [0.1, 5.0],
                                         "training.l1": [0.0, 1e-4], "training.optimizer.momentum": [0.0, 0.9]}})
    groups = group(plan.runs)
    assert len(groups) == 1 and len(groups[0]) == 32


@pytest.mark.parametrize("path, values", [
    ("training.batch_size", [1, 8]),
    ("data.options.encoding", ["k", "k-1"]),
    ("model.hidden", [[2], [3]]),
    ("training.steps", [100, 200]),
    ("training.optimizer.nesterov", [False, True]),
    ("model.dtype", ["float32", "float64"]),
])
def test_shape_changes_split_groups(path, values):
    plan = plan_of({"seeds": 3, "grid": {path: values, "training.optimizer.lr": [0.1, 1.0]}})
    groups = group(plan.runs)
    assert len(groups) == len(values)
    assert all(len(g) == 6 for g in groups)
    for g in groups:
        assert len({group_key(r.config) for r in g}) == 1


def test_chunking_spreads_over_workers_and_caps_models():
    plan = plan_of({"seeds": 5, "grid": {"training.weight_decay": [0.0, 1e-4, 1e-3, 1e-2, 0.1, 1.0]}})
    assert [len(j.runs) for j in plan.jobs(1)] == [30]
    assert [len(j.runs) for j in plan.jobs(2)] == [15, 15]
    assert sorted(len(j.runs) for j in plan.jobs(4)) == [7, 7, 8, 8]
    capped = plan.jobs(1, max_models=8)
    assert all(len(j.runs) <= 8 for j in capped) and len(capped) == math.ceil(30 / 8)
    for jobs in (plan.jobs(1), plan.jobs(3), capped, plan.jobs(64)):
        ids = [r.id for j in jobs for r in j.runs]
        assert sorted(ids) == sorted(r.id for r in plan.runs)  # every run exactly once
        assert len({j.id for j in jobs}) == len(jobs)
    assert len(plan.jobs(64)) == 30  # never below one model per job


def test_chunking_halves_the_most_expensive_group_first():
    plan = plan_of({"seeds": 4, "grid": {"training.steps": [100, 1000]}})
    jobs = chunk(group(plan.runs), workers=3)
    sizes = {(j.runs[0].config.training.steps, len(j.runs)) for j in jobs}
    assert sizes == {(100, 4), (1000, 2)}
