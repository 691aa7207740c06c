"""One network of a glassnet model as a list of export operations (shared by ONNX and PyTorch).

Both kinds of network are exported: a :class:`~glassnet.Sequential` is a chain, a graph
:class:`~glassnet.Model` (skip connections, branches, ``Add``/``Multiply``/``Concatenate``, several
inputs and outputs) a directed acyclic graph. Every operation names the values it reads
(``Op.inputs``) and makes one value named ``Op.name``; :class:`Plan` lists the operations in an
order where each comes after what it reads, with the names of the network's inputs and outputs.

glassnet images are channels-last ``(B, H, W, C)``; ONNX's and PyTorch's convolutions and pooling
are channels-first ``(B, C, H, W)``. The walker keeps track of each value's layout: it inserts a
transpose to channels-first before the first layer that needs it, stays channels-first through the
image layers (elementwise activations and dropout do not care), and transposes back to
channels-last before a ``Flatten`` (which flattens in (h, w, c) order), a ``Dense`` or at an
output, so the exported network takes and returns exactly what ``model.predict`` does. A merge
of images works channels-first when any of its inputs is (the others are transposed to it), and
``Concatenate`` then joins axis 1 rather than -1. A value read in both layouts is transposed
once.

Operations (``Op.kind``): ``transpose`` (``perm``), ``dense`` (W ``(in, out)``, b), ``conv``
(W ``(kh, kw, C, F)``, b, strides, pads ``((top, bottom), (left, right))``), ``maxpool`` /
``avgpool`` (kernel, strides, pads; average over real elements only), ``global_avgpool``,
``batchnorm`` (gamma, beta, running mean and variance, eps), ``dropout`` (identity at
inference), ``flatten``, ``activation`` (``spec``: the activation's config; ``axis`` for softmax),
``prelu`` (alpha ``(C,)``), ``add`` and ``multiply`` (of every input), ``concat`` (``axis``).
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
          "flatten", "activation", "prelu", "add", "multiply", "concatenate")

TO_CHANNELS_FIRST = (0, 3, 1, 2)
TO_CHANNELS_LAST = (0, 2, 3, 1)


@dataclass
class Op:
    """One operation: ``arrays`` are copies of network ``m``'s weights; ``targets`` say where each
    came from (a Param, or a buffer array with the model axis first) so an importer can write
    weights back; ``inputs`` name the values it reads (a network input or an earlier op)."""

    kind: str
    name: str
    arrays: dict = field(default_factory=dict)
    attrs: dict = field(default_factory=dict)
    targets: dict = field(default_factory=dict)
    inputs: list = field(default_factory=list)


@dataclass
class Plan:
    """The operations of one network in a valid order; ``inputs`` are ``(value name, per-sample
    shape)`` of each network input, ``outputs`` the value names of each output (channels-last),
    ``output_shapes`` their per-sample shapes and ``output_names`` their glassnet names;
    ``single_input``/``single_output``: whether the model takes and returns one array rather than
    a list."""

    ops: list
    inputs: list
    outputs: list
    output_shapes: list
    output_names: list
    single_input: bool = True
    single_output: bool = True

    def __iter__(self):
        return iter(self.ops)


@dataclass
class _Value:
    name: str
    layout: str  # "last" or "first" (meaningful for rank 4 only)
    rank: int    # with the batch axis


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
    from ..graph import Model
    from ..model import Sequential

    if not isinstance(model, (Sequential, Model)):
        raise GlassnetError(f"export needs a glassnet Sequential or Model, got {type(model).__name__}",
                            field="model")
    if not model.built:
        raise GlassnetError("cannot export a model that has not been built (give input_shape or fit it)",
                            field="model")


def _targets(layer, *names) -> dict:
    return {n: layer.params[n] for n in names if n in layer.params}


def _graph_of(model):
    """``(inputs [(name, shape)], nodes [(layer, [names read])], outputs [names], single_in,
    single_out)``: a Sequential as the chain it is, a graph Model as its nodes."""
    from ..graph import Model

    if isinstance(model, Model):
        nodes = [(n.layer, [t.name for t in n.inputs]) for n in model.nodes]
        return ([(t.name, tuple(t.shape)) for t in model.inputs], nodes, [t.name for t in model.outputs],
                model._single_input, model._single_output)
    nodes, prev = [], "input"
    for layer in model.layers:
        nodes.append((layer, [prev]))
        prev = layer.name
    return [("input", tuple(model.input_shape))], nodes, [prev], True, True


def plan(model, m: int) -> Plan:
    """The operations computing network ``m`` of ``model`` in inference mode (see the module docstring)."""
    check_model(model)
    inputs, nodes, outputs, single_in, single_out = _graph_of(model)
    ops: list[Op] = []
    tensors = {name: _Value(name, "last", len(shape) + 1) for name, shape in inputs}
    moved: dict[tuple, _Value] = {}  # (value name, layout) -> the transposed value

    def add(op: Op, layout: str, rank: int) -> _Value:
        ops.append(op)
        return _Value(op.name, layout, rank)

    def to_layout(v: _Value, layout: str) -> _Value:
        if v.rank != 4 or v.layout == layout:
            return v
        if (v.name, layout) not in moved:
            kind = "to_channels_first" if layout == "first" else "to_channels_last"
            perm = TO_CHANNELS_FIRST if layout == "first" else TO_CHANNELS_LAST
            moved[(v.name, layout)] = add(Op("transpose", f"{kind}_{len(ops)}", attrs={"perm": perm},
                                             inputs=[v.name]), layout, 4)
        return moved[(v.name, layout)]

    def value(p):
        return np.array(p.value[m], copy=True)

    def channel_axis(v: _Value) -> int:
        return 1 if (v.rank == 4 and v.layout == "first") else -1

    def prelu(layer, name, v: _Value) -> _Value:
        return add(Op("prelu", name, {"alpha": value(layer.alpha)}, {"channel_axis": channel_axis(v), "rank": v.rank},
                      {"alpha": layer.alpha}, [v.name]), v.layout, v.rank)

    def activation(layer_act, name, v: _Value) -> _Value:
        """The activation sub-layer of Dense/Conv2D (an Activation or a PReLU layer)."""
        if layer_act.kind == "prelu":
            return prelu(layer_act, name, v)
        spec = layer_act.fn.config()
        if spec["name"] not in ACTIVATIONS:
            raise GlassnetError(f"layer {name!r}: activation {spec['name']!r} has no export; exportable "
                                f"activations: {', '.join(ACTIVATIONS)}", field="model")
        if spec["name"] == "identity":
            return v
        return add(Op("activation", name, attrs={"spec": spec, "axis": channel_axis(v)}, inputs=[v.name]),
                   v.layout, v.rank)

    for layer, reads in nodes:
        kind, name = layer.kind, layer.name
        if kind not in LAYERS:
            raise GlassnetError(f"layer {name!r} ({type(layer).__name__}) has no export; exportable layers: "
                                f"{', '.join(LAYERS)}", field="model")
        args = [tensors[r] for r in reads]
        v = args[0]
        if kind == "dense":
            v = to_layout(v, "last")
            v = add(Op("dense", name, {"W": value(layer.W), "b": value(layer.b) if layer.use_bias else None},
                       targets=_targets(layer, "W", "b"), inputs=[v.name]), "last", v.rank)
            v = activation(layer.act, f"{name}_act", v)
        elif kind == "conv2d":
            v = to_layout(v, "first")
            v = add(Op("conv", name, {"W": value(layer.W), "b": value(layer.b) if layer.use_bias else None},
                       {"strides": layer.strides, "pads": layer._pads, "kernel": layer.kernel_size},
                       _targets(layer, "W", "b"), [v.name]), "first", 4)
            v = activation(layer.act, f"{name}_act", v)
        elif kind in ("max_pool2d", "avg_pool2d"):
            v = to_layout(v, "first")
            v = add(Op("maxpool" if kind == "max_pool2d" else "avgpool", name,
                       attrs={"kernel": layer.pool_size, "strides": layer.strides, "pads": layer._pads},
                       inputs=[v.name]), "first", 4)
        elif kind == "global_average_pooling2d":
            v = to_layout(v, "first")
            v = add(Op("global_avgpool", name, inputs=[v.name]), "last", 2)
        elif kind == "batchnorm":
            v = to_layout(v, "first")
            v = add(Op("batchnorm", name, {"gamma": value(layer.gamma), "beta": value(layer.beta),
                                           "mean": np.array(layer.buffers["running_mean"][m], copy=True),
                                           "var": np.array(layer.buffers["running_var"][m], copy=True)},
                       {"eps": layer.eps, "momentum": layer.momentum, "rank": v.rank},
                       {"gamma": layer.gamma, "beta": layer.beta, "mean": layer.buffers["running_mean"],
                        "var": layer.buffers["running_var"]}, [v.name]), v.layout, v.rank)
        elif kind == "dropout":
            v = add(Op("dropout", name, attrs={"rate": float(max(np.atleast_1d(layer.rate)))}, inputs=[v.name]), v.layout, v.rank)
        elif kind == "flatten":
            v = to_layout(v, "last")
            v = add(Op("flatten", name, attrs={"rank": v.rank}, inputs=[v.name]), "last", 2)
        elif kind == "activation":
            v = activation(layer, name, v)
        elif kind == "prelu":
            v = prelu(layer, name, v)
        else:  # add, multiply, concatenate: every input in one layout
            layout = "first" if any(a.rank == 4 and a.layout == "first" for a in args) else "last"
            args = [to_layout(a, layout) for a in args]
            op = Op("concat" if kind == "concatenate" else kind, name, inputs=[a.name for a in args])
            if kind == "concatenate":
                op.attrs["axis"] = 1 if (v.rank == 4 and layout == "first") else -1
            v = add(op, layout, v.rank)
        tensors[name] = v
    out_values = [to_layout(tensors[name], "last").name for name in outputs]
    shapes = [tuple(model.output_shape)] if single_out else [tuple(s) for s in model.output_shape]
    return Plan(ops, [(n, s) for n, s in inputs], out_values, shapes, list(outputs), single_in, single_out)
