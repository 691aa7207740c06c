"""Diagnostics recorded during training, as extra curves in the history.

``model.fit(..., callbacks=[DiagnosticsCallback(x_probe, every=1)])`` adds, at every ``every``-th
logged step, one curve per quantity to ``history.curves`` (each ``(M, T)`` on ``history.steps``,
NaN where not measured), so they plot like the loss:

* ``dead_units/<layer>``: dead ReLU units of that layer on ``x`` (:func:`dead_units`);
* ``grad_norm/<layer>``: the layer's gradient norm at that step (data loss plus penalties, the
  gradient the optimizer is about to use; :func:`layer_gradient_norms`);
* ``sparsity``: share of exactly-zero weights (:func:`sparsity`);
* ``saturated_units/<layer>`` with ``saturation=True`` (:func:`saturated_units`).

The probe forward pass runs in inference mode after the step's backward pass, so it changes no
gradient, no batch-norm statistic and no random stream: training is bit-for-bit the same with
or without this callback.
"""

from __future__ import annotations

import numpy as np

from ..callbacks import Callback
from ..errors import GlassnetError
from .gradients import layer_gradient_norms
from .health import dead_units, saturated_units
from .weights import sparsity


class DiagnosticsCallback(Callback):
    """Record unit health, gradient norms and sparsity into the history while training.

    Parameters
    ----------
    x : inputs to probe the units with (``(N, ...)`` or ``(M, N, ...)``), e.g. the training set.
    every : measure at every ``every``-th logged step (``fit(log_every=...)`` sets those steps).
    dead, gradients, sparsity, saturation : which curves to record.
    """

    def __init__(self, x, every: int = 1, *, dead: bool = True, gradients: bool = True,
                 sparsity: bool = True, saturation: bool = False):
        if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
            raise GlassnetError(f"DiagnosticsCallback every must be a positive integer, got {every!r}")
        self.x, self.every = x, int(every)
        self.dead, self.gradients, self.sparsity, self.saturation = dead, gradients, sparsity, saturation
        self._n = 0

    def on_train_begin(self, state):
        self._x = state.model.prepare_inputs(self.x, "DiagnosticsCallback x")
        self._n = 0

    def on_log(self, state, logs):
        self._n += 1
        if (self._n - 1) % self.every:
            return
        model, hist, step = state.model, state.history, state.step
        if self.dead:
            for name, mask in dead_units(model, self._x).items():
                hist.record_extra(step, f"dead_units/{name}", mask.sum(axis=1))
        if self.saturation:
            for name, mask in saturated_units(model, self._x).items():
                hist.record_extra(step, f"saturated_units/{name}", mask.sum(axis=1))
        if self.gradients:
            for name, norm in layer_gradient_norms(model).items():
                hist.record_extra(step, f"grad_norm/{name}", norm)
        if self.sparsity:
            hist.record_extra(step, "sparsity", sparsity(model))
