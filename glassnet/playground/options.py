"""The page's option lists, generated from the engine's registries whenever they are asked for.

Activations, initializers, optimizers and data sets are what ``glassnet.activations.activations``,
``glassnet.initializers.initializers``, ``glassnet.optimizers.optimizers`` and
``glassnet.data.datasets`` hold at the moment the page loads ``/settings.js`` or a ``set``
message is validated, so a newly registered activation is offered, and accepted, with no other
edit. Which entries fit the page is a property of each entry, never a list kept here:

* activation: an elementwise :class:`~glassnet.activations.Activation` that builds without
  options (softmax is not elementwise: it normalizes a whole layer, so it is no hidden unit);
* initializer: every entry, built with its defaults (``INIT_OPTIONS`` rescales one to the page's
  points), plus the page's two teaching presets ``INIT_PRESETS``;
* optimizer: every entry, and every alias that :func:`glassnet.optimizers.get` builds
  differently ("momentum" is SGD with momentum 0.9, so it is an option of its own);
* data set: a generator of 2-D points (options ``n``, ``noise`` and ``seed``, two features), for
  classification or regression by its ``task``; one with a ``classes`` option is multi-class too.

Each option has a label (the entry's ``label`` attribute, else its registered name) and a help
line (an activation's ``formula``, else the first line of the entry's docstring). Names match as
the registries match them (case, ``-`` or ``_``); an alias resolves to its entry's name.
"""

from __future__ import annotations

import inspect
import re
import weakref
from dataclasses import dataclass

import numpy as np

from .. import activations as acts
from .. import initializers as inits
from .. import optimizers as optim
from ..data import catalog
from ..registry import Registry

#: the page's presets: (weight initializer, bias initializer) as registry specs
INIT_PRESETS = {
    "tf": ({"name": "uniform", "low": -0.5, "high": 0.5}, {"name": "constant", "value": 0.1}),
    "equal": ({"name": "constant", "value": 0.3}, "zeros"),
}
INIT_PRESET_LABELS = {"tf": ("TF (±0.5, bias 0.1)", "TensorFlow Playground's: weights U(-0.5, 0.5), biases 0.1."),
                      "equal": ("All equal (0.3)", "Every weight 0.3: watch the symmetry, units stay identical.")}
#: options the page gives a registry initializer (its points span [-6, 6]; the default std 0.05
#: is made for wide layers)
INIT_OPTIONS = {"normal": {"std": 0.5}}
#: the page's controls for optimizer hyperparameters (rows of the settings table)
OPTIMIZER_HYPERS = ("momentum", "beta1", "beta2")
#: the page's own data set choice: the points you drew or uploaded
CUSTOM = "custom"


@dataclass(frozen=True)
class Option:
    """One choice of a list: its ``name`` (what settings and URLs hold), ``label`` and ``help``."""

    name: str
    label: str
    help: str


def key(name: str) -> str:
    """A name as the registries compare names (case and ``-``/``_`` ignored)."""
    return name.strip().lower().replace("-", "_")


def _help(obj) -> str:
    """The first line of ``obj``'s docstring, without reStructuredText roles and literals."""
    doc = inspect.getdoc(obj) or ""
    line = doc.strip().split("\n\n", 1)[0].replace("\n", " ")
    line = re.sub(r":\s*:\w+:`[^`]+`\.?$", "", line)  # a trailing "see :func:`...`"
    line = re.sub(r":\w+:`~?([^`]+)`", r"\1", line).replace("``", "")
    return line.strip().rstrip(":")


def _label(obj, name: str) -> str:
    return getattr(obj, "label", None) or name


def _aliases(registry: Registry) -> dict[str, str]:
    """alias -> entry name. (The registry lists only entry names; its alias table is read here.)"""
    return dict(registry._aliases)  # noqa: SLF001 - read-only; a public Registry.aliases() would do


# -- activations -----------------------------------------------------------------------------------
def _hidden_activation(cls) -> bool:
    """Can ``cls`` be a hidden layer's activation: elementwise, built without options?"""
    if not getattr(cls, "elementwise", False):
        return False
    try:
        cls()
    except Exception:  # noqa: BLE001 - an entry that needs options is not offered
        return False
    return True


def activations() -> list[Option]:
    out = []
    for name in acts.activations.names():
        cls = acts.activations.get(name)
        if _hidden_activation(cls):
            out.append(Option(name, _label(cls, name), getattr(cls, "formula", "") or _help(cls)))
    return out


# -- initializers ----------------------------------------------------------------------------------
def initializers() -> list[Option]:
    out = [Option(n, *INIT_PRESET_LABELS[n]) for n in INIT_PRESETS]
    for name in inits.initializers.names():
        cls = inits.initializers.get(name)
        extra = INIT_OPTIONS.get(name)
        help_ = _help(cls) + (f" Here: {', '.join(f'{k} {v}' for k, v in extra.items())}." if extra else "")
        out.append(Option(name, _label(cls, name), help_))
    return out


