"""2-D convolution on channels-last images, with the model axis: ``(M, B, H, W, C)``.

Why channels-last: it is Keras' layout and the layout of ``glassnet.data`` images, and it keeps
the channel axis contiguous, so a patch row ``x[h, w:w+kw, :]`` is one contiguous run of
``kw*C`` numbers and the convolution becomes one matrix product with the channels as the inner
(contiguous) dimension of the GEMM.

How it is computed (see ``Conv2D``'s docstring for the maths):

* forward: pad once into a zero-bordered buffer, copy the patches into a preallocated buffer
  ``cols`` ``(B, Ho, Wo, kh, kw*C)`` -- one strided copy whose inner runs are whole patch rows
  (``kw*C`` numbers, not ``C``) -- then ONE GEMM ``(B*Ho*Wo, kh*kw*C) @ (kh*kw*C, F)`` per
  model (``matmul`` broadcasts the model axis; shared inputs are unfolded once for all models);
* dL/dW: the transposed GEMM ``cols^T @ dz`` (``cols`` is kept from the forward pass);
* dL/dx: one GEMM per kernel offset, ``dz @ W[i, j]^T`` ``(B*Ho*Wo, C)``, each added into a
  padded buffer at its offset. Both sides of each add are long contiguous runs (``Wo*C``
  numbers for stride 1), which is what makes this "col2im" cheap; the classic layout
  ``(.., kh, kw, C)`` adds runs of only ``C`` numbers and is ~5x slower. No ``np.add.at``.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .. import fast
from .. import initializers as inits
from .. import regularizers as regs
from ..fast import conv as fast_conv
from ..errors import GlassnetError
from .activation import activation_layer, activation_repr, activation_spec
from .base import BuildContext, Layer, layer_types

# -- shared helpers (also used by pooling) ------------------------------------------------------


def as_pair(value, name: str) -> tuple[int, int]:
    """An int ``k`` -> ``(k, k)``; a pair of ints -> itself. Each must be >= 1."""
    vals = (value, value) if isinstance(value, (int, np.integer)) else value
    try:
        vals = tuple(vals)
    except TypeError:
        vals = ()
    if len(vals) != 2 or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1
                             for v in vals):
        raise GlassnetError(f"{name} must be a positive int or a pair of positive ints, got {value!r}")
    return int(vals[0]), int(vals[1])


def check_padding(padding, name: str, allow_int: bool = True):
    """``"valid"``, ``"same"`` or (if ``allow_int``) an int / pair of ints >= 0; normalized."""
    if isinstance(padding, str) and padding.lower() in ("valid", "same"):
        return padding.lower()
    allowed = "'valid', 'same' or an int >= 0 (or a pair)" if allow_int else "'valid' or 'same'"
    if allow_int and not isinstance(padding, (str, bool)):
        vals = (padding, padding) if isinstance(padding, (int, np.integer)) else padding
        try:
            vals = tuple(vals)
        except TypeError:
            vals = ()
        if len(vals) == 2 and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 0
                                  for v in vals):
            return (int(vals[0]), int(vals[1]))
    raise GlassnetError(f"{name} padding must be {allowed}, got {padding!r}")


def pad_amounts(padding, size: int, k: int, s: int) -> tuple[int, int]:
    """Padding ``(before, after)`` along one axis of length ``size`` for kernel ``k``, stride ``s``.

    "valid": none. "same" (Keras/TensorFlow): the output has ``ceil(size/s)`` positions,
    ``total = max((out - 1)*s + k - size, 0)``, ``before = total // 2`` (the extra one goes
    after, as in TensorFlow and PyTorch's ``padding="same"``). An int ``p``: ``p`` on both sides.
    """
    if padding == "valid":
        return 0, 0
    if padding == "same":
        total = max((math.ceil(size / s) - 1) * s + k - size, 0)
        return total // 2, total - total // 2
    return padding, padding


def out_size(size: int, before: int, after: int, k: int, s: int) -> int:
    """``floor((size + before + after - k) / s) + 1`` positions (0 if the kernel does not fit)."""
    span = size + before + after - k
    return span // s + 1 if span >= 0 else 0


def window_views(xp, kh: int, kw: int, sh: int, sw: int, Ho: int, Wo: int):
    """The ``kh*kw`` strided views ``xp[..., i::sh, j::sw, :]`` (each ``(..., Ho, Wo, C)``), one per
    kernel offset ``(i, j)`` in row-major order: element ``[.., ho, wo, c]`` of view ``(i, j)`` is
    ``xp[.., ho*sh + i, wo*sw + j, c]``."""
    return [xp[..., i:i + sh * (Ho - 1) + 1:sh, j:j + sw * (Wo - 1) + 1:sw, :]
            for i in range(kh) for j in range(kw)]


def padded(x, pads, fill, buffer=None):
    """``x`` ``(..., H, W, C)`` inside a border of ``fill``; ``x`` itself when nothing is padded.

    ``buffer`` (the previous call's result, same shape and dtype) is reused: its border already
    holds ``fill``, so only the interior is written.
    """
    (pt, pb), (pl, pr) = pads
    if not (pt or pb or pl or pr):
        return x
    H, W = x.shape[-3], x.shape[-2]
    shape = x.shape[:-3] + (H + pt + pb, W + pl + pr, x.shape[-1])
    if buffer is None or buffer.shape != shape or buffer.dtype != x.dtype:
        buffer = np.full(shape, fill, dtype=x.dtype)
    buffer[..., pt:pt + H, pl:pl + W, :] = x
    return buffer


# -- the layer ------------------------------------------------------------------------------------


@layer_types.register("conv2d", "conv", "convolution2d")
class Conv2D(Layer):
    """2-D convolution (cross-correlation, as in every deep-learning library), then an activation.

    z[m, b, ho, wo, f] = bias[m, f] + sum_{i, j, c} xpad[m, b, ho*sh + i, wo*sw + j, c] * W[m, i, j, c, f]
    a = act(z)

    Shapes: x ``(M, B, H, W, C)`` or shared ``(B, H, W, C)``; kernel W ``(M, kh, kw, C, F)``;
    bias ``(M, F)``; output ``(M, B, Ho, Wo, F)`` with ``Ho = floor((H + pad_h - kh)/sh) + 1``
    (see :func:`pad_amounts` for "valid", "same" and int padding).

    As a matrix product: with the patches ``cols[m, (b, ho, wo), (i, j, c)]`` and the kernel
    viewed as ``Wmat[m, (i, j, c), f]``, ``z = cols @ Wmat + bias``. Backward, with ``dz = dL/dz``:

    * dL/dW = cols^T @ dz (summed over batch and positions by the GEMM);
    * dL/dbias = sum over (b, ho, wo) of dz;
    * dL/dxpad[.., ho*sh + i, wo*sw + j, :] += dz[.., ho, wo, :] @ W[i, j]^T for every offset
      (i, j); dL/dx is the interior of dL/dxpad.

    Parameters counted per network: ``kh*kw*C*F + F`` (no bias: ``kh*kw*C*F``). Initializers see
    ``fan_in = kh*kw*C`` and ``fan_out = kh*kw*F`` (Glorot uniform by default, zero biases).
    ``kernel_regularizer`` (e.g. ``L2(1e-4)``) penalizes this layer's kernel on top of ``fit``'s
    global ``weight_decay``; biases are never in ``weight_decay``.
    Memory: the patches ``cols`` (``B*Ho*Wo*kh*kw*C`` numbers per input) are kept for backward.
    """

    kind = "conv2d"
    accepts_shared_input = True
    #: the fast kernel that runs this layer a piece of the batch at a time on both cores (a
    #: training run then holds BLAS on one thread: glassnet.fast.training_scope)
    runs_pieces = fast_conv.KERNEL

    def __init__(self, filters: int, kernel_size=3, strides=1, padding="valid", use_bias: bool = True,
                 activation=None, kernel_init=None, bias_init=None, kernel_regularizer=None,
                 bias_regularizer=None, name: str | None = None):
        super().__init__(name)
        if isinstance(filters, bool) or not isinstance(filters, (int, np.integer)) or filters < 1:
            raise GlassnetError(f"Conv2D filters must be an integer >= 1, got {filters!r}")
        self.filters = int(filters)
        self.kernel_size = as_pair(kernel_size, "Conv2D kernel_size")
        self.strides = as_pair(strides, "Conv2D strides")
        self.padding = check_padding(padding, "Conv2D")
        self.use_bias = bool(use_bias)
        self.kernel_init = None if kernel_init is None else inits.get(kernel_init)
        self.bias_init = None if bias_init is None else inits.get(bias_init)
        self.kernel_regularizer = regs.get(kernel_regularizer)
        self.bias_regularizer = regs.get(bias_regularizer)
        self.act = activation_layer(activation, name="act")
        self._x = self._cols = self._buf = self._xp = None

    # -- construction ---------------------------------------------------------------------------
    def compute_output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise GlassnetError(f"Conv2D expects images (height, width, channels), got per-sample shape "
                                f"{tuple(input_shape)}; channels-last, e.g. input_shape=(32, 32, 3)")
        H, W, _ = input_shape
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        self._pads = (pad_amounts(self.padding if isinstance(self.padding, str) else self.padding[0], H, kh, sh),
                      pad_amounts(self.padding if isinstance(self.padding, str) else self.padding[1], W, kw, sw))
        (pt, pb), (pl, pr) = self._pads
        Ho, Wo = out_size(H, pt, pb, kh, sh), out_size(W, pl, pr, kw, sw)
        if Ho < 1 or Wo < 1:
            raise GlassnetError(f"Conv2D kernel_size {self.kernel_size} does not fit the input {H}x{W} "
                                f"with padding {self.padding!r}; use padding='same' or a smaller kernel")
        return (Ho, Wo, self.filters)

    def build(self, input_shape, ctx: BuildContext):
        super().build(input_shape, ctx)
        (kh, kw), C, F = self.kernel_size, input_shape[-1], self.filters
        kinit = self.kernel_init or ctx.kernel_init or inits.GlorotUniform()
        binit = self.bias_init or ctx.bias_init or inits.Zeros()
        self.W = self.add_param("W", ctx.draw(kinit, (kh, kw, C, F), kh * kw * C, kh * kw * F),
                                regularize=True, regularizer=self.kernel_regularizer)
        if self.use_bias:
            self.b = self.add_param("b", ctx.draw(binit, (F,), kh * kw * C, kh * kw * F),
                                    regularize=False, regularizer=self.bias_regularizer)
        self.act.name = f"{self.name}.act"
        self.act.build(self.output_shape, ctx)
        for short, p in self.act.params.items():
            p.name = f"{self.name}.{short}"
            self.params[short] = p
        return self.output_shape

    # -- computation ----------------------------------------------------------------------------
    def _patches(self, x, train):
        """``cols`` ``(L, B*Ho*Wo, kh*kw*C)`` for ``x`` ``(L, B, H, W, C)`` (L = M, or 1 if shared)."""
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        Ho, Wo, _ = self.output_shape
        L, B, C = x.shape[0], x.shape[1], x.shape[-1]
        if (kh, kw, sh, sw) == (1, 1, 1, 1) and self._pads == ((0, 0), (0, 0)):
            return np.ascontiguousarray(x).reshape(L, B * Ho * Wo, C)  # a 1x1 conv needs no copy
        # In training the padded input and the patch buffer are reused from the previous step
        # (same shapes): fresh multi-megabyte arrays cost page faults on every step.
        xp = padded(x, self._pads, 0, self._xp if train else None)
        Hp, Wp = xp.shape[-3], xp.shape[-2]
        # patch rows: for kernel row i, x[ho*sh + i, wo*sw : wo*sw + kw, :] is kw*C contiguous numbers
        rows = sliding_window_view(xp.reshape(L, B, Hp, Wp * C), (kh, kw * C), axis=(2, 3))
        rows = rows[:, :, :sh * (Ho - 1) + 1:sh, :sw * C * (Wo - 1) + 1:sw * C]
        cols = self._buf if train else None
        if cols is None or cols.shape != rows.shape or cols.dtype != x.dtype:
            cols = np.empty(rows.shape, x.dtype)
        np.copyto(cols, rows)
        if train:
            self._xp = xp if xp is not x else None
            self._buf = cols
        return cols.reshape(L, B * Ho * Wo, kh * kw * C)

    def forward(self, x, train):
        if fast.available(fast_conv.KERNEL):  # a piece of the batch at a time, on both cores (glassnet.fast.conv)
            y = fast_conv.attempt(fast_conv.conv2d_forward, self, x, train)
            if y is not fast_conv.FAILED:
                return y
        if x.ndim == 4:  # shared by all models: unfold once, the GEMM broadcasts over the model axis
            x = x[None]
        Ho, Wo, F = self.output_shape
        cols = self._patches(x, train)
        M = self.W.value.shape[0]
        z = np.matmul(cols, self.W.value.reshape(M, -1, F))
        if self.use_bias:
            z += self.b.value[:, None, :]
        # what backward needs; after an inference-mode pass only x (backward rebuilds the patches),
        # so predicting on a large batch does not keep its patches alive
        self._x, self._cols = x, (cols if train else None)
        return self.act.forward(z.reshape(M, x.shape[1], Ho, Wo, F), train)

    def backward(self, dy):
        if fast.available(fast_conv.KERNEL):  # same caches as the reference forward's
            dx = fast_conv.attempt(fast_conv.conv2d_backward, self, dy)
            if dx is not fast_conv.FAILED:
                return dx
        dz = self.act.backward(dy)
        M, B, Ho, Wo, F = dz.shape
        dzf = dz.reshape(M, B * Ho * Wo, F)
        cols = self._cols if self._cols is not None else self._patches(self._x, train=False)
        self.W.grad = np.matmul(cols.swapaxes(-1, -2), dzf).reshape(self.W.value.shape)
        if self.use_bias:  # a row of ones times dz: a GEMV, ~5x faster than dzf.sum(axis=1)
            self.b.grad = np.matmul(np.ones((1, dzf.shape[1]), dzf.dtype), dzf)[:, 0]
        if not self.need_input_grad:
            return None
        return self._input_grad(dzf, B)

    def _input_grad(self, dzf, B):
        """dL/dx: one GEMM per kernel offset, added into the padded input at that offset."""
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        Ho, Wo, F = self.output_shape
        M = dzf.shape[0]
        H, W, C = self.input_shape
        (pt, pb), (pl, pr) = self._pads
        dxp = np.zeros((M, B, H + pt + pb, W + pl + pr, C), dzf.dtype)
        Wt = self.W.value
        part = np.empty((M, B * Ho * Wo, C), dzf.dtype)
        for (i, j), view in zip(np.ndindex(kh, kw), window_views(dxp, kh, kw, sh, sw, Ho, Wo)):
            np.matmul(dzf, Wt[:, i, j].swapaxes(-1, -2), out=part)
            view += part.reshape(M, B, Ho, Wo, C)
        return dxp[:, :, pt:pt + H, pl:pl + W, :]

    def __getstate__(self):
        """Copies and pickles leave the scratch buffers and caches behind (they can be large)."""
        state = self.__dict__.copy()
        state.update(_x=None, _cols=None, _buf=None, _xp=None)
        return state

    # -- description ----------------------------------------------------------------------------
    def config(self):
        return {
            **super().config(),
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding if isinstance(self.padding, str) else list(self.padding),
            "activation": activation_spec(self.act),
            "use_bias": self.use_bias,
            "kernel_regularizer": regs.config_of(self.kernel_regularizer),
            "bias_regularizer": regs.config_of(self.bias_regularizer),
        }

    def __repr__(self):
        act = activation_repr(self.act)
        k = self.kernel_size[0] if self.kernel_size[0] == self.kernel_size[1] else self.kernel_size
        extra = ""
        if self.strides != (1, 1):
            extra += f", strides={self.strides[0] if self.strides[0] == self.strides[1] else self.strides}"
        if self.padding != "valid":
            extra += f", padding={self.padding!r}"
        if not self.use_bias:
            extra += ", use_bias=False"
        return f"Conv2D({self.filters}, {k}{extra}, activation={act!r})"
