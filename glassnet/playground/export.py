"""Export the page's setup as a TOML config or a Python script, its weights as ``.npz``; import back.

* TOML: an experiment config that ``glassnet train`` runs (the points' input features inline,
  layer configs, loss, optimizer, epochs), with every setting of the page (and your own points)
  in ``#|`` comment lines, which Import reads back exactly.
* Python: a script that rebuilds the data, the network and the training with the public API
  (the same setup; not the same shuffles, so not the same numbers to the last digit).
* ``.npz``: :meth:`glassnet.Sequential.save` (no pickle); Import loads it with
  :meth:`glassnet.Sequential.load` into a page whose network has the same shape.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import tempfile
import zipfile

import numpy as np

from ..errors import GlassnetError
from ..model import Sequential
from . import data as data_mod
from . import network, options
from .settings import BY_KEY, FEATURE_KEYS, MAX_HIDDEN_LAYERS, MAX_NEURONS, defaults, validate

try:  # Python 3.11+
    import tomllib
except ImportError:  # pragma: no cover
    import tomli as tomllib

MAX_IMPORT_BYTES = 2_000_000


def _clean(spec: dict) -> dict:
    return {k: v for k, v in spec.items() if v is not None}


#: prefix of the comment lines that carry the page's state inside an experiment config
STATE_PREFIX = "#| "


def to_toml(session) -> str:
    """An experiment config for ``glassnet train`` (inline data: the input features of every
    point, the test share held out as validation), with the page's exact state in ``#|``
    comment lines that the engine ignores and :func:`from_toml` reads back. For an ensemble the
    config is the main view's copy (its seed and swept value); the state holds the ensemble."""
    import tomli_w  # noqa: PLC0415 - a core dependency, only needed here

    page = session.settings
    s = session.focus_settings
    _, _, loss = network.task(s)
    w_init, b_init = network.init_specs(s)
    x = np.concatenate([session.xtr, session.xte]).round(6)
    y = np.concatenate([session.train_pts.y, session.test_pts.y])
    if s["problem"] == "classification":
        y = 2.0 * y - 1.0  # the -1/+1 targets of the tanh output
    data = {"validation_split": round(1 - s["percTrainData"] / 100, 2), "split_seed": s["seed"]}
    source = "your own points" if session.uses_custom else f"{data_mod.generator(s)[0]}, noise {s['noise']}%"
    doc = {
        "name": "playground",
        "description": (f"from the glassnet playground: {s['problem']} on {source}, features "
                        f"{', '.join(session.feature_names)}, hidden {s['networkShape']}"),
        "data": data,
        "model": {"layers": [_clean(spec) for spec in network.layer_specs(s)], "init": w_init,
                  "bias_init": b_init, "dtype": "float64"},
        "training": {"loss": loss, "optimizer": network.optimizer_spec(s), "epochs": max(session.epoch, 1),
                     "batch_size": s["batchSize"],
                     "weight_decay": s["regularizationRate"] if s["regularization"] == "L2" else 0.0,
                     "l1": s["regularizationRate"] if s["regularization"] == "L1" else 0.0,
                     "seed": session.members[session.focus].seed},
    }
    state = [f"{k} = {json.dumps(v)}" for k, v in page.items()]  # JSON scalars and lists are TOML too
    if session.uses_custom:
        state.append("points = " + _rows(np.column_stack([session.custom.x, session.custom.y]).round(6)))
        if session.custom.drawn is not None and session.custom.drawn.any():
            state.append(f"drawn = {json.dumps(np.flatnonzero(session.custom.drawn).tolist())}")
    head = ("# An experiment config exported by the glassnet playground: `glassnet train THIS_FILE` trains the\n"
            "# same network on the same points. The '#|' lines are the page's own state; the playground's\n"
            "# Import reads them back (the engine ignores comments).\n")
    block = "\n".join(STATE_PREFIX + line for line in "\n".join(state).splitlines())
    body = tomli_w.dumps(doc)
    # the points go in by hand, one row per line (tomli_w would spend five lines on each)
    inline = f"x = {_rows(x)}\ny = [{', '.join(json.dumps(v) for v in y.tolist())}]\n"
    body = body.replace("[data]\n", "[data]\n" + inline, 1)
    return head + block + "\n\n" + body


def _rows(a: np.ndarray) -> str:
    """A 2-D array as a TOML array of arrays, one row per line."""
    return "[\n" + "".join(f"  {json.dumps(row)},\n" for row in a.tolist()) + "]"


