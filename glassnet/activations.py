"""Activation functions: each value sits beside its derivative, with the formula in the docstring.

An activation object maps pre-activations ``z`` (any shape, model axis first) to ``a = f(z)``.
``derivative(z, a)`` is the elementwise ``f'(z)``; ``backward(z, a, da)`` is the vector-Jacobian
product ``dL/dz`` given ``dL/da`` (elementwise ``da * f'(z)`` except for softmax).
Where the derivative is cheaper from the output (sigmoid, tanh, elu) it is written from ``a``.

The learnable PReLU is a layer (:class:`glassnet.layers.PReLU`) because it owns a parameter; its
name is still valid wherever an activation name is (``Dense(4, activation="prelu")``).
"""

from __future__ import annotations

import math

import numpy as np

from . import fast
from .backend import MANY_MODELS
from .errors import GlassnetError
from .registry import Registry

activations: Registry[type["Activation"]] = Registry("activation")

SQRT_2 = math.sqrt(2.0)
SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def scipy_special():
    """SciPy's special functions (``expit``, ``erf``: single fused ufuncs, one pass instead of
    three or four), imported on first use so that ``import glassnet`` stays fast (~0.2 s saved)."""
    import scipy.special  # noqa: PLC0415

    return scipy.special


# For few models and small arrays SciPy's expit (one call) beats 0.5*tanh(z/2) + 0.5 (four calls),
# as per-call overhead dominates; for large arrays NumPy's SIMD tanh wins (expit is ~6x slower on
# 64k float32 values, measured). The two agree to a few ulps. The choice looks at the size of ONE
# model's slice and at the MANY_MODELS boundary only, so chunks of an ensemble agree bit for bit.
_EXPIT_MAX_SIZE = 256


#: the fast path's name for the compiled sigmoid and tanh (glassnet.fast.activation_kernels)
FAST_KERNEL = "activations"


def _fast(name: str, z):
    """``name``'s values by the compiled kernel, or None: fast path off, Numba missing, a dtype
    other than float32/float64, or the kernel failed (then one FastPathWarning, and None after)."""
    if not isinstance(z, np.ndarray) or z.dtype not in (np.float32, np.float64) or not fast.available(FAST_KERNEL):
        return None
    try:
        from .fast import activation_kernels  # noqa: PLC0415 - Numba loads only when the fast path runs
        return activation_kernels.apply(name, z)
    except Exception as exc:  # noqa: BLE001 - any failure: warn once, reference from now on
        fast.mark_broken(FAST_KERNEL, exc)
        return None


def sigmoid(z):
    """1/(1 + exp(-z)) of ``(M, B, ...)`` values, without overflow for large negative z.

    The reference is SciPy's ``expit`` or ``0.5 tanh(z/2) + 0.5`` (below); with the fast path on,
    the compiled kernel of :mod:`glassnet.fast.activation_kernels` (equal to rounding)."""
    a = _fast("sigmoid", z)
    if a is not None:
        return a
    if z.ndim >= 2 and z.shape[0] < MANY_MODELS and z[0].size <= _EXPIT_MAX_SIZE:
        return scipy_special().expit(z)
    a = z * 0.5
    np.tanh(a, out=a)
    a *= 0.5
    a += 0.5
    return a


class Activation:
    """Base class. Subclasses set ``formula``, ``derivative_formula``, ``output_range``."""

    name = "activation"
    formula = ""
    derivative_formula = ""
    output_range = "(-inf, inf)"
    elementwise = True

    def __call__(self, z):
        raise NotImplementedError

    def derivative(self, z, a):
        """Elementwise f'(z); ``a`` is ``f(z)`` (already computed in the forward pass)."""
        raise NotImplementedError

    def backward(self, z, a, da):
        """dL/dz from dL/da; never modifies its inputs."""
        return da * self.derivative(z, a)

    def config(self) -> dict:
        return {"name": self.name}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.config().items() if k != "name")
        return f"{self.name}({args})" if args else self.name


@activations.register("identity", "linear", "none")
class Identity(Activation):
    """f(z) = z, f'(z) = 1. Stacked linear layers collapse to one matrix (seed 001, 004)."""

    name = "identity"
    formula = "f(z) = z"
    derivative_formula = "f'(z) = 1"

    def __call__(self, z):
        return z

    def derivative(self, z, a):
        return np.ones_like(z)

    def backward(self, z, a, da):
        return da


