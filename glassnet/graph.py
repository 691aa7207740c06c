"""Graph models: layers called on tensors, skip connections, several inputs and outputs.

The functional form, as in Keras::

    x = gn.Input((16,))
    h = gn.Dense(16, activation="relu")(x)
    y = gn.Add()([x, gn.Dense(16)(h)])          # a residual connection
    model = gn.Model(x, gn.Dense(2)(y), seed=[0, 1, 2])   # 3 networks on the model axis

Calling a layer on a :class:`Tensor` records a :class:`Node` (the layer and the tensors it
reads); ``Model(inputs, outputs)`` collects the nodes the outputs depend on and orders them so
each runs after its inputs (a topological order).

* **Forward** runs the nodes in that order, keeping each node's output for the nodes that read it.
* **Backward** runs them in reverse. Where a tensor fans out (read by several nodes), the
  gradients coming back from each reader are **summed**: dL/dt = sum over readers r of
  dL/dt through r (the multivariable chain rule) -- the reason a skip connection hands the
  gradient of the sum to both branches.

A layer object is called once (sharing one layer's weights between two calls is not supported
yet). Everything keeps the model axis: shared inputs ``(B, ...)`` are broadcast to ``(M, B, ...)``
only where a layer needs it.
"""

from __future__ import annotations

import numpy as np

from .backend import as_seed_list
from .errors import GlassnetError
from .layers import BuildContext, Layer, Param, from_config
from .layers import merge as _merge  # noqa: F401 - registers add, multiply, concatenate
from .network import NETWORK_KINDS, Network, _check_input_shape


class Tensor:
    """A symbolic tensor: the per-sample ``shape`` of a value in a graph, and the node that makes
    it (``None`` for an :func:`Input`)."""

    def __init__(self, shape: tuple, node: "Node | None" = None, name: str | None = None):
        self.shape, self.node, self.name = tuple(shape), node, name

    def __repr__(self):
        src = "Input" if self.node is None else self.node.layer.name or type(self.node.layer).__name__
        return f"<Tensor shape=(None, {', '.join(map(str, self.shape))}) from {src}>"


class Node:
    """One call of a layer: ``layer`` applied to ``inputs`` gives ``output``."""

    def __init__(self, layer: Layer, inputs: list[Tensor]):
        self.layer, self.inputs = layer, inputs
        self.output: Tensor | None = None


def Input(shape, name: str | None = None) -> Tensor:  # noqa: N802 - Keras' name
    """A model input of per-sample ``shape`` (without the batch axis), e.g. ``Input((16,))``."""
    return Tensor(_check_input_shape(shape, "Input shape"), None, name)


def call_layer(layer: Layer, inputs) -> Tensor:
    """``layer(inputs)`` on symbolic tensors: record the node, return its output tensor."""
    merges = getattr(layer, "merges", False)
    if merges:
        if not isinstance(inputs, (list, tuple)) or not all(isinstance(t, Tensor) for t in inputs):
            raise GlassnetError(f"{type(layer).__name__} takes a list of tensors, got {inputs!r}")
        tensors = list(inputs)
        shape = layer.compute_output_shape([t.shape for t in tensors])
    else:
        if not isinstance(inputs, Tensor):
            raise GlassnetError(f"{type(layer).__name__} is called on a glassnet tensor (gn.Input(...) or a "
                                f"layer's output), got {type(inputs).__name__}; to compute on arrays, build a model")
        tensors = [inputs]
        shape = layer.compute_output_shape(inputs.shape)
    if getattr(layer, "_node", None) is not None:
        raise GlassnetError(f"layer {layer!r} is already called once; sharing a layer's weights between calls "
                            "is not supported: create a second layer")
    node = Node(layer, tensors)
    node.output = Tensor(shape, node)
    layer._node = node
    return node.output


def _as_list(value, what: str) -> tuple[list[Tensor], bool]:
    single = isinstance(value, Tensor)
    items = [value] if single else list(value) if isinstance(value, (list, tuple)) else None
    if not items or not all(isinstance(t, Tensor) for t in items):
        raise GlassnetError(f"Model {what} must be a tensor or a list of tensors (gn.Input(...), layer outputs), "
                            f"got {value!r}", field=what)
    return items, single


def _topological(outputs: list[Tensor]) -> list[Node]:
    """The nodes the outputs depend on, each after every node it reads from."""
    order, state = [], {}
    for out in outputs:
        stack = [(out, False)]
        while stack:
            t, done = stack.pop()
            node = t.node
            if node is None:
                continue
            if done:
                if state.get(id(node)) != "done":
                    state[id(node)] = "done"
                    order.append(node)
                continue
            if state.get(id(node)) is not None:
                continue
            state[id(node)] = "open"
            stack.append((t, True))
            stack.extend((i, False) for i in reversed(node.inputs))
    return order