def from_toml(session, text: str) -> None:
    """Restore the page's settings (and custom points) from the ``#|`` lines of :func:`to_toml`.

    A setting the state leaves out takes its default (as a URL that leaves it out); every value
    is validated as a ``set`` message's is, and the points as a state's own points are (inside
    the square, labels of the problem). The data and the network are always rebuilt from what
    was imported, even where the settings equal the page's (the points may not)."""
    lines = [line[len(STATE_PREFIX):] if line.startswith(STATE_PREFIX) else ""
             for line in text.splitlines() if line.startswith(STATE_PREFIX.rstrip())]
    if not lines:
        raise GlassnetError("the TOML has no playground state ('#| ' lines); export it from the playground first")
    try:
        state = tomllib.loads("\n".join(lines))
    except tomllib.TOMLDecodeError as exc:
        raise GlassnetError(f"the playground state in the TOML is not valid TOML: {exc}") from None
    points = state.pop("points", None)
    drawn = state.pop("drawn", None)
    unknown = sorted(set(state) - set(BY_KEY))
    if unknown:
        raise GlassnetError(f"unknown settings in the playground state: {', '.join(unknown)}")
    pg = {**defaults(), **state}
    for key in ("problem", "classes"):
        pg[key] = validate(key, pg[key])
    custom_key = "regDataset" if pg["problem"] == "regression" else "dataset"
    custom = None
    if pg.get(custom_key) == "custom":
        if not isinstance(points, list) or not points or len(points) > data_mod.MAX_CUSTOM_POINTS:
            raise GlassnetError(f"custom data needs 'points': 1 to {data_mod.MAX_CUSTOM_POINTS} rows [x1, x2, label]")
        try:
            arr = np.asarray(points, dtype=np.float64)
        except (TypeError, ValueError):
            raise GlassnetError("'points' must be rows of three numbers [x1, x2, label]") from None
        custom = data_mod.check_points(arr, pg["problem"], pg["classes"])
        if drawn is not None:
            if not (isinstance(drawn, list) and all(_int(i, 0, len(arr) - 1) for i in drawn)):
                raise GlassnetError(f"'drawn' must list row indices of 'points' (0 to {len(arr) - 1})")
            custom.drawn = np.zeros(len(arr), bool)
            custom.drawn[drawn] = True
    session.import_state(pg, custom)


def to_python(session) -> str:
    """A script with the public API: the same data, and the main view's network and training."""
    s = session.focus_settings
    outputs, _, loss = network.task(s)
    w_init, b_init = network.init_specs(s)
    lines = ['"""The glassnet playground\'s setup as a script: same data, network and training."""',
             "", "import numpy as np", "", "import glassnet as gn", "from glassnet.data import toy2d", ""]
    if session.uses_custom:
        pts = np.column_stack([session.custom.x, session.custom.y]).round(6).tolist()
        lines += [f"points = np.array({pts!r})", "X = points[:, :2]",
                  "labels = points[:, 2]" + (".astype(np.int64)" if s["problem"] != "regression" else "")]
    else:
        name, args = data_mod.generator(s)
        if "classes" in args and not options.takes_classes(name):
            del args["classes"]
        call = ", ".join(f"{k}={v!r}" for k, v in args.items())
        lines.append(f"data = gn.data.load({name!r}, {call})")
        lines.append("X, labels = data.x, data.y")
    lines += [f"order = np.random.default_rng({s['seed']}).permutation(len(X))",
              f"n_train = round(len(X) * {s['percTrainData'] / 100!r})",
              "train, test = order[:n_train], order[n_train:]",
              f"features = {list(session.feature_names)!r}",
              "x_train, x_test = toy2d.features(X[train], features), toy2d.features(X[test], features)"]
    if s["problem"] == "classification":
        lines.append("y_train, y_test = 2.0 * labels[train] - 1, 2.0 * labels[test] - 1  # -1/+1 targets for tanh")
    else:
        lines.append("y_train, y_test = labels[train], labels[test]")
    lines += ["", "model = gn.Sequential(["]
    for spec in network.layer_specs(s):
        lines.append(f"    {_py_layer(spec)},")
    lines.append(f"], input_shape=({len(session.feature_names)},), init=gn.initializers.get({w_init!r}), "
                 f"bias_init=gn.initializers.get({b_init!r}), seed={session.members[session.focus].seed}, dtype=\"float64\")")
    wd = s["regularizationRate"] if s["regularization"] == "L2" else 0.0
    l1 = s["regularizationRate"] if s["regularization"] == "L1" else 0.0
    lines += ["model.summary()",
              f"history = model.fit(x_train, y_train, loss={loss!r}, "
              f"optimizer=gn.optimizers.get({network.optimizer_spec(s)!r}),",
              f"                    epochs={max(session.epoch, 1)}, batch_size={s['batchSize']}, "
              f"weight_decay={wd!r}, l1={l1!r},",
              "                    validation_data=(x_test, y_test))",
              'print(f"train loss {history.final(\'data_loss\'):.4f}, test loss {history.final(\'val_loss\'):.4f}")']
    return "\n".join(lines) + "\n"


