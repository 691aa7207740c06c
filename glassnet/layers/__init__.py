"""Layers. Each is a small class with ``forward(x, train)`` and ``backward(dy)``; see ``base``."""

from .activation import Activation, PReLU
from .attention import MultiHeadAttention
from .base import BuildContext, Layer, Param, layer_types
from .batchnorm import BatchNorm
from .conv import Conv2D
from .conv1d import Conv1D
from .dense import Dense
from .dropout import Dropout
from .embedding import Embedding, PositionalEmbedding
from .flatten import Flatten
from .normalization import LayerNorm
from .pooling import (AveragePooling2D, AvgPool2D, GlobalAveragePooling2D, MaxPool2D,
                      MaxPooling2D)
from .recurrent import GRU, LSTM, Recurrent, SimpleRNN


def from_config(config: dict) -> Layer:
    """Rebuild a layer (unbuilt, without weights) from its ``config()``."""
    from ..errors import GlassnetError

    if not isinstance(config, dict) or "type" not in config:
        raise GlassnetError(f"a layer config must be a dict with a 'type' field, got {config!r}")
    config = dict(config)
    cls = layer_types.get(config.pop("type"))
    try:
        return cls(**config)
    except TypeError as exc:
        raise GlassnetError(f"layer {cls.kind!r}: bad fields in {sorted(config)}: {exc}") from exc


__all__ = ["Activation", "AveragePooling2D", "AvgPool2D", "BatchNorm", "BuildContext", "Conv1D", "Conv2D",
           "Dense", "Dropout", "Embedding", "Flatten", "GRU", "GlobalAveragePooling2D", "LSTM", "Layer",
           "LayerNorm", "MaxPool2D", "MaxPooling2D", "MultiHeadAttention", "PReLU", "Param",
           "PositionalEmbedding", "Recurrent", "SimpleRNN", "from_config", "layer_types"]