@activations.register("relu")
class ReLU(Activation):
    """f(z) = max(0, z); f'(z) = 1 if z > 0 else 0 (0 at z = 0, as PyTorch and Keras).

    A unit whose pre-activation is never positive gets zero gradient and never learns: the dead
    ReLU of seed 004.
    """

    name = "relu"
    formula = "f(z) = max(0, z)"
    derivative_formula = "f'(z) = 1 if z > 0 else 0"
    output_range = "[0, inf)"

    def __call__(self, z):
        return np.maximum(z, 0)

    def derivative(self, z, a):
        return (z > 0).astype(z.dtype)

    def backward(self, z, a, da):
        return da * (z > 0)


@activations.register("leaky_relu", "leakyrelu")
class LeakyReLU(Activation):
    """f(z) = z if z > 0 else alpha*z; f'(z) = 1 if z > 0 else alpha. Default alpha 0.01 (PyTorch)."""

    name = "leaky_relu"
    formula = "f(z) = z if z > 0 else alpha*z"
    derivative_formula = "f'(z) = 1 if z > 0 else alpha"

    def __init__(self, alpha: float = 0.01):
        if not (isinstance(alpha, (int, float)) and math.isfinite(alpha) and alpha >= 0):
            raise GlassnetError(f"leaky_relu alpha must be a finite number >= 0, got {alpha!r}")
        self.alpha = float(alpha)

    def __call__(self, z):
        return np.where(z > 0, z, self.alpha * z)

    def derivative(self, z, a):
        return np.where(z > 0, 1.0, self.alpha).astype(z.dtype)

    def config(self):
        return {"name": self.name, "alpha": self.alpha}


@activations.register("elu")
class ELU(Activation):
    """f(z) = z if z > 0 else alpha*(exp(z) - 1); f'(z) = 1 if z > 0 else f(z) + alpha."""

    name = "elu"
    formula = "f(z) = z if z > 0 else alpha*(exp(z) - 1)"
    derivative_formula = "f'(z) = 1 if z > 0 else alpha*exp(z) = f(z) + alpha"
    output_range = "(-alpha, inf)"

    def __init__(self, alpha: float = 1.0):
        if not (isinstance(alpha, (int, float)) and math.isfinite(alpha) and alpha > 0):
            raise GlassnetError(f"elu alpha must be a finite number > 0, got {alpha!r}")
        self.alpha = float(alpha)

    def __call__(self, z):
        return np.where(z > 0, z, self.alpha * np.expm1(np.minimum(z, 0)))

    def derivative(self, z, a):
        return np.where(z > 0, 1.0, a + self.alpha).astype(z.dtype)

    def config(self):
        return {"name": self.name, "alpha": self.alpha}


@activations.register("selu")
class SELU(Activation):
    """f(z) = scale*(z if z > 0 else alpha*(exp(z) - 1)), alpha=1.6732632423543772,
    scale=1.0507009873554805 (Klambauer et al. 2017, https://arxiv.org/abs/1706.02515)."""

    name = "selu"
    alpha = 1.6732632423543772
    scale = 1.0507009873554805
    formula = "f(z) = scale*z if z > 0 else scale*alpha*(exp(z) - 1)"
    derivative_formula = "f'(z) = scale if z > 0 else f(z) + scale*alpha"
    output_range = "(-scale*alpha, inf)"

    def __call__(self, z):
        return self.scale * np.where(z > 0, z, self.alpha * np.expm1(np.minimum(z, 0)))

    def derivative(self, z, a):
        return np.where(z > 0, self.scale, a + self.scale * self.alpha).astype(z.dtype)


@activations.register("tanh")
class Tanh(Activation):
    """f(z) = tanh(z) = (e^2z - 1)/(e^2z + 1); f'(z) = 1 - tanh(z)^2 = 1 - a^2 (from the output)."""

    name = "tanh"
    formula = "f(z) = (exp(2z) - 1)/(exp(2z) + 1)"
    derivative_formula = "f'(z) = 1 - f(z)^2"
    output_range = "(-1, 1)"

    def __call__(self, z):
        a = _fast("tanh", z)  # the compiled kernel with the fast path on (equal to rounding)
        return np.tanh(z) if a is None else a

    def derivative(self, z, a):
        return 1 - a * a

    def backward(self, z, a, da):
        return da * (1 - a * a)


