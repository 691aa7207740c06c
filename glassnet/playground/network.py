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
from ..model import Sequential
from . import options


@dataclass
class Group:
    """One column of neurons on the page: its Dense layer and the index of its last layer."""

    dense: Dense
    last: int
    activation: str


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


def build(settings: dict, n_inputs: int, seed: int) -> tuple[Sequential, list[Group]]:
    """A fresh float64 network for ``settings`` with ``n_inputs`` features, and its groups."""
    w_init, b_init = init_specs(settings)
    layers = [from_config(spec) for spec in layer_specs(settings)]
    model = Sequential(layers, input_shape=(n_inputs,), init=inits.get(w_init), bias_init=inits.get(b_init),
                       seed=seed, dtype="float64", name="playground")
    groups, acts = [], hidden_activations(settings) + [task(settings)[1] or "identity"]
    for i, layer in enumerate(model.layers):
        if isinstance(layer, Dense):
            groups.append(Group(layer, i, acts[len(groups)]))
        elif groups:
            groups[-1].last = i
    return model, groups


def optimizer_spec(settings: dict) -> dict:
    """The optimizer as a registry spec: its name, the learning rate and the page's
    hyperparameters it uses (momentum, Adam's betas)."""
    name = settings["optimizer"]
    return {"name": name, "lr": settings["learningRate"],
            **{h: settings[h] for h in options.optimizer_uses(name)}}


def optimizer(settings: dict):
    """A fresh optimizer the settings name (unbound: the Trainer binds it to the model)."""
    return optim.get(optimizer_spec(settings))


def apply_live(settings: dict, opt) -> None:
    """Push live hyperparameters (learning rate, momentum, betas) into a bound optimizer,
    keeping its state (velocities, moment estimates)."""
    opt.set_lr(np.full(opt.M, settings["learningRate"]))
    for h in options.optimizer_uses(settings["optimizer"]):
        getattr(opt, h)[...] = settings[h]
