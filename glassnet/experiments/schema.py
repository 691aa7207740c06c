"""The experiment config schema: what a TOML file may say, checked by pydantic.

An experiment file has four sections (``name`` and ``description`` may sit on top)::

    [data]       a data set from the ``glassnet.data.datasets`` registry, or inline arrays
    [model]      layers (``hidden = [3]``, a full ``layers`` list or a graph ``architecture``),
                 activations, init, dtype
    [training]   loss, optimizer and its hyperparameters, steps or epochs, batch size,
                 weight decay, metrics, seed(s), logging
    [sweep]      optional: grid / zip / random axes over any key path, ``seeds = N`` replicas

Every model forbids unknown keys, is strict about types (a TOML string is never read as a
number) and is frozen. Names (data set, activation, initializer, loss, optimizer, metric, layer
type) resolve through the registries, so a config accepts exactly the names the Python API
accepts. Engine errors carry the argument they are about (``GlassnetError.field``), which is how
a problem inside an options table is attributed to its key. Errors become ONE line naming the
key path in :mod:`glassnet.experiments.config`.

Validation happens here, once: a validated model holds canonical values (registry names, every
optimizer option explicit, metrics as their registry configs), and nothing downstream checks them
again. :class:`RunConfig` is the frozen config of ONE run: what the planner emits, executors ship,
the worker trains and the store saves (its :meth:`RunConfig.as_dict` JSON form).

Defaults live in the engine, not here: ``batch_size`` defaults to
:data:`glassnet.training.DEFAULT_BATCH_SIZE` and ``"full"`` (:data:`glassnet.training.FULL_BATCH`)
is the one spelling of full batch, checked by the same :func:`~glassnet.training.check_batch_size`
that ``fit`` uses.
"""

from __future__ import annotations

import inspect
import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from .. import initializers as inits
from .. import losses as losses_mod
from .. import metrics as metrics_mod
from .. import optimizers as optim_mod
from ..backend import MAX_BYTES_ENV, memory_budget
from ..errors import GlassnetError
from ..training import DEFAULT_BATCH_SIZE, FULL_BATCH, check_batch_size

#: bytes a data set sample costs at least: one float64 input value and one target value
MIN_SAMPLE_BYTES = 16
#: the options by which a data set builder declares how many samples it makes
SAMPLE_COUNT_OPTIONS = ("n", "n_samples", "n_per_class")
#: ``model.init`` / ``model.bias_init`` value meaning "no model-wide initializer": each layer draws
#: with its own default (Glorot uniform and zeros for Dense and Conv2D, PyTorch's
#: U(-1/sqrt(H), 1/sqrt(H)) for the recurrent layers), as a model built with ``init=None`` does
LAYER_DEFAULT = "layer_default"


class ConfigKeyError(ValueError):
    """A problem with one key inside a table whose keys pydantic does not know (optimizer
    options, data set options): ``key`` is appended to the table's path in the message. Raised
    at the top of the config (no table), ``key`` is the whole key path."""

    def __init__(self, key: str, value, message: str):
        super().__init__(message)
        self.key, self.value, self.message = key, value, message


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _as_table(value, what: str = "name"):
    """``"normal"`` is shorthand for ``{name = "normal"}`` wherever a table with a name is allowed."""
    return {what: value} if isinstance(value, str) else value


def _engine_error(exc: GlassnetError, options: dict) -> ValueError:
    """An engine error about one argument (``exc.field``), attributed to that key of ``options``
    (a table of the config); an error about no single option stays on the table."""
    if exc.field is not None and exc.field in options:
        return ConfigKeyError(exc.field, options[exc.field], str(exc))
    return ValueError(str(exc))


def _key_path(prefix: str, key) -> str:
    key = str(key)
    key = f'"{key}"' if not key.replace("_", "").replace("-", "").isalnum() else key
    return f"{prefix}.{key}" if prefix else key


#: integers a config may hold: TOML's 64-bit range (Python's TOML reader accepts any size)
INT_LIMIT = 2**63


