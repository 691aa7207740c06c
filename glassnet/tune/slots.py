"""Model slots of a running Trainer: read and set one model's hyperparameters, copy a model into
another slot, give a slot a fresh network, bring a stopped slot back.

The tuners drive one :class:`~glassnet.training.Trainer` whose ``M`` models are *slots*: each
holds one configuration at a time. Everything here works through the Trainer's public state
(``trainer.model.param_list``, layer ``buffers``, ``trainer.optimizer`` and its per-model
``(M,)`` hyperparameter arrays and ``state`` dict, ``trainer.state``, ``trainer.history``,
``trainer.set_penalties``); nothing in the engine is changed.

Per-model hyperparameters a configuration may set (a dict ``{name: value}``):

* every name in the optimizer class's ``hyper`` (``lr``, ``momentum`` for SGD; ``beta1``,
  ``beta2`` for Adam; ``weight_decay`` for AdamW, its *decoupled* decay);
* ``weight_decay`` and ``l1``: the Trainer's L2 and L1 penalties (``lambda/2 sum W^2``,
  ``l1 sum |W|``, weights only), unless the optimizer has a hyperparameter of that name;
* ``dropout``: the rate of every ``Dropout`` layer of the model, per model (``Dropout.rates``).

Architecture (widths, activations) is fixed per Trainer: configurations that differ in it need
separate Trainers. Optimizer state that is not per model stays shared: Adam's step count ``t``
(its bias correction) is the Trainer's, so a slot given a fresh network late in training skips
Adam's warm-up correction; SGD has no such state.
"""

from __future__ import annotations

import math

import numpy as np

from .. import optimizers as optim_mod
from ..errors import GlassnetError

PENALTIES = ("weight_decay", "l1")
#: the per-model dropout rate of every Dropout layer (``Dropout.rates``), for models that have one
DROPOUT = "dropout"


def hyper_names(optimizer) -> tuple[str, ...]:
    """Names a configuration may set for ``optimizer`` (an Optimizer or its class)."""
    hyper = tuple(type(optimizer).hyper if isinstance(optimizer, optim_mod.Optimizer) else optimizer.hyper)
    return hyper + tuple(p for p in PENALTIES if p not in hyper) + (DROPOUT,)


def check_configs(configs, optimizer_cls, name: str = "configs") -> list[dict]:
    """``configs`` as a list of ``{hyperparameter: finite number}`` dicts that all set the same
    names, each allowed for ``optimizer_cls``; a GlassnetError names the first problem."""
    if isinstance(configs, dict) or not hasattr(configs, "__len__") or len(configs) == 0:
        raise GlassnetError(f"{name} must be a non-empty list of dicts {{hyperparameter: value}}, got {configs!r}",
                            field=name, value=configs)
    allowed = hyper_names(optimizer_cls)
    out = []
    for i, c in enumerate(configs):
        if not isinstance(c, dict) or not c:
            raise GlassnetError(f"{name}[{i}] must be a non-empty dict {{hyperparameter: value}}, got {c!r}",
                                field=name, value=c)
        bad = [k for k in c if k not in allowed]
        if bad:
            raise GlassnetError(f"{name}[{i}] sets {bad[0]!r}, which {optimizer_cls.__name__} cannot take per model; "
                                f"allowed: {', '.join(allowed)}", field=name, value=c)
        for k, v in c.items():
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
                    or not math.isfinite(v) or v < 0:
                raise GlassnetError(f"{name}[{i}][{k!r}] must be a finite number >= 0, got {v!r}", field=name,
                                    value=c)
        if set(c) != set(configs[0]):
            raise GlassnetError(f"{name}[{i}] sets {sorted(c)}, but {name}[0] sets {sorted(configs[0])}; every "
                                "configuration must set the same hyperparameters", field=name, value=c)
        out.append({k: float(v) for k, v in c.items()})
    return out


def optimizer_spec(spec) -> tuple[dict, type]:
    """``(options dict with "name", optimizer class)`` of an optimizer name or options dict."""
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
        raise GlassnetError(f"optimizer must be a registered name ({', '.join(optim_mod.optimizers.names())}) or an "
                            f"options dict with a 'name', got {spec!r}", field="optimizer", value=spec)
    return dict(spec), optim_mod.optimizers.get(spec["name"])


