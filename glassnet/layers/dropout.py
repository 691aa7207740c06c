"""Inverted dropout: active only in training, identity at inference."""

from __future__ import annotations

import numpy as np

from ..errors import GlassnetError
from .base import BuildContext, Layer, layer_types


@layer_types.register("dropout")
class Dropout(Layer):
    """Training: y = x * mask / (1 - rate), mask ~ Bernoulli(1 - rate) per element, drawn from each
    model's own noise stream; inference: y = x. dL/dx = dL/dy * mask / (1 - rate).
    (Srivastava et al. 2014, https://jmlr.org/papers/v15/srivastava14a.html)"""

    kind = "dropout"

    def __init__(self, rate: float = 0.5, name: str | None = None):
        super().__init__(name)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise GlassnetError(f"Dropout rate must be a number in [0, 1), got {rate!r}")
        self.rate = float(rate)
        self._scale_mask = None

    def build(self, input_shape, ctx: BuildContext):
        self._streams = ctx.streams
        return super().build(input_shape, ctx)

    def forward(self, x, train):
        if not train or self.rate == 0:
            self._scale_mask = None
            return x
        per_model_shape = x.shape[1:]
        keep = np.stack([s.noise.random(per_model_shape) >= self.rate for s in self._streams])
        self._scale_mask = keep.astype(x.dtype) * (1.0 / (1.0 - self.rate))
        return x * self._scale_mask

    def backward(self, dy):
        return dy if self._scale_mask is None else dy * self._scale_mask

    def config(self):
        return {**super().config(), "rate": self.rate}
