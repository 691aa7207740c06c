"""Reading, overriding, validating and writing experiment configs: the one boundary.

* :func:`load_config` reads a TOML file (or the embedded default), applies ``--set key.path=value``
  overrides and validates it against :mod:`.schema` with :func:`validate`, which also validates
  every sweep point. This is the only place a config value is checked; from here on configs are
  frozen :class:`~.schema.ExperimentConfig` / :class:`~.schema.RunConfig` objects.
* A config file must be a regular file of at most :data:`MAX_CONFIG_BYTES`, UTF-8 TOML.
* Every validation problem becomes ONE :class:`~glassnet.errors.GlassnetError` line naming the
  key path, the value and what is allowed, e.g.
  ``exp.toml: training.optimizer.lr = -1: lr must be >= 0, got -1``.
* :func:`resolve` gives the canonical plain-dict (JSON) form stored with every run (names
  canonical, optimizer options explicit); :func:`to_toml` writes it back, so a stored run re-runs
  exactly.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
import re
import stat
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pydantic

from ..errors import GlassnetError
from .schema import ConfigKeyError, ExperimentConfig, RunConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

DEFAULT_NAME = "default.toml"
#: the largest config file read (inline data included); anything bigger is refused before reading
MAX_CONFIG_BYTES = 4 * 2**20
_TAG = re.compile(r"^(str|int|float|bool|none|list\[.*\]|dict\[.*\]|literal\[.*\]|function-.*|.*\[.*\])$")


# ------------------------------------------------------------------------------------ reading
def default_text() -> str:
    """The embedded default experiment (the seed-003 8-3-8 autoencoder) as TOML text."""
    return resources.files("glassnet.experiments").joinpath(DEFAULT_NAME).read_text()


def read_toml(path) -> dict:
    """A TOML file as a dict; ``None`` means the embedded default.

    Only a regular file of at most :data:`MAX_CONFIG_BYTES` is read (``/dev/zero``, a FIFO or a
    folder is refused before it is opened), and it must be UTF-8 text.
    """
    if path is None:
        return tomllib.loads(default_text())
    return parse_toml(read_config_bytes(path), str(path))


def read_config_bytes(path) -> bytes:
    """The bytes of config file ``path``, checked to be a regular file within the size cap."""
    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise GlassnetError(f"config file {str(path)!r} does not exist") from None
    except OSError as exc:
        raise GlassnetError(f"config file {str(path)!r}: cannot read it ({exc.strerror or exc})") from None
    if not stat.S_ISREG(info.st_mode):
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file (a device, FIFO or socket)"
        raise GlassnetError(f"config file {str(path)!r} is {kind}; give a TOML file")
    if info.st_size > MAX_CONFIG_BYTES:
        raise GlassnetError(f"config file {str(path)!r} is {info.st_size:,} bytes, over the "
                            f"{MAX_CONFIG_BYTES // 2**20} MiB a config may have")
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise GlassnetError(f"config file {str(path)!r}: cannot read it ({exc.strerror or exc})") from None
    if len(data) > MAX_CONFIG_BYTES:  # a file that grew, or one whose size the system does not report
        raise GlassnetError(f"config file {str(path)!r} is over the {MAX_CONFIG_BYTES // 2**20} MiB a config may have")
    return data


def parse_toml(data: bytes, label: str) -> dict:
    """UTF-8 TOML bytes as a dict; a binary or non-UTF-8 file, or bad TOML, is one line."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GlassnetError(f"{label}: not a UTF-8 text file (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                            "a config is a TOML text file") from None
    if "\x00" in text:
        raise GlassnetError(f"{label}: not a text file (it holds NUL bytes); a config is a TOML text file")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise GlassnetError(f"{label}: not valid TOML ({str(exc).splitlines()[0]})") from None


def parse_override(text: str) -> tuple[str, object]:
    """``"training.optimizer.lr=0.5"`` -> ``("training.optimizer.lr", 0.5)``; the value is read as
    TOML (``[1, 2]``, ``true``, ``"k-1"``), and as a plain string when it is not valid TOML."""
    if "=" not in text:
        raise GlassnetError(f"--set needs key.path=value, got {text!r}")
    key, raw = (s.strip() for s in text.split("=", 1))
    if not re.fullmatch(r"[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)*", key):
        raise GlassnetError(f"--set key must be a dotted path like training.optimizer.lr, got {key!r}")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value


def set_path(config: dict, path: str, value) -> dict:
    """Set ``a.b.c`` in a nested dict, creating tables; a name string on the way (``optimizer =
    "sgd"``) turns into its table form (``{name = "sgd"}``) so its options can be set."""
    parts = path.split(".")
    node = config
    for part in parts[:-1]:
        nxt = node.get(part)
        if nxt is None:
            nxt = node[part] = {}
        elif isinstance(nxt, str):
            nxt = node[part] = {"name": nxt}
        elif not isinstance(nxt, dict):
            raise GlassnetError(f"cannot set {path}: {part} is {nxt!r}, not a table")
        node = nxt
    node[parts[-1]] = value
    return config


