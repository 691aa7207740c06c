"""The experiment config schema: what a TOML file may say, checked by pydantic.

An experiment file has four sections (``name`` and ``description`` may sit on top)::

    [data]       a data set from the ``glassnet.data.datasets`` registry, or inline arrays
    [model]      layers (``hidden = [3]`` or a full ``layers`` list), activations, init, dtype
    [training]   loss, optimizer and its hyperparameters, steps or epochs, batch size,
                 weight decay, seed(s), logging
    [sweep]      optional: grid / zip / random axes over any key path, ``seeds = N`` replicas

Every model forbids unknown keys and is strict about types (a TOML string is never read as a
number). Names (data set, activation, initializer, loss, optimizer, layer type) resolve through
the registries, so a config accepts exactly the names the Python API accepts. Errors are turned
into ONE line naming the key path by :mod:`glassnet.experiments.config`.
"""

from __future__ import annotations

import inspect
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .. import initializers as inits
from .. import losses as losses_mod
from .. import optimizers as optim_mod
from ..errors import GlassnetError


class ConfigKeyError(ValueError):
    """A problem with one key inside a table whose keys pydantic does not know (optimizer
    options, data set options): ``key`` is appended to the table's path in the message."""

    def __init__(self, key: str, value, message: str):
        super().__init__(message)
        self.key, self.value, self.message = key, value, message


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


def _as_table(value, what: str = "name"):
    """``"normal"`` is shorthand for ``{name = "normal"}`` wherever a table with a name is allowed."""
    return {what: value} if isinstance(value, str) else value


def _engine_error(exc: GlassnetError, keys) -> ConfigKeyError | ValueError:
    """Attribute an engine message ("lr must be >= 0, got -1") to the key it starts with."""
    msg = str(exc)
    for key in sorted(keys, key=len, reverse=True):
        if msg.startswith(f"{key} ") or msg.startswith(f"normal {key} ") or msg.startswith(f"uniform {key} "):
            return ConfigKeyError(key, keys[key], msg)
    return ValueError(msg)


# --------------------------------------------------------------------------------------- data
class DataConfig(Strict):
    """``name`` (+ ``options``) from the data set registry, or inline ``x``/``y`` arrays."""

    name: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    x: list[Any] | None = None
    y: list[Any] | None = None
    #: encode integer class labels as target vectors ("k" one-hot or "k-1" reference class)
    encoding: Literal["k", "k-1"] | None = None
    standardize: bool = False
    #: fraction held out for validation (0 = none), split with ``split_seed``
    validation_split: float = Field(0.0, ge=0.0, lt=1.0)
    split_seed: int = 0

    @field_validator("name")
    @classmethod
    def _known(cls, v):
        from ..data import datasets  # noqa: PLC0415 - the data package loads lazily

        return None if v is None else datasets.canonical(v)

    @model_validator(mode="after")
    def _one_source(self):
        if (self.name is None) == (self.x is None):
            raise ValueError("give a data set name or inline x and y arrays (exactly one of them)")
        if self.x is not None:
            if self.y is None:
                raise ConfigKeyError("y", None, "inline data needs y as well as x")
            if len(self.x) != len(self.y):
                raise ConfigKeyError("y", f"{len(self.y)} rows", f"y has {len(self.y)} rows but x has {len(self.x)}")
            if self.options:
                raise ConfigKeyError("options", self.options, "options apply to named data sets only")
        if self.name is not None:
            from ..data import datasets  # noqa: PLC0415

            allowed = list(inspect.signature(datasets.get(self.name)).parameters)
            for key, value in self.options.items():
                if key not in allowed:
                    raise ConfigKeyError(f"options.{key}", value, f"data set {self.name!r} has no option {key!r}; "
                                                     f"options: {', '.join(allowed) or 'none'}")
        return self


