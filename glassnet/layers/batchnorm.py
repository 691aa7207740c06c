"""Batch normalization over the last (feature/channel) axis, for dense and image inputs."""

from __future__ import annotations

import numpy as np

from ..errors import GlassnetError
from .base import BuildContext, Layer, layer_types, model_view


@layer_types.register("batchnorm", "batch_norm", "batch_normalization")
class BatchNorm(Layer):
    """y = gamma * (x - mu) / sqrt(var + eps) + beta, per feature (the last axis).

    Training: mu and var (biased) over every axis but the model axis and the last one (the batch
    for dense inputs ``(M, B, F)``; batch, height and width for channels-last images
    ``(M, B, H, W, C)``), and running averages updated PyTorch's way:
    ``running = (1 - momentum) * running + momentum * batch`` with the unbiased variance stored.
    Inference: the running averages, an affine map (dL/dx = dy*gamma/sqrt(running_var + eps)).
    (Ioffe & Szegedy 2015, https://arxiv.org/abs/1502.03167)

    Backward with xhat = (x - mu)/sigma, g = dL/dxhat = dy*gamma, N values per feature:
    dL/dx = (g - mean(g) - xhat*mean(g*xhat)) / sigma; dL/dgamma = sum(dy*xhat); dL/dbeta = sum(dy).
    """

    kind = "batchnorm"

    def __init__(self, momentum: float = 0.1, eps: float = 1e-5, name: str | None = None):
        super().__init__(name)
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not 0 <= momentum <= 1:
            raise GlassnetError(f"BatchNorm momentum must be in [0, 1], got {momentum!r}")
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not eps > 0:
            raise GlassnetError(f"BatchNorm eps must be > 0, got {eps!r}")
        self.momentum, self.eps = float(momentum), float(eps)

    def build(self, input_shape, ctx: BuildContext):
        super().build(input_shape, ctx)
        C = input_shape[-1]
        self.gamma = self.add_param("gamma", np.ones((ctx.M, C), ctx.dtype), regularize=False)
        self.beta = self.add_param("beta", np.zeros((ctx.M, C), ctx.dtype), regularize=False)
        self.buffers["running_mean"] = np.zeros((ctx.M, C), ctx.dtype)
        self.buffers["running_var"] = np.ones((ctx.M, C), ctx.dtype)
        return self.output_shape

    def _axes(self, x):
        return tuple(range(1, x.ndim - 1))

    def forward(self, x, train):
        axes = self._axes(x)
        gamma = model_view(self.gamma.value, x.ndim)
        beta = model_view(self.beta.value, x.ndim)
        if not train:
            inv_std = 1.0 / np.sqrt(model_view(self.buffers["running_var"], x.ndim) + self.eps)
            xhat = (x - model_view(self.buffers["running_mean"], x.ndim)) * inv_std
            self._cache = (xhat, inv_std, axes, False)
            return xhat * gamma + beta
        n = int(np.prod([x.shape[a] for a in axes]))
        if n < 2:
            raise GlassnetError("BatchNorm needs at least 2 values per feature in a training batch")
        mean = x.mean(axis=axes, keepdims=True)
        centered = x - mean
        var = (centered * centered).mean(axis=axes, keepdims=True)
        inv_std = 1.0 / np.sqrt(var + self.eps)
        xhat = centered * inv_std
        self._cache = (xhat, inv_std, axes, True)
        m = self.momentum
        rm, rv = self.buffers["running_mean"], self.buffers["running_var"]
        rm *= 1 - m
        rm += m * mean.reshape(rm.shape)
        rv *= 1 - m
        rv += m * var.reshape(rv.shape) * (n / (n - 1))
        return xhat * gamma + beta

    def backward(self, dy):
        xhat, inv_std, axes, train = self._cache
        M, C = self.gamma.value.shape
        self.gamma.grad = (dy * xhat).sum(axis=axes).reshape(M, C)
        self.beta.grad = dy.sum(axis=axes).reshape(M, C)
        g = dy * model_view(self.gamma.value, dy.ndim)
        if not train:  # running statistics are constants: the layer is affine in x
            return g * inv_std
        return (g - g.mean(axis=axes, keepdims=True)
                - xhat * (g * xhat).mean(axis=axes, keepdims=True)) * inv_std

    def config(self):
        return {**super().config(), "momentum": self.momentum, "eps": self.eps}