def find_bad_number(value, path: str = ""):
    """``(key path, value)`` of the first NaN or infinite number, or integer beyond 64 bits, in a
    raw config (TOML has ``inf`` and ``nan`` literals, and ``--set`` values are read as TOML), or
    ``None``."""
    if isinstance(value, float):
        return None if math.isfinite(value) else (path, value)
    if isinstance(value, int) and not isinstance(value, bool):
        return None if -INT_LIMIT <= value < INT_LIMIT else (path, value)
    if isinstance(value, dict):
        for k, v in value.items():
            found = find_bad_number(v, _key_path(path, k))
            if found:
                return found
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            found = find_bad_number(v, f"{path}[{i}]")
            if found:
                return found
    return None


def _refuse_bad_numbers(raw):
    found = find_bad_number(raw)
    if found:
        if isinstance(found[1], float):
            raise ConfigKeyError(found[0], found[1], "must be a finite number (inf and nan are not allowed in a config)")
        raise ConfigKeyError(found[0], f"{str(found[1])[:12]}... ({len(str(abs(found[1])))} digits)",
                             "must be an integer within 64 bits, as TOML integers are")
    return raw


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

            params = inspect.signature(datasets.get(self.name)).parameters
            allowed = list(params)
            for key, value in self.options.items():
                if key not in allowed:
                    raise ConfigKeyError(f"options.{key}", value, f"data set {self.name!r} has no option {key!r}; "
                                                     f"options: {', '.join(allowed) or 'none'}")
            self._check_size(params)
        return self

    def _check_size(self, params) -> None:
        """Refuse a data set whose declared sample count cannot fit the memory budget, before it
        is built: ``n``/``n_samples`` (or ``n_per_class`` x ``classes``) samples of at least
        :data:`MIN_SAMPLE_BYTES` each (a lower bound: one float64 input and one target)."""
        def number(key, default=None):
            value = self.options.get(key, params[key].default if key in params else default)
            if key == "classes" and isinstance(value, (list, tuple)):  # classes given by name
                return len(value)
            return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None

        for key in SAMPLE_COUNT_OPTIONS:
            count = number(key) if key in params else None
            if count is None:
                continue
            samples = int(count * (number("classes", 1) or 1) if key == "n_per_class" else count)
            nbytes, budget = samples * MIN_SAMPLE_BYTES, memory_budget()
            if nbytes > budget:
                raise ConfigKeyError(f"options.{key}", self.options.get(key, count),
                                     f"data set {self.name!r} with {samples:,} samples needs at least "
                                     f"{nbytes / 2**20:,.0f} MiB, over the memory budget of {budget / 2**20:,.0f} MiB "
                                     f"(set {MAX_BYTES_ENV} to allow more)")