def load_config(path=None, overrides=(), source: str | None = None) -> ExperimentConfig:
    """Read, override and validate an experiment; ``path=None`` is the embedded default."""
    raw = read_toml(path)
    for item in overrides:
        key, value = item if isinstance(item, tuple) else parse_override(item)
        set_path(raw, key, value)
    label = source or (str(path) if path is not None else "default config")
    return validate(raw, label)


def validate(raw: dict, source: str = "config") -> ExperimentConfig:
    """Validate a plain dict, and every point of its sweep; any problem raises ONE GlassnetError
    line naming the key path (and the sweep point)."""
    try:
        cfg = ExperimentConfig.model_validate(raw)
    except pydantic.ValidationError as exc:
        raise GlassnetError(f"{source}: {format_error(exc)}") from None
    point_runs(cfg, source)
    return cfg


# -------------------------------------------------------------------------------- sweep points
#: key paths a sweep may not set (seeds are replicas: ``sweep.seeds``)
_NOT_SWEPT = ("training.seed", "training.seeds")


def _draw(rng: np.random.Generator, dist: dict):
    (kind, args), = dist.items()
    if kind == "uniform":
        return float(rng.uniform(args[0], args[1]))
    if kind == "log_uniform":
        return float(math.exp(rng.uniform(math.log(args[0]), math.log(args[1]))))
    if kind == "int_uniform":
        return int(rng.integers(int(args[0]), int(args[1]) + 1))
    return args[int(rng.integers(len(args)))]


def points(cfg: ExperimentConfig) -> list[dict]:
    """The sweep's points as ``{key.path: value}`` dicts, in a fixed order (seeds excluded)."""
    sweep = cfg.sweep
    if sweep is None:
        return [{}]
    axes: list[list[dict]] = [[{path: v} for v in values] for path, values in sweep.grid.items()]
    if sweep.zip:
        n = len(next(iter(sweep.zip.values())))
        axes.append([{p: vals[i] for p, vals in sweep.zip.items()} for i in range(n)])
    if sweep.random is not None:
        rng = np.random.default_rng(sweep.random.seed)
        axes.append([{p: _draw(rng, d) for p, d in sweep.random.params.items()} for _ in range(sweep.random.n)])
    return [dict(kv for d in combo for kv in d.items()) for combo in itertools.product(*axes)]


def point_runs(cfg: ExperimentConfig, source: str = "config") -> tuple:
    """``((point, RunConfig), ...)``: every sweep point with its validated run config (seed:
    ``training.seed``; the planner replicates it over the seeds).

    A point's values are new input, so the point is validated, once, when the experiment is
    (:func:`validate` calls this; the result is kept on ``cfg``). Only the tables a point changes
    are validated again with its values; the others are the experiment's validated tables,
    reused as they are. Without a sweep the one run is the experiment's own tables.
    """
    if cfg._point_runs is not None:
        return cfg._point_runs
    base = cfg.base_run()
    out = []
    for point in points(cfg):
        for path in point:
            if path.startswith("sweep.") or path in _NOT_SWEPT:
                raise GlassnetError(f"{source}: sweep over {path!r} is not possible; use sweep.seeds for seeds")
        out.append((point, _with_point(base, point, f"{source}: sweep point {_short(point)}") if point else base))
    cfg._point_runs = tuple(out)
    return cfg._point_runs


def _with_point(base: RunConfig, point: dict, label: str) -> RunConfig:
    """``base`` with the point's values: the tables they touch validated, the others reused."""
    raw = {"name": base.name, "description": base.description,
           "data": base.data, "model": base.model, "training": base.training}
    touched = {path.split(".")[0] for path in point}
    for table in touched & {"data", "model", "training"}:
        raw[table] = raw[table].model_dump(mode="json", exclude_none=True)
    for path, value in point.items():
        try:
            set_path(raw, path, copy.deepcopy(value))
        except GlassnetError as exc:
            raise GlassnetError(f"{label}: {exc}") from None
    try:
        return RunConfig.model_validate(raw)
    except pydantic.ValidationError as exc:
        raise GlassnetError(f"{label}: {format_error(exc)}") from None


def _short(point: dict) -> str:
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in point.items())


