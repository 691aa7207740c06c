"""Export and import: the TOML is an experiment config that round-trips the page, the Python script
runs and builds the same network, the .npz round-trips the weights and refuses what it must."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys

import numpy as np
import pytest

from glassnet.playground.controller import Controller

try:
    import tomllib
except ImportError:  # pragma: no cover
    import tomli as tomllib


def started(**settings) -> Controller:
    c = Controller()
    c.handle({"type": "set", "settings": settings})
    return c


def exported(c, fmt):
    (msg,) = c.handle({"type": "export", "format": fmt})
    assert msg["type"] == "export" and msg["filename"].startswith("playground.")
    return msg["content"]


@pytest.mark.parametrize("settings", [
    {"xTimesY": True, "learningRate": 0.00001, "networkShape": [5, 3, 2], "layerActivations": ["relu", "", "gelu"]},
    {"problem": "multiclass", "dataset": "blobs", "classes": 4, "optimizer": "adam", "beta2": 0.99, "dropout": 0.1},
    {"problem": "regression", "regDataset": "multi-gaussian", "batchNorm": True, "regularization": "L1",
     "regularizationRate": 0.003, "init": "he", "stopLoss": 0.05},
])
def test_toml_round_trip_restores_every_setting(settings):
    c = started(**settings)
    c.s.train(2)
    text = exported(c, "toml")
    fresh = Controller()
    replies = fresh.handle({"type": "import", "format": "toml", "content": text})
    assert "error" not in [r["type"] for r in replies]
    assert fresh.s.settings == c.s.settings
    np.testing.assert_array_equal(fresh.s.xtr, c.s.xtr)  # same data, same split


def test_toml_round_trip_keeps_your_own_points():
    c = started(problem="multiclass")
    c.handle({"type": "upload_csv", "text": "1,1,0\n-1,2,1\n2,-2,2\n3,3,1\n"})
    c.handle({"type": "add_point", "x1": 0.5, "x2": 0.25, "label": 2})
    fresh = Controller()
    fresh.handle({"type": "import", "format": "toml", "content": exported(c, "toml")})
    assert fresh.s.settings["dataset"] == "custom" and len(fresh.s.custom) == 5
    np.testing.assert_allclose(fresh.s.custom.x, c.s.custom.x)
    np.testing.assert_array_equal(fresh.s.custom.y, c.s.custom.y)


def test_toml_is_a_valid_experiment_config():
    config = pytest.importorskip("glassnet.experiments.config")
    c = started(xTimesY=True, regularization="L2", regularizationRate=0.01, optimizer="momentum")
    c.s.train(3)
    raw = tomllib.loads(exported(c, "toml"))
    cfg = config.validate(raw, "exported")
    assert cfg.training.epochs == 3 and cfg.training.weight_decay == 0.01 and cfg.training.batch_size == 10
    assert [layer["units"] for layer in cfg.model.layers] == [4, 2, 1]
    assert np.asarray(raw["data"]["x"]).shape == (500, 3)  # every point's features: x1, x2, x1x2
    assert set(raw["data"]["y"]) == {-1.0, 1.0}


def test_python_export_runs_and_builds_the_same_network(tmp_path):
    c = started(problem="multiclass", networkShape=[6, 3], activation="elu", optimizer="adam", sinX=True)
    c.s.train(1)
    script = tmp_path / "playground.py"
    script.write_text(exported(c, "python"))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert f"Total params: {c.s.model.param_count()}" in out.stdout
    assert "train loss" in out.stdout and "test loss" in out.stdout


def test_npz_round_trip_restores_the_weights(tmp_path):
    c = started(networkShape=[3, 3], batchNorm=True)
    c.s.train(3)
    weights = [p.value.copy() for p in c.s.model.param_list]
    running = c.s.model.layers[1].buffers["running_mean"].copy()
    loss = c.s.last[2]
    npz = exported(c, "npz")
    c.handle({"type": "reset"})
    assert not np.allclose(c.s.model.param_list[0].value, weights[0])
    replies = c.handle({"type": "import", "format": "npz", "content": npz})
    assert [r["type"] for r in replies] == ["notice", "update"]
    for p, w in zip(c.s.model.param_list, weights):
        np.testing.assert_array_equal(p.value, w)
    np.testing.assert_array_equal(c.s.model.layers[1].buffers["running_mean"], running)
    assert replies[-1]["loss"]["test"] == pytest.approx(loss)
    # the file is glassnet's own model format
    import glassnet as gn

    path = tmp_path / "playground.npz"
    path.write_bytes(base64.b64decode(npz))
    model = gn.Sequential.load(path)
    for p, w in zip(model.param_list, weights):
        np.testing.assert_array_equal(p.value, w)


def test_npz_for_another_architecture_is_refused():
    c = started(networkShape=[5])
    npz = exported(c, "npz")
    other = started(networkShape=[4, 2])
    err = other.handle({"type": "import", "format": "npz", "content": npz})[0]
    assert err["type"] == "error" and "import the TOML setup first" in err["message"]


def _npz_with_header(header: dict) -> str:
    buf = io.BytesIO()
    np.savez(buf, __model__=np.array(json.dumps(header)))
    return base64.b64encode(buf.getvalue()).decode()


@pytest.mark.parametrize("content, words", [
    (base64.b64encode(b"not a zip").decode(), "not an .npz"),
    (_npz_with_header({"layers": [{"type": "dense", "units": 10**7}], "seeds": [0]}), "not a playground network"),
    (_npz_with_header({"layers": [{"type": "conv2d", "filters": 3}], "seeds": [0]}), "not a playground network"),
    (_npz_with_header({"layers": [], "seeds": [0, 1, 2]}), "not a playground network"),
])
def test_npz_import_refuses_files_it_cannot_trust(content, words):
    c = started()
    err = c.handle({"type": "import", "format": "npz", "content": content})[0]
    assert err["type"] == "error" and words in err["message"]
