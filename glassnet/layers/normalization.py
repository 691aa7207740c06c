"""Layer normalization over the last (feature) axis, for any input rank."""

from __future__ import annotations

import numpy as np

from ..errors import GlassnetError
from .base import BuildContext, Layer, layer_types, model_view


@layer_types.register("layernorm", "layer_norm", "layer_normalization")
class LayerNorm(Layer):
    """y = gamma * (x - mu) / sqrt(var + eps) + beta, with mu and var over the last axis of each
    sample (each time step of a sequence, each pixel of an image) -- not over the batch, so the
    layer is the same function in training and at inference.

    PyTorch's ``nn.LayerNorm(C, eps)`` numerics: the biased variance ``mean((x - mu)^2)`` and eps
    inside the square root. gamma ``(M, C)`` starts at ones, beta ``(M, C)`` at zeros; neither is
    weight-decayed. (Ba, Kiros & Hinton 2016, https://arxiv.org/abs/1607.06450)

    Shapes: x ``(M, B, ..., C)`` or shared ``(B, ..., C)``; y ``(M, B, ..., C)``.

    Backward, with xhat = (x - mu)/sigma, g = dL/dxhat = dy*gamma and means over the C features:
    dL/dx = (g - mean(g) - xhat*mean(g*xhat)) / sigma;
    dL/dgamma = sum over batch (and positions) of dy*xhat; dL/dbeta = sum of dy.
    """

    kind = "layernorm"
    accepts_shared_input = True

    def __init__(self, eps: float = 1e-5, name: str | None = None):
        super().__init__(name)
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not eps > 0:
            raise GlassnetError(f"LayerNorm eps must be > 0, got {eps!r}")
        self.eps = float(eps)
        self._xhat = self._inv_std = None

    def build(self, input_shape, ctx: BuildContext):
        if len(input_shape) < 1:
            raise GlassnetError("LayerNorm needs inputs with a feature axis")
        super().build(input_shape, ctx)
        C = input_shape[-1]
        self.gamma = self.add_param("gamma", np.ones((ctx.M, C), ctx.dtype), regularize=False)
        self.beta = self.add_param("beta", np.zeros((ctx.M, C), ctx.dtype), regularize=False)
        return self.output_shape

    def forward(self, x, train):
        if x.ndim == len(self.input_shape) + 1:  # shared by all models
            x = x[None]
        mean = x.mean(axis=-1, keepdims=True)
        centered = x - mean
        var = (centered * centered).mean(axis=-1, keepdims=True)
        inv_std = 1.0 / np.sqrt(var + self.eps)
        xhat = centered * inv_std
        self._xhat, self._inv_std = xhat, inv_std
        return xhat * model_view(self.gamma.value, x.ndim) + model_view(self.beta.value, x.ndim)

    def backward(self, dy):
        xhat, inv_std = self._xhat, self._inv_std
        M, C = self.gamma.value.shape
        self.gamma.grad = (dy * xhat).reshape(M, -1, C).sum(axis=1)
        self.beta.grad = dy.reshape(M, -1, C).sum(axis=1)
        if not self.need_input_grad:
            return None
        g = dy * model_view(self.gamma.value, dy.ndim)
        return (g - g.mean(axis=-1, keepdims=True)
                - xhat * (g * xhat).mean(axis=-1, keepdims=True)) * inv_std

    def config(self):
        return {**super().config(), "eps": self.eps}