# -------------------------------------------------------------------------------------- model
class ModelConfig(Strict):
    """``hidden = [3]`` builds Dense layers of those widths plus an output layer sized from the
    data; ``layers = [{type = "dense", units = 3, activation = "sigmoid"}, ...]`` gives every layer
    (the same dicts as ``Layer.config()``)."""

    hidden: list[int] | None = None
    activation: str | dict[str, Any] = "relu"
    output_activation: str | dict[str, Any] = "identity"
    #: output width; default: the target width (or the number of classes for integer labels)
    output_units: int | None = Field(None, ge=1)
    layers: list[dict[str, Any]] | None = None
    init: str | dict[str, Any] | float = "glorot_uniform"
    bias_init: str | dict[str, Any] | float = "zeros"
    dtype: Literal["float32", "float64"] = "float32"

    @field_validator("hidden")
    @classmethod
    def _widths(cls, v):
        if v is not None:
            for i, w in enumerate(v):
                if w < 1:
                    raise ConfigKeyError(f"[{i}]", w, "must be a width >= 1")
        return v

    @field_validator("activation", "output_activation")
    @classmethod
    def _activation(cls, v):
        from ..layers import Dense  # noqa: PLC0415

        Dense(1, activation=v)  # resolves the name (prelu included) or raises with valid names
        return _canonical_named(v, "activation")

    @field_validator("init", "bias_init")
    @classmethod
    def _init(cls, v):
        spec = _as_table(v)
        try:
            inits.get(spec)
        except GlassnetError as exc:
            raise _engine_error(exc, spec if isinstance(spec, dict) else {}) from None
        return _canonical_named(v, "initializer")

    @field_validator("layers")
    @classmethod
    def _layers(cls, v):
        from ..layers import from_config  # noqa: PLC0415

        if v is not None:
            if not v:
                raise ValueError("layers must not be empty")
            for i, layer in enumerate(v):
                try:
                    from_config(layer)
                except GlassnetError as exc:
                    raise ConfigKeyError(f"[{i}]", layer, str(exc)) from None
        return v

    @model_validator(mode="after")
    def _one_form(self):
        if self.hidden is not None and self.layers is not None:
            raise ValueError("give hidden = [...] or layers = [...], not both")
        if self.hidden is None and self.layers is None:
            raise ValueError("give hidden = [widths] (e.g. [3]) or a layers = [...] list")
        return self


def _canonical_named(v, family: str):
    """Registry names in their canonical spelling, so equal configs hash equally."""
    from ..activations import activations  # noqa: PLC0415

    reg = activations if family == "activation" else inits.initializers
    if isinstance(v, str) and v.strip().lower() != "prelu":
        return reg.canonical(v)
    if isinstance(v, dict) and isinstance(v.get("name"), str) and v["name"] != "prelu":
        return {**v, "name": reg.canonical(v["name"])}
    return v


# ----------------------------------------------------------------------------------- training
class OptimizerConfig(BaseModel):
    """``name`` from the optimizer registry plus that optimizer's own options (``lr``,
    ``momentum``, ``beta1`` ...), checked against its constructor."""

    model_config = ConfigDict(extra="allow", strict=True)
    name: str = "sgd"

    @model_validator(mode="after")
    def _options(self):
        try:
            cls = optim_mod.optimizers.get(self.name)
        except GlassnetError as exc:
            raise ConfigKeyError("name", self.name, str(exc)) from None
        allowed = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
        options = dict(self.model_extra or {})
        for key, value in options.items():
            if key not in allowed:
                raise ConfigKeyError(key, value, f"optimizer {self.name!r} has no option {key!r}; "
                                                 f"options: {', '.join(allowed)}")
            if isinstance(value, (list, tuple, dict)):
                raise ConfigKeyError(key, value, "must be a single value (sweep over it with [sweep])")
        try:
            optim_mod.get({"name": self.name, **options})
        except GlassnetError as exc:
            raise _engine_error(exc, options) from None
        return self

    def resolved(self) -> dict:
        """Every option explicit, canonical name (``"momentum"`` -> sgd with momentum 0.9)."""
        opt = optim_mod.get({"name": self.name, **(self.model_extra or {})})
        return opt.config()


