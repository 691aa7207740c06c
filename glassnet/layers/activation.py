"""Activation layers: a stateless activation function, or the learnable PReLU."""

from __future__ import annotations

import numpy as np

from .. import activations as acts
from ..errors import GlassnetError
from .base import BuildContext, Layer, layer_types, model_view


@layer_types.register("activation")
class Activation(Layer):
    """Applies an activation function elementwise (softmax: over the last axis).

    Caches ``z`` and ``a = f(z)``; backward is ``f.backward(z, a, da)``.
    """

    kind = "activation"
    accepts_shared_input = True

    def __init__(self, activation="relu", name: str | None = None):
        super().__init__(name)
        self.fn = acts.get(activation)
        self._identity = isinstance(self.fn, acts.Identity)
        self._z = self._a = None

    def forward(self, x, train):
        if self._identity:
            return x
        a = self.fn(x)
        self._z, self._a = x, a
        return a

    def backward(self, dy):
        if self._identity:
            return dy
        return self.fn.backward(self._z, self._a, dy)

    def config(self):
        return {**super().config(), "activation": self.fn.config()}

    def __repr__(self):
        return f"Activation({self.fn!r})"


@layer_types.register("prelu")
class PReLU(Layer):
    """f(z) = z if z > 0 else alpha*z with a learnable slope per unit/channel (He et al. 2015,
    https://arxiv.org/abs/1502.01852). df/dz = 1 or alpha; df/dalpha = 0 or z.
    ``alpha`` has shape ``(M, C)`` for C features/channels on the last axis, initialised to 0.25."""

    kind = "prelu"

    def __init__(self, alpha_init: float = 0.25, name: str | None = None):
        super().__init__(name)
        self.alpha_init = float(alpha_init)
        self._z = None

    def build(self, input_shape, ctx: BuildContext):
        super().build(input_shape, ctx)
        if not input_shape:
            raise GlassnetError("PReLU needs inputs with at least one feature axis")
        self.alpha = self.add_param("alpha", np.full((ctx.M, input_shape[-1]), self.alpha_init, ctx.dtype), regularize=False)
        return self.output_shape

    def forward(self, x, train):
        self._z = x
        alpha = model_view(self.alpha.value, x.ndim)
        return np.where(x > 0, x, alpha * x)

    def backward(self, dy):
        z = self._z
        neg = z <= 0
        self.alpha.grad = (dy * z * neg).reshape(z.shape[0], -1, z.shape[-1]).sum(axis=1)
        return np.where(neg, model_view(self.alpha.value, z.ndim) * dy, dy)

    def config(self):
        return {**super().config(), "alpha_init": self.alpha_init}


def activation_layer(spec, name: str) -> Layer:
    """The layer for an ``activation=`` argument: PReLU for ``"prelu"``, otherwise :class:`Activation`."""
    if isinstance(spec, str) and spec.strip().lower() == "prelu":
        return PReLU(name=name)
    if isinstance(spec, dict) and spec.get("name") == "prelu":
        return PReLU(alpha_init=spec.get("alpha_init", 0.25), name=name)
    return Activation(spec, name=name)


def activation_spec(layer: Layer):
    """Inverse of :func:`activation_layer` for configs."""
    if isinstance(layer, PReLU):
        return {"name": "prelu", "alpha_init": layer.alpha_init}
    return layer.fn.config()


def activation_repr(layer: Layer):
    """The ``activation=`` value to show in a layer's repr: a plain name when it has no options."""
    spec = activation_spec(layer)
    return spec["name"] if len(spec) == 1 else spec
