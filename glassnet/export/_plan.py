"""One network of a glassnet model as a flat list of export operations (shared by ONNX and PyTorch).

glassnet images are channels-last ``(B, H, W, C)``; ONNX's and PyTorch's convolutions and pooling
are channels-first ``(B, C, H, W)``. The walker keeps track of the layout: it inserts a transpose
to channels-first before the first layer that needs it, stays channels-first through the image
layers (elementwise activations and dropout do not care), and transposes back to channels-last
before a ``Flatten`` (which flattens in (h, w, c) order) or at the output, so the exported
network takes and returns exactly what ``model.predict`` does.

Operations (``Op.kind``): ``transpose`` (``perm``), ``dense`` (W ``(in, out)``, b), ``conv``
(W ``(kh, kw, C, F)``, b, strides, pads ``((top, bottom), (left, right))``), ``maxpool`` /
``avgpool`` (kernel, strides, pads; average over real elements only), ``global_avgpool``,
``batchnorm`` (gamma, beta, running mean and variance, eps), ``dropout`` (identity at
inference), ``flatten``, ``activation`` (``spec``: the activation's config; ``axis`` for softmax),
``prelu`` (alpha ``(C,)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import GlassnetError

#: activations with an exact export (the ONNX operator or composition, the torch module)
ACTIVATIONS = ("identity", "relu", "leaky_relu", "elu", "selu", "tanh", "sigmoid", "softmax", "softplus",
               "gelu", "swish")
#: layer kinds the exporters handle
LAYERS = ("dense", "conv2d", "max_pool2d", "avg_pool2d", "global_average_pooling2d", "batchnorm", "dropout",
          "flatten", "activation", "prelu")

TO_CHANNELS_FIRST = (0, 3, 1, 2)
TO_CHANNELS_LAST = (0, 2, 3, 1)


@dataclass
class Op:
    """One operation: ``arrays`` are copies of network ``m``'s weights; ``targets`` say where each
    came from (a Param, or a buffer array with the model axis first) so an importer can write
    weights back."""

    kind: str
    name: str
    arrays: dict = field(default_factory=dict)
    attrs: dict = field(default_factory=dict)
    targets: dict = field(default_factory=dict)


def model_indices(model, model_index) -> list[int]:
    """``[model_index]`` checked against ``model.M``, or every network for ``None``."""
    if model_index is None:
        return list(range(model.M))
    if isinstance(model_index, bool) or not isinstance(model_index, (int, np.integer)) or \
            not 0 <= model_index < model.M:
        raise GlassnetError(f"model_index must be an int in [0, {model.M}) or None (every network), got "
                            f"{model_index!r}", field="model_index", value=model_index)
    return [int(model_index)]


def check_model(model):
    from ..model import Sequential

    if not isinstance(model, Sequential):
        raise GlassnetError(f"export needs a glassnet Sequential, got {type(model).__name__}", field="model")
    if not model.built:
        raise GlassnetError("cannot export a model that has not been built (give input_shape or fit it)",
                            field="model")


def _targets(layer, *names) -> dict:
    return {n: layer.params[n] for n in names if n in layer.params}


def plan(model, m: int) -> list[Op]:
    """The operations computing network ``m`` of ``model`` in inference mode (see the module docstring)."""
    check_model(model)
    ops: list[Op] = []
    layout = "last"  # of the current tensor when it has a channel axis (rank 4)
    rank = len(model.input_shape) + 1

    def channels_first():
        nonlocal layout
        if rank == 4 and layout == "last":
            ops.append(Op("transpose", f"to_channels_first_{len(ops)}", attrs={"perm": TO_CHANNELS_FIRST}))
            layout = "first"

    def channels_last():
        nonlocal layout
        if rank == 4 and layout == "first":
            ops.append(Op("transpose", f"to_channels_last_{len(ops)}", attrs={"perm": TO_CHANNELS_LAST}))
            layout = "last"

    def value(p):
        return np.array(p.value[m], copy=True)

    def activation(layer_act, name):
        """The activation sub-layer of Dense/Conv2D (an Activation or a PReLU layer)."""
        if layer_act.kind == "prelu":
            ops.append(Op("prelu", name, {"alpha": value(layer_act.alpha)}, {"channel_axis": _channel_axis(), "rank": rank},
                          {"alpha": layer_act.alpha}))
            return
        spec = layer_act.fn.config()
        if spec["name"] not in ACTIVATIONS:
            raise GlassnetError(f"layer {name!r}: activation {spec['name']!r} has no export; exportable "
                                f"activations: {', '.join(ACTIVATIONS)}", field="model")
        if spec["name"] != "identity":
            ops.append(Op("activation", name, attrs={"spec": spec, "axis": _channel_axis()}))

    def _channel_axis():
        return 1 if (rank == 4 and layout == "first") else -1

    for layer in model.layers:
        kind, name = layer.kind, layer.name
        if kind not in LAYERS:
            raise GlassnetError(f"layer {name!r} ({type(layer).__name__}) has no export; exportable layers: "
                                f"{', '.join(LAYERS)}", field="model")
        if kind == "dense":
            ops.append(Op("dense", name, {"W": value(layer.W), "b": value(layer.b) if layer.use_bias else None},
                          targets=_targets(layer, "W", "b")))
            activation(layer.act, f"{name}_act")
        elif kind == "conv2d":
            channels_first()
            ops.append(Op("conv", name, {"W": value(layer.W), "b": value(layer.b) if layer.use_bias else None},
                          {"strides": layer.strides, "pads": layer._pads, "kernel": layer.kernel_size},
                          _targets(layer, "W", "b")))
            activation(layer.act, f"{name}_act")
        elif kind in ("max_pool2d", "avg_pool2d"):
            channels_first()
            ops.append(Op("maxpool" if kind == "max_pool2d" else "avgpool", name,
                          attrs={"kernel": layer.pool_size, "strides": layer.strides, "pads": layer._pads}))
        elif kind == "global_average_pooling2d":
            channels_first()
            ops.append(Op("global_avgpool", name))
            rank = 2
        elif kind == "batchnorm":
            channels_first()
            ops.append(Op("batchnorm", name, {"gamma": value(layer.gamma), "beta": value(layer.beta),
                                              "mean": np.array(layer.buffers["running_mean"][m], copy=True),
                                              "var": np.array(layer.buffers["running_var"][m], copy=True)},
                          {"eps": layer.eps, "momentum": layer.momentum, "rank": rank},
                          {"gamma": layer.gamma, "beta": layer.beta, "mean": layer.buffers["running_mean"],
                           "var": layer.buffers["running_var"]}))
        elif kind == "dropout":
            ops.append(Op("dropout", name, attrs={"rate": layer.rate}))
        elif kind == "flatten":
            channels_last()
            ops.append(Op("flatten", name, attrs={"rank": rank}))
            rank = 2
        elif kind == "activation":
            activation(layer, name)
        elif kind == "prelu":
            ops.append(Op("prelu", name, {"alpha": value(layer.alpha)}, {"channel_axis": _channel_axis(), "rank": rank},
                          {"alpha": layer.alpha}))
    channels_last()
    return ops
