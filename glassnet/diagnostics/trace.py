"""Backprop, written out: every forward value, local derivative, chain-rule product and update.

:func:`trace_model` runs the ENGINE on a Sequential of Dense layers — ``model.forward``, the
loss's ``value_and_grad``, each layer's ``backward`` and an optimizer's ``compute_updates`` — and
keeps every intermediate array; nothing is recomputed by a second implementation. The trace
then names each number the way a textbook does (seed 001):

    forward    z_k = a_{k-1} W_k + b_k,   a_k = f_k(z_k),   a_0 = x,   yhat = a_L
    backward   delta_k = dL/dz_k = dL/da_k * f_k'(z_k)      (elementwise; softmax: a Jacobian)
               dL/dW_k = a_{k-1}^T delta_k,   dL/db_k = sum_batch delta_k,
               dL/da_{k-1} = delta_k W_k^T
    update     W_k <- W_k - lr * dL/dW_k   (or the optimizer's delta)

For a chain (one unit per layer, one sample) every parameter's gradient is also written as the
product of scalar local derivatives, e.g. dL/dw1 = dL/dyhat * dyhat/da1 * da1/dz1 * dz1/dw1 =
1 * 2 * 1 * 1 = 2. Every array keeps the model axis: a trace of M networks holds M sets of numbers.

Skip connections (a graph :class:`~glassnet.Model` of Dense layers whose outputs may be summed
with an earlier tensor by ``Add``, or a spec with ``skip<k>=j``): a_k = f_k(z_k) + a_j. The
forward pass and the backward pass are the graph's own (its nodes in topological order, then in
reverse). Since a_j is read twice -- by layer j+1 and by the sum -- the gradient reaching it is
the sum of the two (the multivariable chain rule):

    dL/da_j = delta_{j+1} W_{j+1}^T  +  dL/da_k        (the sum passes dL/da_k on unchanged)

and the trace writes both parts and their sum with the numbers (``LayerTrace.dL_da_parts``).
A SimpleRNN followed by a Dense layer is traced through time by
:func:`glassnet.diagnostics.trace_rnn.trace_recurrent` (``trace_model`` and ``trace_backprop``
hand such a model or spec to it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import activations as acts
from .. import losses as losses_mod
from .. import optimizers as optim_mod
from ..errors import GlassnetError
from .trace_spec import NetSpec, RNNSpec, as_spec


@dataclass
class LayerTrace:
    """One Dense layer k (1-based). Arrays carry the model axis: ``inp`` ``(M, B, n_in)``,
    ``z``/``a``/``fprime``/``dL_da``/``delta`` ``(M, B, units)``, ``W`` ``(M, n_in, units)``,
    ``b`` ``(M, units)`` or None. ``fprime`` is f'(z) (None for softmax, whose derivative is a
    Jacobian).

    With a skip connection, ``skip`` is j and ``a = branch + a_j`` with ``branch = f(z)``.
    ``dL_da`` is the whole gradient reaching a_k; ``dL_da_parts`` lists what each reader of a_k
    sent back: ``("layer", k+1, delta_{k+1} W_{k+1}^T)`` and ``("skip", m, dL/da_m)`` for a sum
    a_m = f_m(z_m) + a_k (empty for the output)."""

    k: int
    name: str
    activation: acts.Activation
    inp: np.ndarray
    W: np.ndarray
    b: np.ndarray | None
    z: np.ndarray
    a: np.ndarray
    fprime: np.ndarray | None
    dL_da: np.ndarray
    delta: np.ndarray
    skip: int | None = None
    branch: np.ndarray | None = None
    dL_da_parts: list = field(default_factory=list)

    @property
    def identity(self) -> bool:
        return isinstance(self.activation, acts.Identity)


@dataclass
class Factor:
    """One local derivative in a chain-rule product: which one (``num``/``den`` of d num/d den),
    what it equals symbolically (``rule``, a key the renderers spell out) and its value ``(M,)``."""

    num: tuple
    den: tuple
    rule: str
    value: np.ndarray


@dataclass
class ParamTrace:
    """One parameter: ``kind`` "W" or "b" of layer ``k``; value, gradient, update delta and new
    value, each ``(M, ...)``. ``chain`` is the scalar chain-rule product (a chain network only)."""

    k: int
    kind: str
    name: str
    value: np.ndarray
    grad: np.ndarray
    delta: np.ndarray
    new_value: np.ndarray
    chain: list[Factor] | None = None

    @property
    def chain_product(self) -> np.ndarray | None:
        """The product of the chain's factors, ``(M,)``; equals ``grad`` for a chain network."""
        if self.chain is None:
            return None
        return np.prod(np.stack([f.value for f in self.chain]), axis=0)


