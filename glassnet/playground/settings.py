"""The playground's settings: ONE typed table, shared by the server and the page.

Every control of the page is a row here: its type, default, allowed values, label and help text,
and what changing it does to the running session (``effect``). The key of a row is also its
URL-hash key (TensorFlow Playground's names where it has one, so its links mostly open here)
and its key in ``set`` messages. The server validates every value with :func:`validate`; the page
receives the same table as the ES module ``/settings.js`` (see :func:`as_js_module`), so the
browser and the server can never disagree on a range.

The option lists of activations, initializers, optimizers and data sets are not in the table:
their rows name a ``source`` (:mod:`glassnet.playground.options`), and :func:`table` fills in
``choices`` (with ``labels``, ``helps`` and ``aliases``) from the engine's registries each time
it is called, so a newly registered activation is offered and accepted with no other edit.

Effects, from weakest to strongest:

* ``view``: only how the page draws (the server may compute extra overlays).
* ``live``: applied to the running session without touching weights or optimizer state
  (learning rate, regularization, batch size, stop condition, ...).
* ``optimizer``: a new optimizer (its state restarts), weights kept.
* ``model``: a new network (weights re-initialized), data kept.
* ``data``: new data and a new network.
"""

from __future__ import annotations

import json
import math

from ..data.toy2d import FEATURE_NAMES
from ..errors import GlassnetError
from . import options
from .ensemble import MAX_ENSEMBLE, SWEEP_LABELS, SWEEPS
from .lessons import LESSONS

LEARNING_RATES = [0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10]
REG_RATES = [0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10]

#: size limits that keep one page from exhausting the machine
MAX_HIDDEN_LAYERS = 10
MAX_NEURONS = 32
MAX_CUSTOM_POINTS = 2000

#: the seven input features: URL key -> glassnet.data.features name
FEATURE_KEYS = {"x": "x1", "y": "x2", "xSquared": "x1^2", "ySquared": "x2^2", "xTimesY": "x1x2",
                "sinX": "sin(x1)", "sinY": "sin(x2)"}
assert tuple(FEATURE_KEYS.values()) == FEATURE_NAMES

EFFECT_ORDER = {"view": 0, "live": 1, "optimizer": 2, "model": 3, "data": 4}


def _row(key, type, default, label, group, effect, help, **extra):
    return {"key": key, "type": type, "default": default, "label": label, "group": group,
            "effect": effect, "help": help, **extra}


