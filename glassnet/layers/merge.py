"""Merge layers: several tensors in, one out (skip connections, branches, gating).

A merge layer's ``forward(xs, train)`` takes a list of arrays and ``backward(dy)`` returns a
list of gradients, one per input. Inputs may mix shared ``(B, ...)`` and per-model
``(M, B, ...)`` arrays (NumPy broadcasts them); they are parameterless.
"""

from __future__ import annotations

import numpy as np

from ..errors import GlassnetError
from .base import Layer, layer_types


class Merge(Layer):
    """Base class: ``n_inputs`` tensors of compatible shapes."""

    kind = "merge"
    merges = True
    accepts_shared_input = True

    def build(self, input_shapes, ctx):
        shapes = [tuple(s) for s in input_shapes]
        if len(shapes) < 2:
            raise GlassnetError(f"{type(self).__name__} needs at least two inputs, got {len(shapes)}")
        self.input_shape = shapes
        self.output_shape = self.compute_output_shape(shapes)
        return self.output_shape

    def compute_output_shape(self, shapes):
        if len({tuple(s) for s in shapes}) != 1:
            raise GlassnetError(f"{type(self).__name__} needs inputs of one shape, got {[tuple(s) for s in shapes]}")
        return tuple(shapes[0])


@layer_types.register("add")
class Add(Merge):
    """y = x_1 + x_2 + ... ;  dL/dx_i = dL/dy (the gradient reaches every branch unchanged: why a
    residual connection keeps gradients alive)."""

    kind = "add"

    def forward(self, xs, train):
        y = xs[0]
        for x in xs[1:]:
            y = y + x
        return y

    def backward(self, dy):
        return [dy] * len(self.input_shape)


@layer_types.register("multiply")
class Multiply(Merge):
    """y = x_1 * x_2 * ... (elementwise);  dL/dx_i = dL/dy * prod_{j != i} x_j."""

    kind = "multiply"

    def forward(self, xs, train):
        self._xs = list(xs)
        y = xs[0]
        for x in xs[1:]:
            y = y * x
        return y

    def backward(self, dy):
        grads = []
        for i in range(len(self._xs)):
            g = dy
            for j, x in enumerate(self._xs):
                if j != i:
                    g = g * x
            grads.append(g)
        return grads


@layer_types.register("concatenate", "concat")
class Concatenate(Merge):
    """y = [x_1, x_2, ...] along the last (feature) axis;  dL/dx_i = the slice of dL/dy that x_i
    filled."""

    kind = "concatenate"

    def compute_output_shape(self, shapes):
        heads = {tuple(s[:-1]) for s in shapes}
        if len(heads) != 1:
            raise GlassnetError(f"Concatenate needs inputs that differ only in the last axis, got "
                                f"{[tuple(s) for s in shapes]}")
        return tuple(shapes[0][:-1]) + (sum(s[-1] for s in shapes),)

    def forward(self, xs, train):
        M = max(x.shape[0] for x in xs if x.ndim == len(self.output_shape) + 2) \
            if any(x.ndim == len(self.output_shape) + 2 for x in xs) else None
        if M is not None:  # mixing shared and per-model inputs: give each the model axis
            xs = [x if x.ndim == len(self.output_shape) + 2 else np.broadcast_to(x, (M,) + x.shape) for x in xs]
        return np.concatenate(xs, axis=-1)

    def backward(self, dy):
        edges = np.cumsum([s[-1] for s in self.input_shape])[:-1]
        return np.split(dy, edges, axis=-1)