@dataclass
class Trace:
    """Everything one training step computes; render with :meth:`render` (``"text"``,
    ``"markdown"``, ``"latex"``). ``param("w1")`` (or ``"W1"``, ``"b2"``, ``"dense_0.W"``) looks a
    parameter up; ``check()`` runs the gradient check on the same model and data."""

    model: object
    x: np.ndarray
    y: np.ndarray
    loss: losses_mod.Loss
    loss_value: np.ndarray
    yhat: np.ndarray
    dL_dyhat: np.ndarray
    layers: list[LayerTrace]
    params: list[ParamTrace]
    lr: np.ndarray
    optimizer: str
    scalar: bool
    spec: NetSpec | None = field(default=None, repr=False)

    @property
    def M(self) -> int:
        return self.loss_value.shape[0]

    @property
    def skips(self) -> dict:
        """``{k: j}`` for every skip connection a_k = f_k(z_k) + a_j."""
        return {lt.k: lt.skip for lt in self.layers if lt.skip is not None}

    def param(self, name: str) -> ParamTrace:
        for p in self.params:
            if name in (p.name, f"{p.kind.lower()}{p.k}", f"{p.kind}{p.k}"):
                return p
        raise GlassnetError(f"no parameter {name!r} in this trace; have "
                            f"{', '.join(f'{p.kind.lower()}{p.k}' for p in self.params)}")

    def check(self, **kwargs):
        """:func:`~glassnet.diagnostics.gradcheck` on the traced model, data and loss."""
        from .gradcheck import gradcheck  # noqa: PLC0415

        return gradcheck(self.model, self.x, self.y, self.loss, check_input=False, **kwargs)

    def render(self, format: str = "text", model: int | None = None) -> str:
        """The trace as ``"text"``, ``"markdown"`` or ``"latex"``; ``model`` picks one network of
        an ensemble (default: all, one section each)."""
        from .trace_render import render  # noqa: PLC0415

        return render(self, format, model)

    def __str__(self) -> str:
        return self.render("text")

    def __repr__(self) -> str:
        acts_ = ", ".join(lt.activation.name for lt in self.layers)
        return (f"Trace({len(self.layers)} layers ({acts_}), loss={self.loss.name}, "
                f"optimizer={self.optimizer}, models={self.M}, loss_value={self.loss_value.tolist()})")


def trace_backprop(spec, *, loss=None, lr=None) -> Trace:
    """Trace one gradient-descent step of a small network written as a spec.

    Parameters
    ----------
    spec : str, dict or NetSpec. ``"x=1, y=5, w1=3, relu, w2=2, loss=half_se, lr=0.1"``
        (grammar in :mod:`glassnet.diagnostics.trace_spec`), or the TOML/dict form.
    loss, lr : override the spec's loss and learning rate.

    Returns
    -------
    Trace : seed 001 gives yhat = 6, dL/dw1 = 2, dL/dw2 = 3, w1 -> 2.8, w2 -> 1.7.
    """
    spec = as_spec(spec)
    model = spec.build_model()
    if isinstance(spec, RNNSpec):
        from .trace_rnn import trace_recurrent  # noqa: PLC0415

        return trace_recurrent(model, spec.x[None], spec.y, loss=loss or spec.loss, lr=spec.lr if lr is None else lr,
                               _spec=spec)
    return trace_model(model, spec.x, spec.y, loss=loss or spec.loss,
                       lr=spec.lr if lr is None else lr, _spec=spec)


