"""Config schema: defaults, canonical form, TOML round trip, --set, one-line errors with key paths."""

from __future__ import annotations

import pytest

from expt_helpers import make_raw
from glassnet.errors import GlassnetError
from glassnet.experiments import load_config, parse_override, resolve, to_toml, validate
from glassnet.experiments.config import read_toml, set_path


def test_embedded_default_is_the_seed003_autoencoder():
    cfg = load_config()
    assert cfg.data.name == "identity8" and cfg.model.hidden == [3]
    assert cfg.model.activation == cfg.model.output_activation == "sigmoid"
    assert cfg.model.init == {"name": "normal", "variance": 0.01}
    assert cfg.training.loss == "half_sse" and cfg.training.batch_size == 8


def test_resolved_config_is_canonical_and_a_fixed_point():
    raw = make_raw(training={"optimizer": "momentum", "loss": "Half-SSE"}, model={"activation": "Sigmoid"})
    res = resolve(validate(raw))
    # aliases resolve to registry names; the optimizer's options become explicit
    assert res["training"]["loss"] == "half_sse" and res["model"]["activation"] == "sigmoid"
    assert res["training"]["optimizer"] == {"name": "sgd", "lr": 0.01, "momentum": 0.9, "nesterov": False,
                                            "form": "pytorch"}
    assert resolve(validate(res)) == res


def test_toml_round_trip(tmp_path):
    res = resolve(validate(make_raw(sweep={"seeds": 2, "grid": {"training.weight_decay": [0.0, 0.1]}})))
    path = tmp_path / "c.toml"
    path.write_text(to_toml(res))
    assert resolve(load_config(path)) == res


@pytest.mark.parametrize("text, key, value", [
    ("training.steps=2000", "training.steps", 2000),
    ("training.optimizer.lr = 0.5", "training.optimizer.lr", 0.5),
    ("model.hidden=[4, 2]", "model.hidden", [4, 2]),
    ('data.options.encoding="k-1"', "data.options.encoding", "k-1"),
    ("data.options.encoding=k-1", "data.options.encoding", "k-1"),  # not TOML: read as a string
    ("training.shuffle=false", "training.shuffle", False),
])
def test_parse_override(text, key, value):
    assert parse_override(text) == (key, value)


def test_set_turns_a_name_into_a_table():
    raw = {"training": {"optimizer": "adam"}}
    set_path(raw, "training.optimizer.lr", 0.1)
    assert raw["training"]["optimizer"] == {"name": "adam", "lr": 0.1}


def test_overrides_apply_to_a_file(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(to_toml(make_raw()))
    cfg = load_config(path, ["training.steps=7", "training.optimizer.name=adam"])
    assert cfg.training.steps == 7 and resolve(cfg)["training"]["optimizer"]["name"] == "adam"


BAD = [
    # unknown keys (top level, nested, optimizer option, data set option)
    ({"training": {"stepz": 3}}, "training.stepz", ["unknown key", "steps", "batch_size"]),
    ({"colour": "red"}, "colour", ["unknown key", "training"]),
    ({"training": {"optimizer": {"name": "sgd", "lrr": 0.1}}}, "training.optimizer.lrr",
     ["no option 'lrr'", "lr, momentum"]),
    ({"data": {"name": "identity8", "options": {"encodng": "k"}}}, "data.options.encodng", ["encoding"]),
    # wrong types (TOML strings are never numbers)
    ({"training": {"steps": "400"}}, 'training.steps = "400"', ["valid integer"]),
    ({"training": {"batch_size": 1.5}}, "training.batch_size = 1.5", ["valid integer"]),
    ({"training": {"shuffle": "yes"}}, "training.shuffle", ["valid boolean"]),
    ({"model": {"init": [1]}}, "model.init = [1]", ["string", "dictionary", "number"]),
    # out of range
    ({"training": {"optimizer": {"name": "sgd", "lr": -1}}}, "training.optimizer.lr = -1", [">= 0"]),
    ({"training": {"optimizer": {"name": "sgd", "momentum": 1.5}}}, "training.optimizer.momentum = 1.5", ["< 1"]),
    ({"training": {"steps": 0}}, "training.steps = 0", ["greater than or equal to 1"]),
    ({"training": {"weight_decay": -0.1}}, "training.weight_decay = -0.1", ["greater than or equal to 0"]),
    ({"data": {"name": "identity8", "validation_split": 1.0}}, "data.validation_split = 1.0", ["less than 1"]),
    ({"model": {"init": {"name": "normal", "variance": -1}}}, "model.init.variance = -1", ["> 0"]),
    ({"model": {"hidden": [3, 0]}}, "model.hidden[1] = 0", [">= 1"]),
    ({"model": {"dtype": "float16"}}, 'model.dtype = "float16"', ["'float32' or 'float64'"]),
    # unknown names, resolved through the registries
    ({"data": {"name": "mnistt"}}, 'data.name = "mnistt"', ["unknown dataset", "identity8", "spiral"]),
    ({"model": {"activation": "sigmoyd"}}, 'model.activation = "sigmoyd"', ["unknown activation", "sigmoid"]),
    ({"model": {"init": "glorot_unifrom"}}, "model.init", ["unknown initializer", "glorot_uniform"]),
    ({"training": {"loss": "hinge"}}, 'training.loss = "hinge"', ["unknown loss", "half_sse"]),
    ({"training": {"optimizer": "adamx"}}, 'training.optimizer.name = "adamx"', ["unknown optimizer", "adam"]),
    ({"model": {"hidden": None, "layers": [{"type": "densse", "units": 3}]}}, "model.layers[0]",
     ["unknown layer", "dense"]),
    ({"training": {"metrics": ["f2"]}}, 'training.metrics[0] = "f2"', ["unknown metric", "accuracy", "f1"]),
    # sweep tables
    ({"sweep": {"grid": {"training.weight_decay": []}}}, 'sweep.grid."training.weight_decay" = []', ["non-empty"]),
    ({"sweep": {"zip": {"training.l1": [0, 1], "training.weight_decay": [0]}}}, "sweep.zip", ["one length"]),
    ({"sweep": {"random": {"n": 3, "params": {"training.optimizer.lr": {"log_uniform": [0, 1]}}}}},
     'sweep.random.params."training.optimizer.lr"', ["low > 0"]),
]


@pytest.mark.parametrize("change, where, words", BAD, ids=[b[1] for b in BAD])
def test_bad_config_gives_one_line_naming_the_key_path(change, where, words):
    raw = make_raw()
    for section, value in change.items():
        if isinstance(value, dict) and isinstance(raw.get(section), dict):
            raw[section] = {**raw[section], **value}
            raw[section] = {k: v for k, v in raw[section].items() if v is not None}
        else:
            raw[section] = value
    with pytest.raises(GlassnetError) as info:
        validate(raw, "exp.toml")
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(f"exp.toml: {where}"), msg
    for w in words:
        assert w in msg, msg


def test_missing_section_is_named():
    raw = make_raw()
    del raw["model"]
    with pytest.raises(GlassnetError, match=r"^c: model: missing"):
        validate(raw, "c")


def test_not_toml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[data\nname = 1")
    with pytest.raises(GlassnetError, match="not valid TOML"):
        read_toml(bad)
    with pytest.raises(GlassnetError, match="does not exist"):
        read_toml(tmp_path / "nope.toml")


def test_seeds_in_two_places_is_refused():
    with pytest.raises(GlassnetError, match="not both"):
        validate(make_raw(training={"seeds": 2}, sweep={"seeds": 3}))
