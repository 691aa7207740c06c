"""Training callbacks: history-side hooks for schedules, early stopping, NaN guards and logging.

A callback gets the :class:`~glassnet.training.TrainState` at each hook. Hooks:
``on_train_begin``, ``on_step_begin`` (before each update), ``on_log`` (at each logged step,
with that step's per-model metrics), ``on_epoch_end``, ``on_train_end``.
"""

from __future__ import annotations

import math
import sys

import numpy as np

from .errors import GlassnetError


class Callback:
    """Base class of training callbacks: override the hooks you need. Each gets the Trainer's
    :class:`~glassnet.training.TrainState` (``state.step``, ``state.model``, ``state.optimizer``,
    per-model ``state.active``, ``state.stop_models(mask, status)``, ``state.stop_training``)."""

    def on_train_begin(self, state) -> None: ...
    def on_step_begin(self, state) -> None: ...
    def on_log(self, state, logs: dict) -> None: ...
    def on_epoch_end(self, state) -> None: ...
    def on_train_end(self, state) -> None: ...


# -- learning-rate schedules ------------------------------------------------------------------

class LearningRateSchedule(Callback):
    """Sets ``lr = base_lr * factor(t)`` before each step, with ``t`` counted in steps or epochs
    (``unit``). Per-model base rates are kept, so a swept lr stays swept."""

    def __init__(self, unit: str = "step"):
        if unit not in ("step", "epoch"):
            raise GlassnetError(f"schedule unit must be 'step' or 'epoch', got {unit!r}")
        self.unit = unit

    def factor(self, t: int) -> float:
        raise NotImplementedError

    def on_step_begin(self, state):
        t = state.step if self.unit == "step" else state.epoch
        state.optimizer.set_lr(state.optimizer.base_lr * self.factor(t))


class ConstantLR(LearningRateSchedule):
    """lr(t) = lr0."""

    def factor(self, t):
        return 1.0


