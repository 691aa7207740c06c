"""The network, loss and optimizer that the playground's settings describe.

A hidden layer of the page is a *group* of glassnet layers: ``Dense(units, act)``, or with batch
norm ``Dense(units) -> BatchNorm -> Activation(act)``, then ``Dropout(rate)`` when asked. The
page draws one neuron per unit of the group's last output; links and bias squares are the
group's Dense weights. The output group is ``Dense(1, tanh)`` for two classes (targets -1/+1 and
half squared error, as in TensorFlow Playground), ``Dense(K)`` logits with softmax cross-entropy
for K classes, and a linear ``Dense(1)`` for regression.

Every name resolves through the engine's registries: layers are built from their configs
(:func:`glassnet.layers.from_config`), initializers by :func:`glassnet.initializers.get`, the
optimizer by :func:`glassnet.optimizers.get` (see :mod:`glassnet.playground.options` for what
the page offers).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import initializers as inits
from .. import optimizers as optim
from ..layers import Dense, from_config
from ..layers.activation import Activation as ActivationLayer
from ..model import Sequential
from . import options


@dataclass
class Group:
    """One column of neurons on the page: its Dense layer, the index of its last layer, and
    its activation per model (one name per copy of an ensemble)."""

    dense: Dense
    last: int
    activations: list[str]

    @property
    def activation(self) -> str:
        """The activation of model 0 (of every model, unless the ensemble sweeps it)."""
        return self.activations[0]


def hidden_activations(settings: dict) -> list[str]:
    """The activation of each hidden layer: its own entry in ``layerActivations`` or the global one."""
    per = settings["layerActivations"]
    return [(per[i] if i < len(per) and per[i] else settings["activation"])
            for i in range(len(settings["networkShape"]))]


def task(settings: dict) -> tuple[int, str | None, str]:
    """(outputs, output activation, loss name) for the problem type."""
    problem = settings["problem"]
    if problem == "multiclass":
        return settings["classes"], None, "softmax_cross_entropy"
    if problem == "regression":
        return 1, None, "half_sse"
    return 1, "tanh", "half_sse"


def layer_specs(settings: dict) -> list[dict]:
    """The architecture as glassnet layer configs (what export writes and ``build`` builds)."""
    specs = []
    for units, act in zip(settings["networkShape"], hidden_activations(settings)):
        if settings["batchNorm"]:
            specs += [{"type": "dense", "units": units, "activation": None},
                      {"type": "batchnorm"}, {"type": "activation", "activation": act}]
        else:
            specs.append({"type": "dense", "units": units, "activation": act})
        if settings["dropout"]:
            specs.append({"type": "dropout", "rate": settings["dropout"]})
    outputs, out_act, _ = task(settings)
    specs.append({"type": "dense", "units": outputs, "activation": out_act})
    return specs


def init_specs(settings: dict) -> tuple:
    """(weight initializer, bias initializer) as registry specs, for the ``init`` setting."""
    return options.init_specs(settings["init"])


def build(settings: dict, n_inputs: int, seed, mems=None, dtype: str = "float64") -> tuple[Sequential, list[Group]]:
    """A fresh float64 network for ``settings`` with ``n_inputs`` features, and its groups.

    ``seed`` is one int (a single network), or a list of seeds: an ensemble of copies whose
    differences ``mems`` (:func:`glassnet.playground.ensemble.members`) describe: per-model
    initializers are drawn and copied into their models' slots, per-model activations applied by
    a :class:`~glassnet.playground.ensemble.PerModelActivation` (see that module)."""
    from .ensemble import PerModelActivation  # noqa: PLC0415 - ensemble builds on this module

    w_init, b_init = init_specs(settings)
    model = _sequential(settings, n_inputs, seed, w_init, b_init, dtype)
    M = model.M
    sweep = settings["ensembleSweep"] if mems and M > 1 else None
    hidden = hidden_activations(settings)
    per_layer = settings["layerActivations"]
    acts = [[a] * M for a in hidden]
    if sweep == "activation":
        acts = [[per_layer[c] if c < len(per_layer) and per_layer[c] else m.value for m in mems]
                for c in range(len(hidden))]
    if sweep == "init":
        _init_per_model(model, settings, n_inputs, seed, mems)
    acts.append([task(settings)[1] or "identity"] * M)
    groups = []
    for i, layer in enumerate(model.layers):
        if isinstance(layer, Dense):
            groups.append(Group(layer, i, acts[len(groups)]))
        elif groups:
            groups[-1].last = i
    for g in groups[:-1]:
        if len(set(g.activations)) > 1:  # replace the layer that applies the column's activation
            if settings["batchNorm"]:
                first = model.layers.index(g.dense)
                k = next(i for i in range(first, g.last + 1) if type(model.layers[i]) is ActivationLayer)
                model.layers[k] = _swap(model.layers[k], PerModelActivation(g.activations))
            else:
                g.dense.act = _swap(g.dense.act, PerModelActivation(g.activations))
    return model, groups


def _sequential(settings, n_inputs, seed, w_init, b_init, dtype="float64") -> Sequential:
    layers = [from_config(spec) for spec in layer_specs(settings)]
    return Sequential(layers, input_shape=(n_inputs,), init=inits.get(w_init), bias_init=inits.get(b_init),
                      seed=seed, dtype=dtype, name="playground")


def _init_per_model(model, settings, n_inputs, seeds, mems) -> None:
    """Each model's weights from its own initializer: the models sharing one are built together
    with their seeds (so model m equals the single network with that initializer and seed) and
    copied into their slots."""
    for value in dict.fromkeys(m.value for m in mems):
        idx = [m.index for m in mems if m.value == value]
        w_init, b_init = options.init_specs(value)
        sub = _sequential(settings, n_inputs, [seeds[i] for i in idx], w_init, b_init, model.dtype)
        for p, q in zip(model.param_list, sub.param_list):
            p.value[idx] = q.value


def _swap(old, new):
    """``new`` in place of the built activation layer ``old`` (same name, shapes and flags)."""
    keep = {k: v for k, v in old.__dict__.items() if k not in ("fn", "_identity", "_z", "_a")}
    new.__dict__.update(keep)
    return new


def optimizer_spec(settings: dict, lr=None) -> dict:
    """The optimizer as a registry spec: its name, the learning rate (``lr``: one per model,
    for an ensemble that sweeps it) and the page's hyperparameters it uses (momentum, Adam's
    betas)."""
    name = settings["optimizer"]
    rate = settings["learningRate"] if lr is None else (lr.tolist() if isinstance(lr, np.ndarray) else lr)
    return {"name": name, "lr": rate, **{h: settings[h] for h in options.optimizer_uses(name)}}


def optimizer(settings: dict, lr=None):
    """A fresh optimizer the settings name (unbound: the Trainer binds it to the model)."""
    return optim.get(optimizer_spec(settings, lr))


def apply_live(settings: dict, opt, lr=None) -> None:
    """Push live hyperparameters (learning rate, one per model or the page's, momentum, betas)
    into a bound optimizer, keeping its state (velocities, moment estimates); frozen models
    stay at 0."""
    opt.set_lr(np.broadcast_to(settings["learningRate"] if lr is None else lr, (opt.M,)))
    for h in options.optimizer_uses(settings["optimizer"]):
        getattr(opt, h)[...] = settings[h]
