"""Training: the one loop (:class:`Trainer`), its batching, penalties and history, and ``fit``."""

from .batching import Batcher
from .fit import evaluate, fit, total_steps
from .history import History
from .trainer import DEFAULT_BATCH_SIZE, FULL_BATCH, TrainState, Trainer, check_batch_size

__all__ = ["Batcher", "DEFAULT_BATCH_SIZE", "FULL_BATCH", "History", "TrainState", "Trainer", "check_batch_size",
           "evaluate", "fit", "total_steps"]