def trace_model(model, x, y, loss="half_sse", lr=0.1, *, optimizer=None, train: bool = False,
                _spec=None) -> Trace:
    """Trace one training step of ``model`` on ``(x, y)``.

    Parameters
    ----------
    model : a Sequential whose layers are all :class:`~glassnet.Dense` (any activation but
        PReLU); or a graph :class:`~glassnet.Model` of Dense layers in a chain, where a layer's
        output may be summed with an earlier tensor by ``Add`` (a skip connection); or a
        Sequential ``[SimpleRNN, Dense]``, traced through time (returns a
        :class:`~glassnet.diagnostics.trace_rnn.RNNTrace`).
    x : ``(B, n_in)`` shared or ``(M, B, n_in)`` per model; y : targets for ``loss``.
    loss : a loss name or Loss. lr : learning rate of the plain SGD step shown (one number or one
        per model); ``optimizer`` replaces that SGD with any glassnet optimizer (its first step).
    train : forward in training mode (no difference for Dense layers).

    The model's parameters are not changed (the updated values are in ``ParamTrace.new_value``);
    its ``.grad`` arrays hold this step's gradients afterwards, as after any backward pass.
    """
    from ..layers import Activation, Dense, SimpleRNN  # noqa: PLC0415

    layers = getattr(model, "layers", [])
    if not getattr(model, "nodes", None) and len(layers) == 2 and isinstance(layers[0], SimpleRNN):
        from .trace_rnn import trace_recurrent  # noqa: PLC0415

        return trace_recurrent(model, x, y, loss=loss, lr=lr, optimizer=optimizer, _spec=_spec)
    if not getattr(model, "built", False):
        model._ensure_built(np.asarray(x))
    chain = _dense_chain(model)
    for layer, _, _ in chain:
        if not isinstance(layer, Dense) or not isinstance(layer.act, Activation):
            raise GlassnetError(f"trace_model supports Sequential models of Dense layers (and graphs of Dense "
                                f"layers with Add skip connections); layer {layer.name!r} is {layer!r}")
    loss = losses_mod.get(loss)
    x = model.prepare_inputs(x)
    y = loss.prepare_targets(y, model.output_shape)
    if np.issubdtype(y.dtype, np.floating):
        y = y.astype(model.dtype, copy=False)
    M, L = model.M, len(chain)

    # forward: the engine's own pass (a graph's node by node, keeping every node's output)
    if getattr(model, "nodes", None):
        values = _graph_forward(model, x, train)
        pred = values[id(model.outputs[0])]
        pred = np.broadcast_to(pred, (M,) + pred.shape) if pred.ndim == x.ndim else pred
    else:
        pred = model.forward(x, train)
    loss_value, grad = loss.value_and_grad(pred, y)

    # backward: the body of model.backward (Sequential: layer after layer; graph: nodes in
    # reverse, summing where a tensor fans out), keeping what each reader of a_k sent back
    dL_da, parts = [None] * L, [[] for _ in range(L)]
    g = grad
    for i in reversed(range(L)):
        layer, skip, _ = chain[i]
        dL_da[i] = g = sum(p[2] for p in parts[i]) if parts[i] else g
        if skip is not None and skip > 0:  # the sum hands dL/da_k on to a_j unchanged (Add.backward)
            parts[skip - 1].append(("skip", i + 1, chain[i][2].backward(g)[0]))
        dx = layer.backward(g)
        if i > 0:
            parts[i - 1].insert(0, ("layer", i + 1, dx))
            g = None

    layers, params = [], []
    for i, (layer, skip, _) in enumerate(chain):
        f = layer.act.fn
        branch = layer.act._a if not isinstance(f, acts.Identity) else None
        a = chain_value(chain, i, pred)
        z = layer.act._z if not isinstance(f, acts.Identity) else _identity_z(layer, chain, i, pred)
        branch = z if branch is None else branch
        inp = np.broadcast_to(layer._x, (M,) + layer._x.shape[-2:])
        fprime = None if not f.elementwise else f.derivative(z, branch)
        delta = layer.act.backward(dL_da[i])  # the engine's dL/dz (the layer computed it too)
        b = layer.b.value.copy() if layer.use_bias else None
        layers.append(LayerTrace(i + 1, layer.name, f, inp.copy(), layer.W.value.copy(), b,
                                 np.array(z), np.array(a), fprime, np.array(dL_da[i]), np.array(delta),
                                 skip, None if skip is None else np.array(branch),
                                 [(kind, k, np.array(v)) for kind, k, v in parts[i]]))

    # update: the optimizer's first step, computed but not applied
    opt = optim_mod.SGD(lr) if optimizer is None else optim_mod.get(optimizer)
    opt.bind(model.param_list, M, model.dtype)
    deltas = opt.compute_updates()
    by_name = {p.name: (p, d) for p, d in zip(model.param_list, deltas)}
    for i, (layer, _, _) in enumerate(chain):
        for kind, short in (("W", "W"), ("b", "b")):
            if short not in layer.params:
                continue
            p, d = by_name[layer.params[short].name]
            params.append(ParamTrace(i + 1, kind, p.name, p.value.copy(), p.grad.copy(),
                                     np.array(d), p.value + d))

    scalar = x.shape[-2] == 1 and all(l.W.shape[1:] == (1, 1) and l.fprime is not None for l in layers)
    if scalar and not any(l.skip is not None for l in layers):
        for p in params:
            p.chain = _chain(layers, p, grad)
    lr_arr = np.asarray(getattr(opt, "lr", np.full(M, np.nan)), dtype=np.float64)
    return Trace(model, x, y, loss, np.asarray(loss_value), np.array(pred), np.array(grad), layers,
                 params, lr_arr, getattr(opt, "name", type(opt).__name__), scalar, _spec)


