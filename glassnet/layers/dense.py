"""Fully connected layer: z = x W + b, then an optional activation."""

from __future__ import annotations

import numpy as np

from .. import initializers as inits
from ..backend import MANY_MODELS
from .. import regularizers as regs
from ..errors import GlassnetError
from .activation import activation_layer, activation_repr, activation_spec
from .base import BuildContext, Layer, check_int, layer_types


# With many models the stacked matmuls run one small BLAS call per model; NumPy's stacked matmul
# and reductions are 2-3x faster on contiguous operands there, so a transposed operand is copied
# first (a measured choice: 1,000 8-3-8 models, see benchmarks/). For few models the copy costs more
# than it saves.


def _T(a, models: int):
    """Swap the last two axes (a matrix transpose that keeps leading axes); contiguous for many models."""
    t = a.swapaxes(-1, -2)
    return np.ascontiguousarray(t) if models >= MANY_MODELS else t


def _sum_batch(dz):
    """sum over the batch axis of ``(M, B, units)``; einsum is ~3x faster than ``sum(axis=1)`` for many models."""
    return np.einsum("mbo->mo", dz) if dz.shape[0] >= MANY_MODELS else np.add.reduce(dz, 1)


@layer_types.register("dense", "linear_layer", "fully_connected")
class Dense(Layer):
    """z = x W + b, a = f(z).

    Shapes: x ``(M, B, n_in)`` or shared ``(B, n_in)``; W ``(M, n_in, units)``; b ``(M, units)``;
    a ``(M, B, units)``. ``matmul`` broadcasts the model axis, so one line serves M networks.

    Backward, with dz = dL/dz from the activation:
    dL/dW = x^T dz (summed over the batch by the matmul), dL/db = sum_batch dz, dL/dx = dz W^T.

    Weights default to the model's ``init`` (Glorot uniform if none), biases to zeros.
    ``kernel_regularizer``/``bias_regularizer`` add per-layer penalties on top of ``fit``'s global
    ``weight_decay``/``l1`` (which apply to weights only).
    """

    kind = "dense"
    accepts_shared_input = True

    def __init__(self, units: int, activation=None, use_bias: bool = True, kernel_init=None,
                 bias_init=None, kernel_regularizer=None, bias_regularizer=None, name: str | None = None):
        super().__init__(name)
        self.units = check_int(units, "Dense units")
        self.use_bias = bool(use_bias)
        self.kernel_init = None if kernel_init is None else inits.get(kernel_init)
        self.bias_init = None if bias_init is None else inits.get(bias_init)
        self.kernel_regularizer = regs.get(kernel_regularizer)
        self.bias_regularizer = regs.get(bias_regularizer)
        self._activation_spec = activation
        self.act = activation_layer(activation, name="act")
        self._x = None

    def build(self, input_shape, ctx: BuildContext):
        if len(input_shape) != 1:
            raise GlassnetError(
                f"Dense expects flat inputs (features,), got per-sample shape {tuple(input_shape)}; "
                "add Flatten() before it"
            )
        super().build(input_shape, ctx)
        n_in = input_shape[0]
        kinit = self.kernel_init or ctx.kernel_init or inits.GlorotUniform()
        binit = self.bias_init or ctx.bias_init or inits.Zeros()
        self.W = self.add_param("W", ctx.draw(kinit, (n_in, self.units), n_in, self.units),
                                regularize=True, regularizer=self.kernel_regularizer)
        if self.use_bias:
            self.b = self.add_param("b", ctx.draw(binit, (self.units,), n_in, self.units),
                                    regularize=False, regularizer=self.bias_regularizer)
        self.act.name = f"{self.name}.act"
        self.act.build((self.units,), ctx)
        for short, p in self.act.params.items():
            p.name = f"{self.name}.{short}"
            self.params[short] = p
        return self.output_shape

    def compute_output_shape(self, input_shape):
        return (self.units,)

    def forward(self, x, train):
        self._x = x
        z = x @ self.W.value
        if self.use_bias:
            z += self.b.value[:, None, :]
        return self.act.forward(z, train)

    def backward(self, dy):
        dz = self.act.backward(dy)
        x = self._x
        self.W.grad = _T(x, dz.shape[0]) @ dz
        if self.use_bias:
            self.b.grad = _sum_batch(dz)
        if self.need_input_grad:
            return dz @ _T(self.W.value, dz.shape[0])
        return None

    def config(self):
        return {
            **super().config(),
            "units": self.units,
            "activation": activation_spec(self.act),
            "use_bias": self.use_bias,
            "kernel_regularizer": regs.config_of(self.kernel_regularizer),
            "bias_regularizer": regs.config_of(self.bias_regularizer),
        }

    def __repr__(self):
        act = activation_repr(self.act)
        extra = "" if self.use_bias else ", use_bias=False"
        return f"Dense({self.units}, activation={act!r}{extra})"
