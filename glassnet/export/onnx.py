"""ONNX export: one ``.onnx`` file per network of a glassnet model (``pip install glassnet[onnx]``).

``to_onnx(model, "net.onnx")`` writes a graph with input ``"input"`` ``(N, *input_shape)`` and
output ``"output"`` ``(N, *output_shape)`` in the model's dtype, computing what
``model.predict`` computes (inference mode: batch norm uses its running statistics, dropout is the
identity). A :class:`~glassnet.Sequential` and a graph :class:`~glassnet.Model` both export; a
graph model with several inputs or outputs names them after its ``Input`` tensors and output
layers (``session.run(None, {"a": xa, "b": xb})``). Operators (opset 17):

=========================  ===========================================================
glassnet                   ONNX
=========================  ===========================================================
Dense                      Gemm (MatMul without a bias)
Conv2D                     Conv (NCHW; transposes around the image layers)
MaxPool2D / AvgPool2D      MaxPool / AveragePool (``count_include_pad=0``)
GlobalAveragePooling2D     GlobalAveragePool + Flatten
BatchNorm                  BatchNormalization (running mean and variance)
Dropout                    nothing (identity)
Flatten                    Flatten (after a transpose back to channels-last)
relu, leaky_relu, elu,     Relu, LeakyRelu, Elu, Selu, Tanh, Sigmoid, Softmax,
selu, tanh, sigmoid,       Softplus
softmax, softplus
gelu                       0.5 * x * (1 + Erf(x / sqrt(2)))  (tanh form when approximate="tanh")
swish                      x * Sigmoid(x)
prelu                      PRelu
Add / Multiply             Add / Mul (chained for more than two inputs)
Concatenate                Concat (axis 1 between channels-first images, else -1)
=========================  ===========================================================

Any other layer or activation raises a :class:`~glassnet.GlassnetError` naming it.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import numpy as np

from ..errors import GlassnetError
from ._plan import check_model, model_indices, plan

OPSET = 17
IR_VERSION = 8  # the lowest IR version for opset 17: readable by onnxruntime >= 1.17


def _onnx():
    try:
        import onnx  # noqa: PLC0415
    except ImportError as exc:
        raise GlassnetError("ONNX export needs the onnx package; install it with "
                            "`pip install glassnet[onnx]`") from exc
    return onnx


def to_onnx(model, path, model_index=None):
    """Write network ``model_index`` of ``model`` (or every network) as ONNX.

    Parameters
    ----------
    model : a built :class:`~glassnet.Sequential` or graph :class:`~glassnet.Model`.
    path : file to write (``.onnx`` is appended when missing). For an ensemble with
        ``model_index=None`` one file per network: ``<stem>_model<m>.onnx`` beside ``path``.
    model_index : which network of an ensemble; ``None`` exports every one (a single network
        model has only index 0).

    Returns
    -------
    Path of the file written, or a list of paths (ensemble, ``model_index=None``).
    """
    onnx = _onnx()
    check_model(model)
    path = Path(path)
    if path.suffix != ".onnx":
        path = path.with_name(path.name + ".onnx")
    indices = model_indices(model, model_index)
    many = model_index is None and model.ensemble and model.M > 1
    out = []
    for m in indices:
        target = path.with_name(f"{path.stem}_model{m}.onnx") if many else path
        proto = build_onnx(model, m)
        onnx.checker.check_model(proto)
        _write_atomic(target, proto.SerializeToString())
        out.append(target)
    return out if many else out[0]


def _write_atomic(path: Path, data: bytes) -> None:
    if path.is_dir():
        raise GlassnetError(f"{str(path)!r} is a folder; give a file name", field="path")
    if not path.parent.is_dir():
        raise GlassnetError(f"folder {str(path.parent)!r} does not exist", field="path")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class _Graph:
    """Nodes and initializers under construction, with fresh tensor names."""

    def __init__(self, onnx, dtype):
        self.onnx, self.dtype = onnx, np.dtype(dtype)
        self.nodes, self.inits = [], []
        self._n = 0

    def name(self, hint: str) -> str:
        self._n += 1
        return f"{hint}:{self._n}"

    def const(self, hint: str, value) -> str:
        name = self.name(hint)
        self.inits.append(self.onnx.numpy_helper.from_array(np.asarray(value, dtype=self.dtype), name))
        return name

    def node(self, op: str, inputs, hint: str, **attrs) -> str:
        out = self.name(hint)
        self.nodes.append(self.onnx.helper.make_node(op, list(inputs), [out], name=out, **attrs))
        return out


def io_names(p) -> tuple[list[str], list[str]]:
    """The ONNX graph's input and output names: ``"input"`` and ``"output"`` for a model of one
    input and one output; otherwise the glassnet names (the ``Input`` names, the output layers';
    ``output_<i>`` where a name is taken already)."""
    ins = ["input"] if p.single_input else [name for name, _ in p.inputs]
    if p.single_output:
        return ins, ["output"]
    outs: list[str] = []
    for i, name in enumerate(p.output_names):
        outs.append(f"output_{i}" if name in ins or name in outs else name)
    return ins, outs


def build_onnx(model, m: int):
    """The ``onnx.ModelProto`` of network ``m`` (not written, not checked)."""
    onnx = _onnx()
    helper = onnx.helper
    g = _Graph(onnx, model.dtype)
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(model.dtype))
    p = plan(model, m)
    in_names, out_names = io_names(p)
    values = {name: g.node("Identity", [onnx_name], onnx_name) for (name, _), onnx_name in zip(p.inputs, in_names)}
    for op in p.ops:
        values[op.name] = _emit(g, op, [values[v] for v in op.inputs])
    for value, onnx_name in zip(p.outputs, out_names):
        g.nodes.append(helper.make_node("Identity", [values[value]], [onnx_name], name=onnx_name))
    graph = helper.make_graph(
        g.nodes, f"glassnet_{model.name}_model{m}",
        [helper.make_tensor_value_info(n, elem, ["N", *shape]) for n, (_, shape) in zip(in_names, p.inputs)],
        [helper.make_tensor_value_info(n, elem, ["N", *shape]) for n, shape in zip(out_names, p.output_shapes)],
        initializer=g.inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="glassnet",
                              doc_string=f"network {m} (seed {model.seeds[m]}) of {model!r}")
    proto.ir_version = IR_VERSION
    return proto


def _pads(pads) -> list[int]:
    (top, bottom), (left, right) = pads
    return [int(top), int(left), int(bottom), int(right)]


def _emit(g: _Graph, op, xs: list[str]) -> str:
    a, k, n = op.arrays, op.attrs, op.name
    x = xs[0]
    if op.kind in ("add", "multiply"):
        for other in xs[1:]:
            x = g.node("Add" if op.kind == "add" else "Mul", [x, other], n)
        return x
    if op.kind == "concat":
        return g.node("Concat", xs, n, axis=int(k["axis"]))
    if op.kind == "transpose":
        return g.node("Transpose", [x], n, perm=list(k["perm"]))
    if op.kind == "dense":
        W = g.const(f"{n}.W", a["W"])
        if a["b"] is None:
            return g.node("MatMul", [x, W], n)
        return g.node("Gemm", [x, W, g.const(f"{n}.b", a["b"])], n)
    if op.kind == "conv":
        inputs = [x, g.const(f"{n}.W", a["W"].transpose(3, 2, 0, 1))]  # (kh, kw, C, F) -> (F, C, kh, kw)
        if a["b"] is not None:
            inputs.append(g.const(f"{n}.b", a["b"]))
        return g.node("Conv", inputs, n, kernel_shape=list(k["kernel"]), strides=list(k["strides"]),
                      pads=_pads(k["pads"]))
    if op.kind == "maxpool":
        return g.node("MaxPool", [x], n, kernel_shape=list(k["kernel"]), strides=list(k["strides"]),
                      pads=_pads(k["pads"]))
    if op.kind == "avgpool":
        return g.node("AveragePool", [x], n, kernel_shape=list(k["kernel"]), strides=list(k["strides"]),
                      pads=_pads(k["pads"]), count_include_pad=0)
    if op.kind == "global_avgpool":
        return g.node("Flatten", [g.node("GlobalAveragePool", [x], n)], n, axis=1)
    if op.kind == "batchnorm":
        inputs = [x] + [g.const(f"{n}.{key}", a[key]) for key in ("gamma", "beta", "mean", "var")]
        return g.node("BatchNormalization", inputs, n, epsilon=float(k["eps"]))
    if op.kind == "dropout":
        return x
    if op.kind == "flatten":
        return g.node("Flatten", [x], n, axis=1)
    if op.kind == "prelu":
        alpha = a["alpha"]
        slope = alpha.reshape(-1, 1, 1) if k["channel_axis"] == 1 else alpha
        return g.node("PRelu", [x, g.const(f"{n}.alpha", slope)], n)
    if op.kind == "activation":
        return _activation(g, k["spec"], k["axis"], x, n)
    raise GlassnetError(f"no ONNX export for operation {op.kind!r}")  # the plan only makes the above


def _activation(g: _Graph, spec: dict, axis: int, x: str, n: str) -> str:
    name = spec["name"]
    simple = {"relu": "Relu", "tanh": "Tanh", "sigmoid": "Sigmoid", "softplus": "Softplus"}
    if name in simple:
        return g.node(simple[name], [x], n)
    if name == "leaky_relu":
        return g.node("LeakyRelu", [x], n, alpha=float(spec["alpha"]))
    if name == "elu":
        return g.node("Elu", [x], n, alpha=float(spec["alpha"]))
    if name == "selu":
        from ..activations import SELU

        return g.node("Selu", [x], n, alpha=float(SELU.alpha), gamma=float(SELU.scale))
    if name == "softmax":
        return g.node("Softmax", [x], n, axis=int(axis))
    if name == "swish":
        return g.node("Mul", [x, g.node("Sigmoid", [x], n)], n)
    if name == "gelu":
        half, one = g.const(f"{n}.half", 0.5), g.const(f"{n}.one", 1.0)
        if spec.get("approximate", "none") == "tanh":
            # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
            cube = g.node("Mul", [g.node("Mul", [x, x], n), x], n)
            inner = g.node("Add", [x, g.node("Mul", [cube, g.const(f"{n}.c", 0.044715)], n)], n)
            t = g.node("Tanh", [g.node("Mul", [inner, g.const(f"{n}.k", math.sqrt(2.0 / math.pi))], n)], n)
        else:
            # 0.5 x (1 + erf(x / sqrt 2))
            t = g.node("Erf", [g.node("Div", [x, g.const(f"{n}.sqrt2", math.sqrt(2.0))], n)], n)
        return g.node("Mul", [g.node("Mul", [half, x], n), g.node("Add", [one, t], n)], n)
    raise GlassnetError(f"activation {name!r} has no ONNX export")
