"""Recurrent layers: SimpleRNN, LSTM and GRU, with backprop through time written out step by step.

All three share one loop (:class:`Recurrent`); each defines one step of its cell forward and
backward. Weights are in PyTorch's layout so they copy straight into ``torch.nn.RNN/LSTM/GRU``:

* ``weight_ih`` ``(M, G*H, C)`` and ``weight_hh`` ``(M, G*H, H)``: the G gate blocks stacked on the
  first axis (LSTM: i, f, g, o; GRU: r, z, n; SimpleRNN: one block); ``a = W x + b`` is
  ``x @ W^T + b``, as in ``nn.Linear``;
* ``bias_ih``, ``bias_hh`` ``(M, G*H)``: PyTorch's two biases (they add up, except in the GRU's
  candidate ``n`` where ``b_hn`` sits inside ``r * (...)``).

Shapes: x ``(M, B, T, C)`` or shared ``(B, T, C)``; output ``(M, B, T, H)`` with
``return_sequences=True``, else the last state ``(M, B, H)``.

Initial state: zeros, or ``layer.initial_state`` (an attribute, so it also works inside a
``Sequential``), or ``forward(x, train, initial_state=...)`` for one call. Each state array is
``(B, H)``, ``(M, B, H)`` or ``(H,)``; the LSTM takes a pair ``(h0, c0)``. After backward,
``layer.initial_state_grad`` holds dL/d(initial state) ``(M, B, H)`` (a pair for the LSTM).

Masking padded steps: ``mask_value=v`` marks every step whose features all equal ``v`` as padding
(Keras' ``Masking``), or pass ``forward(x, train, mask=keep)`` with ``keep`` ``(B, T)`` or
``(M, B, T)``, True for real steps. A padded step carries the previous state through unchanged
(``state_t = keep_t * cell(x_t, state_{t-1}) + (1 - keep_t) * state_{t-1}``, as Keras does) and its
output is that carried state; so for right-padded sequences the last state is PyTorch's ``h_n`` of
a packed sequence.

Glass box: after backward, ``layer.step_grad_norms`` ``(M, T)`` is, per model and step, the norm
(over batch and units) of dL/dh_t, the whole gradient reaching the hidden state of step t (from
the output at t and through every later step) -- how gradients vanish or explode through time.
``layer.final_state`` is the last state of the latest forward pass.
"""

from __future__ import annotations

import math

import numpy as np

from .. import activations as acts
from .. import fast
from .. import initializers as inits
from .. import regularizers as regs
from ..errors import GlassnetError
from .base import BuildContext, Layer, check_int, layer_types


def _sigmoid(z):
    """The gates' sigmoid, 1 / (1 + exp(-z)): one exp, an add and a reciprocal, in place on one new
    array. For z << 0, exp(-z) overflows to inf and the result is the correct limit 0, so that
    overflow is not reported. (Measured: about twice as fast as ``activations.sigmoid``'s tanh form
    on these small blocks, where the exp is the cost; the two agree to a few ulps.)"""
    e = np.negative(z)
    with np.errstate(over="ignore"):
        np.exp(e, out=e)
    e += 1
    return np.reciprocal(e, out=e)



