"""Study runs of graph models and of recurrent layers are recorded as re-runnable and replay bit
for bit: a graph model's run config carries its architecture header (``model.architecture``), and a
model without a model-wide initializer records ``init = "layer_default"`` (a recurrent layer
keeps PyTorch's uniform, which a recorded Glorot would have replaced)."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.cli import main
from glassnet.experiments import RunStore
from glassnet.experiments.config import run_config, validate
from glassnet.studies.recording import Recorder
from glassnet.studies.runconfig import DataRecipe


def _residual(seeds):
    x = gn.Input((2,))
    h = gn.Dense(8, activation="tanh")(x)
    r = gn.Dense(8)(gn.Dense(8, activation="relu")(h))
    j = gn.Concatenate()([gn.Add()([h, r]), gn.Multiply()([h, h])])
    return gn.Model(x, gn.Dense(2)(j), seed=seeds)


def _recurrent(seeds):
    return gn.Sequential([gn.LSTM(6), gn.Dense(3)], input_shape=(4, 2), seed=seeds)


def _sequences():
    rng = np.random.default_rng(0)
    x = np.round(rng.standard_normal((40, 4, 2)), 2)
    return x, (x[:, 0, 0] > 0).astype(int) + (x[:, 0, 1] > 0).astype(int)


CASES = {
    "graph": (_residual, lambda: DataRecipe("circle", options={"n": 64})),
    "recurrent": (_recurrent, lambda: DataRecipe.inline(*_sequences())),
}


def _record(kind, store_path):
    """One fit of 2 networks recorded as a study records it; returns the stored runs."""
    make, recipe_of = CASES[kind]
    recipe = recipe_of()
    data = recipe.load()
    model = make([3, 4])
    recorder = Recorder("rerun-test")
    model.fit(data.x, data.y, loss="softmax_cross_entropy", optimizer=gn.Adam(0.01), batch_size=16, steps=12,
              log_every=3, metrics=["accuracy"], progress=False, callbacks=[recorder.callback(recipe, kind)])
    sweep = recorder.write(store_path, quick=True)
    with RunStore(store_path, create=False) as st:
        return st.runs(sweep), model


@pytest.mark.parametrize("kind", sorted(CASES))
def test_recorded_run_replays_bit_for_bit(kind, tmp_path, capsys):
    runs, model = _record(kind, tmp_path / "study.db")
    assert len(runs) == 2
    for run in runs:
        assert run["params"]["re_runnable"], run["params"].get("re_run_note")
        assert "re_run_note" not in run["params"]
        table = run["config"]["model"]
        assert table["init"] == "layer_default" and table["bias_init"] == "layer_default"
        assert ("architecture" in table) == (kind == "graph")
    run = runs[-1]  # seed 4, the second network of the ensemble
    capsys.readouterr()
    assert main(["runs", "show", run["id"], "--config", "--store", str(tmp_path / "study.db")]) == 0
    toml = tmp_path / "run.toml"
    toml.write_text(capsys.readouterr().out)
    again = tmp_path / "again.db"
    assert main(["train", str(toml), "--store", str(again), "--no-progress"]) == 0, capsys.readouterr().err
    with RunStore(again, create=False) as st:
        (rerun,) = st.runs()
        assert rerun["config"]["model"] == run["config"]["model"]
        assert rerun["config"]["training"] == run["config"]["training"] and rerun["seed"] == 4
        new_curves, new_w = st.curves(rerun["id"]), _weights(st.root / rerun["weights"])
    with RunStore(tmp_path / "study.db", create=False) as st:
        old_curves, old_w = st.curves(run["id"]), _weights(st.root / run["weights"])
    # the training history, step for step (the loss of each batch the Trainer logged); the
    # metric curves are not compared: ``glassnet train`` measures them on the whole training set,
    # a study's fit on each batch
    steps, loss = old_curves["loss"]
    assert len(steps) == 5 and np.isfinite(loss).all()
    np.testing.assert_array_equal(new_curves["loss"][0], steps)
    np.testing.assert_array_equal(new_curves["loss"][1], loss)
    assert rerun["status"] == run["status"] == "completed"
    assert sorted(new_w) == sorted(old_w) and old_w
    for key in old_w:
        np.testing.assert_array_equal(new_w[key], old_w[key], err_msg=key)
    # and the weights are network 1 of the study's ensemble
    for layer in model.layers:
        for short, p in layer.params.items():
            np.testing.assert_array_equal(old_w[f"param/{layer.name}/{short}"].reshape(p.value.shape[1:]), p.value[1])


def _weights(path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files if k != "__model__"}


def test_a_graph_config_builds_the_same_network_as_the_python_model():
    model = _residual([7])
    raw = {"data": {"name": "circle", "options": {"n": 64}},
           "model": {"architecture": gn.network.architecture_header(model), "init": "layer_default",
                     "bias_init": "layer_default"},
           "training": {"loss": "softmax_cross_entropy", "steps": 1, "seed": 7}}
    cfg = run_config(validate(raw, "test"))
    from glassnet.experiments.worker import build_model, load_data

    built = build_model(cfg, [7], load_data(cfg))
    assert isinstance(built, gn.Model)
    for a, b in zip(model.param_list, built.param_list):
        assert a.name == b.name and np.array_equal(a.value, b.value)


def test_recurrent_layer_default_differs_from_glorot_and_configs_say_which():
    lstm_default = _recurrent([0])
    glorot = gn.Sequential([gn.LSTM(6), gn.Dense(3)], input_shape=(4, 2), seed=[0], init="glorot_uniform")
    assert not np.array_equal(lstm_default.layers[0].params["weight_hh"].value,
                              glorot.layers[0].params["weight_hh"].value)
    bound = 1 / np.sqrt(6)
    assert np.abs(lstm_default.layers[0].params["weight_hh"].value).max() <= bound


@pytest.mark.parametrize(("model", "match"), [
    ({"architecture": {"kind": "sequential"}}, 'must be "graph"'),
    ({"architecture": {"kind": "graph", "inputs": [], "nodes": [], "outputs": []}}, "non-empty list"),
    ({"hidden": [3], "architecture": gn.network.architecture_header(_residual([0]))}, "not hidden and architecture"),
    ({"architecture": {**gn.network.architecture_header(_residual([0])), "dtype": "float64"}},
     "architecture.dtype is 'float64' but model.dtype is 'float32'"),
    ({"init": "layer_defaults", "hidden": [3]}, "layer_defaults"),
])
def test_bad_model_tables_are_clear(model, match):
    raw = {"data": {"name": "circle"}, "model": model, "training": {"steps": 1}}
    with pytest.raises(gn.GlassnetError, match=match):
        validate(raw, "test")


def test_a_two_input_architecture_is_refused():
    a, b = gn.Input((2,)), gn.Input((2,))
    model = gn.Model([a, b], gn.Dense(2)(gn.Add()([a, b])))
    raw = {"data": {"name": "circle"}, "model": {"architecture": gn.network.architecture_header(model)},
           "training": {"steps": 1}}
    with pytest.raises(gn.GlassnetError, match="one input and one output"):
        validate(raw, "test")
