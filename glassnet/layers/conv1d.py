"""1-D convolution over sequences, channels-last with the model axis: ``(M, B, T, C)``."""

from __future__ import annotations

import numpy as np

from .. import initializers as inits
from .. import regularizers as regs
from ..errors import GlassnetError
from .activation import activation_layer, activation_repr, activation_spec
from .base import BuildContext, Layer, check_int, layer_types
from .conv import out_size, pad_amounts


def _check_padding(padding):
    if isinstance(padding, str) and padding.lower() in ("valid", "same", "causal"):
        return padding.lower()
    if isinstance(padding, (int, np.integer)) and not isinstance(padding, bool) and padding >= 0:
        return int(padding)
    raise GlassnetError(f"Conv1D padding must be 'valid', 'same', 'causal' or an int >= 0, got {padding!r}")


@layer_types.register("conv1d", "convolution1d")
class Conv1D(Layer):
    """1-D convolution (cross-correlation) along the time axis, then an activation. Keras' layout.

    z[m, b, t, f] = bias[m, f] + sum_{i, c} xpad[m, b, t*s + i*d, c] * W[m, i, c, f],  a = act(z)

    with stride ``s``, dilation ``d`` and kernel size ``k``. Shapes: x ``(M, B, T, C)`` or shared
    ``(B, T, C)``; kernel W ``(M, k, C, F)`` (PyTorch's ``conv1d`` weight is ``(F, C, k)``); bias
    ``(M, F)``; output ``(M, B, To, F)`` with ``To = floor((T + pad - d*(k-1) - 1)/s) + 1``.

    Padding: "valid" (none); "same" (TensorFlow's rule for the dilated kernel of span
    ``d*(k-1) + 1``: ``ceil(T/s)`` outputs, the odd extra zero after; for stride 1 this is PyTorch's
    ``padding="same"``); "causal" (``d*(k-1)`` zeros before, none after: step t sees only steps <= t);
    an int ``p``: p zeros on both sides (PyTorch's ``padding=p``).

    As a matrix product over the patches ``cols[m, (b, t), (i, c)] = xpad[m, b, t*s + i*d, c]``:
    z = cols @ W.reshape(k*C, F) + bias. Backward, with dz = dL/dz:

    * dL/dW = cols^T @ dz (summed over batch and time by the product);
    * dL/dbias = sum over (b, t) of dz;
    * dL/dxpad[.., t*s + i*d, :] += dz[.., t, :] @ W[i]^T for every kernel tap i; dL/dx is the
      unpadded part of dL/dxpad.

    Initializers see fan_in = k*C, fan_out = k*F (Glorot uniform weights and zero biases unless the
    model or the layer says otherwise).
    """

    kind = "conv1d"
    accepts_shared_input = True

    def __init__(self, filters: int, kernel_size: int = 3, strides: int = 1, padding="valid", dilation_rate: int = 1,
                 activation=None, use_bias: bool = True, kernel_init=None, bias_init=None, kernel_regularizer=None,
                 bias_regularizer=None, name: str | None = None):
        super().__init__(name)
        self.filters = check_int(filters, "Conv1D filters")
        self.kernel_size = check_int(kernel_size, "Conv1D kernel_size")
        self.strides = check_int(strides, "Conv1D strides")
        self.dilation_rate = check_int(dilation_rate, "Conv1D dilation_rate")
        self.padding = _check_padding(padding)
        self.use_bias = bool(use_bias)
        self.kernel_init = None if kernel_init is None else inits.get(kernel_init)
        self.bias_init = None if bias_init is None else inits.get(bias_init)
        self.kernel_regularizer = regs.get(kernel_regularizer)
        self.bias_regularizer = regs.get(bias_regularizer)
        self.act = activation_layer(activation, name="act")
        self._cols = None

    # -- construction ---------------------------------------------------------------------------
    def compute_output_shape(self, input_shape):
        if len(input_shape) != 2:
            raise GlassnetError(f"Conv1D expects sequences (steps, channels), got per-sample shape "
                                f"{tuple(input_shape)}; channels-last, e.g. input_shape=(100, 8)")
        T = input_shape[0]
        k, s, d = self.kernel_size, self.strides, self.dilation_rate
        span = d * (k - 1) + 1
        if self.padding == "causal":
            self._pads = (span - 1, 0)
        else:
            self._pads = pad_amounts(self.padding, T, span, s)
        To = out_size(T, *self._pads, span, s)
        if To < 1:
            raise GlassnetError(f"Conv1D kernel span {span} (kernel_size {k}, dilation_rate {d}) does not fit "
                                f"{T} steps with padding {self.padding!r}; use padding='same' or a smaller kernel")
        return (To, self.filters)

    def build(self, input_shape, ctx: BuildContext):
        super().build(input_shape, ctx)
        k, C, F = self.kernel_size, input_shape[-1], self.filters
        kinit = self.kernel_init or ctx.kernel_init or inits.GlorotUniform()
        binit = self.bias_init or ctx.bias_init or inits.Zeros()
        self.W = self.add_param("W", ctx.draw(kinit, (k, C, F), k * C, k * F), regularize=True,
                                regularizer=self.kernel_regularizer)
        if self.use_bias:
            self.b = self.add_param("b", ctx.draw(binit, (F,), k * C, k * F), regularize=False,
                                    regularizer=self.bias_regularizer)
        self.act.name = f"{self.name}.act"
        self.act.build(self.output_shape, ctx)
        for short, p in self.act.params.items():
            p.name = f"{self.name}.{short}"
            self.params[short] = p
        return self.output_shape

    # -- computation ----------------------------------------------------------------------------
    def _tap(self, i: int, To: int) -> slice:
        """The padded time positions kernel tap ``i`` reads for outputs 0..To-1: ``t*s + i*d``."""
        start = i * self.dilation_rate
        return slice(start, start + self.strides * (To - 1) + 1, self.strides)

    def forward(self, x, train):
        if x.ndim == 3:  # shared by all models: the patches are cut once, the product broadcasts
            x = x[None]
        (pl, pr), (To, F) = self._pads, self.output_shape
        L, B, T, C = x.shape
        xp = np.pad(x, ((0, 0), (0, 0), (pl, pr), (0, 0))) if pl or pr else x
        cols = np.stack([xp[:, :, self._tap(i, To), :] for i in range(self.kernel_size)], axis=-2)  # (L,B,To,k,C)
        cols = cols.reshape(L, B * To, self.kernel_size * C)
        M = self.W.value.shape[0]
        z = cols @ self.W.value.reshape(M, -1, F)
        if self.use_bias:
            z += self.b.value[:, None, :]
        self._cols = cols
        return self.act.forward(z.reshape(M, B, To, F), train)

    def backward(self, dy):
        dz = self.act.backward(dy)
        M, B, To, F = dz.shape
        dzf = dz.reshape(M, B * To, F)
        self.W.grad = (self._cols.swapaxes(-1, -2) @ dzf).reshape(self.W.value.shape)
        if self.use_bias:
            self.b.grad = dzf.sum(axis=1)
        if not self.need_input_grad:
            return None
        (pl, pr), (T, C) = self._pads, self.input_shape
        dxp = np.zeros((M, B, T + pl + pr, C), dz.dtype)
        for i in range(self.kernel_size):
            dxp[:, :, self._tap(i, To), :] += dz @ self.W.value[:, None, i].swapaxes(-1, -2)
        return dxp[:, :, pl:pl + T, :]

    # -- description ----------------------------------------------------------------------------
    def config(self):
        return {
            **super().config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "dilation_rate": self.dilation_rate,
            "activation": activation_spec(self.act),
            "use_bias": self.use_bias,
            "kernel_regularizer": regs.config_of(self.kernel_regularizer),
            "bias_regularizer": regs.config_of(self.bias_regularizer),
        }

    def __repr__(self):
        extra = "".join(f", {k}={getattr(self, k)!r}" for k, default in
                        (("strides", 1), ("padding", "valid"), ("dilation_rate", 1), ("use_bias", True))
                        if getattr(self, k) != default)
        return f"Conv1D({self.filters}, {self.kernel_size}{extra}, activation={activation_repr(self.act)!r})"
