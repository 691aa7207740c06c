"""Flatten every per-sample axis into one feature axis."""

from __future__ import annotations

import math

from .base import Layer, layer_types


@layer_types.register("flatten")
class Flatten(Layer):
    """``(M, B, d1, d2, ...)`` -> ``(M, B, d1*d2*...)``; shared ``(B, d1, ...)`` -> ``(B, d1*...)``.
    Row-major (C) order, so channels-last images flatten as (h, w, c)."""

    kind = "flatten"
    accepts_shared_input = True

    def compute_output_shape(self, input_shape):
        return (math.prod(input_shape),)

    def forward(self, x, train):
        self._in_shape = x.shape
        lead = x.ndim - len(self.input_shape)
        return x.reshape(x.shape[:lead] + (-1,))

    def backward(self, dy):
        # dy may carry a model axis the input did not have (shared data into an ensemble)
        return dy.reshape(dy.shape[:-1] + tuple(self.input_shape))