# ----------------------------------------------------------------------------- error messages
def _path(loc, err_type: str) -> str:
    """pydantic's ``loc`` as a key path: union member tags dropped, indices as ``[i]``."""
    parts: list[str] = []
    cls = ExperimentConfig
    for i, item in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(item, int):
            parts.append(f"[{item}]")
            continue
        fields = getattr(cls, "model_fields", None) if cls is not None else None
        if fields is not None and item in fields:
            parts.append(item)
            cls = _model_of(fields[item].annotation)
        elif fields is not None or (last and err_type == "extra_forbidden") or not _TAG.match(item):
            parts.append(f'"{item}"' if "." in item else item)
            cls = None
    return _join(parts)


def _join(parts) -> str:
    out = ""
    for p in parts:
        out += p if (p.startswith("[") or not out) else f".{p}"
    return out


def _model_of(annotation):
    for cand in (annotation, *getattr(annotation, "__args__", ())):
        if isinstance(cand, type) and issubclass(cand, pydantic.BaseModel):
            return cand
    return None


def _allowed_keys(loc) -> list[str]:
    cls = ExperimentConfig
    for item in loc[:-1]:
        fields = getattr(cls, "model_fields", None)
        if fields is None or item not in fields:
            continue
        cls = _model_of(fields[item].annotation)
    return list(getattr(cls, "model_fields", {}))


def _show(value) -> str:
    text = json.dumps(value) if isinstance(value, (str, bool, list, dict)) or value is None else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def format_error(exc: pydantic.ValidationError) -> str:
    """The first problem of a ValidationError as one line (with a count of the others)."""
    errors = exc.errors()
    first = errors[0]
    path = _path(first["loc"], first["type"])
    # a union reports one error per member at the same path: merge them into "a or b"
    same = [e for e in errors if _path(e["loc"], e["type"]) == path and e["type"] != "extra_forbidden"]
    others = len({_path(e["loc"], e["type"]) for e in errors}) - 1
    tail = f" (and {others} more problem{'s' if others > 1 else ''})" if others > 0 else ""
    if first["type"] == "extra_forbidden":
        allowed = _allowed_keys(first["loc"])
        return f"{path}: unknown key; allowed keys: {', '.join(allowed)}{tail}"
    if first["type"] == "missing":
        return f"{path}: missing; this key is required{tail}"
    error = (first.get("ctx") or {}).get("error")
    if isinstance(error, ConfigKeyError):
        if not path:  # raised for the whole config: the key is a whole key path already
            key_path = error.key
        else:  # a key inside a table; a dotted sweep axis ("training.lr") is one key, quoted
            key = f'"{error.key}"' if "." in error.key and not error.key.startswith(("options.", "[")) else error.key
            key_path = f"{path}{key}" if key.startswith("[") else f"{path}.{key}"
        return f"{key_path} = {_show(error.value)}: {error.message}{tail}"
    msgs = []
    for e in same or [first]:
        m = e["msg"].removeprefix("Value error, ").replace("Input should be", "must be")
        if msgs:
            m = m.removeprefix("must be ")
        if m not in msgs:
            msgs.append(m)
    where = f"{path} = {_show(first['input'])}" if path else "config"
    if not path or isinstance(first["input"], dict):
        where = path or "config"
    text = msgs[0] if len(msgs) == 1 else f"{', '.join(msgs[:-1])} or {msgs[-1]}"
    return f"{where}: {text}{tail}"


# ---------------------------------------------------------------------------- canonical forms
def resolve(config) -> dict:
    """The canonical JSON-able dict of a validated config (``None`` values dropped): its
    :meth:`~.schema.RunConfig.as_dict`. Validation already made every name canonical and every
    optimizer option explicit."""
    return config.as_dict()


def run_config(config: ExperimentConfig) -> RunConfig:
    """The config of one run of ``config``: without its sweep and replicas."""
    return config.base_run()


def config_hash(run_cfg) -> str:
    """Hash of what determines a run's numbers (its name and description excluded): of a
    :class:`~.schema.RunConfig`, or of its JSON form as stored."""
    body = run_cfg.as_dict() if isinstance(run_cfg, pydantic.BaseModel) else run_cfg
    body = {k: v for k, v in body.items() if k not in ("name", "description")}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def config_json(config) -> str:
    """The JSON text the run store keeps for a config: a validated config's canonical form
    (:func:`resolve`); a plain mapping (a record the store is handed as JSON) as it is."""
    return json.dumps(config.as_dict() if isinstance(config, pydantic.BaseModel) else config)


def to_toml(cfg) -> str:
    """A config (a validated config or its dict form) as TOML text (``glassnet runs show ID
    --config``)."""
    import tomli_w  # noqa: PLC0415

    if isinstance(cfg, pydantic.BaseModel):
        cfg = cfg.as_dict()

    def clean(v):
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items() if x is not None}
        if isinstance(v, list):
            return [clean(x) for x in v]
        return v

    return tomli_w.dumps(clean(cfg))