class TrainingConfig(Strict):
    loss: str = "mse"
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    steps: int | None = Field(None, ge=1)
    epochs: int | None = Field(None, ge=1)
    #: samples per update; 0 means the full batch
    batch_size: int = Field(32, ge=0)
    shuffle: bool = True
    weight_decay: float = Field(0.0, ge=0.0)
    l1: float = Field(0.0, ge=0.0)
    log_every: int | None = Field(None, ge=1)
    metrics: list[str] | None = None
    seed: int = Field(0, ge=0)
    #: replicas: N seeds (seed, seed+1, ...) or an explicit list
    seeds: int | list[int] | None = None

    @field_validator("optimizer", mode="before")
    @classmethod
    def _short_optimizer(cls, v):
        return _as_table(v)

    @field_validator("loss")
    @classmethod
    def _loss(cls, v):
        return losses_mod.losses.canonical(v)

    @field_validator("metrics")
    @classmethod
    def _metrics(cls, v):
        for i, name in enumerate(v or []):
            if name != "accuracy":
                raise ConfigKeyError(f"[{i}]", name, f"unknown metric {name!r}; valid metrics: accuracy")
        return v

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v):
        if isinstance(v, int) and v < 1:
            raise ValueError("must be a number of replicas >= 1 or a list of seeds")
        if isinstance(v, list) and (not v or min(v) < 0 or len(set(v)) != len(v)):
            raise ValueError("must be a non-empty list of distinct seeds >= 0")
        return v

    @model_validator(mode="after")
    def _duration(self):
        if self.steps is not None and self.epochs is not None:
            raise ConfigKeyError("epochs", self.epochs, "give steps or epochs, not both")
        return self


# -------------------------------------------------------------------------------------- sweep
DISTRIBUTIONS = ("uniform", "log_uniform", "int_uniform", "choice")


class RandomConfig(Strict):
    """Random search: ``n`` points, each key path drawn from its distribution with ``seed``."""

    n: int = Field(..., ge=1)
    seed: int = 0
    params: dict[str, dict[str, list[Any]]]

    @field_validator("params", mode="before")
    @classmethod
    def _flat(cls, v):
        return flatten_axes(v, leaf=lambda d: isinstance(d, dict) and bool(d) and set(d) <= set(DISTRIBUTIONS))

    @field_validator("params")
    @classmethod
    def _dists(cls, v):
        for path, dist in v.items():
            if len(dist) != 1:
                raise ConfigKeyError(path, dist, f"give one distribution: {', '.join(DISTRIBUTIONS)}")
            kind, args = next(iter(dist.items()))
            if kind != "choice" and (len(args) != 2 or not all(isinstance(a, (int, float)) for a in args)
                                     or args[0] >= args[1] or (kind == "log_uniform" and args[0] <= 0)):
                raise ConfigKeyError(path, dist, f"{kind} needs [low, high] with low < high"
                                                 + (" and low > 0" if kind == "log_uniform" else ""))
            if kind == "choice" and not args:
                raise ConfigKeyError(path, dist, "choice needs a non-empty list")
        return v


class SweepConfig(Strict):
    """Axes of a sweep. ``grid``: the cartesian product of every key's list. ``zip``: lists of one
    length advanced together (one axis). ``random``: ``n`` sampled points (one axis). All axes
    multiply; ``seeds`` replicates every point."""

    grid: dict[str, list[Any]] = Field(default_factory=dict)
    zip: dict[str, list[Any]] = Field(default_factory=dict)
    random: RandomConfig | None = None
    seeds: int | list[int] | None = None
    #: most models one job trains together (bounds memory; default: no bound)
    max_models_per_job: int | None = Field(None, ge=1)

    @field_validator("grid", "zip", mode="before")
    @classmethod
    def _flat(cls, v):
        return flatten_axes(v, leaf=lambda d: not isinstance(d, dict))

    @field_validator("grid", "zip")
    @classmethod
    def _lists(cls, v):
        for path, values in v.items():
            if not values:
                raise ConfigKeyError(path, values, "needs a non-empty list of values")
        return v

    @field_validator("zip")
    @classmethod
    def _same_length(cls, v):
        lengths = {path: len(values) for path, values in v.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"zip lists must have one length, got {lengths}")
        return v

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v):
        return TrainingConfig._seeds(v)


def flatten_axes(v, leaf) -> dict:
    """``{"training": {"lr": [..]}}`` (TOML dotted keys) -> ``{"training.lr": [..]}``."""
    if not isinstance(v, dict):
        return v
    out = {}
    for key, value in v.items():
        if isinstance(value, dict) and not leaf(value):
            for sub, inner in flatten_axes(value, leaf).items():
                out[f"{key}.{sub}"] = inner
        else:
            out[key] = value
    return out


# --------------------------------------------------------------------------------- experiment
class ExperimentConfig(Strict):
    name: str = "experiment"
    description: str = ""
    data: DataConfig
    model: ModelConfig
    training: TrainingConfig
    sweep: SweepConfig | None = None

    @model_validator(mode="after")
    def _seeds_once(self):
        if self.sweep is not None and self.sweep.seeds is not None and self.training.seeds is not None:
            raise ValueError("give seeds in [training] or in [sweep], not both")
        return self