class Model(Network):
    """A graph of layers: ``Model(inputs, outputs)`` with tensors from :func:`Input` and layer calls.

    Parameters
    ----------
    inputs, outputs : a tensor or a list of tensors. With a list, ``x`` (and for outputs, ``y``
        and the ``predict`` result) are lists in the same order.
    init, bias_init, seed, models, dtype, name : as for :class:`~glassnet.Sequential`.
    """

    kind = "graph"

    def __init__(self, inputs, outputs, *, init=None, bias_init=None, seed=0, models=None, dtype=None,
                 name: str = "model", _dry: bool = False):
        self.inputs, self._single_input = _as_list(inputs, "inputs")
        self.outputs, self._single_output = _as_list(outputs, "outputs")
        if len({id(t) for t in self.inputs}) != len(self.inputs):
            raise GlassnetError("Model inputs must be distinct tensors", field="inputs")
        self.nodes = _topological(self.outputs)
        reached = {id(t) for n in self.nodes for t in n.inputs if t.node is None}
        reached |= {id(t) for t in self.outputs if t.node is None}
        missing = [t for t in (t for n in self.nodes for t in n.inputs) if t.node is None and
                   id(t) not in {id(i) for i in self.inputs}]
        if missing:
            raise GlassnetError(f"the outputs depend on an Input that is not among the model's inputs: {missing[0]!r}",
                                field="inputs")
        unused = [t for t in self.inputs if id(t) not in reached]
        if unused:
            raise GlassnetError(f"Model input {unused[0]!r} is not used by any output", field="inputs")
        self.layers = [n.layer for n in self.nodes]
        self._settings(seed, models, dtype, init, bias_init, name)
        self._build(dry=_dry)

    # -- building -----------------------------------------------------------------------------
    def _build(self, dry: bool) -> None:
        self.streams = as_seed_list(self.seeds)
        ctx = BuildContext(self.M, self.dtype, self.streams, self.init, self.bias_init, dry=dry)
        counts: dict[str, int] = {}
        for i, t in enumerate(self.inputs):
            t.name = t.name or f"input_{i}"
        for node in self.nodes:
            layer = node.layer
            if layer.name is None:
                k = counts.get(layer.kind, 0)
                counts[layer.kind] = k + 1
                layer.name = f"{layer.kind}_{k}"
            node.output.name = layer.name
            shapes = [t.shape for t in node.inputs]
            built = layer.build(shapes if getattr(layer, "merges", False) else shapes[0], ctx)
            if tuple(built) != node.output.shape:  # pragma: no cover - compute_output_shape and build disagree
                raise GlassnetError(f"layer {layer.name}: built output shape {tuple(built)} != {node.output.shape}")
            # nobody needs dL/dinput for a layer that reads only model inputs
            layer.need_input_grad = not all(t.node is None for t in node.inputs)
        names = [t.name for t in self.inputs] + [l.name for l in self.layers]
        if len(set(names)) != len(names):
            raise GlassnetError(f"layer and input names must be unique, got {names}")
        self.param_list: list[Param] = [p for l in self.layers for p in l.params.values()]
        self.built = True

    @property
    def input_shapes(self) -> list[tuple]:
        return [t.shape for t in self.inputs]

    @property
    def input_shape(self):
        """The per-sample input shape (a list of them for several inputs)."""
        return self.inputs[0].shape if self._single_input else [t.shape for t in self.inputs]

    @property
    def output_shape(self):
        """The per-sample output shape (a list of them for several outputs)."""
        return self.outputs[0].shape if self._single_output else [t.shape for t in self.outputs]

    # -- computation --------------------------------------------------------------------------
    def prepare_inputs(self, x, name: str = "x"):
        """Validate inputs: an array for one input, a list of arrays (one per input) otherwise;
        each shared ``(B, ...)`` or per-model ``(M, B, ...)``, with one number of samples."""
        if self._single_input:
            return self.check_array(x, self.inputs[0].shape, name)
        if not isinstance(x, (list, tuple)) or len(x) != len(self.inputs):
            raise GlassnetError(f"{name} must be a list of {len(self.inputs)} arrays (one per input: "
                                f"{', '.join(t.name for t in self.inputs)})", field=name)
        xs = [self.check_array(a, t.shape, f"{name}[{i}] ({t.name})") for i, (a, t) in enumerate(zip(x, self.inputs))]
        layouts = {(a.ndim == len(t.shape) + 2, a.shape[1] if a.ndim == len(t.shape) + 2 else a.shape[0])
                   for a, t in zip(xs, self.inputs)}
        if len(layouts) != 1:
            raise GlassnetError(f"the {name} arrays must all be shared or all per model, with one number of samples",
                                field=name)
        return xs

    def forward(self, x, train: bool = False):
        """Run the nodes in topological order; ``(M, B, *output_shape)`` out (a list for several outputs)."""
        xs = [x] if self._single_input else list(x)
        values = {id(t): a for t, a in zip(self.inputs, xs)}
        for node in self.nodes:
            layer = node.layer
            args = [values[id(t)] for t in node.inputs]
            if getattr(layer, "merges", False):
                out = layer.forward(args, train)
            else:
                a = args[0]
                if a.ndim == len(node.inputs[0].shape) + 1 and not layer.accepts_shared_input:
                    a = np.broadcast_to(a, (self.M,) + a.shape)
                out = layer.forward(a, train)
            values[id(node.output)] = out
        outs = []
        for t in self.outputs:
            v = values[id(t)]
            outs.append(np.broadcast_to(v, (self.M,) + v.shape) if v.ndim == len(t.shape) + 1 else v)
        return outs[0] if self._single_output else outs

    def backward(self, grad):
        """Backpropagate dL/doutput(s) in reverse topological order, summing where a tensor fans out."""
        grads: dict[int, np.ndarray] = {}
        for t, g in zip(self.outputs, [grad] if self._single_output else list(grad)):
            grads[id(t)] = g if id(t) not in grads else grads[id(t)] + g
        for node in reversed(self.nodes):
            g = grads.pop(id(node.output), None)
            if g is None:
                continue
            dx = node.layer.backward(g)
            for t, d in zip(node.inputs, dx if getattr(node.layer, "merges", False) else [dx]):
                if t.node is None or d is None:
                    continue  # model inputs need no gradient
                grads[id(t)] = d if id(t) not in grads else grads[id(t)] + d
        return None

    # -- description --------------------------------------------------------------------------
    def summary(self, print_fn=print) -> str:
        """A table of layers with what each reads, output shapes and parameter counts (per network)."""
        rows = [("layer", "type", "output shape", "params", "reads")]
        for t in self.inputs:
            rows.append((t.name, "Input", str((None,) + t.shape), "0", ""))
        for node in self.nodes:
            l = node.layer
            rows.append((l.name, repr(l), str((None,) + tuple(l.output_shape)), f"{l.param_count():,}",
                         ", ".join(t.name for t in node.inputs)))
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        line = "-" * (sum(widths) + 8)
        title = f'Model "{self.name}" (graph' + (f", {self.M} networks on the model axis" if self.ensemble else "") + ")"
        out = [title, line]
        for i, r in enumerate(rows):
            out.append("  ".join(c.rjust(w) if j == 3 else c.ljust(w) for j, (c, w) in enumerate(zip(r, widths))).rstrip())
            if i == 0:
                out.append(line)
        out += [line, f"outputs: {', '.join(t.name for t in self.outputs)}",
                f"Total params: {self.param_count():,}" + (" per network" if self.ensemble else "")]
        text = "\n".join(out)
        if print_fn is not None:
            print_fn(text)
        return text

    def __repr__(self):
        lines = [f"  {t.name} = Input({t.shape})" for t in self.inputs]
        lines += [f"  {n.layer.name} = {n.layer!r}({', '.join(t.name for t in n.inputs)})" for n in self.nodes]
        extra = f", models={self.M}" if self.ensemble else ""
        return "Model(\n" + "\n".join(lines) + f"\n  -> {', '.join(t.name for t in self.outputs)}{extra})"

    # -- persistence --------------------------------------------------------------------------
    def config(self) -> dict:
        return {**super().config(),
                "inputs": [{"name": t.name, "shape": list(t.shape)} for t in self.inputs],
                "nodes": [{"layer": n.layer.config(), "inputs": [t.name for t in n.inputs]} for n in self.nodes],
                "outputs": [t.name for t in self.outputs],
                "single_input": self._single_input, "single_output": self._single_output}

    @classmethod
    def from_header(cls, header: dict, *, dry: bool = True, init=None, bias_init=None) -> "Model":
        """The graph of a model file's header, built dry (shapes only, nothing drawn); with
        ``dry=False`` its networks draw their weights from ``init``/``bias_init`` and the seeds,
        as the run config of a graph model builds it."""
        for key, typ in (("inputs", list), ("nodes", list), ("outputs", list)):
            if not isinstance(header.get(key), typ) or not header[key]:
                raise GlassnetError(f"model header field {key!r} must be a non-empty list")
        tensors: dict[str, Tensor] = {}
        inputs = []
        for spec in header["inputs"]:
            if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or not isinstance(spec.get("shape"), list):
                raise GlassnetError(f"model header input {spec!r} must have a name and a shape list")
            tensors[spec["name"]] = Input(spec["shape"], name=spec["name"])
            inputs.append(tensors[spec["name"]])
        for spec in header["nodes"]:
            if not isinstance(spec, dict) or not isinstance(spec.get("inputs"), list):
                raise GlassnetError(f"model header node {spec!r} must have a layer and a list of inputs")
            layer = from_config(spec.get("layer"))
            reads = []
            for name in spec["inputs"]:
                if name not in tensors:
                    raise GlassnetError(f"model header node {layer.name!r} reads {name!r}, which no earlier node makes")
                reads.append(tensors[name])
            out = layer(reads if getattr(layer, "merges", False) else reads[0])
            tensors[layer.name] = out
        outputs = []
        for name in header["outputs"]:
            if name not in tensors:
                raise GlassnetError(f"model header output {name!r} is not a tensor of the graph")
            outputs.append(tensors[name])
        single_in = header.get("single_input", len(inputs) == 1)
        single_out = header.get("single_output", len(outputs) == 1)
        return cls(inputs[0] if single_in else inputs, outputs[0] if single_out else outputs, seed=header["seeds"],
                   dtype=header["dtype"], name=header.get("name", "model"), init=init, bias_init=bias_init, _dry=dry)


NETWORK_KINDS["graph"] = Model
