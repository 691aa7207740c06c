"""Inverted dropout: active only in training, identity at inference."""

from __future__ import annotations

import numpy as np

from ..backend import per_model
from ..errors import GlassnetError
from .base import BuildContext, Layer, layer_types


@layer_types.register("dropout")
class Dropout(Layer):
    """Training: y = x * mask / (1 - rate), mask ~ Bernoulli(1 - rate) per element, drawn from each
    model's own noise stream; inference: y = x. dL/dx = dL/dy * mask / (1 - rate).
    (Srivastava et al. 2014, https://jmlr.org/papers/v15/srivastava14a.html)

    ``rate`` is a number, or one number per model of an ensemble (a dropout sweep, or PBT
    perturbing it: ``layer.rates`` is the ``(M,)`` array, changed in place between steps).
    """

    kind = "dropout"

    def __init__(self, rate: float = 0.5, name: str | None = None):
        super().__init__(name)
        values = rate if isinstance(rate, (list, tuple)) else [rate]
        if not values or any(isinstance(r, bool) or not isinstance(r, (int, float)) or not 0 <= r < 1 for r in values):
            raise GlassnetError(f"Dropout rate must be a number in [0, 1) or a list of them (one per model), "
                                f"got {rate!r}", field="rate", value=rate)
        self.rate = [float(r) for r in rate] if isinstance(rate, (list, tuple)) else float(rate)
        self.rates = None
        self._scale_mask = None

    def build(self, input_shape, ctx: BuildContext):
        self._streams = ctx.streams
        self.rates = per_model(self.rate, ctx.M, "Dropout rate", low=0)
        return super().build(input_shape, ctx)

    def forward(self, x, train):
        rates = self.rates
        if not train or not rates.any():
            self._scale_mask = None
            return x
        per_model_shape = x.shape[1:]
        if rates.min() == rates.max():  # one rate: the scale is a scalar (the same numbers as ever)
            r = float(rates[0])
            keep = np.stack([s.noise.random(per_model_shape) >= r for s in self._streams])
            self._scale_mask = keep.astype(x.dtype) * (1.0 / (1.0 - r))
        else:
            keep = np.stack([s.noise.random(per_model_shape) >= r for s, r in zip(self._streams, rates)])
            scale = (1.0 / (1.0 - rates)).astype(x.dtype).reshape((-1,) + (1,) * len(per_model_shape))
            self._scale_mask = keep.astype(x.dtype) * scale
        return x * self._scale_mask

    def backward(self, dy):
        return dy if self._scale_mask is None else dy * self._scale_mask

    def config(self):
        """The rate now: one number while every model has the same, else one per model."""
        if self.rates is None:
            return {**super().config(), "rate": self.rate}
        same = self.rates.min() == self.rates.max()
        return {**super().config(), "rate": float(self.rates[0]) if same else self.rates.tolist()}
