"""The layer contract and the parameter record every other part of glassnet walks.

A layer is built once for an input shape (per sample, without the model and batch axes) and a
:class:`BuildContext` (number of models ``M``, dtype, per-model random streams, default
initializers). ``forward(x, train)`` maps ``(M, B, *in_shape)`` to ``(M, B, *out_shape)`` and keeps
what ``backward`` needs; ``backward(dy)`` sets each parameter's ``.grad`` and returns ``dx``.
Neither modifies its input. Layers that accept data shared by all models (``(B, *in_shape)``,
broadcast over the model axis) say so with ``accepts_shared_input``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import initializers as inits
from ..backend import ModelStreams
from ..errors import GlassnetError
from ..registry import Registry

layer_types: Registry[type["Layer"]] = Registry("layer")


class Param:
    """A named parameter: ``value`` of shape ``(M, ...)``, its gradient, and whether weight
    penalties apply (weights yes, biases/scales no)."""

    __slots__ = ("name", "value", "grad", "regularize", "regularizer")

    def __init__(self, name: str, value: np.ndarray, regularize: bool, regularizer=None):
        self.name = name
        self.value = value
        # a dry build's zero-stride placeholder gets a placeholder gradient: nothing allocated
        self.grad = np.zeros(value.shape, value.dtype) if value.flags.writeable else value
        self.regularize = regularize
        self.regularizer = regularizer

    @property
    def shape(self):
        return self.value.shape

    def __repr__(self):
        return f"Param({self.name!r}, shape={self.value.shape})"


@dataclass
class BuildContext:
    """What a layer needs to create its parameters for ``M`` models."""

    M: int
    dtype: np.dtype
    streams: list[ModelStreams]
    kernel_init: inits.Initializer | None = None
    bias_init: inits.Initializer | None = None
    extra: dict = field(default_factory=dict)
    #: shapes only: parameters are zero-stride placeholders, nothing is drawn or allocated (a
    #: model file's architecture is sized this way before its arrays are read)
    dry: bool = False

    def draw(self, init: inits.Initializer, shape: tuple, fan_in: int, fan_out: int) -> np.ndarray:
        """One draw per model, each from that model's own init stream, stacked to ``(M, *shape)``."""
        if self.dry:
            return np.broadcast_to(np.zeros((), self.dtype), (self.M,) + tuple(shape))
        return np.stack([init(shape, s.init, self.dtype, fan_in, fan_out) for s in self.streams])


class Layer:
    """Base class. Subclasses implement ``build``, ``forward``, ``backward`` and ``config``."""

    kind = "layer"
    accepts_shared_input = False

    def __init__(self, name: str | None = None):
        self.name = name
        self.params: dict[str, Param] = {}
        #: non-trainable arrays saved with the model (batch-norm running statistics)
        self.buffers: dict[str, np.ndarray] = {}
        self.input_shape: tuple | None = None
        self.output_shape: tuple | None = None
        #: the model turns this off for the first layer: nobody needs dL/dinput there
        self.need_input_grad = True

    # -- construction -------------------------------------------------------------------------
    def build(self, input_shape: tuple, ctx: BuildContext) -> tuple:
        self.input_shape = tuple(input_shape)
        self.output_shape = self.compute_output_shape(self.input_shape)
        return self.output_shape

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return input_shape

    def add_param(self, short_name: str, value: np.ndarray, regularize: bool, regularizer=None) -> Param:
        p = Param(f"{self.name}.{short_name}", value, regularize, regularizer)
        self.params[short_name] = p
        return p

    def __call__(self, inputs):
        """The functional API: ``Dense(8)(x)`` on a symbolic tensor (``gn.Input(...)`` or another
        layer's output) records the call and returns the output tensor (see :mod:`glassnet.graph`)."""
        from ..graph import call_layer  # noqa: PLC0415 - the graph module builds on the layers

        return call_layer(self, inputs)

    # -- computation --------------------------------------------------------------------------
    def forward(self, x, train: bool):
        raise NotImplementedError

    def backward(self, dy):
        raise NotImplementedError

    # -- description --------------------------------------------------------------------------
    def config(self) -> dict:
        """Everything needed to rebuild the layer (not its weights); JSON-serializable."""
        return {"type": self.kind, "name": self.name}

    def param_count(self) -> int:
        """Trainable parameters of ONE model."""
        return int(sum(np.prod(p.value.shape[1:]) for p in self.params.values()))

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k not in ("type", "name") and v is not None)
        return f"{type(self).__name__}({args})"


def check_int(value, name: str, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise GlassnetError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def model_view(values: np.ndarray, ndim: int) -> np.ndarray:
    """``(M, C)`` per-channel values viewed as ``(M, 1, ..., 1, C)`` for an ``ndim`` activation."""
    return values.reshape(values.shape[:1] + (1,) * (ndim - 2) + values.shape[-1:])
