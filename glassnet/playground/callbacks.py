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
        s.record()


class WeightGuard(Callback):
    """The NaN guard: after an epoch whose training loss is not finite, or that left a parameter
    non-finite or beyond ``limit`` (``trainer.check_parameters``), the model stops as "diverged".
    A single network ends the run (``tripped``: the session explains, restores and pauses); in
    an ensemble only the copies that diverged stop (``session.copies_diverged``) and the others
    train on, unless none is left."""

    def __init__(self, session, limit: float):
        self.session, self.limit = session, limit
        self.tripped = False

    def on_epoch_end(self, state):
        s = self.session
        active_before = state.active.copy()
        bad = state.trainer.check_parameters(self.limit)
        loss = s.last_all.train
        if loss is not None:
            bad = bad | (~np.isfinite(loss) & active_before)
        if not bad.any():
            return
        if s.M > 1 and (active_before & ~bad).any():
            s.copies_diverged(bad)
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
        if state.stop_training or not state.active.any():
            return  # diverged: the guard speaks
        settings, epoch = s.settings, s.epoch
        tests = s.last_all.test
        # an ensemble stops once every copy still training is below the loss
        test = None if tests is None else float(np.max(tests[state.active]))
        if settings["stopEpochs"] and epoch >= settings["stopEpochs"]:
            self.reason = f"reached the stop condition: epoch {epoch:,}"
        elif settings["stopLoss"] and test is not None and test < settings["stopLoss"]:
            which = "test loss" if s.M == 1 else "every copy's test loss"
            self.reason = (f"reached the stop condition: {which} {test:.4f} < {settings['stopLoss']:g} "
                           f"at epoch {epoch:,}")
        if self.reason is not None:
            state.stop_training = True


class StallHint(Callback):
    """A hint, once, when training has stalled far from a fit: the training loss has moved by
    less than ``TOLERANCE`` (relative) over the last ``WINDOW`` epochs while the training
    accuracy is below ``FIT``. The note says what the network looks like (a saturated tanh
    output or saturated hidden neurons pass almost no gradient) and what to try: a smaller
    learning rate when it is 1 or more (TF Playground's "classification at learning rate 10"
    sits at a loss of ~0.9 for ever), otherwise a larger one, another activation or Reset.
    Classification problems only (a regression that runs away meets the NaN guard instead)."""

    WINDOW = 30
    TOLERANCE = 0.01
    FIT = 0.9
    SATURATED = 0.99

    def __init__(self, session):
        self.session = session
        self.reset()

    def reset(self) -> None:
        """Forget the window (after a new network, a reset or a changed setting)."""
        self.losses: list[float] = []
        self.hinted = False

    def on_epoch_end(self, state):
        s = self.session
        _, loss, _, acc, _ = s.last
        if self.hinted or loss is None or acc is None or not math.isfinite(loss):
            return
        self.losses.append(loss)
        recent = self.losses[-self.WINDOW:]
        if len(recent) < self.WINDOW or acc >= self.FIT:
            return
        spread = max(recent) - min(recent)
        if spread > self.TOLERANCE * max(abs(min(recent)), 1e-12):
            return
        self.hinted = True
        s.notes.append(self.message(loss, acc))

    def message(self, loss: float, acc: float) -> str:
        from .frames import group_outputs  # noqa: PLC0415 - frames imports the engine's diagnostics

        s = self.session
        lr = s.focus_settings["learningRate"]
        hidden, out = group_outputs(s, s.xtr)
        m = s.focus
        hidden, out = [h[m] for h in hidden], out[m]
        text = (f"Training has stalled: the training loss has stayed at {loss:.3f} (training accuracy "
                f"{100 * acc:.0f}%) for the last {self.WINDOW} epochs at learning rate {lr:g}.")
        with np.errstate(invalid="ignore"):
            out_share = float(np.mean(np.abs(out) > self.SATURATED)) if s.settings["problem"] == "classification" else 0.0
            sat = [np.mean(np.abs(h) > self.SATURATED, axis=0) for h, g in zip(hidden, s.groups)
                   if g.activations[m] in ("tanh", "sigmoid", "hard_tanh")]
        n_sat = int(sum((share > 0.9).sum() for share in sat))
        n_units = int(sum(share.size for share in sat))
        if out_share >= 0.9:
            text += (f" The output neuron is saturated (|tanh| > {self.SATURATED} on {100 * out_share:.0f}% of the "
                     "training points): its slope there is ~0, so almost no gradient reaches the weights.")
        elif n_units and n_sat >= max(1, n_units // 2):
            text += (f" {n_sat} of {n_units} hidden neurons are saturated (at the flat ends of their activation on "
                     "most points), so they pass almost no gradient.")
        if lr >= 1:
            text += (" Steps this large throw the weights far past the minimum into the flat ends; lower the learning "
                     "rate (0.03 is a good start) and press Reset.")
        else:
            text += (" Try a larger learning rate, more neurons, another activation or input feature, or press Reset "
                     "for other initial weights.")
        return text
