"""The network, loss and optimizer that the playground's settings describe.

A hidden layer of the page is a *group* of glassnet layers: ``Dense(units, act)``, or with batch
norm ``Dense(units) -> BatchNorm -> Activation(act)``, then ``Dropout(rate)`` when asked. The
page draws one neuron per unit of the group's last output; links and bias squares are the
group's Dense weights. The output group is ``Dense(1, tanh)`` for two classes (targets -1/+1 and
half squared error, as in TensorFlow Playground), ``Dense(K)`` logits with softmax cross-entropy
for K classes, and a linear ``Dense(1)`` for regression.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import initializers as inits
from .. import optimizers as optim
from ..layers import Activation, BatchNorm, Dense, Dropout
from ..model import Sequential

#: weight and bias initializers per ``init`` setting (glassnet registry specs)
INITS = {
    "tf": ({"name": "uniform", "low": -0.5, "high": 0.5}, {"name": "constant", "value": 0.1}),
    "glorot": ("glorot_uniform", "zeros"),
    "he": ("he_normal", "zeros"),
    "normal": ({"name": "normal", "std": 0.5}, "zeros"),
    "equal": ({"name": "constant", "value": 0.3}, "zeros"),
    "zeros": ("zeros", "zeros"),
}
#: page names -> glassnet activation registry names
ACTIVATION_NAMES = {"linear": "identity"}


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
        act = ACTIVATION_NAMES.get(act, act)
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


def _layer(spec: dict):
    spec = dict(spec)
    kind = spec.pop("type")
    return {"dense": Dense, "batchnorm": BatchNorm, "activation": Activation, "dropout": Dropout}[kind](**spec)


def build(settings: dict, n_inputs: int, seed: int) -> tuple[Sequential, list[Group]]:
    """A fresh float64 network for ``settings`` with ``n_inputs`` features, and its groups."""
    w_init, b_init = INITS[settings["init"]]
    layers = [_layer(s) for s in layer_specs(settings)]
    model = Sequential(layers, input_shape=(n_inputs,), init=inits.get(w_init), bias_init=inits.get(b_init),
                       seed=seed, dtype="float64", name="playground")
    groups, acts = [], hidden_activations(settings) + [task(settings)[1] or "linear"]
    for i, layer in enumerate(model.layers):
        if isinstance(layer, Dense):
            groups.append(Group(layer, i, acts[len(groups)]))
        elif groups:
            groups[-1].last = i
    return model, groups


def optimizer(settings: dict, model: Sequential):
    """The optimizer the settings name, bound to ``model``'s parameters."""
    lr = settings["learningRate"]
    name = settings["optimizer"]
    if name == "adam":
        opt = optim.Adam(lr=lr, beta1=settings["beta1"], beta2=settings["beta2"])
    elif name == "momentum":
        opt = optim.SGD(lr=lr, momentum=settings["momentum"])
    else:
        opt = optim.SGD(lr=lr)
    return opt.bind(model.param_list, model.M, model.dtype)


def apply_live(settings: dict, opt) -> None:
    """Push live hyperparameters (learning rate, momentum, betas) into a running optimizer,
    keeping its state (velocities, moment estimates)."""
    opt.set_lr(np.full(opt.M, settings["learningRate"]))
    if settings["optimizer"] == "momentum":
        opt.momentum[...] = settings["momentum"]
    elif settings["optimizer"] == "adam":
        opt.beta1[...] = settings["beta1"]
        opt.beta2[...] = settings["beta2"]


def optimizer_spec(settings: dict) -> dict:
    """The optimizer as a glassnet config dict (for export)."""
    name = settings["optimizer"]
    spec = {"name": name, "lr": settings["learningRate"]}
    if name == "momentum":
        spec["momentum"] = settings["momentum"]
    elif name == "adam":
        spec.update(beta1=settings["beta1"], beta2=settings["beta2"])
    return spec