# -------------------------------------------------------------------------------------- model
class ModelConfig(Strict):
    """``hidden = [3]`` builds Dense layers of those widths plus an output layer sized from the
    data; ``layers = [{type = "dense", units = 3, activation = "sigmoid"}, ...]`` gives every layer
    (the same dicts as ``Layer.config()``); ``architecture`` gives a graph model (skip connections,
    merges) as the JSON header its model file carries (``glassnet.network.architecture_header``:
    ``kind = "graph"``, ``inputs``, ``nodes``, ``outputs``), of one input and one output.

    ``init`` / ``bias_init`` apply to every layer that has no initializer of its own;
    ``"layer_default"`` sets none, so each layer keeps its own default (what a model built
    without ``init`` does: the recurrent layers then draw PyTorch's uniform, not Glorot)."""

    hidden: list[int] | None = None
    activation: str | dict[str, Any] = "relu"
    output_activation: str | dict[str, Any] = "identity"
    #: output width; default: the target width (or the number of classes for integer labels)
    output_units: int | None = Field(None, ge=1)
    layers: list[dict[str, Any]] | None = None
    architecture: dict[str, Any] | None = None
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
        from ..layers.activation import activation_layer  # noqa: PLC0415

        try:  # resolves the name through the registry (prelu included) or lists the valid names
            activation_layer(v, name="act")
        except GlassnetError as exc:
            raise _engine_error(exc, v if isinstance(v, dict) else {}) from None
        return _canonical_named(v, "activation")

    @field_validator("init", "bias_init")
    @classmethod
    def _init(cls, v):
        if v == LAYER_DEFAULT:
            return v
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
                    if isinstance(layer, dict) and exc.field in layer:
                        raise ConfigKeyError(f"[{i}].{exc.field}", layer[exc.field], str(exc)) from None
                    raise ConfigKeyError(f"[{i}]", layer, str(exc)) from None
        return _without_none(v)

    @field_validator("architecture")
    @classmethod
    def _architecture(cls, v):
        if v is None:
            return v
        kind = v.get("kind")
        if kind != "graph":
            raise ConfigKeyError("kind", kind, 'must be "graph" (a chain of layers is given as layers = [...])')
        from ..graph import Model  # noqa: PLC0415

        try:  # a dry build: every layer config, every edge, the shapes; nothing drawn
            model = Model.from_header({**v, "seeds": [0], "dtype": v.get("dtype", "float32")})
        except GlassnetError as exc:
            raise ValueError(str(exc).splitlines()[0]) from None
        if not (model._single_input and model._single_output):
            raise ValueError(f"a config trains a graph of one input and one output (the data's x and y), this "
                             f"one has {len(model.inputs)} inputs and {len(model.outputs)} outputs")
        return _without_none(v)

    @model_validator(mode="after")
    def _one_form(self):
        given = [k for k in ("hidden", "layers", "architecture") if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError(f"give one of hidden = [...], layers = [...] and architecture = {{...}}, not "
                             f"{' and '.join(given)}")
        if not given:
            raise ValueError("give hidden = [widths] (e.g. [3]), a layers = [...] list or a graph architecture")
        arch_dtype = (self.architecture or {}).get("dtype", self.dtype)
        if arch_dtype != self.dtype:
            raise ValueError(f"architecture.dtype is {arch_dtype!r} but model.dtype is {self.dtype!r}")
        return self


def _without_none(v):
    """``v`` with every ``None`` value of its tables dropped (TOML has no null; a layer config's
    ``None`` is its default), so a config and its TOML round trip are equal."""
    if isinstance(v, dict):
        return {k: _without_none(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [_without_none(x) for x in v]
    return v


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
    ``momentum``, ``beta1`` ...), checked against its constructor.

    The optimizer is constructed once, here, to validate the options; the validated config keeps
    its canonical form (``"momentum"`` -> ``{name = "sgd", momentum = 0.9, ...}``, every option
    explicit), so equal runs hash equally and the worker builds the optimizer it trains with
    straight from it.
    """

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)
    name: str = "sgd"

    @model_validator(mode="before")
    @classmethod
    def _canonical(cls, v):
        if not isinstance(v, dict):
            return v  # an instance (already canonical), or a type error pydantic reports
        name = v.get("name", "sgd")
        if not isinstance(name, str):
            return v
        try:
            opt_cls = optim_mod.optimizers.get(name)
        except GlassnetError as exc:
            raise ConfigKeyError("name", name, str(exc)) from None
        allowed = [p for p in inspect.signature(opt_cls.__init__).parameters if p != "self"]
        options = {k: x for k, x in v.items() if k != "name"}
        for key, value in options.items():
            if key not in allowed:
                raise ConfigKeyError(key, value, f"optimizer {name!r} has no option {key!r}; "
                                                 f"options: {', '.join(allowed)}")
            if isinstance(value, (list, tuple, dict)):
                raise ConfigKeyError(key, value, "must be a single value (sweep over it with [sweep])")
        try:
            return optim_mod.get({"name": name, **options}).config()
        except GlassnetError as exc:
            raise _engine_error(exc, options) from None

    @property
    def options(self) -> dict:
        """Every option but the name."""
        return dict(self.model_extra or {})

    def resolved(self) -> dict:
        """The canonical table: ``{"name": ..., **every option}``."""
        return {"name": self.name, **self.options}


def _canonical_metric(spec, i: int):
    """A metric spec resolved through ``glassnet.metrics.metrics``: its registry name when it has
    no options, else its options table (``{name = "top_k_accuracy", k = 3}``)."""
    try:
        metric = metrics_mod.get(spec)
    except GlassnetError as exc:
        if isinstance(spec, dict) and exc.field in spec:
            raise ConfigKeyError(f"[{i}].{exc.field}", spec[exc.field], str(exc)) from None
        raise ConfigKeyError(f"[{i}]", spec, str(exc)) from None
    config = metric.config()
    return config["name"] if len(config) == 1 else config


class TrainingConfig(Strict):
    loss: str = "mse"
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    steps: int | None = Field(None, ge=1)
    epochs: int | None = Field(None, ge=1)
    #: samples per update, or "full" (every sample in every update); default: the engine's
    batch_size: int | str = DEFAULT_BATCH_SIZE
    shuffle: bool = True
    weight_decay: float = Field(0.0, ge=0.0)
    l1: float = Field(0.0, ge=0.0)
    log_every: int | None = Field(None, ge=1)
    #: names or options tables from ``glassnet.metrics.metrics``; default: accuracy where the
    #: targets are classes
    metrics: list[str | dict[str, Any]] | None = None
    seed: int = Field(0, ge=0)
    #: replicas: N seeds (seed, seed+1, ...) or an explicit list
    seeds: int | list[int] | None = None

    @field_validator("optimizer", mode="before")
    @classmethod
    def _short_optimizer(cls, v):
        return _as_table(v)

    @field_validator("batch_size")
    @classmethod
    def _batch_size(cls, v):
        if v == 0 and not isinstance(v, bool):
            raise ValueError(f"batch_size must be a positive integer or {FULL_BATCH!r}; "
                             f"full batch is spelled {FULL_BATCH!r} (batch_size = 0 is no longer accepted)")
        return check_batch_size(v)

    @field_validator("loss")
    @classmethod
    def _loss(cls, v):
        return losses_mod.losses.canonical(v)

    @field_validator("metrics")
    @classmethod
    def _metrics(cls, v):
        if v is None:
            return v
        out = [_canonical_metric(spec, i) for i, spec in enumerate(v)]
        names = [m if isinstance(m, str) else m["name"] for m in out]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise ConfigKeyError(f"[{i}]", v[i], f"metric {name!r} is given twice")
        return out

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
class _Config(Strict):
    @model_validator(mode="before")
    @classmethod
    def _finite(cls, raw):
        return _refuse_bad_numbers(raw)

    def as_dict(self) -> dict:
        """The canonical JSON form (``None`` values dropped): what the run store keeps and
        ``glassnet runs show ID --config`` writes as TOML; validating it gives this config back."""
        return self.model_dump(mode="json", exclude_none=True)


class RunConfig(_Config):
    """The frozen, validated config of ONE run (no ``[sweep]``, one ``training.seed``): what the
    planner emits, executors ship, the worker trains and the store saves (as :meth:`as_dict`).

    Built by :func:`glassnet.experiments.config.validate` from a validated experiment (its tables
    are reused as they are, never validated again) and by the planner (one per seed, a copy with
    ``training.seed`` set). ``training.seeds`` is always ``None`` here.
    """

    name: str = "experiment"
    description: str = ""
    data: DataConfig
    model: ModelConfig
    training: TrainingConfig

    @model_validator(mode="after")
    def _one_seed(self):
        if self.training.seeds is not None:
            raise ConfigKeyError("training.seeds", self.training.seeds,
                                 "a run config has one training.seed; replicas belong to an experiment config")
        return self

    def with_seed(self, seed: int) -> "RunConfig":
        """This run with ``training.seed = seed`` (a validated seed: no validation again)."""
        return self.model_copy(update={"training": self.training.model_copy(update={"seed": int(seed)})})


class ExperimentConfig(_Config):
    """A validated experiment file: a run config, optionally with replicas (``seeds``) and a
    ``[sweep]``. :func:`glassnet.experiments.config.validate` also validates each sweep point
    (see :meth:`point_runs`)."""

    name: str = "experiment"
    description: str = ""
    data: DataConfig
    model: ModelConfig
    training: TrainingConfig
    sweep: SweepConfig | None = None
    #: ((point, RunConfig), ...) for every sweep point, set once by config.validate
    _point_runs: tuple | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _seeds_once(self):
        if self.sweep is not None and self.sweep.seeds is not None and self.training.seeds is not None:
            raise ValueError("give seeds in [training] or in [sweep], not both")
        return self

    def base_run(self) -> RunConfig:
        """The run without its sweep and replicas (seed: ``training.seed``); the tables are this
        config's own, not validated again."""
        return RunConfig(name=self.name, description=self.description, data=self.data, model=self.model,
                         training=self.training.model_copy(update={"seeds": None}))

    def seeds(self) -> list[int]:
        """The replica seeds: ``seeds = N`` -> seed, seed+1, ..., seed+N-1; a list as given."""
        spec = self.sweep.seeds if self.sweep is not None and self.sweep.seeds is not None else self.training.seeds
        if spec is None:
            return [self.training.seed]
        if isinstance(spec, int):
            return [self.training.seed + i for i in range(spec)]
        return list(spec)
