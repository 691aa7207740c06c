"""Backprop through time, written out: a SimpleRNN unrolled step by step, with every number.

:func:`trace_recurrent` runs the ENGINE on a ``Sequential([SimpleRNN(H), Dense(K)])`` -- the
layers' forward passes, the loss's ``value_and_grad``, the Dense layer's ``backward``, the
recurrent cell's own ``cell_backward`` step by step (the body of the layer's loop over time) and
the layer's ``backward`` for the weight gradients -- and keeps every intermediate array. In the
textbook's row-vector form (``Wx = weight_ih^T``, ``Wh = weight_hh^T``, ``b = bias_ih + bias_hh``):

    forward    a_t = x_t Wx + h_{t-1} Wh + b,   h_t = f(a_t)   (t = 1..T),   yhat = h_T Wy + by
    backward   dL/dh_T = dL/dyhat Wy^T
               delta_t = dL/da_t = dL/dh_t * f'(a_t)
               dL/dh_{t-1} = delta_t Wh^T            (one step back in time, through Wh)
    gradients  dL/dWx = sum_t x_t^T delta_t,   dL/dWh = sum_t h_{t-1}^T delta_t,
               dL/db = sum_t delta_t                 (the same weights at every step: the sums)

Each step back multiplies the gradient by ``f'(a_t) Wh^T``: with |wh f'| < 1 it shrinks step after
step (vanishing gradients), with > 1 it grows. ``step_grad_norms`` is the layer's own
``(M, T)`` record of ||dL/dh_t||, which the trace shows next to the per-step numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import activations as acts
from .. import losses as losses_mod
from .. import optimizers as optim_mod
from ..errors import GlassnetError
from .trace import ParamTrace


@dataclass
class StepTrace:
    """Step ``t`` (1-based) for every model: ``x`` ``(M, B, C)``, ``h_prev``/``a``/``h``/``fprime``/
    ``dL_dh``/``delta``/``dL_dh_prev`` ``(M, B, H)``. ``dL_dh`` is the whole gradient reaching h_t
    (from the output and from every later step), ``delta`` = dL/da_t, ``dL_dh_prev`` = delta Wh^T,
    what this step sends one step back."""

    t: int
    x: np.ndarray
    h_prev: np.ndarray
    a: np.ndarray
    h: np.ndarray
    fprime: np.ndarray
    dL_dh: np.ndarray
    delta: np.ndarray
    dL_dh_prev: np.ndarray


@dataclass
class RNNTrace:
    """One training step of a SimpleRNN + Dense network, unrolled in time; render with
    :meth:`render`. Parameters in the row-vector form: ``Wx`` ``(M, C, H)``, ``Wh`` ``(M, H, H)``,
    ``b`` ``(M, H)`` (bias_ih + bias_hh) or None, ``Wy`` ``(M, H, K)``, ``by`` ``(M, K)`` or None.
    ``params`` are the engine's parameters (named ``wx``, ``wh``, ``b_ih``, ``b_hh``, ``wy``,
    ``by``; ``value``/``grad``/``new_value`` in the row-vector orientation)."""

    model: object
    x: np.ndarray
    y: np.ndarray
    loss: losses_mod.Loss
    loss_value: np.ndarray
    yhat: np.ndarray
    dL_dyhat: np.ndarray
    activation: acts.Activation
    steps: list[StepTrace]
    Wx: np.ndarray
    Wh: np.ndarray
    b: np.ndarray | None
    Wy: np.ndarray
    by: np.ndarray | None
    h0: np.ndarray
    params: list[ParamTrace]
    step_grad_norms: np.ndarray
    lr: np.ndarray
    optimizer: str
    scalar: bool
    spec: object = field(default=None, repr=False)
    recurrent = True  #: renderers tell this trace from a layer trace by it

    @property
    def M(self) -> int:
        return self.loss_value.shape[0]

    @property
    def T(self) -> int:
        return len(self.steps)

    def param(self, name: str) -> ParamTrace:
        for p in self.params:
            if name.lower() in (p.kind.lower(), p.name.lower()):
                return p
        raise GlassnetError(f"no parameter {name!r} in this trace; have {', '.join(p.kind for p in self.params)}")

    def check(self, **kwargs):
        """:func:`~glassnet.diagnostics.gradcheck` on the traced model, data and loss."""
        from .gradcheck import gradcheck  # noqa: PLC0415

        return gradcheck(self.model, self.x, self.y, self.loss, check_input=False, **kwargs)

    def render(self, format: str = "text", model: int | None = None) -> str:
        """``"text"``, ``"markdown"`` or ``"latex"``; ``model`` picks one network of an ensemble."""
        from .trace_render import render  # noqa: PLC0415

        return render(self, format, model)

    def __str__(self) -> str:
        return self.render("text")

    def __repr__(self) -> str:
        return (f"RNNTrace(SimpleRNN({self.Wh.shape[-1]}, {self.activation.name}), {self.T} steps, "
                f"loss={self.loss.name}, models={self.M}, loss_value={self.loss_value.tolist()})")


def trace_recurrent(model, x, y, loss="half_sse", lr=0.1, *, optimizer=None, _spec=None) -> RNNTrace:
    """Trace one training step of ``Sequential([SimpleRNN(H), Dense(K)])`` through time.

    Parameters
    ----------
    model : the two-layer Sequential (no masking, ``return_sequences=False``; the initial state
        is the layer's ``initial_state``, zeros by default).
    x : ``(B, T, C)`` or ``(M, B, T, C)``; y : targets for ``loss``; lr / optimizer : as
        :func:`~glassnet.diagnostics.trace.trace_model` (the step is computed, not applied).
    """
    from ..layers import Dense, SimpleRNN  # noqa: PLC0415

    layers = getattr(model, "layers", [])
    if getattr(model, "nodes", None) or len(layers) != 2 or not isinstance(layers[0], SimpleRNN) \
            or not isinstance(layers[1], Dense):
        raise GlassnetError("trace_recurrent traces Sequential([SimpleRNN(units), Dense(outputs)]), got "
                            f"{model!r}")
    rnn, out = layers
    if rnn.return_sequences or rnn.mask_value is not None:
        raise GlassnetError("trace_recurrent traces a SimpleRNN without return_sequences and without masking")
    if not getattr(model, "built", False):
        model._ensure_built(np.asarray(x))
    loss = losses_mod.get(loss)
    x = model.prepare_inputs(x)
    y = loss.prepare_targets(y, model.output_shape)
    if np.issubdtype(y.dtype, np.floating):
        y = y.astype(model.dtype, copy=False)
    M = model.M

    # forward: the engine's own pass; the recurrent layer keeps each step's (a_t, h_t)
    pred = model.forward(x, False)
    loss_value, grad = loss.value_and_grad(pred, y)

    # backward: the Dense layer, then the body of the recurrent layer's loop over time, step by
    # step with the layer's own cell_backward (its arrays are feature-major, (M, H, B))
    dh_T = out.backward(grad)
    W_hh = rnn.weight_hh.value
    dstate = [dh_T.swapaxes(-1, -2)]
    back = [None] * len(rnn._caches)
    for t in reversed(range(len(rnn._caches))):
        dL_dh = dstate[0]
        (delta,), _, _ = rnn.cell_backward(rnn._caches[t], rnn._prev[t], dstate)
        dstate = [W_hh.swapaxes(-1, -2) @ delta]
        back[t] = (dL_dh, delta, dstate[0])
    rnn.backward(dh_T)  # the engine's loop: the weight gradients and step_grad_norms

    def rows(a):  # (M, H, B) -> (M, B, H), a copy
        return np.array(np.broadcast_to(a, (M,) + a.shape[-2:]).swapaxes(-1, -2))

    xs = np.broadcast_to(x, (M,) + x.shape[-3:])
    steps = []
    for t, ((a, h), (h_prev,), (dL_dh, delta, dh_prev)) in enumerate(zip(rnn._caches, rnn._prev, back)):
        steps.append(StepTrace(t + 1, np.array(xs[:, :, t]), rows(h_prev), rows(a), rows(h),
                               rows(rnn.fn.derivative(a, h)), rows(dL_dh), rows(delta), rows(dh_prev)))

    # update: the optimizer's first step, computed but not applied; shown in the row-vector form
    opt = optim_mod.SGD(lr) if optimizer is None else optim_mod.get(optimizer)
    opt.bind(model.param_list, M, model.dtype)
    deltas = dict(zip((p.name for p in model.param_list), opt.compute_updates()))
    names = {"weight_ih": "wx", "weight_hh": "wh", "bias_ih": "b_ih", "bias_hh": "b_hh", "W": "wy", "b": "by"}
    params = []
    for layer in (rnn, out):
        for short, p in layer.params.items():
            turn = (lambda a: a.swapaxes(-1, -2)) if short in ("weight_ih", "weight_hh") else (lambda a: a)
            params.append(ParamTrace(0, names[short], p.name, np.array(turn(p.value)), np.array(turn(p.grad)),
                                     np.array(turn(deltas[p.name])), np.array(turn(p.value + deltas[p.name]))))
    b = None
    if rnn.use_bias:
        b = rnn.bias_ih.value + rnn.bias_hh.value
    H = rnn.units
    scalar = x.shape[-3] == 1 and H == 1 and x.shape[-1] == 1 and out.units == 1
    lr_arr = np.asarray(getattr(opt, "lr", np.full(M, np.nan)), dtype=np.float64)
    return RNNTrace(model, x, y, loss, np.asarray(loss_value), np.array(pred), np.array(grad), rnn.fn, steps,
                    np.array(rnn.weight_ih.value.swapaxes(-1, -2)), np.array(rnn.weight_hh.value.swapaxes(-1, -2)),
                    None if b is None else np.array(b), out.W.value.copy(),
                    out.b.value.copy() if out.use_bias else None, steps[0].h_prev, params,
                    np.array(rnn.step_grad_norms), lr_arr, getattr(opt, "name", type(opt).__name__), scalar, _spec)