@activations.register("sigmoid", "logistic")
class Sigmoid(Activation):
    """f(z) = 1/(1 + exp(-z)); f'(z) = f(z)(1 - f(z)) = a(1 - a) (from the output).

    Computed by :func:`sigmoid` (SciPy's ``expit`` on small arrays, a tanh form on large ones).
    """

    name = "sigmoid"
    formula = "f(z) = 1/(1 + exp(-z))"
    derivative_formula = "f'(z) = f(z)*(1 - f(z))"
    output_range = "(0, 1)"

    def __call__(self, z):
        return sigmoid(z)

    def derivative(self, z, a):
        return a * (1 - a)

    def backward(self, z, a, da):
        return da * a * (1 - a)


@activations.register("softplus")
class Softplus(Activation):
    """f(z) = log(1 + exp(z)); f'(z) = sigmoid(z)."""

    name = "softplus"
    formula = "f(z) = log(1 + exp(z))"
    derivative_formula = "f'(z) = 1/(1 + exp(-z))"
    output_range = "(0, inf)"

    def __call__(self, z):
        return np.logaddexp(0, z).astype(z.dtype, copy=False)

    def derivative(self, z, a):
        return sigmoid(z)


@activations.register("gelu")
class GELU(Activation):
    """f(z) = z*Phi(z), Phi the standard normal CDF (Hendrycks & Gimpel, https://arxiv.org/abs/1606.08415).

    Exact (erf) by default, as PyTorch and Keras; ``approximate="tanh"`` uses
    0.5*z*(1 + tanh(sqrt(2/pi)*(z + 0.044715 z^3))).
    f'(z) = Phi(z) + z*phi(z) for the exact form.
    """

    name = "gelu"
    formula = "f(z) = z*Phi(z) = 0.5*z*(1 + erf(z/sqrt(2)))"
    derivative_formula = "f'(z) = Phi(z) + z*exp(-z^2/2)/sqrt(2*pi)"

    def __init__(self, approximate: str = "none"):
        if approximate not in ("none", "tanh"):
            raise GlassnetError(f"gelu approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def __call__(self, z):
        if self.approximate == "tanh":
            return 0.5 * z * (1 + np.tanh(SQRT_2_OVER_PI * (z + 0.044715 * z**3)))
        return 0.5 * z * (1 + scipy_special().erf(z / SQRT_2))

    def derivative(self, z, a):
        if self.approximate == "tanh":
            inner = SQRT_2_OVER_PI * (z + 0.044715 * z**3)
            t = np.tanh(inner)
            return 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * z * z)
        cdf = 0.5 * (1 + scipy_special().erf(z / SQRT_2))
        return cdf + z * INV_SQRT_2PI * np.exp(-0.5 * z * z)

    def config(self):
        return {"name": self.name, "approximate": self.approximate}


@activations.register("swish", "silu")
class Swish(Activation):
    """f(z) = z*sigmoid(z) (SiLU); f'(z) = s + z*s*(1 - s) with s = sigmoid(z)."""

    name = "swish"
    formula = "f(z) = z/(1 + exp(-z))"
    derivative_formula = "f'(z) = s + z*s*(1 - s), s = sigmoid(z)"
    output_range = "[-0.278..., inf)"

    def __call__(self, z):
        return z * sigmoid(z)

    def derivative(self, z, a):
        s = sigmoid(z)
        return s + z * s * (1 - s)


@activations.register("softmax")
class Softmax(Activation):
    """f(z)_i = exp(z_i - max z) / sum_j exp(z_j - max z) over the last axis.

    Not elementwise: the Jacobian is diag(s) - s s^T, so dL/dz = s * (da - sum(da * s)).
    Paired with cross-entropy, prefer the fused ``softmax_cross_entropy`` loss on logits
    (gradient p - y, stable).
    """

    name = "softmax"
    formula = "f(z)_i = exp(z_i) / sum_j exp(z_j)"
    derivative_formula = "df_i/dz_j = f_i*(delta_ij - f_j)"
    output_range = "(0, 1), rows sum to 1"
    elementwise = False

    def __call__(self, z):
        return softmax(z)

    def derivative(self, z, a):
        raise GlassnetError("softmax has no elementwise derivative; use backward (a Jacobian product)")

    def backward(self, z, a, da):
        return a * (da - (da * a).sum(axis=-1, keepdims=True))


def softmax(z, axis: int = -1):
    """Numerically stable softmax along ``axis``."""
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def get(spec) -> Activation:
    """An activation from a name (``"relu"``), a dict (``{"name": "elu", "alpha": 0.5}``),
    an :class:`Activation` instance, or ``None`` (identity)."""
    if spec is None:
        return Identity()
    if isinstance(spec, Activation):
        return spec
    return activations.create(spec)
