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

class EarlyStopping(Callback):
    """Stop each model when ``monitor`` has not improved by ``min_delta`` for ``patience``
    logged evaluations. Per model: the rest of an ensemble keeps training."""

    def __init__(self, monitor: str = "val_loss", patience: int = 10, min_delta: float = 0.0, mode: str = "min"):
        if mode not in ("min", "max"):
            raise GlassnetError(f"EarlyStopping mode must be 'min' or 'max', got {mode!r}")
        if not isinstance(patience, int) or patience < 0:
            raise GlassnetError(f"EarlyStopping patience must be an integer >= 0, got {patience!r}")
        self.monitor, self.patience, self.min_delta, self.mode = monitor, patience, float(min_delta), mode

    def on_train_begin(self, state):
        sign = 1.0 if self.mode == "min" else -1.0
        self._sign = sign
        self.best = np.full(state.M, np.inf)
        self.wait = np.zeros(state.M, dtype=int)

    def on_log(self, state, logs):
        if self.monitor not in logs:
            raise GlassnetError(f"EarlyStopping monitors {self.monitor!r}, but the logs have "
                                f"{sorted(logs)}; give validation_data or monitor 'loss'")
        value = self._sign * np.asarray(logs[self.monitor], dtype=float)
        improved = value < self.best - self.min_delta
        self.best = np.where(improved, value, self.best)
        self.wait = np.where(improved, 0, self.wait + 1)
        state.stop_models(self.wait > self.patience, "early_stopped")


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

