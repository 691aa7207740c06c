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
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import activations as acts
from .. import losses as losses_mod
from .. import optimizers as optim_mod
from ..errors import GlassnetError
from .trace_spec import NetSpec, as_spec


@dataclass
class LayerTrace:
    """One Dense layer k (1-based). Arrays carry the model axis: ``inp`` ``(M, B, n_in)``,
    ``z``/``a``/``fprime``/``dL_da``/``delta`` ``(M, B, units)``, ``W`` ``(M, n_in, units)``,
    ``b`` ``(M, units)`` or None. ``fprime`` is f'(z) (None for softmax, whose derivative is a
    Jacobian)."""

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
    return trace_model(model, spec.x, spec.y, loss=loss or spec.loss,
                       lr=spec.lr if lr is None else lr, _spec=spec)


def trace_model(model, x, y, loss="half_sse", lr=0.1, *, optimizer=None, train: bool = False,
                _spec=None) -> Trace:
    """Trace one training step of ``model`` (a Sequential of Dense layers) on ``(x, y)``.

    Parameters
    ----------
    model : Sequential whose layers are all :class:`~glassnet.Dense` (any activation but PReLU).
    x : ``(B, n_in)`` shared or ``(M, B, n_in)`` per model; y : targets for ``loss``.
    loss : a loss name or Loss. lr : learning rate of the plain SGD step shown (one number or one
        per model); ``optimizer`` replaces that SGD with any glassnet optimizer (its first step).
    train : forward in training mode (no difference for Dense layers).

    The model's parameters are not changed (the updated values are in ``ParamTrace.new_value``);
    its ``.grad`` arrays hold this step's gradients afterwards, as after any backward pass.
    """
    from ..layers import Activation, Dense  # noqa: PLC0415

    if not getattr(model, "built", False):
        model._ensure_built(np.asarray(x))
    for layer in model.layers:
        if not isinstance(layer, Dense) or not isinstance(layer.act, Activation):
            raise GlassnetError(f"trace_model supports Sequential models of Dense layers; layer "
                                f"{layer.name!r} is {layer!r}")
    loss = losses_mod.get(loss)
    x = model.prepare_inputs(x)
    y = loss.prepare_targets(y, model.output_shape)
    if np.issubdtype(y.dtype, np.floating):
        y = y.astype(model.dtype, copy=False)
    M, L = model.M, len(model.layers)

    # forward: the engine's own pass; the layers cache what the trace reads
    pred = model.forward(x, train)
    loss_value, grad = loss.value_and_grad(pred, y)
    outs = [l._x for l in model.layers[1:]] + [pred]

    # backward: the body of model.backward, keeping dL/da of every layer
    dL_da = [None] * L
    g = grad
    for i in reversed(range(L)):
        dL_da[i] = g
        g = model.layers[i].backward(g)

    layers, params = [], []
    for i, layer in enumerate(model.layers):
        f = layer.act.fn
        a = outs[i]
        z = a if isinstance(f, acts.Identity) else layer.act._z
        inp = np.broadcast_to(layer._x, (M,) + layer._x.shape[-2:])
        fprime = None if not f.elementwise else f.derivative(z, a)
        delta = layer.act.backward(dL_da[i])  # the engine's dL/dz (the layer computed it too)
        b = layer.b.value.copy() if layer.use_bias else None
        layers.append(LayerTrace(i + 1, layer.name, f, inp.copy(), layer.W.value.copy(), b,
                                 np.array(z), np.array(a), fprime, np.array(dL_da[i]), np.array(delta)))

    # update: the optimizer's first step, computed but not applied
    opt = optim_mod.SGD(lr) if optimizer is None else optim_mod.get(optimizer)
    opt.bind(model.param_list, M, model.dtype)
    deltas = opt.compute_updates()
    by_name = {p.name: (p, d) for p, d in zip(model.param_list, deltas)}
    for i, layer in enumerate(model.layers):
        for kind, short in (("W", "W"), ("b", "b")):
            if short not in layer.params:
                continue
            p, d = by_name[layer.params[short].name]
            params.append(ParamTrace(i + 1, kind, p.name, p.value.copy(), p.grad.copy(),
                                     np.array(d), p.value + d))

    scalar = x.shape[-2] == 1 and all(l.W.shape[1:] == (1, 1) and l.fprime is not None for l in layers)
    if scalar:
        for p in params:
            p.chain = _chain(layers, p, grad)
    lr_arr = np.asarray(getattr(opt, "lr", np.full(M, np.nan)), dtype=np.float64)
    return Trace(model, x, y, loss, np.asarray(loss_value), pred.copy(), np.array(grad), layers,
                 params, lr_arr, getattr(opt, "name", type(opt).__name__), scalar, _spec)


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