class Recurrent(Layer):
    """The loop over time shared by SimpleRNN, LSTM and GRU.

    Forward, for t = 0..T-1 (the input projections ``ax_t = W_ih x_t + b_ih`` of all steps are one
    matrix product first; ``b_hh`` joins them where it simply adds, see ``hidden_bias_in_ax``):
    ``state_t = cell(ax_t, state_{t-1})`` (then masking, see the module).

    Backward through time, for t = T-1..0, with ``dstate`` the gradient reaching ``state_t``:

    * dh_t += dL/dy_t (the output at step t; only the last step without ``return_sequences``);
    * the cell's step backward turns dL/dstate_t into the gradients of its pre-activations:
      ``dax_t`` (input side, ``W_ih x_t + b_ih``) and ``dah_t`` (hidden side, ``W_hh h_{t-1} + b_hh``),
      plus any direct path to state_{t-1} (the LSTM's ``c``, the GRU's ``z * h``);
    * dL/dh_{t-1} = W_hh^T dah_t + direct path (+ the carried part at a padded step);
    * dL/dx_t = W_ih^T dax_t.

    Weight gradients are the sums over steps (and batch): dW_ih = sum_t dax_t x_t^T,
    dW_hh = sum_t dah_t h_{t-1}^T, db_ih = sum_t dax_t, db_hh = sum_t dah_t -- each computed as one
    product over the stacked steps once the loop is done.

    Layout inside the loop: every per-step array is *feature-major*, ``(M, features, B)`` -- one
    column per sample, as in the formulas (``a = W_hh h``: ``(M, G*H, H) @ (M, H, B)``), so each gate
    is a contiguous block of rows ``a[:, k*H:(k+1)*H]`` (elementwise work on a contiguous block is
    several times faster than on a column slice of ``(M, B, G*H)`` when H is small). Arrays over
    time are ``(M, features, T, B)``: step t is ``a[:, :, t]``, and ``a.reshape(M, features, T*B)``
    lines every step's columns up for the weight gradients without a copy. Inputs, outputs, states
    and gradients outside the layer keep the usual ``(M, B, ...)`` layout; ``cell`` and
    ``cell_backward`` see the feature-major one.

    The two loops are the methods ``_forward_steps`` and ``_backward_steps``: a subclass with a
    compiled fast path (the LSTM: :mod:`glassnet.fast.lstm`) replaces them, and only them, when
    :func:`glassnet.fast.available` says so; everything around them (inputs, masks, initial state,
    weight gradients, ``step_grad_norms``) is this class's code on both paths.

    Default initializers: PyTorch's U(-1/sqrt(H), 1/sqrt(H)) for every weight and bias, unless the
    model's ``init``/``bias_init`` or the layer's ``kernel_init``/``recurrent_init``/``bias_init`` say
    otherwise. ``weight_decay`` applies to ``weight_ih`` and ``weight_hh``, not to the biases.
    """

    gates = 1
    state_names = ("h",)
    accepts_shared_input = True

    def __init__(self, units: int, return_sequences: bool = False, use_bias: bool = True, mask_value=None,
                 kernel_init=None, recurrent_init=None, bias_init=None, kernel_regularizer=None,
                 recurrent_regularizer=None, name: str | None = None):
        super().__init__(name)
        self.units = check_int(units, f"{type(self).__name__} units")
        self.return_sequences = bool(return_sequences)
        self.use_bias = bool(use_bias)
        if mask_value is not None and (isinstance(mask_value, bool) or not isinstance(mask_value, (int, float))):
            raise GlassnetError(f"{type(self).__name__} mask_value must be a number or None, got {mask_value!r}")
        self.mask_value = None if mask_value is None else float(mask_value)
        self.kernel_init = None if kernel_init is None else inits.get(kernel_init)
        self.recurrent_init = None if recurrent_init is None else inits.get(recurrent_init)
        self.bias_init = None if bias_init is None else inits.get(bias_init)
        self.kernel_regularizer = regs.get(kernel_regularizer)
        self.recurrent_regularizer = regs.get(recurrent_regularizer)
        #: the state the next forward pass starts from (None: zeros); see the module docstring
        self.initial_state = None
        self.initial_state_grad = None
        self._dh_steps = None    # dL/dh_t of the latest backward, (M, T, H, B): step_grad_norms reads it
        self._step_norms = None
        self.final_state = None
        self._caches = self._prev = self._x = self._h_in = self._keep = None
        self._fast_cache = None  # the fast path's arrays over time, when it ran the forward loop
        self._fast_grads = None  # the fast backward's parameter gradients, for _param_grads

    @property
    def step_grad_norms(self):
        """``(M, T)``: per model and step, ||dL/dh_t|| over batch and units after the latest backward
        (None before one). Computed on first read, not in every training step: in ``lstm16``'s
        shape (16 models, 50 steps) the einsum alone was ~0.1 ms of a ~6 ms step, for a number
        only the glass box reads."""
        if self._step_norms is None and self._dh_steps is not None:
            self._step_norms = np.sqrt(np.einsum("mthb,mthb->mt", self._dh_steps, self._dh_steps))
        return self._step_norms

    # -- construction ---------------------------------------------------------------------------
    def compute_output_shape(self, input_shape):
        if len(input_shape) != 2:
            raise GlassnetError(f"{type(self).__name__} expects sequences (steps, features), got per-sample "
                                f"shape {tuple(input_shape)}, e.g. input_shape=(50, 8)")
        T = input_shape[0]
        return (T, self.units) if self.return_sequences else (self.units,)

    def build(self, input_shape, ctx: BuildContext):
        super().build(input_shape, ctx)
        C, H, G = input_shape[-1], self.units, self.gates
        bound = 1.0 / math.sqrt(H)
        default = inits.Uniform(-bound, bound)
        kinit = self.kernel_init or ctx.kernel_init or default
        rinit = self.recurrent_init or ctx.kernel_init or default
        binit = self.bias_init or ctx.bias_init or default
        self.weight_ih = self.add_param("weight_ih", ctx.draw(kinit, (G * H, C), C, G * H), regularize=True,
                                        regularizer=self.kernel_regularizer)
        self.weight_hh = self.add_param("weight_hh", ctx.draw(rinit, (G * H, H), H, G * H), regularize=True,
                                        regularizer=self.recurrent_regularizer)
        if self.use_bias:
            self.bias_ih = self.add_param("bias_ih", ctx.draw(binit, (G * H,), C, G * H), regularize=False)
            self.bias_hh = self.add_param("bias_hh", ctx.draw(binit, (G * H,), H, G * H), regularize=False)
        return self.output_shape

    # -- one step of the cell (subclasses) ------------------------------------------------------
    def cell(self, ax, state):
        """``(new_state, cache)`` from the input pre-activation ``ax`` ``(M, G*H, B)`` and ``state``
        (a tuple of ``(M, H, B)`` arrays)."""
        raise NotImplementedError

    def cell_backward(self, cache, prev, dnew):
        """From dL/d(new state): ``(dax, dah, direct)``, the gradients of the input-side and
        hidden-side pre-activations, each a list of its G gate blocks ``(M, H, B)`` (the same list
        when they are equal), and of the previous state along paths that skip ``W_hh`` (``None``
        where there is none). The loop writes the blocks into its arrays over time."""
        raise NotImplementedError

    #: whether ``b_hh`` is added to the input side once for all steps (``ax_t = W_ih x_t + b_ih + b_hh``)
    #: instead of at every step: true where the two biases simply add up (SimpleRNN, LSTM); the GRU
    #: needs ``b_hn`` inside ``r * (W_hn h + b_hn)``
    hidden_bias_in_ax = True

    def hidden_preactivation(self, h):
        """``W_hh h`` (+ ``b_hh`` unless it is already in ``ax``): ``(M, H, B) -> (M, G*H, B)``."""
        ah = self.weight_hh.value @ h
        return ah + self.bias_hh.value[:, :, None] if self.use_bias and not self.hidden_bias_in_ax else ah

    # -- the loop over time -------------------------------------------------------------------
    def forward(self, x, train, initial_state=None, mask=None):
        if x.ndim == 3:  # shared by all models
            x = x[None]
        M = self.weight_ih.value.shape[0]
        L, B, T, C = x.shape
        keep = self._keep_mask(x, mask, M)
        x_steps = np.ascontiguousarray(x.transpose(0, 3, 2, 1))  # (L, C, T, B), L = M or 1 (shared)
        dtype = np.result_type(x_steps.dtype, self.weight_ih.value.dtype)
        state = self._start(self.initial_state if initial_state is None else initial_state, M, B, dtype)
        state, hs = self._forward_steps(x_steps, state, keep)
        self._x, self._keep = x_steps, keep
        final = tuple(s.swapaxes(-1, -2) for s in state)  # back to (M, B, H)
        self.final_state = final[0] if len(final) == 1 else final
        if hs is not None:
            return np.ascontiguousarray(hs.transpose(0, 3, 2, 1))  # (M, B, T, H)
        return np.ascontiguousarray(final[0])

    def backward(self, dy):
        x_steps, h_in, keep, W_hh = self._x, self._h_in, self._keep, self.weight_hh.value
        M, GH, H = W_hh.shape[0], W_hh.shape[1], self.units
        L, C, T, B = x_steps.shape
        dstate = [np.zeros((M, H, B), dy.dtype) for _ in self.state_names]
        dy_steps = None
        if self.return_sequences:
            dy_steps = np.ascontiguousarray(dy.transpose(0, 3, 2, 1))  # (M, H, T, B)
        else:
            dstate[0] = dy.swapaxes(-1, -2)
        dax, dah, dh, dstate = self._backward_steps(dstate, dy_steps, keep)
        dah = dax if dah is None else dah
        dax, dah = dax.reshape(M, GH, T * B), dah.reshape(M, GH, T * B)
        self._param_grads(dax, dah, x_steps.reshape(L, C, T * B), h_in.reshape(M, H, T * B))
        self._dh_steps, self._step_norms = dh, None  # the norms are computed when read (step_grad_norms)
        grads = tuple(d.swapaxes(-1, -2) for d in dstate)  # (M, B, H)
        self.initial_state_grad = grads[0] if len(grads) == 1 else grads
        if not self.need_input_grad:
            return None
        dx = self.weight_ih.value.swapaxes(-1, -2) @ dax  # dL/dx_t = W_ih^T dax_t: (M, C, T*B)
        return np.ascontiguousarray(dx.reshape(M, C, T, B).transpose(0, 3, 2, 1))  # (M, B, T, C)

    def _param_grads(self, dax, dah, x, h_in):
        """The weight and bias gradients, sums over every step and sample, one product each: from
        the pre-activation gradients ``dax``/``dah`` ``(M, G*H, T*B)`` and what entered the steps,
        ``x`` ``(L, C, T*B)`` and ``h_in`` ``(M, H, T*B)`` (the arrays over time are feature-major,
        so every step's columns already lie side by side)."""
        self.weight_ih.grad = dax @ x.swapaxes(-1, -2)
        self.weight_hh.grad = dah @ h_in.swapaxes(-1, -2)
        if self.use_bias:
            self.bias_ih.grad = dax.sum(axis=-1)
            self.bias_hh.grad = dah.sum(axis=-1)

    def _input_preactivation(self, x_steps):
        """The input side of every step at once, one matrix product: ax_t = W_ih x_t + b_ih (+ b_hh),
        ``(L, C, T, B) -> (M, G*H, T, B)``."""
        L, C, T, B = x_steps.shape
        ax = self.weight_ih.value @ x_steps.reshape(L, C, T * B)  # (M, G*H, T*B)
        if self.use_bias:
            ax += self._input_bias()[:, :, None]
        return ax.reshape(ax.shape[0], -1, T, B)

    def _input_bias(self):
        """b_ih (+ b_hh where it simply adds, see ``hidden_bias_in_ax``): ``(M, G*H)``."""
        return self.bias_ih.value + self.bias_hh.value if self.hidden_bias_in_ax else self.bias_ih.value

    def _forward_steps(self, x_steps, state, keep):
        """The loop over time: ``(final state, hs)`` from the inputs ``x_steps`` ``(L, C, T, B)`` and
        the initial state; ``hs`` ``(M, H, T, B)`` is every step's output (None without
        ``return_sequences``). Keeps what backward needs (``_caches``, ``_prev``, ``_h_in``)."""
        ax = self._input_preactivation(x_steps)
        M, _, T, B = ax.shape
        H = self.units
        caches, prev = [], []
        h_in = np.empty((M, H, T, B), ax.dtype)  # the hidden state entering each step (for dW_hh)
        hs = np.empty((M, H, T, B), ax.dtype) if self.return_sequences else None
        for t in range(T):
            h_in[:, :, t] = state[0]
            new, cache = self.cell(ax[:, :, t], state)
            if keep is not None:  # a padded step carries the state through
                k = keep[:, None, :, t]
                new = tuple(k * n + (1 - k) * s for n, s in zip(new, state))
            caches.append(cache)
            prev.append(state)
            state = new
            if hs is not None:
                hs[:, :, t] = state[0]
        self._caches, self._prev, self._h_in = caches, prev, h_in
        return state, hs

    def _backward_steps(self, dstate, dy_steps, keep):
        """Backprop through time: ``(dax, dah, dh, dstate)`` -- the pre-activation gradients of every
        step ``(M, G*H, T, B)`` (``dah`` None when it equals ``dax``), dL/dh_t ``(M, T, H, B)`` and
        the gradient reaching the initial state -- from ``dstate``, what reaches the final state,
        and ``dy_steps`` ``(M, H, T, B)``, dL/d(output) of every step (None: the last state only)."""
        W_hh = self.weight_hh.value
        M, GH, H = W_hh.shape[0], W_hh.shape[1], self.units
        T, B = self._h_in.shape[2], self._h_in.shape[3]
        dtype = dstate[0].dtype
        dax = np.empty((M, GH, T, B), dtype)  # dL/d(W_ih x_t + b_ih) of every step
        dah = None                            # dL/d(W_hh h_{t-1} + b_hh); the same array unless the cell differs
        dh = np.empty((M, T, H, B), dtype)    # dL/dh_t, for the per-step norms
        W_hh_T = W_hh.swapaxes(-1, -2)
        for t in reversed(range(T)):
            if dy_steps is not None:
                dstate[0] = dstate[0] + dy_steps[:, :, t]
            dh[:, t] = dstate[0]
            if keep is not None:  # state_t = k*cell(...) + (1-k)*state_{t-1}
                k = keep[:, None, :, t]
                carried = [(1 - k) * d for d in dstate]
                dstate = [k * d for d in dstate]
            dax_blocks, dah_blocks, direct = self.cell_backward(self._caches[t], self._prev[t], dstate)
            dax_t = np.concatenate(dax_blocks, axis=1, out=dax[:, :, t])
            dah_t = dax_t
            if dah_blocks is not dax_blocks:
                if dah is None:
                    dah = np.empty_like(dax)
                dah_t = np.concatenate(dah_blocks, axis=1, out=dah[:, :, t])
            dh_prev = W_hh_T @ dah_t
            dstate = [dh_prev if direct[0] is None else dh_prev + direct[0]] + list(direct[1:])
            if keep is not None:
                dstate = [d + c for d, c in zip(dstate, carried)]
        return dax, dah, dh, dstate

    # -- inputs ---------------------------------------------------------------------------------
    def _keep_mask(self, x, mask, M):
        """``(L, B, T)`` in x's dtype, 1 for real steps and 0 for padding; None when nothing is masked."""
        name = type(self).__name__
        B, T = x.shape[1], x.shape[2]
        if mask is not None:
            mask = np.asarray(mask)
            if mask.shape not in ((B, T), (M, B, T)):
                raise GlassnetError(f"{name} mask has shape {mask.shape}; expected (batch, steps)=({B}, {T}) "
                                    f"or (models={M}, {B}, {T})")
            keep = mask.astype(bool)
            keep = keep[None] if keep.ndim == 2 else keep
        elif self.mask_value is not None:
            keep = np.any(x != self.mask_value, axis=-1)
        else:
            return None
        return keep.astype(x.dtype)

    def _start(self, init, M, B, dtype):
        """The initial state as a tuple of feature-major ``(M, H, B)`` arrays (read-only broadcasts
        are fine)."""
        shape = (M, B, self.units)
        if init is None:
            return tuple(np.zeros((M, self.units, B), dtype) for _ in self.state_names)
        name = type(self).__name__
        if len(self.state_names) > 1:
            if not isinstance(init, (tuple, list)) or len(init) != len(self.state_names):
                raise GlassnetError(f"{name} initial_state must be a pair ({', '.join(n + '0' for n in self.state_names)})")
            parts = tuple(init)
        else:
            parts = (init,)
        out = []
        for state_name, part in zip(self.state_names, parts):
            part = np.asarray(part, dtype)
            try:
                out.append(np.broadcast_to(part, shape).swapaxes(-1, -2))
            except ValueError:
                raise GlassnetError(f"{name} initial state {state_name} has shape {part.shape}; expected "
                                    f"(batch, units)=({B}, {self.units}) or (models={M}, {B}, {self.units})") from None
        return tuple(out)

    # -- description ----------------------------------------------------------------------------
    def config(self):
        return {
            **super().config(),
            "units": self.units,
            "return_sequences": self.return_sequences,
            "use_bias": self.use_bias,
            "mask_value": self.mask_value,
            "kernel_regularizer": regs.config_of(self.kernel_regularizer),
            "recurrent_regularizer": regs.config_of(self.recurrent_regularizer),
        }

    def __repr__(self):
        parts = [str(self.units)]
        fn = getattr(self, "fn", None)  # SimpleRNN's activation
        if fn is not None and fn.config() != {"name": "tanh"}:
            spec = fn.config()
            parts.append(f"activation={spec['name'] if len(spec) == 1 else spec!r}")
        if self.return_sequences:
            parts.append("return_sequences=True")
        if not self.use_bias:
            parts.append("use_bias=False")
        if self.mask_value is not None:
            parts.append(f"mask_value={self.mask_value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    def __getstate__(self):
        """Copies and pickles leave the per-step caches behind (the step norms go as numbers)."""
        state = self.__dict__.copy()
        state.update(_caches=None, _prev=None, _x=None, _h_in=None, _keep=None, _fast_cache=None,
                     _fast_grads=None, _dh_steps=None, _step_norms=self.step_grad_norms)
        return state


@layer_types.register("simple_rnn", "simplernn", "rnn")
class SimpleRNN(Recurrent):
    """h_t = f(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), f = tanh by default (``torch.nn.RNN``;
    PyTorch offers tanh and relu, any glassnet activation works here).

    Step backward: da_t = f'(a_t) * dL/dh_t is both the input-side and the hidden-side
    pre-activation gradient; dL/dh_{t-1} = da_t W_hh. (Elman 1990)
    """

    kind = "simple_rnn"

    def __init__(self, units: int, activation="tanh", return_sequences: bool = False, use_bias: bool = True,
                 mask_value=None, kernel_init=None, recurrent_init=None, bias_init=None, kernel_regularizer=None,
                 recurrent_regularizer=None, name: str | None = None):
        super().__init__(units, return_sequences, use_bias, mask_value, kernel_init, recurrent_init, bias_init,
                         kernel_regularizer, recurrent_regularizer, name)
        self.fn = acts.get(activation)
        if not self.fn.elementwise:
            raise GlassnetError(f"SimpleRNN activation must be elementwise, got {self.fn.name!r}")

    def cell(self, ax, state):
        (h,) = state
        a = self.hidden_preactivation(h)
        a += ax  # a = W_ih x + b_ih + W_hh h + b_hh (in place: a is a fresh array)
        h_new = self.fn(a)
        return (h_new,), (a, h_new)

    def cell_backward(self, cache, prev, dnew):
        a, h_new = cache
        da = [self.fn.backward(a, h_new, dnew[0])]
        return da, da, (None,)

    def config(self):
        return {**super().config(), "activation": self.fn.config()}


FAST_KERNEL = "lstm"  # glassnet.fast.lstm.KERNEL, named here so the check needs no Numba


@layer_types.register("lstm")
class LSTM(Recurrent):
    """Long short-term memory, ``torch.nn.LSTM``'s equations and gate order (i, f, g, o):

        i = sigmoid(W_ii x + b_ii + W_hi h + b_hi)      input gate
        f = sigmoid(W_if x + b_if + W_hf h + b_hf)      forget gate
        g = tanh(W_ig x + b_ig + W_hg h + b_hg)         candidate cell
        o = sigmoid(W_io x + b_io + W_ho h + b_ho)      output gate
        c' = f * c + i * g,   h' = o * tanh(c')

    Step backward, from dh' and dc' (both including what later steps sent back):
    do = dh' * tanh(c'); dc = dc' + dh' * o * (1 - tanh(c')^2); di = dc * g; dg = dc * i;
    df = dc * c; dc_prev = dc * f (the cell's direct path, which is why gradients survive many
    steps); pre-activation gradients di*i(1-i), df*f(1-f), dg*(1-g^2), do*o(1-o), stacked i, f, g, o.
    (Hochreiter & Schmidhuber 1997; the forget gate: Gers et al. 2000)
    """

    kind = "lstm"
    gates = 4
    state_names = ("h", "c")
    #: the fast kernel that runs this layer's loops a share of the models (or of the batch) per core;
    #: a training run then holds BLAS on one thread (glassnet.fast.training_scope)
    runs_pieces = FAST_KERNEL

    def cell(self, ax, state):
        h, c = state
        H = self.units
        a = self.hidden_preactivation(h)
        a += ax  # a = W_ih x + b_ih + W_hh h + b_hh (in place: a is a fresh array)
        i = _sigmoid(a[:, :H])
        f = _sigmoid(a[:, H:2 * H])
        g = np.tanh(a[:, 2 * H:3 * H])
        o = _sigmoid(a[:, 3 * H:])
        c_new = f * c + i * g
        tc = np.tanh(c_new)
        return (o * tc, c_new), (i, f, g, o, tc)

    def cell_backward(self, cache, prev, dnew):
        i, f, g, o, tc = cache
        _, c_prev = prev
        dh, dc_next = dnew
        do = dh * tc
        dc = dc_next + dh * o * (1 - tc * tc)
        di, df, dg = dc * g, dc * c_prev, dc * i
        da = [di * i * (1 - i), df * f * (1 - f), dg * (1 - g * g), do * o * (1 - o)]
        return da, da, (None, dc * f)

    # -- the fast path: the whole time loop compiled (glassnet.fast.lstm; tests/fast/test_lstm.py) --
    # Same maths, the input projection inside the loop, time-major caches. The reference's per-step
    # caches (``_caches``, ``_prev``) are kept as views of the kernel's arrays, so the glass box
    # (studies, trace) reads the same values, and a reference backward can follow a fast forward.
    def _fast_ok(self, *arrays):
        """Whether the compiled loop may run: the switch is on, the kernel works, one float dtype."""
        dtype = self.weight_hh.value.dtype
        return (dtype in (np.float32, np.float64) and all(a is None or a.dtype == dtype for a in arrays)
                and fast.available(FAST_KERNEL))

    def _forward_steps(self, x_steps, state, keep):
        self._fast_cache = None
        if self._fast_ok(x_steps, self.weight_ih.value, *state):
            try:
                from ..fast import lstm as fast_lstm  # noqa: PLC0415 - Numba loads only when the fast path runs
                return fast_lstm.layer_forward(self, x_steps, state, keep)
            except Exception as exc:  # noqa: BLE001 - a fast path never raises: the reference takes over
                fast.mark_broken(FAST_KERNEL, exc)
                self._fast_cache = None
        return super()._forward_steps(x_steps, state, keep)

    def _backward_steps(self, dstate, dy_steps, keep):
        self._fast_grads = None
        cache = getattr(self, "_fast_cache", None)
        if cache is not None and self._fast_ok(cache[0], dy_steps, *dstate):
            try:
                from ..fast import lstm as fast_lstm  # noqa: PLC0415
                return fast_lstm.layer_backward(self, dstate, dy_steps, keep)
            except Exception as exc:  # noqa: BLE001
                fast.mark_broken(FAST_KERNEL, exc)
        return super()._backward_steps(dstate, dy_steps, keep)

    def _param_grads(self, dax, dah, x, h_in):
        # the fast backward computed them beside its loop (each thread its own models' products)
        grads, self._fast_grads = getattr(self, "_fast_grads", None), None
        if grads is None:
            return super()._param_grads(dax, dah, x, h_in)
        self.weight_ih.grad, self.weight_hh.grad, bias = grads
        if self.use_bias:
            self.bias_ih.grad, self.bias_hh.grad = bias, bias.copy()


@layer_types.register("gru")
class GRU(Recurrent):
    """Gated recurrent unit, ``torch.nn.GRU``'s equations and gate order (r, z, n):

        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)          reset gate
        z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)          update gate
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))       candidate
        h' = (1 - z) * n + z * h

    (Keras' ``reset_after=True`` form, the cuDNN one.) Step backward from dh':
    dn = dh' * (1 - z); dz = dh' * (h - n); dh_direct = dh' * z; da_n = dn * (1 - n^2);
    dr = da_n * (W_hn h + b_hn); da_r = dr * r(1-r); da_z = dz * z(1-z). The input side gets
    (da_r, da_z, da_n), the hidden side (da_r, da_z, da_n * r): the reset gate scales only the
    hidden part of the candidate. (Cho et al. 2014, https://arxiv.org/abs/1406.1078)
    """

    kind = "gru"
    gates = 3
    hidden_bias_in_ax = False

    def cell(self, ax, state):
        (h,) = state
        H = self.units
        ah = self.hidden_preactivation(h)
        r = _sigmoid(ax[:, :H] + ah[:, :H])
        z = _sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H])
        hn = ah[:, 2 * H:]
        n = np.tanh(ax[:, 2 * H:] + r * hn)
        return ((1 - z) * n + z * h,), (r, z, n, hn)

    def cell_backward(self, cache, prev, dnew):
        r, z, n, hn = cache
        (h_prev,) = prev
        (dh,) = dnew
        da_n = dh * (1 - z) * (1 - n * n)
        da_r = da_n * hn * r * (1 - r)
        da_z = dh * (h_prev - n) * z * (1 - z)
        return [da_r, da_z, da_n], [da_r, da_z, da_n * r], (dh * z,)