SETTINGS: list[dict] = [
    # -- data -----------------------------------------------------------------------------------
    _row("problem", "enum", "classification", "Problem type", "data", "data",
         "Two classes (tanh output, squared error, like TensorFlow Playground), three or more "
         "classes (softmax + cross-entropy), or regression (linear output, squared error).",
         choices=["classification", "multiclass", "regression"]),
    _row("dataset", "enum", "circle", "Data", "data", "data",
         "The classification data set; 'custom' is your own points (CSV upload or click to draw).",
         source="dataset:classification"),
    _row("regDataset", "enum", "plane", "Data", "data", "data", "The regression data set.",
         source="dataset:regression"),
    _row("classes", "int", 3, "Classes", "data", "data", "Number of classes for multi-class data.",
         min=3, max=8, step=1),
    _row("noise", "int", 0, "Noise", "data", "data", "Noise in percent (0-50), as in TF Playground.",
         min=0, max=50, step=5),
    _row("percTrainData", "int", 50, "Ratio of training to test data", "data", "data",
         "Percent of the points used for training; the rest is test data.", min=10, max=90, step=10),
    _row("batchSize", "int", 10, "Batch size", "data", "live",
         "Points per gradient step; one epoch is one pass over the training points.",
         min=1, max=100, step=1),
    _row("seed", "int", 0, "Seed", "data", "data",
         "Random seed of the data (Regenerate picks a new one).", min=0, max=999_999, step=1),
    # -- features -------------------------------------------------------------------------------
    *[_row(k, "bool", k in ("x", "y"), name.replace("x1", "X₁").replace("x2", "X₂").replace("^2", "²"),
           "features", "model", f"Input feature {name}.") for k, name in FEATURE_KEYS.items()],
    # -- network --------------------------------------------------------------------------------
    _row("networkShape", "intlist", [4, 2], "Hidden layers", "network", "model",
         f"Neurons per hidden layer (0-{MAX_HIDDEN_LAYERS} layers of 1-{MAX_NEURONS} neurons).",
         min=1, max=MAX_NEURONS, maxlen=MAX_HIDDEN_LAYERS),
    _row("activation", "enum", "tanh", "Activation", "network", "model",
         "Activation of the hidden layers (a layer may override it).", source="activation"),
    _row("layerActivations", "enumlist", [], "Per-layer activations", "network", "model",
         "One entry per hidden layer; an empty entry uses the global activation.",
         source="activation", maxlen=MAX_HIDDEN_LAYERS),
    _row("init", "enum", "tf", "Initialization", "network", "model",
         "How the weights start (biases 0 unless the option says otherwise): TF Playground's "
         "U(-0.5, 0.5), all equal (watch the symmetry: units stay identical), or an engine "
         "initializer.", source="initializer"),
    _row("dropout", "enum", 0, "Dropout", "network", "model",
         "Dropout rate after each hidden layer (training only).", choices=[0, 0.1, 0.2, 0.3, 0.5]),
    _row("batchNorm", "bool", False, "Batch norm", "network", "model",
         "Batch normalization between each hidden layer's weights and its activation."),
    # -- training -------------------------------------------------------------------------------
    _row("learningRate", "enum", 0.03, "Learning rate", "training", "live",
         "Step size of each update; changing it does not reset training.", choices=LEARNING_RATES),
    _row("regularization", "enum", "none", "Regularization", "training", "live",
         "Penalty on the weights (biases excluded): L1 = rate·Σ|w|, L2 = rate/2·Σw².",
         choices=["none", "L1", "L2"]),
    _row("regularizationRate", "enum", 0, "Regularization rate", "training", "live",
         "Strength of the penalty; changing it does not reset training.", choices=REG_RATES),
    _row("optimizer", "enum", "sgd", "Optimizer", "training", "optimizer",
         "The update rule (each option's help gives it); changing it restarts the optimizer's "
         "state, not the weights.", source="optimizer"),
    _row("momentum", "enum", 0.9, "Momentum μ", "training", "live",
         "Momentum coefficient (for the optimizers that use one).",
         choices=[0.5, 0.8, 0.9, 0.95, 0.99], optimizerHyper=True),
    _row("beta1", "enum", 0.9, "Adam β₁", "training", "live", "Adam's first-moment decay.",
         choices=[0.5, 0.8, 0.9, 0.95, 0.99], optimizerHyper=True),
    _row("beta2", "enum", 0.999, "Adam β₂", "training", "live", "Adam's second-moment decay.",
         choices=[0.9, 0.99, 0.999, 0.9999], optimizerHyper=True),
    _row("epochsPerUpdate", "int", 3, "Epochs per update", "training", "live",
         "Epochs trained between two updates of the page.", min=1, max=50, step=1),
    _row("fps", "int", 30, "Updates per second (max)", "training", "live",
         "Upper bound on page updates per second while playing.", min=1, max=60, step=1),
    _row("stopEpochs", "int", 0, "Stop at epoch", "training", "live",
         "Pause when this many epochs are done (0: never).", min=0, max=1_000_000, step=1),
    _row("stopLoss", "float", 0.0, "Stop at test loss", "training", "live",
         "Pause when the test loss falls below this (0: never).", min=0.0, max=10.0),
    # -- ensemble -------------------------------------------------------------------------------
    _row("ensemble", "int", 1, "Copies trained at once", "ensemble", "model",
         f"Train this many copies of the network at once (1-{MAX_ENSEMBLE}), as one model-axis program: "
         "every weight gets a leading axis of one entry per copy. 1 is the single network.",
         min=1, max=MAX_ENSEMBLE, step=1),
    _row("ensembleSweep", "enum", "seed", "Copies differ in", "ensemble", "model",
         "What differs between the copies; copy m takes the m-th value (cycling). Batch size is not "
         "offered: copies with other batch sizes take other steps on other batches, not one program.",
         choices=list(SWEEPS), labels=SWEEP_LABELS),
    _row("focus", "int", 0, "Main view: copy", "ensemble", "view",
         "Which copy the main views (output, network, curve, backprop) show; click a map to choose.",
         min=0, max=MAX_ENSEMBLE - 1, step=1),
    # -- view -----------------------------------------------------------------------------------
    _row("showTestData", "bool", False, "Show test data", "view", "view", "Draw the test points too."),
    _row("discretize", "bool", False, "Discretize output", "view", "view",
         "Colour the output by the predicted class instead of a gradient."),
    _row("showDiagnostics", "bool", False, "Diagnostics", "view", "view",
         "Mark dead, saturated and duplicate neurons on the network."),
    _row("lesson", "enum", "", "Lesson", "view", "view",
         "The guided lesson shown (one per exercise of seed 001); its setup is the rest of the URL.",
         choices=[""] + [lesson["id"] for lesson in LESSONS]),
]

BY_KEY: dict[str, dict] = {row["key"]: row for row in SETTINGS}


class SettingError(GlassnetError):
    """A value outside a setting's allowed range; the message names key, value and what is allowed."""


def defaults() -> dict:
    return {row["key"]: (list(row["default"]) if isinstance(row["default"], list) else row["default"])
            for row in SETTINGS}