class StepDecay(LearningRateSchedule):
    """lr(t) = lr0 * gamma^floor(t / step_size)  (PyTorch ``StepLR``)."""

    def __init__(self, step_size: int, gamma: float = 0.1, unit: str = "step"):
        super().__init__(unit)
        if not isinstance(step_size, int) or step_size < 1:
            raise GlassnetError(f"StepDecay step_size must be an integer >= 1, got {step_size!r}")
        if not 0 < gamma <= 1:
            raise GlassnetError(f"StepDecay gamma must be in (0, 1], got {gamma!r}")
        self.step_size, self.gamma = step_size, gamma

    def factor(self, t):
        return self.gamma ** (t // self.step_size)


class ExponentialDecay(LearningRateSchedule):
    """lr(t) = lr0 * gamma^t  (PyTorch ``ExponentialLR``)."""

    def __init__(self, gamma: float, unit: str = "step"):
        super().__init__(unit)
        if not 0 < gamma <= 1:
            raise GlassnetError(f"ExponentialDecay gamma must be in (0, 1], got {gamma!r}")
        self.gamma = gamma

    def factor(self, t):
        return self.gamma ** t


class CosineDecay(LearningRateSchedule):
    """lr(t) = min + (lr0 - min) * (1 + cos(pi * min(t, T)/T)) / 2 with min = lr0 * min_factor
    (PyTorch ``CosineAnnealingLR`` with eta_min proportional to lr0)."""

    def __init__(self, total: int, min_factor: float = 0.0, unit: str = "step"):
        super().__init__(unit)
        if not isinstance(total, int) or total < 1:
            raise GlassnetError(f"CosineDecay total must be an integer >= 1, got {total!r}")
        if not 0 <= min_factor <= 1:
            raise GlassnetError(f"CosineDecay min_factor must be in [0, 1], got {min_factor!r}")
        self.total, self.min_factor = total, min_factor

    def factor(self, t):
        c = (1 + math.cos(math.pi * min(t, self.total) / self.total)) / 2
        return self.min_factor + (1 - self.min_factor) * c


# -- stopping ---------------------------------------------------------------------------------

class _Monitor(Callback):
    """Follows ``monitor`` per model at every logged step: ``best`` value so far, ``wait`` (logged
    evaluations since the last improvement by more than ``min_delta``), and optionally a copy of
    each model's parameters and buffers at its best (``keep_best``)."""

    def __init__(self, monitor: str, min_delta: float, mode: str, patience: int, keep_best: bool = False):
        name = type(self).__name__
        if mode not in ("min", "max"):
            raise GlassnetError(f"{name} mode must be 'min' or 'max', got {mode!r}", field="mode", value=mode)
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise GlassnetError(f"{name} patience must be an integer >= 0, got {patience!r}", field="patience",
                                value=patience)
        if isinstance(min_delta, bool) or not isinstance(min_delta, (int, float)) or not min_delta >= 0:
            raise GlassnetError(f"{name} min_delta must be a number >= 0, got {min_delta!r}", field="min_delta",
                                value=min_delta)
        self.monitor, self.min_delta, self.mode, self.patience = monitor, float(min_delta), mode, patience
        self.keep_best = keep_best

    def on_train_begin(self, state):
        self._sign = 1.0 if self.mode == "min" else -1.0
        self.best = np.full(state.M, np.inf)
        self.wait = np.zeros(state.M, dtype=int)
        self.best_step = np.full(state.M, -1)
        self.best_weights = None
        if self.keep_best:
            model = state.model
            self.best_weights = {id(a): a.copy() for a in _arrays(model)}

    def improved(self, state, logs) -> np.ndarray:
        """Update ``best``/``wait`` from this step's logs; the mask of models that improved."""
        if self.monitor not in logs:
            raise GlassnetError(f"{type(self).__name__} monitors {self.monitor!r}, but the logs have "
                                f"{sorted(logs)}; give validation_data (or validation_split) or monitor 'loss'", field="monitor",
                                value=self.monitor)
        value = self._sign * np.asarray(logs[self.monitor], dtype=float)
        better = (value < self.best - self.min_delta) & state.active
        self.best = np.where(better, value, self.best)
        self.wait = np.where(better, 0, self.wait + 1)
        self.best_step = np.where(better, state.step, self.best_step)
        if self.keep_best and better.any():
            for a in _arrays(state.model):
                self.best_weights[id(a)][better] = a[better]
        return better

    def restore(self, model, mask) -> None:
        """Put the best parameters back into the models where ``mask`` (and a best exists)."""
        mask = np.asarray(mask, bool) & (self.best_step >= 0)
        if self.best_weights is None or not mask.any():
            return
        for a in _arrays(model):
            a[mask] = self.best_weights[id(a)][mask]


def _arrays(model):
    """Every parameter value and buffer of ``model`` (each ``(M, ...)``)."""
    return [p.value for p in model.param_list] + [b for l in model.layers for b in l.buffers.values()]


class EarlyStopping(_Monitor):
    """Stop each model when ``monitor`` has not improved by more than ``min_delta`` for more than
    ``patience`` logged evaluations. Per model: the rest of an ensemble keeps training.

    ``restore_best_weights``: a model gets back its parameters (and batch-norm statistics) of its
    best logged step when it stops, and also when training ends without it stopping (so every
    model ends at its best; Keras restores only on stopping).
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 10, min_delta: float = 0.0, mode: str = "min",
                 restore_best_weights: bool = False):
        super().__init__(monitor, min_delta, mode, patience, keep_best=bool(restore_best_weights))
        self.restore_best_weights = bool(restore_best_weights)

    def on_log(self, state, logs):
        self.improved(state, logs)
        stop = (self.wait > self.patience) & state.active
        if self.restore_best_weights:
            self.restore(state.model, stop)
        state.stop_models(stop, "early_stopped")

    def on_train_end(self, state):
        if self.restore_best_weights:
            self.restore(state.model, state.active)


class ReduceLROnPlateau(_Monitor):
    """Multiply a model's learning rate by ``factor`` when ``monitor`` has not improved by more
    than ``min_delta`` for ``patience`` logged evaluations, then wait ``cooldown`` evaluations;
    never below ``min_lr``. Per model (Keras' rule, counted in logged evaluations rather than
    epochs): ``lr <- max(lr * factor, min_lr)``. The base rate is scaled, so a schedule running
    beside it keeps its shape."""

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10, min_delta: float = 1e-4,
                 cooldown: int = 0, min_lr: float = 0.0, mode: str = "min"):
        super().__init__(monitor, min_delta, mode, patience)
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 0 < factor < 1:
            raise GlassnetError(f"ReduceLROnPlateau factor must be in (0, 1), got {factor!r}", field="factor",
                                value=factor)
        if isinstance(cooldown, bool) or not isinstance(cooldown, int) or cooldown < 0:
            raise GlassnetError(f"ReduceLROnPlateau cooldown must be an integer >= 0, got {cooldown!r}",
                                field="cooldown", value=cooldown)
        if isinstance(min_lr, bool) or not isinstance(min_lr, (int, float)) or not min_lr >= 0:
            raise GlassnetError(f"ReduceLROnPlateau min_lr must be a number >= 0, got {min_lr!r}", field="min_lr",
                                value=min_lr)
        self.factor, self.cooldown, self.min_lr = float(factor), cooldown, float(min_lr)

    def on_train_begin(self, state):
        super().on_train_begin(state)
        self.cooling = np.zeros(state.M, dtype=int)
        self.reductions = np.zeros(state.M, dtype=int)

    def on_log(self, state, logs):
        self.improved(state, logs)
        cooling = self.cooling > 0
        self.cooling = np.maximum(self.cooling - 1, 0)
        self.wait = np.where(cooling, 0, self.wait)
        opt = state.optimizer
        reduce = (self.wait >= self.patience) & ~cooling & state.active & (opt.base_lr > self.min_lr)
        if reduce.any():
            opt.base_lr[...] = np.where(reduce, np.maximum(opt.base_lr * self.factor, self.min_lr), opt.base_lr)
            opt.set_lr(np.where(reduce, np.maximum(opt.lr * self.factor, self.min_lr), opt.lr))
            self.wait = np.where(reduce, 0, self.wait)
            self.cooling = np.where(reduce, self.cooldown, self.cooling)
            self.reductions += reduce


class ModelCheckpoint(_Monitor):
    """Keep each model's best parameters (by ``monitor``) and write them to ``filepath`` (a
    ``.npz`` model file, every model at its own best) whenever one improves. The file is written
    to a temporary name and renamed, so a crash never leaves half a file."""

    def __init__(self, filepath, monitor: str = "val_loss", mode: str = "min", min_delta: float = 0.0):
        super().__init__(monitor, min_delta, mode, patience=0, keep_best=True)
        from pathlib import Path  # noqa: PLC0415 - only here

        self.filepath = Path(filepath)
        if not self.filepath.parent.is_dir():
            raise GlassnetError(f"ModelCheckpoint folder {str(self.filepath.parent)!r} does not exist",
                                field="filepath", value=str(filepath))
        self.saves = 0

    def on_log(self, state, logs):
        if self.improved(state, logs).any():
            self.save(state.model)

    def save(self, model) -> None:
        current = [a.copy() for a in _arrays(model)]
        self.restore(model, np.ones(model.M, bool))
        try:
            model.save(self.filepath)
        finally:
            for a, c in zip(_arrays(model), current):
                a[...] = c
        self.saves += 1


class LogEvery(Callback):
    """Print one line of metrics every ``every`` logged steps (to stderr by default)."""

    def __init__(self, every: int = 1, stream=None):
        self.every, self.stream = every, stream or sys.stderr
        self._n = 0

    def on_log(self, state, logs):
        self._n += 1
        if (self._n - 1) % self.every:
            return
        parts = [f"step {state.step}"]
        for k, v in logs.items():
            v = np.asarray(v)
            parts.append(f"{k}={v.mean():.6g}" if v.size > 1 else f"{k}={float(v):.6g}")
        print("  ".join(parts), file=self.stream)

