"""Typed run configs end to end (issue 9): one frozen, validated RunConfig from the planner to
the store; validation once, at the boundary; defaults and "full batch" in one place; engine
errors attributed through ``GlassnetError.field``; metrics and activations through the
registries."""

from __future__ import annotations

import functools
import inspect
import json
import pickle
import sys
from pathlib import Path

import numpy as np
import pydantic
import pytest

import glassnet
import glassnet.activations
import glassnet.losses
from expt_helpers import make_raw
from glassnet import metrics as metrics_mod
from glassnet import optimizers as optim_mod
from glassnet.errors import GlassnetError
from glassnet.experiments import RunStore, expand, load_config, run_sweep, to_toml, validate
from glassnet.experiments import schema
from glassnet.experiments.schema import RunConfig
from glassnet.experiments.worker import build_model, load_data, run_job, train_group
from glassnet.training import DEFAULT_BATCH_SIZE, FULL_BATCH

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PACKAGE = Path(glassnet.__file__).parent


def _bad(raw, source="c"):
    with pytest.raises(GlassnetError) as info:
        validate(raw, source)
    msg = str(info.value)
    assert "\n" not in msg, msg
    return msg


# ------------------------------------------------------------------------- one typed config
def test_the_plan_carries_frozen_run_configs_that_the_store_saves_and_gives_back(tmp_path):
    cfg = validate(make_raw(training={"steps": 20, "seeds": 2}))
    plan = expand(cfg)
    spec = plan.runs[1]
    assert type(spec.config) is RunConfig and spec.config.training.seed == 1
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        spec.config.training.batch_size = 4
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        spec.config.training = None
    # what an executor ships to a worker process: the typed config survives pickling
    job = pickle.loads(pickle.dumps(plan.jobs(1)[0]))
    assert job.runs[1].config == spec.config
    # the store keeps its JSON form; validating that gives the same config (same hash)
    with RunStore(tmp_path / "s") as st:
        run_sweep(cfg, st, progress=False, echo=None)
        stored = st.run(spec.id)["config"]
    assert stored == spec.config.as_dict()
    assert RunConfig.model_validate(json.loads(json.dumps(stored))) == spec.config
    # and its TOML is a config `glassnet train` runs as exactly this run
    again = expand(validate(tomllib.loads(to_toml(stored))))
    assert [r.hash for r in again.runs] == [spec.hash]


def test_no_plain_dict_travels_from_expand_on():
    plan = expand(validate(make_raw(sweep={"seeds": 2, "grid": {"training.optimizer.lr": [0.5, 1.0]}})))
    assert all(type(r.config) is RunConfig for r in plan.runs)
    assert type(plan.config) is schema.ExperimentConfig
    for table in ("data", "model", "training"):
        assert isinstance(getattr(plan.runs[0].config, table), pydantic.BaseModel)


# -------------------------------------------------------------------- validation happens once
def test_batch_size_is_checked_once_by_the_config_and_once_by_the_engine_boundary(monkeypatch, tmp_path):
    """``--set training.batch_size=16`` through ``glassnet train``'s path: the config layer checks
    it once (at load), expand/check_plan/the worker never again; ``fit``'s Trainer applies the
    same function as the public Python boundary it is."""
    from glassnet.training import trainer as trainer_mod

    calls = {"config": 0, "engine": 0}
    real = trainer_mod.check_batch_size

    def counting(where):
        def check(value, name="batch_size"):
            calls[where] += 1
            return real(value, name)
        return check

    monkeypatch.setattr(schema, "check_batch_size", counting("config"))
    monkeypatch.setattr(trainer_mod, "check_batch_size", counting("engine"))
    cfg = load_config(None, ["training.batch_size=16", "training.steps=5", "training.seeds=3"])
    assert calls == {"config": 1, "engine": 0}
    with RunStore(tmp_path / "s") as st:
        report = run_sweep(cfg, st, workers=1, progress=False, echo=None)
    assert len(report.trained) == 3
    assert calls == {"config": 1, "engine": 1}  # one ensemble of 3 models: one Trainer


def test_the_optimizer_is_built_once_to_validate_and_once_to_train(monkeypatch, tmp_path):
    built = []
    real = optim_mod.SGD.__init__

    @functools.wraps(real)  # the config checks options against the constructor's signature
    def counting(self, *args, **kwargs):
        built.append(kwargs.get("lr", args[0] if args else None))
        real(self, *args, **kwargs)

    monkeypatch.setattr(optim_mod.SGD, "__init__", counting)
    cfg = load_config(None, ["training.steps=5", "training.seeds=2"])
    assert len(built) == 1
    with RunStore(tmp_path / "s") as st:
        run_sweep(cfg, st, workers=1, progress=False, echo=None)
    assert len(built) == 2  # before: validation twice, the driver's check, the worker