def make_optimizer(spec, configs: list[dict]):
    """An optimizer of ``spec`` with one value per slot for each hyperparameter ``configs`` set.

    SGD decides at construction whether it keeps a velocity buffer (any momentum != 0). A tuner
    may give a slot momentum later (a refilled slot, a PBT perturbation), so when ``"momentum"``
    is tuned the buffer is kept from the start; with momentum 0 the step is the same maths
    (``v = g``, ``p -= lr v``).
    """
    options, cls = optimizer_spec(spec)
    for h in cls.hyper:
        if h in configs[0]:
            options[h] = [c[h] for c in configs]
    opt = optim_mod.get(options)
    if isinstance(opt, optim_mod.SGD) and "momentum" in configs[0]:
        # the one place a tuner reaches inside the optimizer: SGD has no public switch for this
        opt._use_momentum = True
    return opt


class Slots:
    """Per-slot control of a Trainer (see the module docstring).

    ``slots.set(m, config)`` sets model ``m``'s hyperparameters; ``slots.get(m)`` reads them back;
    ``slots.copy(src, dst)`` copies weights, buffers and optimizer state; ``slots.fresh(m, seed,
    model_fn)`` gives slot ``m`` the initial network of ``seed``; ``slots.reactivate(mask)`` lets
    stopped models train again.
    """

    def __init__(self, trainer, names):
        self.trainer = trainer
        self.opt = trainer.optimizer
        self.model = trainer.model
        self.M = self.model.M
        self.names = tuple(names)
        opt_hyper = type(self.opt).hyper
        self.opt_names = tuple(n for n in self.names if n in opt_hyper)
        self.pen_names = tuple(n for n in self.names if n not in opt_hyper and n != DROPOUT)
        self.dropout = [l for l in self.model.layers if type(l).__name__ == "Dropout"]
        if DROPOUT in self.names and not self.dropout:
            raise GlassnetError("the configurations set 'dropout', but the model has no Dropout layer",
                                field="configs")
        self.penalty = {p: np.broadcast_to(np.asarray(getattr(trainer, p), dtype=np.float64), (self.M,)).copy()
                        for p in PENALTIES}

    # -- hyperparameters ----------------------------------------------------------------------
    def get(self, m: int) -> dict:
        """Model ``m``'s values of the tuned hyperparameters (``lr``: the base rate)."""
        out = {}
        for h in self.opt_names:
            arr = self.opt.base_lr if h == "lr" else getattr(self.opt, h)
            out[h] = float(arr[m])
        for p in self.pen_names:
            out[p] = float(self.penalty[p][m])
        if DROPOUT in self.names:
            out[DROPOUT] = float(self.dropout[0].rates[m])
        return out

    def set_many(self, idx, configs: list[dict]) -> None:
        """Set the hyperparameters of models ``idx`` (one config each); penalties are rebound once."""
        idx = np.atleast_1d(np.asarray(idx, dtype=np.int64))
        touched_penalty = False
        for m, c in zip(idx, configs):
            for h, v in c.items():
                if h == "lr":
                    self.opt.base_lr[m] = v
                    self.opt.lr[m] = v * self.opt.active[m]
                elif h in self.opt_names:
                    getattr(self.opt, h)[m] = v  # in place: the optimizer's cached views see it
                elif h == DROPOUT:
                    for layer in self.dropout:
                        layer.rates[m] = v
                else:
                    self.penalty[h][m] = v
                    touched_penalty = True
        if touched_penalty:
            self.trainer.set_penalties(self.penalty["weight_decay"].tolist(), self.penalty["l1"].tolist())

    def set(self, m: int, config: dict) -> None:
        self.set_many([m], [config])

    # -- weights and optimizer state ----------------------------------------------------------
    def copy(self, src, dst) -> None:
        """Models ``dst`` become copies of models ``src`` (index arrays of equal length):
        parameters, buffers and every optimizer state array. All sources are read before any
        destination is written."""
        src = np.atleast_1d(np.asarray(src, dtype=np.int64))
        dst = np.atleast_1d(np.asarray(dst, dtype=np.int64))
        for p in self.model.param_list:
            p.value[dst] = p.value[src]
        for layer in self.model.layers:
            for b in layer.buffers.values():
                b[dst] = b[src]
        for arrays in self.opt.state.values():
            for a in arrays.values():
                a[dst] = a[src]

    def fresh(self, m: int, seed: int, model_fn) -> None:
        """Slot ``m`` gets the initial network ``model_fn([seed])`` draws (weights and buffers),
        zeroed optimizer state, and that seed's random streams (its data order from the next
        epoch on, its dropout noise)."""
        new = model_fn([int(seed)])
        if not new.built:
            new.build(self.model.input_shape)
        if [p.value.shape[1:] for p in new.param_list] != [p.value.shape[1:] for p in self.model.param_list]:
            raise GlassnetError("model_fn built a different architecture than the running model; it must give "
                                "the same layers for every seed list", field="model_fn")
        for p, q in zip(self.model.param_list, new.param_list):
            p.value[m] = q.value[0]
        for a, b in zip(self.model.layers, new.layers):
            for k, v in a.buffers.items():
                v[m] = b.buffers[k][0]
        for arrays in self.opt.state.values():
            for a in arrays.values():
                a[m] = 0
        self.model.seeds[m] = int(seed)
        self.model.streams[m] = new.streams[0]  # the same list the batcher and dropout read

    def save(self, m: int) -> dict:
        """A copy of slot ``m``'s network, optimizer state, seed and streams (to resume later)."""
        return {"params": [p.value[m].copy() for p in self.model.param_list],
                "buffers": [{k: v[m].copy() for k, v in layer.buffers.items()} for layer in self.model.layers],
                "state": [{k: a[m].copy() for k, a in self.opt.state[p].items()} for p in self.model.param_list],
                "seed": self.model.seeds[m], "streams": self.model.streams[m]}

    def load(self, m: int, saved: dict) -> None:
        """Put a network saved by :meth:`save` into slot ``m`` (any slot)."""
        for p, v in zip(self.model.param_list, saved["params"]):
            p.value[m] = v
        for layer, bufs in zip(self.model.layers, saved["buffers"]):
            for k, v in bufs.items():
                layer.buffers[k][m] = v
        for p, arrays in zip(self.model.param_list, saved["state"]):
            for k, v in arrays.items():
                self.opt.state[p][k][m] = v
        self.model.seeds[m] = saved["seed"]
        self.model.streams[m] = saved["streams"]

    def reactivate(self, mask) -> None:
        """Let the stopped models where ``mask`` is True train again (status back to "completed")."""
        mask = np.asarray(mask, bool)
        state, opt, hist = self.trainer.state, self.opt, self.trainer.history
        state.active |= mask
        state.all_stopped = not state.active.any()
        opt.active[mask] = 1
        opt.any_frozen = not opt.active.all()
        opt.lr[mask] = opt.base_lr[mask]
        for m in np.flatnonzero(mask):
            hist.status[m] = "completed"
            hist.stopped_at[m] = -1


def evaluate_models(model, x, y, loss, metric=None) -> tuple[np.ndarray, np.ndarray | None]:
    """Data loss ``(M,)`` and, if ``metric`` is given, that metric ``(M,)`` in inference mode."""
    from .. import metrics as metrics_mod  # noqa: PLC0415

    with np.errstate(all="ignore"):
        pred = model.forward(x, False)
        value = np.asarray(loss.value(pred, y), dtype=np.float64)
        score = None if metric is None else np.asarray(metrics_mod.get(metric)(pred, y, loss), dtype=np.float64)
    return value, score


def prepared(model, loss, x, y):
    """``(x, y)`` validated and cast the way the Trainer casts its data."""
    x = model.prepare_inputs(x)
    y = loss.prepare_targets(y, model.output_shape)
    y = y.astype(model.dtype, copy=False) if np.issubdtype(y.dtype, np.floating) else y
    return x, y
