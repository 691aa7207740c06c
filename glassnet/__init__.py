"""glassnet: a glass-box neural-network lab on a vectorized NumPy engine.

>>> import glassnet as gn
>>> model = gn.Sequential([gn.Dense(3, activation="sigmoid"), gn.Dense(8, activation="sigmoid")],
...                       input_shape=(8,), init=gn.init.Normal(std=0.1), seed=0)
"""

from . import activations, backend, callbacks, fast, losses, metrics, optimizers, regularizers
from . import initializers
from . import initializers as init
from .backend import set_default_dtype
from .callbacks import (Callback, ConstantLR, CosineDecay, EarlyStopping, ExponentialDecay, LogEvery,
                        ModelCheckpoint, ReduceLROnPlateau, StepDecay)
from .diagnostics import gradcheck
from .errors import GlassnetError
from .training import History, Trainer
from .layers import (Activation, AveragePooling2D, AvgPool2D, BatchNorm, Conv2D, Dense, Dropout, Flatten,
                     GlobalAveragePooling2D, MaxPool2D, MaxPooling2D, PReLU)
from .layers import (GRU, LSTM, Conv1D, Embedding, LayerNorm, MultiHeadAttention, PositionalEmbedding,
                     SimpleRNN)
from .graph import Input, Model
from .layers.merge import Add, Concatenate, Multiply
from .model import Sequential
from .network import Network
from .optimizers import SGD, AdaGrad, Adam, AdamW, Momentum, Nesterov, RMSProp
from .regularizers import L1, L1L2, L2
from . import zoo  # noqa: E402 - builders for the seeds' models (after the layers and model)
from .notebook import study  # noqa: E402 - gn.study(name, quick=True); studies load on call

load_model = Network.load
__version__ = "0.1.0"

__all__ = [
    "Activation", "AdaGrad", "Adam", "AdamW", "Add", "AveragePooling2D", "AvgPool2D", "BatchNorm", "Callback",
    "Concatenate", "ConstantLR", "Conv1D", "Conv2D", "CosineDecay", "Dense", "Dropout", "EarlyStopping",
    "Embedding", "ExponentialDecay", "Flatten", "GRU", "GlassnetError", "GlobalAveragePooling2D", "History",
    "Input", "L1", "L1L2", "L2", "LSTM", "LayerNorm", "LogEvery", "MaxPool2D", "MaxPooling2D", "Model",
    "ModelCheckpoint", "Momentum", "MultiHeadAttention", "Multiply", "Nesterov", "Network", "PReLU",
    "PositionalEmbedding", "RMSProp", "ReduceLROnPlateau", "SGD", "Sequential", "SimpleRNN", "StepDecay",
    "Trainer", "activations", "backend", "callbacks", "fast", "gradcheck", "init", "initializers", "load_model",
    "losses", "metrics", "optimizers", "regularizers", "set_default_dtype", "zoo",
]