def test_a_sweep_point_is_validated_once_and_untouched_tables_are_reused():
    cfg = validate(make_raw(sweep={"grid": {"training.optimizer.lr": [0.5, 1.0]}}))
    plan = expand(cfg)
    assert plan.runs[0].config.data is cfg.data and plan.runs[0].config.model is cfg.model
    # expanding again validates nothing: the points were validated with the experiment
    assert expand(cfg).runs[1].config == plan.runs[1].config


def test_defaults_live_in_the_engine():
    assert schema.TrainingConfig.model_fields["batch_size"].default is DEFAULT_BATCH_SIZE
    raw = make_raw()
    del raw["training"]["batch_size"]
    assert validate(raw).training.batch_size == DEFAULT_BATCH_SIZE
    for name in ("schema.py", "config.py", "planner.py", "runner.py", "worker.py"):
        src = (PACKAGE / "experiments" / name).read_text()
        assert "32" not in src.replace("float32", "").replace("2**32", ""), name


# ------------------------------------------------------------------------------- full batch
def test_full_batch_is_spelled_full(tmp_path):
    cfg = validate(make_raw(training={"batch_size": FULL_BATCH, "steps": 3}))
    assert cfg.training.batch_size == "full"
    assert 'batch_size = "full"' in to_toml(cfg.as_dict())
    model, hist, data, _ = train_group([expand(cfg).runs[0].config], [0])
    assert hist.steps_done == 3 and "train_loss" not in hist.curves  # full batch: no whole-set extra curve
    msg = _bad(make_raw(training={"batch_size": 0}))
    assert msg.startswith("c: training.batch_size = 0:") and "'full'" in msg
    msg = _bad(make_raw(training={"batch_size": "all"}))
    assert msg.startswith('c: training.batch_size = "all":') and "'full'" in msg
    assert _bad(make_raw(training={"batch_size": -3})).startswith("c: training.batch_size = -3:")


# ------------------------------------------------------------- engine errors carry their field
def test_engine_errors_are_attributed_by_their_field_not_their_wording():
    class Picky(optim_mod.SGD):
        def __init__(self, lr=0.01, gamma=1.0):
            super().__init__(lr)
            if gamma > 1:  # the message does not start with the argument's name
                raise GlassnetError(f"a decay factor above one makes no sense here ({gamma})", field="gamma",
                                    value=gamma)
            self.gamma = gamma

    with optim_mod.optimizers.temporary("picky", Picky):
        msg = _bad(make_raw(training={"optimizer": {"name": "picky", "gamma": 2.0}}))
    assert msg == "c: training.optimizer.gamma = 2.0: a decay factor above one makes no sense here (2.0)"
    assert _bad(make_raw(model={"init": {"name": "uniform", "low": 1.0, "high": 0.5}})).startswith(
        "c: model.init.high = 0.5: uniform high must be > low")
    assert _bad(make_raw(training={"optimizer": {"name": "sgd", "form": "tf"}})).startswith(
        'c: training.optimizer.form = "tf":')
    assert "def _engine_error" in inspect.getsource(schema)
    assert "startswith" not in inspect.getsource(schema._engine_error)


# ------------------------------------------------------------------------------------ metrics
def test_metrics_resolve_through_the_registry():
    cfg = validate(make_raw(training={"metrics": ["acc", {"name": "top_k", "k": 3}, {"name": "mse"}]}))
    assert cfg.training.metrics == ["accuracy", {"name": "top_k_accuracy", "k": 3}, "mse"]
    msg = _bad(make_raw(training={"metrics": ["accuracy", "accurasy"]}))
    assert msg.startswith('c: training.metrics[1] = "accurasy": unknown metric')
    for name in metrics_mod.metrics.names():
        assert name in msg
    assert _bad(make_raw(training={"metrics": [{"name": "top_k_accuracy", "k": 0}]})).startswith(
        "c: training.metrics[0].k = 0:")
    assert "given twice" in _bad(make_raw(training={"metrics": ["accuracy", "acc"]}))
    assert _bad(make_raw(training={"metrics": [3]})).startswith("c: training.metrics[0] = 3:")