def row(key: str) -> dict:
    """The row of ``key`` as the page gets it: a ``source`` row with its options as of now
    (``choices``, and ``labels``, ``helps`` and ``aliases`` by option name)."""
    base = BY_KEY[key]
    source = base.get("source")
    if source is None:
        return base
    opts = options.options(source)
    names = [o.name for o in opts]
    filled = {**base, "choices": ([""] if base["type"] == "enumlist" else []) + names,
              "labels": {o.name: o.label for o in opts}, "helps": {o.name: o.help for o in opts},
              "aliases": options.aliases(source, names)}
    if key == "optimizer":
        filled["uses"] = {name: options.optimizer_uses(name) for name in names}
    return filled


def table() -> list[dict]:
    """Every row, option lists filled in from the registries now (what ``/settings.js`` serves)."""
    return [row(r["key"]) for r in SETTINGS]


def choices(key: str) -> list:
    return row(key)["choices"]


def _allowed(r: dict) -> str:
    t = r["type"]
    if t in ("enum", "enumlist"):
        return "one of " + ", ".join(repr(c) for c in r["choices"])
    if t == "bool":
        return "true or false"
    if t in ("int", "float", "intlist"):
        step = f" in steps of {r['step']}" if t == "int" and r.get("step", 1) != 1 else ""
        return f"{'an integer' if t != 'float' else 'a number'} in [{r['min']}, {r['max']}]{step}"
    return t  # pragma: no cover


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def validate(key: str, value):
    """The canonical value of setting ``key``, or :class:`SettingError` saying what is allowed.

    A ``source`` row accepts a name of its options as of now, or an alias of one (the registry's
    aliases, case and ``-``/``_`` ignored), and returns the option's own name."""
    base = BY_KEY.get(key)
    if base is None:
        raise SettingError(f"unknown setting {key!r}; valid settings: {', '.join(BY_KEY)}")
    t = base["type"]
    if base.get("source") is not None:
        return _validate_named(base, value)
    bad = SettingError(f"setting {key!r} = {value!r} is not allowed: expected {_allowed(base)}")
    if t == "bool":
        if not isinstance(value, bool):
            raise bad
        return value
    if t == "enum":
        for choice in base["choices"]:
            if (value == choice and type(value) is not bool) or (
                    _is_number(value) and _is_number(choice) and math.isclose(value, choice, rel_tol=1e-9)):
                return choice
        raise bad
    if t == "int":
        if not _is_number(value) or int(value) != value or not base["min"] <= value <= base["max"] \
                or (value - base["min"]) % base.get("step", 1):
            raise bad
        return int(value)
    if t == "float":
        if not _is_number(value) or not base["min"] <= value <= base["max"]:
            raise bad
        return float(value)
    if t == "intlist":
        _check_list(base, value)
        if not all(_is_number(v) and int(v) == v and base["min"] <= v <= base["max"] for v in value):
            raise bad
        return [int(v) for v in value]
    raise bad  # pragma: no cover


def _check_list(base, value) -> None:
    if not isinstance(value, list) or len(value) > base["maxlen"]:
        raise SettingError(f"setting {base['key']!r} must be a list of at most {base['maxlen']} entries, "
                           f"each {_allowed(row(base['key']))}; got {value!r}")


def _validate_named(base, value):
    """An option name (or alias) of a ``source`` row, checked against the registry now."""
    key = base["key"]
    if base["type"] == "enumlist":
        _check_list(base, value)
        out = [v if v == "" else options.resolve(base["source"], v) for v in value]
        if any(v is None for v in out):
            raise SettingError(f"setting {key!r} = {value!r} is not allowed: expected {_allowed(row(key))}")
        return out
    name = options.resolve(base["source"], value)
    if name is None:
        raise SettingError(f"setting {key!r} = {value!r} is not allowed: expected {_allowed(row(key))}")
    return name


def effect_of(keys) -> str:
    """The strongest effect among changed settings (``view`` when nothing changed)."""
    return max((BY_KEY[k]["effect"] for k in keys), key=EFFECT_ORDER.__getitem__, default="view")


def multiclass_datasets() -> list[str]:
    """The ``dataset`` choices that have more than two classes (then ``custom``)."""
    return options.multiclass_datasets()


def as_js_module() -> str:
    """The table as an ES module, served at ``/settings.js`` for ``state.js`` to import; its
    option lists are the registries' at the time of the call."""
    from .protocol import MAX_MESSAGE_BYTES  # noqa: PLC0415 - protocol imports this module's users

    limits = {"maxHiddenLayers": MAX_HIDDEN_LAYERS, "maxNeurons": MAX_NEURONS,
              "maxCustomPoints": MAX_CUSTOM_POINTS, "featureKeys": FEATURE_KEYS,
              "multiclassDatasets": multiclass_datasets(), "maxMessageBytes": MAX_MESSAGE_BYTES}
    return ("// Generated by glassnet/playground/settings.py: the one table of the page's controls.\n"
            f"export const SETTINGS = {json.dumps(table(), ensure_ascii=False, indent=1)};\n"
            f"export const LIMITS = {json.dumps(limits)};\n"
            f"export const LESSONS = {json.dumps(LESSONS, ensure_ascii=False, indent=1)};\n")
