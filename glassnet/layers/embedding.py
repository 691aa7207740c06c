"""Lookup tables: token embeddings and learned position embeddings."""

from __future__ import annotations

import numpy as np

from .. import initializers as inits
from .. import regularizers as regs
from ..errors import GlassnetError
from .base import BuildContext, Layer, check_int, layer_types


@layer_types.register("embedding")
class Embedding(Layer):
    """y[m, b, ..., :] = E[m, x[m, b, ...], :]: row ``x`` of a learned table for every index.

    Shapes: integer indices x ``(M, B, *S)`` or shared ``(B, *S)`` (typically ``S = (T,)``, a
    sequence of token ids); table E ``(M, input_dim, output_dim)``; y ``(M, B, *S, output_dim)``.

    Backward: every position adds its dL/dy row into the table row it looked up,
    ``dL/dE[m, v] = sum over positions with x = v of dL/dy`` (``np.add.at``, which accumulates
    repeated indices). The indices have no gradient; the layer belongs first in a model (as a later
    layer it passes back zeros, the derivative of a piecewise-constant lookup).

    Indices may arrive as floats holding whole numbers (``Sequential`` casts its inputs to the
    model's dtype; float32 holds every integer up to 2**24 exactly); anything else, or an index
    outside ``[0, input_dim)``, is refused. The table starts as N(0, 1), PyTorch's default for
    ``nn.Embedding`` (not the model's ``init``: a lookup table has no fan-in); give
    ``embeddings_init`` to change it. It counts as a weight for ``weight_decay``.
    """

    kind = "embedding"
    accepts_shared_input = True

    def __init__(self, input_dim: int, output_dim: int, embeddings_init=None, embeddings_regularizer=None,
                 name: str | None = None):
        super().__init__(name)
        self.input_dim = check_int(input_dim, "Embedding input_dim")
        self.output_dim = check_int(output_dim, "Embedding output_dim")
        self.embeddings_init = None if embeddings_init is None else inits.get(embeddings_init)
        self.embeddings_regularizer = regs.get(embeddings_regularizer)
        self._idx = None

    def build(self, input_shape, ctx: BuildContext):
        if len(input_shape) < 1:
            raise GlassnetError("Embedding needs per-sample index arrays, e.g. input_shape=(T,)")
        super().build(input_shape, ctx)
        init = self.embeddings_init or inits.Normal(std=1.0)
        self.E = self.add_param("E", ctx.draw(init, (self.input_dim, self.output_dim), self.input_dim,
                                              self.output_dim), regularize=True,
                                regularizer=self.embeddings_regularizer)
        return self.output_shape

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def indices(self, x) -> np.ndarray:
        """``x`` as an int array, checked: whole numbers in ``[0, input_dim)``."""
        x = np.asarray(x)
        if np.issubdtype(x.dtype, np.integer):
            idx = x
        elif np.issubdtype(x.dtype, np.floating):
            if not np.all(np.isfinite(x)) or np.any(x != np.round(x)):
                bad = x[~np.isfinite(x) | (x != np.round(x))].flat[0]
                raise GlassnetError(f"Embedding inputs must be integer indices (token ids), got the value {bad!r}; "
                                    "floats are accepted only when they hold whole numbers")
            idx = x.astype(np.int64)
        else:
            raise GlassnetError(f"Embedding inputs must be integer indices, got dtype {x.dtype}")
        if idx.size and (idx.min() < 0 or idx.max() >= self.input_dim):
            bad = idx.min() if idx.min() < 0 else idx.max()
            raise GlassnetError(f"Embedding index {int(bad)} is outside [0, input_dim={self.input_dim})")
        return idx

    def forward(self, x, train):
        idx = self.indices(x)
        if idx.ndim == len(self.input_shape) + 1:  # shared by all models
            idx = idx[None]
        M = self.E.value.shape[0]
        model = np.arange(M).reshape((M,) + (1,) * (idx.ndim - 1))
        self._idx, self._x_shape = idx, np.shape(x)
        return self.E.value[model, idx]  # (M, B, *S, output_dim): E[m, idx[m, b, ...]]

    def backward(self, dy):
        M, V, D = self.E.value.shape
        idx = np.broadcast_to(self._idx, dy.shape[:-1])
        # flat row numbers m*V + index into the (M*V, D) table: one scatter-add for every model
        rows = (np.arange(M).reshape((M,) + (1,) * (idx.ndim - 1)) * V + idx).reshape(-1)
        grad = np.zeros((M * V, D), dy.dtype)
        np.add.at(grad, rows, dy.reshape(-1, D))
        self.E.grad = grad.reshape(M, V, D)
        if not self.need_input_grad:
            return None
        return np.zeros(dy.shape[:1] + tuple(self._x_shape[-len(self.input_shape) - 1:]), dy.dtype)

    def config(self):
        return {**super().config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
                "embeddings_regularizer": regs.config_of(self.embeddings_regularizer)}

    def __repr__(self):
        return f"Embedding({self.input_dim}, {self.output_dim})"


@layer_types.register("positional_embedding", "position_embedding")
class PositionalEmbedding(Layer):
    """y[m, b, t, :] = x[m, b, t, :] + P[m, t, :]: a learned vector per position added to a sequence.

    Shapes: x ``(M, B, T, dim)`` or shared ``(B, T, dim)`` with ``T <= max_len``; table P
    ``(M, max_len, dim)`` (rows ``T..max_len-1`` are unused for shorter sequences); y like x.
    ``dim`` may be left out and is then taken from the input.

    Backward: dL/dx = dL/dy; dL/dP[m, t] = sum over the batch of dL/dy[m, :, t] for t < T, 0 beyond.
    The table starts as N(0, 1) like an ``Embedding`` (GPT-2 style learned positions; give
    ``embeddings_init`` to change it); it is not weight-decayed, like a bias.
    """

    kind = "positional_embedding"
    accepts_shared_input = True

    def __init__(self, max_len: int, dim: int | None = None, embeddings_init=None, name: str | None = None):
        super().__init__(name)
        self.max_len = check_int(max_len, "PositionalEmbedding max_len")
        self.dim = None if dim is None else check_int(dim, "PositionalEmbedding dim")
        self.embeddings_init = None if embeddings_init is None else inits.get(embeddings_init)

    def build(self, input_shape, ctx: BuildContext):
        if len(input_shape) != 2:
            raise GlassnetError(f"PositionalEmbedding expects sequences (steps, dim), got per-sample shape "
                                f"{tuple(input_shape)}")
        T, D = input_shape
        if T > self.max_len:
            raise GlassnetError(f"PositionalEmbedding max_len={self.max_len} is shorter than the {T} input steps")
        if self.dim is not None and D != self.dim:
            raise GlassnetError(f"PositionalEmbedding dim={self.dim} does not match the input's {D} features")
        super().build(input_shape, ctx)
        init = self.embeddings_init or inits.Normal(std=1.0)
        self.P = self.add_param("P", ctx.draw(init, (self.max_len, D), self.max_len, D), regularize=False)
        return self.output_shape

    def forward(self, x, train):
        T = x.shape[-2]
        return x + self.P.value[:, None, :T, :]

    def backward(self, dy):
        T = dy.shape[-2]
        grad = np.zeros(self.P.value.shape, dy.dtype)
        grad[:, :T] = dy.sum(axis=1)
        self.P.grad = grad
        return dy if self.need_input_grad else None

    def config(self):
        return {**super().config(), "max_len": self.max_len, "dim": self.dim}