def test_configured_metrics_get_whole_training_set_curves():
    raw = make_raw(data={"name": "blobs", "options": {"n": 60, "classes": 4}},
                   model={"hidden": [6], "activation": "tanh", "output_activation": "identity",
                          "init": "glorot_uniform"},
                   training={"loss": "softmax_cross_entropy", "steps": 30, "batch_size": 10, "log_every": 10,
                             "metrics": ["accuracy", {"name": "top_k_accuracy", "k": 2}, "f1"]})
    plan = expand(validate(raw))
    run = run_job(plan.jobs(1)[0])["runs"][0]
    assert run["status"] == "completed"
    assert {"accuracy", "top_k_accuracy", "f1", "train_loss"} <= set(run["curves"])
    assert run["curves"]["top_k_accuracy"][0].tolist() == [0, 10, 20, 29]
    acc, top2 = run["curves"]["accuracy"][1], run["curves"]["top_k_accuracy"][1]
    assert np.all(top2 >= acc) and np.all((0 <= acc) & (acc <= 1))
    assert {"train_accuracy", "train_top_k_accuracy", "train_f1"} <= set(run["metrics"])


def test_k_minus_1_accuracy_curve_is_the_registry_accuracy_on_the_whole_training_set():
    cfg = validate(make_raw(data={"options": {"encoding": "k-1"}}, training={"steps": 5, "log_every": 1})).base_run()
    data = load_data(cfg)
    model, hist, _, whole = train_group([cfg], [0])
    assert whole.metrics["accuracy"].config() == {"name": "accuracy", "encoding": "k-1"}
    fresh = build_model(cfg, [0], data)  # the weights of step 0 (before its update)
    loss = glassnet.losses.get("half_sse")
    pred = fresh.forward(fresh.prepare_inputs(data.x), False)
    expected = metrics_mod.get({"name": "accuracy", "encoding": "k-1"})(pred, data.y, loss)
    assert hist.curves["accuracy"][0, 0] == expected[0]
    # the argmax reading this replaces is wrong for k-1: class 1's outputs all below 0.5 read as
    # class 0 (the all-zeros row), but their argmax matches class 1's target
    pred = data.y[None] * 0.9 + 0.05
    pred[0, 1, 0] = 0.3
    argmax = metrics_mod.get("accuracy")(pred, data.y, loss)
    assert hist.curves["accuracy"].shape == (1, 5)  # a whole-set value at every logged step
    assert whole.metrics["accuracy"](pred, data.y, loss)[0] == 7 / 8 and argmax[0] == 1.0


# -------------------------------------------------------- a new activation needs no other edit
class Cube(glassnet.activations.Activation):
    """f(z) = z^3; f'(z) = 3 z^2."""

    name = "cube"
    formula = "f(z) = z^3"
    derivative_formula = "f'(z) = 3 z^2"

    def __call__(self, z):
        return z * z * z

    def derivative(self, z, a):
        return 3 * z * z


def test_a_newly_registered_activation_is_accepted_by_a_config_and_trains():
    raw = make_raw(model={"activation": "cube"}, training={"steps": 1})
    with glassnet.activations.activations.temporary("cube", Cube):
        cfg = validate(raw)
        assert cfg.model.activation == "cube"
        run = run_job(expand(cfg).jobs(1)[0])["runs"][0]
        assert run["status"] == "completed" and run["steps_done"] == 1
    msg = _bad(raw)
    assert msg.startswith('c: model.activation = "cube": unknown activation')
    assert "sigmoid" in msg and "relu" in msg and "cube" not in msg.split("valid names:")[1]


def test_check_plan_names_the_table_of_what_only_the_data_can_tell(tmp_path):
    """check_plan validates nothing again; it checks what needs the data, by table."""
    cases = [({"data": {"name": "spiral", "options": {"n": -5}}}, "c: data: n must be"),
             ({"model": {"hidden": None, "layers": [{"type": "conv2d", "filters": 2, "kernel_size": 3}]}},
              "c: model.layers: Conv2D expects images"),
             # a metric's bad option is now refused by validation itself, naming its key path
             ({"training": {"metrics": [{"name": "binary_accuracy", "threshold": "x"}]}},
              'c: training.metrics[0].threshold = "x": binary_accuracy threshold must be a finite number')]
    for change, start in cases:
        with RunStore(tmp_path / "s") as st:
            with pytest.raises(GlassnetError) as info:
                run_sweep(validate(make_raw(**change), "c"), st, progress=False, echo=None, source="c")
            assert str(info.value).startswith(start) and "\n" not in str(info.value), str(info.value)
            assert st.runs() == []  # refused before the sweep is recorded