def _dense_chain(model) -> list:
    """``[(layer, skip j or None, Add layer or None)]`` in order: the layers of a Sequential, or
    the Dense nodes of a graph that is a chain with Add skip connections (checked)."""
    nodes = getattr(model, "nodes", None)
    if not nodes:
        return [(layer, None, None) for layer in model.layers]
    from ..layers.merge import Add  # noqa: PLC0415

    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise GlassnetError("trace_model traces graphs with one input and one output")
    tensors = [model.inputs[0]]  # a_0 = x, a_1, ...
    chain = []
    for node in nodes:
        layer = node.layer
        if isinstance(layer, Add) and _is_skip(node, chain, tensors):
            other = next(t for t in node.inputs if t is not chain[-1][0]._node.output)
            j = next(i for i, t in enumerate(tensors[:-1]) if t is other)
            chain[-1] = (chain[-1][0], j, layer)
            tensors[-1] = node.output
        elif not isinstance(layer, Add) and len(node.inputs) == 1 and node.inputs[0] is tensors[-1]:
            chain.append((layer, None, None))
            tensors.append(node.output)
        else:
            raise GlassnetError(f"trace_model traces a chain of Dense layers where a layer's output may be "
                                f"summed with an earlier tensor (Add([a_j, dense(...)])); node {layer.name!r} "
                                f"({layer!r}) reading {', '.join(t.name for t in node.inputs)} is not of that form")
    if tensors[-1] is not model.outputs[0]:
        raise GlassnetError("trace_model: the graph's output is not the end of its chain of layers")
    return chain


def _is_skip(node, chain, tensors) -> bool:
    """Whether an Add node sums the latest layer's output with one earlier tensor a_j."""
    if not chain or chain[-1][1] is not None or len(node.inputs) != 2:
        return False
    out = chain[-1][0]._node.output
    others = [t for t in node.inputs if t is not out]
    return len(others) == 1 and any(others[0] is t for t in tensors[:-1])


def _graph_forward(model, x, train) -> dict:
    """The body of ``Model.forward`` (nodes in topological order), keeping every node's output."""
    values = {id(model.inputs[0]): x}
    for node in model.nodes:
        args = [values[id(t)] for t in node.inputs]
        values[id(node.output)] = node.layer.forward(args if getattr(node.layer, "merges", False) else args[0], train)
    return values


def chain_value(chain, i, pred):
    """a_{i+1}: the input the next layer read (the engine's cache), or the prediction."""
    return chain[i + 1][0]._x if i + 1 < len(chain) else pred


def _identity_z(layer, chain, i, pred):
    """z of an identity layer: its output, minus nothing (no skip) -- or, with a skip, the Dense
    branch recomputed from the layer's cached input, exactly as its forward computed it."""
    if chain[i][1] is None:
        return chain_value(chain, i, pred)
    z = layer._x @ layer.W.value
    return z + layer.b.value[:, None, :] if layer.use_bias else z


def _chain(layers: list[LayerTrace], p: ParamTrace, dL_dyhat) -> list[Factor]:
    """The scalar chain rule for parameter ``p`` of a chain network, from the output back.

    Symbols: ("a", k) is a_k (a_0 = x, a_L = yhat), ("z", k) is z_k, ("L",) the loss, ("w", k)/
    ("b", k) the parameters. Identity activations give no factor (a_k = z_k).
    """
    L = len(layers)

    def s(arr):  # (M, 1, 1) -> (M,)
        return np.asarray(arr).reshape(arr.shape[0])

    out = [Factor(("L",), ("a", L), "loss", s(dL_dyhat))]
    for j in range(L, p.k, -1):
        lj = layers[j - 1]
        if not lj.identity:
            out.append(Factor(("a", j), ("z", j), "act", s(lj.fprime)))
        out.append(Factor(("z", j), ("a", j - 1), "weight", s(lj.W)))
    lk = layers[p.k - 1]
    if not lk.identity:
        out.append(Factor(("a", p.k), ("z", p.k), "act", s(lk.fprime)))
    if p.kind == "W":
        out.append(Factor(("z", p.k), ("w", p.k), "input", s(lk.inp)))
    else:
        out.append(Factor(("z", p.k), ("b", p.k), "one", np.ones(lk.z.shape[0])))
    return out