def _py_layer(spec: dict) -> str:
    """A layer config as the public constructor call: ``gn.Dense(4, activation='tanh')``."""
    spec = dict(spec)
    kind = spec.pop("type")
    if kind == "dense":
        act = spec.get("activation")
        return f"gn.Dense({spec['units']}" + (f", activation={act!r})" if act else ")")
    if kind == "batchnorm":
        return "gn.BatchNorm()"
    if kind == "activation":
        return f"gn.Activation({spec['activation']!r})"
    return f"gn.Dropout({spec['rate']!r})"


def to_npz(session) -> str:
    """The weights as a base64 ``.npz`` written by :meth:`Sequential.save` (the main view's
    copy, as a network of its own)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = session.single().save(os.path.join(tmp, "playground.npz"))
        return base64.b64encode(path.read_bytes()).decode("ascii")


def from_npz(session, content: str) -> None:
    try:
        raw = base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError):
        raise GlassnetError("the weights must be a base64-encoded .npz file") from None
    if len(raw) > MAX_IMPORT_BYTES:
        raise GlassnetError(f"the weights file is larger than {MAX_IMPORT_BYTES // 1_000_000} MB")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "weights.npz")
        with open(path, "wb") as f:
            f.write(raw)
        _check_npz(path)
        model = Sequential.load(path)
    session.load_weights(model)


#: layer types a playground network is made of
NPZ_LAYERS = ("dense", "batchnorm", "activation", "dropout")
#: float types a playground network may be saved in
NPZ_DTYPES = ("float32", "float64")


def _check_npz(path: str) -> None:
    """Refuse, before building anything, a file that would build more than a page may hold: a
    decompressed size over 20 MB, or a header declaring other layer types, more inputs than the
    page has features, more than ``MAX_HIDDEN_LAYERS`` hidden layers or ``MAX_NEURONS`` units,
    more than one model, or a seed or dtype no page writes. One line says what is wrong."""
    try:
        with zipfile.ZipFile(path) as z:
            if sum(i.file_size for i in z.infolist()) > 10 * MAX_IMPORT_BYTES:
                raise GlassnetError("the weights file unpacks to more than 20 MB")
    except zipfile.BadZipFile:
        raise GlassnetError("the weights file is not an .npz archive") from None
    with np.load(path, allow_pickle=False) as f:
        if "__model__" not in f.files:
            raise GlassnetError("the weights file has no '__model__' header; save it with model.save or Export")
        try:
            header = json.loads(str(f["__model__"]))
        except (ValueError, OSError):  # not JSON text, or not a readable array
            header = None
    problem = _header_problem(header)
    if problem:
        raise GlassnetError(f"the weights file is not a playground network: {problem}")


def _header_problem(header) -> str | None:
    """What makes ``header`` (a model file's JSON header) more than a playground network, or None."""
    if not isinstance(header, dict):
        return "its '__model__' header is not a JSON object"
    layers, shape, seeds = header.get("layers"), header.get("input_shape"), header.get("seeds")
    if not isinstance(layers, list) or not all(isinstance(c, dict) for c in layers):
        return "its header has no list of layers"
    kinds = [c.get("type") for c in layers]
    if any(k not in NPZ_LAYERS for k in kinds):
        return f"layer types must be {', '.join(NPZ_LAYERS)}; it has {sorted(set(map(str, kinds)) - set(NPZ_LAYERS))}"
    units = [c.get("units") for c in layers if c.get("type") == "dense"]
    if not 1 <= len(units) <= MAX_HIDDEN_LAYERS + 1 or len(layers) > 4 * MAX_HIDDEN_LAYERS + 1:
        return (f"at most {MAX_HIDDEN_LAYERS} hidden layers and an output layer (dense, batch-norm, activation "
                f"and dropout layers); it has {len(units)} dense layers of {len(layers)}")
    if not all(_int(u, 1, MAX_NEURONS) for u in units):
        return f"every layer has 1 to {MAX_NEURONS} units; it has {units}"
    if not (isinstance(shape, list) and len(shape) == 1 and _int(shape[0], 1, len(FEATURE_KEYS))):
        return f"its input is 1 to {len(FEATURE_KEYS)} features; it declares input_shape {str(shape)[:60]}"
    if not (isinstance(seeds, list) and len(seeds) == 1 and _int(seeds[0], 0, 2**63 - 1)):
        return f"it holds one model with a seed in [0, 2^63); it declares seeds {str(seeds)[:60]}"
    if header.get("dtype") not in NPZ_DTYPES:
        return f"its dtype is one of {', '.join(NPZ_DTYPES)}; it declares {str(header.get('dtype'))[:30]!r}"
    return None


def _int(v, lo: int, hi: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi
