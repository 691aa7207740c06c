"""Reading, overriding, validating and writing experiment configs.

* :func:`load_config` reads a TOML file (or the embedded default), applies ``--set key.path=value``
  overrides and validates it against :mod:`.schema`.
* Every validation problem becomes ONE :class:`~glassnet.errors.GlassnetError` line naming the
  key path, the value and what is allowed, e.g.
  ``exp.toml: training.optimizer.lr = -1: lr must be >= 0, got -1``.
* :func:`resolve` gives the canonical plain-dict form stored with every run (names canonical,
  optimizer options explicit); :func:`to_toml` writes it back, so a stored run re-runs exactly.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import sys
from importlib import resources
from pathlib import Path

import pydantic

from ..errors import GlassnetError
from .schema import ConfigKeyError, ExperimentConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

DEFAULT_NAME = "default.toml"
_TAG = re.compile(r"^(str|int|float|bool|none|list\[.*\]|dict\[.*\]|literal\[.*\]|function-.*|.*\[.*\])$")


# ------------------------------------------------------------------------------------ reading
def default_text() -> str:
    """The embedded default experiment (the seed-003 8-3-8 autoencoder) as TOML text."""
    return resources.files("glassnet.experiments").joinpath(DEFAULT_NAME).read_text()


def read_toml(path) -> dict:
    """A TOML file as a dict; ``None`` means the embedded default."""
    if path is None:
        return tomllib.loads(default_text())
    path = Path(path)
    if not path.exists():
        raise GlassnetError(f"config file {str(path)!r} does not exist")
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise GlassnetError(f"{path}: not valid TOML ({exc})") from None


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
    """Validate a plain dict; any problem raises ONE GlassnetError line naming the key path."""
    try:
        return ExperimentConfig.model_validate(raw)
    except pydantic.ValidationError as exc:
        raise GlassnetError(f"{source}: {format_error(exc)}") from None


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
        key = f'"{error.key}"' if "." in error.key and not error.key.startswith("options.") else error.key
        key_path = key if not path else (f"{path}{key}" if key.startswith("[") else f"{path}.{key}")
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
def resolve(config: ExperimentConfig) -> dict:
    """The canonical JSON-able dict of a validated config (``None`` values dropped)."""
    out = config.model_dump(mode="json", exclude_none=True)
    out["training"]["optimizer"] = config.training.optimizer.resolved()
    return out


def run_config(resolved: dict) -> dict:
    """A resolved config without its sweep: the config of one run."""
    out = copy.deepcopy(resolved)
    out.pop("sweep", None)
    out["training"].pop("seeds", None)
    return out


def config_hash(run_cfg: dict) -> str:
    """Hash of what determines a run's numbers (its name and description excluded)."""
    body = {k: v for k, v in run_cfg.items() if k not in ("name", "description")}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def to_toml(cfg: dict) -> str:
    """A config dict as TOML text (``glassnet runs show ID --config``)."""
    import tomli_w  # noqa: PLC0415

    def clean(v):
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items() if x is not None}
        if isinstance(v, list):
            return [clean(x) for x in v]
        return v

    return tomli_w.dumps(clean(cfg))
