"""The session's parts of the Trainer: callbacks for the frame budget, the curve, the NaN guard
and the stop rules.

The session trains with ``trainer.run(...)``; at the end of every epoch the Trainer calls, in
this order, :class:`EpochCurve` (one point of the page's curve, evaluated in inference mode),
:class:`WeightGuard` (the NaN guard) and :class:`StopRules` (the page's stop conditions). The
guard and the stop rules end the run with ``state.stop_training``; the session then pauses and
tells the page why. :class:`Deadline` ends a run when the frame's time is up (the next run goes
on from the same step).
"""

from __future__ import annotations

import math
import time

import numpy as np

from ..callbacks import Callback


class Deadline(Callback):
    """End the run once ``at`` (a ``time.perf_counter()`` value) has passed; the step under way
    is finished first."""

    def __init__(self):
        self.at = math.inf

    def on_step_begin(self, state):
        if time.perf_counter() > self.at:
            state.stop_training = True


class EpochCurve(Callback):
    """Count the epoch and evaluate train and test loss (and accuracy) in inference mode: one
    point of the page's curve (``session.last``, queued in ``session.pending``)."""

    def __init__(self, session):
        self.session = session

    def on_epoch_end(self, state):
        s = self.session
        s.epoch += 1
        s.last = s.evaluate()
        s.pending.append(s.last)


class WeightGuard(Callback):
    """The NaN guard: after an epoch whose training loss is not finite, or that left a parameter
    non-finite or beyond ``limit`` (``trainer.check_parameters``), the model stops as "diverged"
    and the run ends. ``tripped`` says it happened (the session explains and restores)."""

    def __init__(self, session, limit: float):
        self.session, self.limit = session, limit
        self.tripped = False

    def on_epoch_end(self, state):
        bad = state.trainer.check_parameters(self.limit)
        loss = self.session.last[1]
        if not bad.any() and (loss is None or math.isfinite(loss)):
            return
        state.stop_models(np.ones(state.M, bool), "diverged")  # the loss alone: stop it too
        state.stop_training = True
        self.tripped = True


class StopRules(Callback):
    """The page's stop conditions: pause at epoch ``stopEpochs``, or once the test loss is below
    ``stopLoss`` (0: never). ``reason`` says which held (the session reports it)."""

    def __init__(self, session):
        self.session = session
        self.reason: str | None = None

    def on_epoch_end(self, state):
        s = self.session
        if not state.active.all():
            return  # diverged: the guard speaks
        settings, epoch, test = s.settings, s.epoch, s.last[2]
        if settings["stopEpochs"] and epoch >= settings["stopEpochs"]:
            self.reason = f"reached the stop condition: epoch {epoch:,}"
        elif settings["stopLoss"] and test is not None and test < settings["stopLoss"]:
            self.reason = (f"reached the stop condition: test loss {test:.4f} < {settings['stopLoss']:g} "
                           f"at epoch {epoch:,}")
        if self.reason is not None:
            state.stop_training = True