def init_specs(name: str) -> tuple:
    """(weight initializer, bias initializer) specs for the ``init`` setting ``name``."""
    if name in INIT_PRESETS:
        return INIT_PRESETS[name]
    return ({"name": name, **INIT_OPTIONS[name]} if name in INIT_OPTIONS else name), "zeros"


# -- optimizers ------------------------------------------------------------------------------------
def _optimizer_names() -> dict[str, str]:
    """Option name -> the entry it builds: every entry, and every alias that builds differently."""
    out = {name: name for name in optim.optimizers.names()}
    for alias, name in _aliases(optim.optimizers).items():
        if optim.get(alias).config() != optim.get(name).config():
            out[alias] = name
    return dict(sorted(out.items()))


def optimizers() -> list[Option]:
    out = []
    for option, name in _optimizer_names().items():
        cls = optim.optimizers.get(name)
        if option == name:
            help_ = _help(cls)
        else:  # an alias with its own defaults: say which
            base, own = optim.get(name).config(), optim.get(option).config()
            help_ = f"{name} with " + ", ".join(f"{k}={v}" for k, v in own.items() if base.get(k) != v)
        out.append(Option(option, _label(cls, option), help_))
    return out


def optimizer_uses(name: str) -> list[str]:
    """The page's hyperparameter rows (``OPTIMIZER_HYPERS``) that optimizer option ``name`` uses:
    those among its per-model hyperparameters whose default is not 0 (plain ``sgd`` has momentum
    0, so the momentum control is for ``momentum`` and ``nesterov``)."""
    opt = optim.get(name)
    return [h for h in OPTIMIZER_HYPERS
            if h in type(opt).hyper and np.any(np.asarray(getattr(opt, f"{h}_init", 0)) != 0)]


# -- data sets -------------------------------------------------------------------------------------
#: what a sample of each data set builder showed: {"task", "classes"} or None (not 2-D points)
_SAMPLED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _points_set(builder) -> dict | None:
    """``{"task", "multiclass", "help"}`` if ``builder`` generates 2-D points, else None.
    Looked at once per builder: a sample of 8 points."""
    if builder in _SAMPLED:
        return _SAMPLED[builder]
    params = inspect.signature(builder).parameters
    info = None
    if {"n", "noise", "seed"} <= set(params):
        try:
            ds = builder(n=8, noise=0.0, seed=0)
        except Exception:  # noqa: BLE001 - a builder that cannot make 8 points is not offered
            ds = None
        if ds is not None and ds.x.ndim == 2 and ds.x.shape[1] == 2:
            info = {"task": ds.task, "multiclass": "classes" in params, "help": _help(builder)}
    _SAMPLED[builder] = info
    return info


def datasets(task: str) -> list[Option]:
    """The generated 2-D sets for ``task`` ("classification" or "regression"), then ``custom``."""
    out = []
    for name in catalog.datasets.names():
        info = _points_set(catalog.datasets.get(name))
        if info is not None and info["task"] == task:
            label = getattr(catalog.datasets.get(name), "label", None) or name.replace("_", " ").capitalize()
            out.append(Option(name, label, info["help"]))
    return out + [Option(CUSTOM, "Your own points", "Your own points: upload a CSV or click to draw.")]


def multiclass_datasets() -> list[str]:
    """The classification sets that take a number of classes, then ``custom``."""
    return [name for name in catalog.datasets.names()
            if (info := _points_set(catalog.datasets.get(name))) and info["task"] == "classification"
            and info["multiclass"]] + [CUSTOM]


def takes_classes(name: str) -> bool:
    """Does data set ``name`` take a number of classes?"""
    return "classes" in inspect.signature(catalog.datasets.get(name)).parameters


def generate(name: str, n: int, noise: float, seed: int, classes: int | None = None):
    """``n`` points of data set ``name`` (a :class:`~glassnet.data.Dataset`); ``classes`` where
    the set takes a number of classes."""
    extra = {"classes": classes} if classes is not None and takes_classes(name) else {}
    return catalog.load(name, n=n, noise=noise, seed=seed, **extra)


# -- one place for every list ----------------------------------------------------------------------
#: source name -> (the options now, the registry its aliases come from)
SOURCES = {
    "activation": (activations, acts.activations),
    "initializer": (initializers, inits.initializers),
    "optimizer": (optimizers, optim.optimizers),
    "dataset:classification": (lambda: datasets("classification"), catalog.datasets),
    "dataset:regression": (lambda: datasets("regression"), catalog.datasets),
}


def options(source: str) -> list[Option]:
    return SOURCES[source][0]()


def aliases(source: str, names) -> dict[str, str]:
    """alias -> option name, for the aliases whose entry is among ``names`` and that are not
    options themselves."""
    names = set(names)
    return {alias: name for alias, name in _aliases(SOURCES[source][1]).items()
            if name in names and alias not in names}


def resolve(source: str, value) -> str | None:
    """The option name that ``value`` means (itself, or the entry an alias names), or None."""
    if not isinstance(value, str):
        return None
    names = [o.name for o in options(source)]
    k = key(value)
    if k in names:
        return k
    return aliases(source, names).get(k)
