"""Fully connected layer: z = x W + b, then an optional activation."""

from __future__ import annotations

import numpy as np

from .. import fast
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


# The fast path (glassnet.fast.gemm: one compiled call for the whole model axis) replaces the
# products below only where it measured faster than NumPy's stacked matmul: per-model products of at
# most FAST_MAX_WORK multiply-adds (batch x n_in x units; the 8-3-8 autoencoder's 8 x 8 x 3 = 192:
# forward 1.2-2.5x, backward 1.0-1.7x, 1 thread). From batch 16 of 8 x 3 up OpenBLAS wins (the
# backward 0.7-0.8x; 15 x 32 x 64 x 16: 0.3x); see tests/fast/test_gemm.py's docstring.
FAST_MAX_WORK = 256


def _fast_ok(x, W):
    """Whether ``x @ W`` goes to the fast kernel: a small product per model, one dtype, kernel available.
    It reads one model's product, not the number of models: a network in a search program of 18
    must train as it does alone (GlassnetSearchCV equals GridSearchCV exactly)."""
    _, n, k = W.shape
    return x.shape[-2] * n * k <= FAST_MAX_WORK and x.dtype == W.dtype and fast.available("gemm")


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
        # inference stays on BLAS: a prediction must not depend on how rows are batched (the
        # kernel's rounding differs from BLAS's; scikit-learn's check_methods_subset_invariance)
        z = self._fast_forward(x) if train and _fast_ok(x, self.W.value) else None
        if z is None:  # the reference
            z = x @ self.W.value
            if self.use_bias:
                z += self.b.value[:, None, :]
        return self.act.forward(z, train)

    def backward(self, dy):
        dz = self.act.backward(dy)
        x = self._x
        grads = self._fast_backward(x, dz) if _fast_ok(x, self.W.value) and dz.dtype == x.dtype else None
        if grads is not None:
            self.W.grad, db, dx = grads
            if self.use_bias:
                self.b.grad = db
            return dx
        self.W.grad = _T(x, dz.shape[0]) @ dz
        if self.use_bias:
            self.b.grad = _sum_batch(dz)
        if self.need_input_grad:
            return dz @ _T(self.W.value, dz.shape[0])
        return None

    # -- the fast path: the same products by glassnet.fast.gemm (tests/fast/test_gemm.py) -----------
    def _fast_forward(self, x):
        """``x @ W + b`` in one compiled call; None (after one FastPathWarning) if the kernel fails."""
        try:
            from ..fast import gemm  # noqa: PLC0415 - Numba loads only when the fast path runs
            return gemm.dense_forward(x, self.W.value, self.b.value if self.use_bias else None)
        except Exception as exc:  # noqa: BLE001 - any failure: warn once, reference from now on
            fast.mark_broken("gemm", exc)
            return None

    def _fast_backward(self, x, dz):
        """``(dW, db, dx)`` in compiled calls (db None without bias, dx None unless needed); None
        (after one FastPathWarning) if the kernel fails."""
        try:
            from ..fast import gemm  # noqa: PLC0415
            return gemm.dense_backward(x, self.W.value, dz, self.use_bias, self.need_input_grad)
        except Exception as exc:  # noqa: BLE001
            fast.mark_broken("gemm", exc)
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
