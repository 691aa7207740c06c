"""One job = one ensemble: its numbers equal the runs trained alone; divergence; accuracy decoding."""

from __future__ import annotations

import numpy as np
import pytest

from expt_helpers import make_raw
from glassnet.experiments import expand, validate
from glassnet.experiments.planner import Job
from glassnet.experiments.worker import load_data, run_job, run_metrics
from glassnet import losses


def _jobs(raw, workers=1):
    plan = expand(validate(raw))
    return plan, plan.jobs(workers)


@pytest.mark.parametrize("batch_size, dtype", [(8, "float64"), (3, "float32")])
def test_ensemble_equals_each_run_alone(batch_size, dtype):
    """Seeds, lr, momentum and weight decay vary per model in one ensemble; every model must
    compute exactly what a single run with its config computes (own init, own shuffles)."""
    raw = make_raw(sweep={"seeds": 2, "zip": {"training.optimizer.lr": [0.5, 3.0],
                                              "training.weight_decay": [0.0, 1e-3],
                                              "training.optimizer.momentum": [0.0, 0.5]}},
                   training={"batch_size": batch_size, "steps": 150}, model={"dtype": dtype})
    plan, jobs = _jobs(raw)
    assert len(jobs) == 1 and len(jobs[0].runs) == 4
    together = {r["id"]: r for r in run_job(jobs[0])["runs"]}
    for spec in plan.runs:
        alone = run_job(Job("single", "g", [spec]))["runs"][0]
        both = together[spec.id]
        assert both["status"] == alone["status"] == "completed"
        for key in alone["weights"]:
            np.testing.assert_array_equal(both["weights"][key], alone["weights"][key])
        for name in alone["curves"]:
            np.testing.assert_array_equal(both["curves"][name][1], alone["curves"][name][1])


def test_a_diverging_model_keeps_its_curve_and_the_rest_train_on():
    raw = make_raw(data={"name": None, "options": None, "x": [[1.0], [2.0], [3.0]], "y": [[2.0], [4.0], [6.0]]},
                   model={"hidden": [], "activation": "identity", "output_activation": "identity",
                          "dtype": "float64", "init": "zeros"},
                   training={"loss": "mse", "optimizer": {"name": "sgd", "lr": 0.01}, "steps": 400, "log_every": 1},
                   sweep={"grid": {"training.optimizer.lr": [0.01, 50.0]}})
    raw["data"] = {k: v for k, v in raw["data"].items() if v is not None}
    _, jobs = _jobs(raw)
    assert len(jobs) == 1
    out = {r["id"]: r for r in run_job(jobs[0])["runs"]}
    calm, wild = (out[r.id] for r in jobs[0].runs)
    assert calm["status"] == "completed" and len(calm["curves"]["loss"][0]) == 400
    assert wild["status"] == "diverged"
    steps, loss = wild["curves"]["loss"]
    assert 0 < wild["stopped_at"] < 399 and steps[-1] == wild["stopped_at"]
    assert not np.isfinite(loss[-1]) and np.all(np.isfinite(loss[:-1]))
    # gradient descent with lr 50 on this quadratic grows the loss every step (|1 - lr * 28/3| > 1)
    assert np.all(np.diff(loss[:-1]) > 0)
    assert wild["metrics"]["train_loss"] is None and calm["metrics"]["train_loss"] < 0.05  # from 18.7


def test_k_minus_1_accuracy_decodes_the_reference_class():
    cfg = validate(make_raw(data={"options": {"encoding": "k-1"}})).base_run()
    data = load_data(cfg)
    assert data.encoding == "k-1" and data.y.shape == (8, 7)
    loss = losses.get(cfg.training.loss)
    # the run's accuracy is the registry's, decoding with the data's encoding
    acc = run_metrics(cfg, loss, data)["accuracy"]
    assert acc.config() == {"name": "accuracy", "encoding": "k-1"}
    perfect = data.y[None].astype(float) * 0.9 + 0.05          # class 0: every output < 0.5
    assert acc(perfect, data.y, loss)[0] == 1.0
    wrong0 = perfect.copy()
    wrong0[0, 0, 3] = 0.8                                     # class 0 now reads as class 4
    assert acc(wrong0, data.y, loss)[0] == 7 / 8
    # the argmax reading would count class 0 and class 1 as the same class
    assert np.argmax(data.y[0]) == np.argmax(data.y[1])


def test_inline_data_and_label_encoding():
    raw = make_raw(data={"name": None, "options": None, "x": [[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], "y": [0, 2, 1],
                         "encoding": "k"}, model={"output_activation": "sigmoid"})
    raw["data"] = {k: v for k, v in raw["data"].items() if v is not None}
    data = load_data(validate(raw).base_run())
    np.testing.assert_array_equal(data.y, np.eye(3)[[0, 2, 1]])
    assert data.num_classes == 3


def test_minibatch_runs_get_a_whole_training_set_loss_curve():
    from glassnet.experiments.worker import build_model

    raw = make_raw(training={"batch_size": 1, "steps": 40, "log_every": 8}, sweep={"seeds": 2})
    plan, jobs = _jobs(raw)
    runs = run_job(jobs[0])["runs"]
    data = load_data(plan.runs[0].config)
    for spec, run in zip(jobs[0].runs, runs):
        steps, full = run["curves"]["train_loss"]
        assert steps.tolist() == [0, 8, 16, 24, 32, 39]
        # at step 0 the weights are the initial ones: the whole-set loss of a fresh model
        fresh = build_model(spec.config, [spec.seed], data)
        assert full[0] == pytest.approx(float(fresh.evaluate(data.x, data.y, "half_sse", metrics=())["loss"][0]), rel=1e-6)
        # the per-step loss is over one pattern: it differs from the whole-set value
        assert not np.allclose(run["curves"]["data_loss"][1], full)
    full_batch = run_job(_jobs(make_raw())[1][0])["runs"][0]
    assert "train_loss" not in full_batch["curves"]
