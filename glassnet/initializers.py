"""Initializers for weights and biases.

An initializer is called as ``init(shape, rng, dtype, fan_in, fan_out)`` for ONE model and returns
an array of ``shape``; the model stacks one draw per model (each from that model's own stream) into
the ``(M, ...)`` parameter. ``fan_in``/``fan_out`` are the numbers of inputs and outputs of a unit:
for a dense kernel ``(in, out)`` they are ``in`` and ``out``; for a conv kernel
``(kh, kw, cin, cout)`` they are ``kh*kw*cin`` and ``kh*kw*cout``.

Conventions (PyTorch's ``torch.nn.init`` and Keras): Glorot/Xavier uniform bound
``gain*sqrt(6/(fan_in + fan_out))``, normal std ``gain*sqrt(2/(fan_in + fan_out))``;
He/Kaiming normal std ``gain/sqrt(fan_in)`` with gain sqrt(2), uniform bound ``gain*sqrt(3/fan_in)``;
LeCun normal std ``1/sqrt(fan_in)``, uniform bound ``sqrt(3/fan_in)``. He and LeCun normals are
not truncated (PyTorch's choice; Keras truncates).
"""

from __future__ import annotations

import math

import numpy as np

from .errors import GlassnetError
from .registry import Registry

initializers: Registry[type["Initializer"]] = Registry("initializer")


def _number(value, name: str, positive: bool = False) -> float:
    field = name.split()[-1]  # "normal std" is about the argument std
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) or not math.isfinite(value):
        raise GlassnetError(f"{name} must be a finite number, got {value!r}", field=field, value=value)
    if positive and value <= 0:
        raise GlassnetError(f"{name} must be > 0, got {value!r}", field=field, value=value)
    return float(value)


class Initializer:
    name = "initializer"

    def __call__(self, shape, rng: np.random.Generator, dtype, fan_in: int, fan_out: int) -> np.ndarray:
        raise NotImplementedError

    def config(self) -> dict:
        return {"name": self.name, **{k: v for k, v in vars(self).items() if not k.startswith("_")}}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "name")
        return f"{type(self).__name__}({args})"


@initializers.register("zeros", "zero")
class Zeros(Initializer):
    """All zeros: the default for biases. For weights it makes every unit identical (symmetry)."""

    name = "zeros"

    def __call__(self, shape, rng, dtype, fan_in, fan_out):
        return np.zeros(shape, dtype)


@initializers.register("ones")
class Ones(Initializer):
    """All ones."""

    name = "ones"

    def __call__(self, shape, rng, dtype, fan_in, fan_out):
        return np.ones(shape, dtype)


@initializers.register("constant")
class Constant(Initializer):
    """Every entry equal to ``value``: the symmetry case of seed 000 (units stay identical)."""

    name = "constant"

    def __init__(self, value: float = 0.0):
        self.value = _number(value, "constant value")

    def __call__(self, shape, rng, dtype, fan_in, fan_out):
        return np.full(shape, self.value, dtype)


@initializers.register("normal", "gaussian", "random_normal")
class Normal(Initializer):
    """N(mean, std^2). Give ``std`` or ``variance`` (seed 003: variance 0.01, i.e. std 0.1)."""

    name = "normal"

    def __init__(self, mean: float = 0.0, std: float | None = None, variance: float | None = None):
        if std is not None and variance is not None:
            raise GlassnetError("normal initializer takes std or variance, not both", field="variance", value=variance)
        if variance is not None:
            std = math.sqrt(_number(variance, "normal variance", positive=True))
        self.mean = _number(mean, "normal mean")
        self.std = 0.05 if std is None else _number(std, "normal std", positive=True)

    def __call__(self, shape, rng, dtype, fan_in, fan_out):
        return (self.mean + self.std * rng.standard_normal(shape)).astype(dtype)


@initializers.register("uniform", "random_uniform")
class Uniform(Initializer):
    """U(low, high)."""

    name = "uniform"

    def __init__(self, low: float = -0.05, high: float = 0.05):
        self.low = _number(low, "uniform low")
        self.high = _number(high, "uniform high")
        if self.high <= self.low:
            raise GlassnetError(f"uniform high must be > low, got low={low}, high={high}", field="high", value=high)

    def __call__(self, shape, rng, dtype, fan_in, fan_out):
        return rng.uniform(self.low, self.high, shape).astype(dtype)


class _Scaled(Initializer):
    """Variance scaling: a normal or uniform draw whose spread depends on the fans."""

    normal = True

    def __init__(self, gain: float | None = None):
        self.gain = self.default_gain if gain is None else _number(gain, f"{self.name} gain", positive=True)

    default_gain = 1.0

    def std(self, fan_in: int, fan_out: int) -> float:
        raise NotImplementedError

    def __call__(self, shape, rng, dtype, fan_in, fan_out):
        std = self.std(fan_in, fan_out)
        if self.normal:
            return (std * rng.standard_normal(shape)).astype(dtype)
        bound = math.sqrt(3.0) * std  # U(-b, b) has std b/sqrt(3)
        return rng.uniform(-bound, bound, shape).astype(dtype)


@initializers.register("glorot_uniform", "xavier_uniform", "glorot", "xavier")
class GlorotUniform(_Scaled):
    """U(-b, b), b = gain*sqrt(6/(fan_in + fan_out)) (Glorot & Bengio 2010). Keras' default."""

    name = "glorot_uniform"
    normal = False

    def std(self, fan_in, fan_out):
        return self.gain * math.sqrt(2.0 / (fan_in + fan_out))


@initializers.register("glorot_normal", "xavier_normal")
class GlorotNormal(GlorotUniform):
    """N(0, std^2), std = gain*sqrt(2/(fan_in + fan_out))."""

    name = "glorot_normal"
    normal = True


@initializers.register("he_normal", "kaiming_normal", "he")
class HeNormal(_Scaled):
    """N(0, std^2), std = gain/sqrt(fan_in), gain sqrt(2) for ReLU (He et al. 2015,
    https://arxiv.org/abs/1502.01852)."""

    name = "he_normal"
    default_gain = math.sqrt(2.0)

    def std(self, fan_in, fan_out):
        return self.gain / math.sqrt(fan_in)


@initializers.register("he_uniform", "kaiming_uniform")
class HeUniform(HeNormal):
    """U(-b, b), b = gain*sqrt(3/fan_in), gain sqrt(2)."""

    name = "he_uniform"
    normal = False


@initializers.register("lecun_normal")
class LecunNormal(_Scaled):
    """N(0, 1/fan_in) (LeCun et al. 1998); the init SELU expects."""

    name = "lecun_normal"

    def std(self, fan_in, fan_out):
        return self.gain / math.sqrt(fan_in)


@initializers.register("lecun_uniform")
class LecunUniform(LecunNormal):
    """U(-b, b), b = sqrt(3/fan_in)."""

    name = "lecun_uniform"
    normal = False


def get(spec) -> Initializer:
    """An initializer from a name, a ``{"name": ..., **options}`` dict, a number (a constant),
    or an :class:`Initializer` instance."""
    if isinstance(spec, Initializer):
        return spec
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        return Constant(spec)
    return initializers.create(spec)
