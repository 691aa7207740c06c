"""The training loop: batching, loss, backward, penalties, optimizer step, callbacks, history.

One loop serves one network and M networks alike: every array carries the model axis, losses and
metrics come back per model ``(M,)``, and a model that diverges is frozen with status
"diverged" while the rest of the ensemble trains on.
"""

from __future__ import annotations

import contextlib
import math
import time

import numpy as np

from . import losses as losses_mod
from . import optimizers as optim_mod
from .backend import per_model
from .batching import Batcher
from .callbacks import Callback
from .errors import GlassnetError
from .history import History
from .regularizers import L1, L2


_fit_observers: list = []


@contextlib.contextmanager
def observe_fits(observer):
    """Within the block, ``observer(model, history, args)`` runs after every ``fit``.

    ``args`` holds fit's settings as resolved (the Loss and Optimizer objects, epochs, steps,
    batch_size, weight_decay, l1, shuffle, log_every). Observers read, never change, what they
    get: the studies use this to record every network they train into the run store.
    """
    _fit_observers.append(observer)
    try:
        yield observer
    finally:
        _fit_observers.remove(observer)


class TrainState:
    """What callbacks see: the model, optimizer, counters and per-model status."""

    def __init__(self, model, optimizer, history: History, steps_per_epoch: int):
        self.model, self.optimizer, self.history = model, optimizer, history
        self.M = model.M
        self.step = 0
        self.epoch = 0
        self.steps_per_epoch = steps_per_epoch
        self.active = np.ones(self.M, dtype=bool)

    def stop_models(self, mask, status: str) -> None:
        """Stop training the models where ``mask`` is True (and still active), with ``status``."""
        mask = np.asarray(mask, bool) & self.active
        if not mask.any():
            return
        self.active &= ~mask
        self.optimizer.freeze(mask)
        for m in np.flatnonzero(mask):
            self.history.status[m] = status
            self.history.stopped_at[m] = self.step


def _penalty_terms(model, weight_decay, l1):
    """(param, regularizer) pairs: fit's global L2/L1 on weights plus per-layer regularizers."""
    terms = []
    wd = per_model(weight_decay, model.M, "weight_decay", dtype=model.dtype, low=0)
    l1v = per_model(l1, model.M, "l1", dtype=model.dtype, low=0)
    glob = []
    if np.any(wd != 0):
        glob.append(L2(wd))
    if np.any(l1v != 0):
        glob.append(L1(l1v))
    for p in model.param_list:
        if p.regularize:
            terms += [(p, r) for r in glob]
        if p.regularizer is not None:
            terms.append((p, p.regularizer))
    for _, r in terms:
        r.bind(model.M, model.dtype)
    return terms


def _metric_fns(metrics, loss):
    names = list(metrics) if metrics is not None else (["accuracy"] if loss.task != "regression" else [])
    for n in names:
        if n != "accuracy":
            raise GlassnetError(f"unknown metric {n!r}; valid metrics: accuracy")
    return names


def fit(model, x, y, *, loss="mse", optimizer=None, epochs=None, steps=None, batch_size=32,
        weight_decay=0.0, l1=0.0, shuffle=True, validation_data=None, metrics=None, callbacks=(),
        log_every=None, nan_guard=True, progress=None) -> History:
    """Train ``model`` on ``(x, y)`` and return a :class:`History`.

    Parameters
    ----------
    x : ``(N, *input_shape)`` shared by all models, or ``(M, N, *input_shape)`` per model.
    y : targets for ``loss``: ``(N, *output_shape)``, or integer labels ``(N,)`` for the
        cross-entropy losses; ``(M, N, ...)`` when ``x`` is per model.
    loss : a name from ``glassnet.losses.losses`` (``"half_sse"``, ``"mse"``,
        ``"softmax_cross_entropy"``, ...) or a Loss.
    optimizer : an Optimizer (``SGD(lr=[0.1, 0.5])`` for per-model rates) or a name; default
        ``SGD(lr=0.01)``.
    epochs, steps : train for this many passes over the data, or this many updates (give one;
        neither means one epoch).
    batch_size : samples per update; ``None`` or >= N means full batch. The last batch of an epoch
        may be smaller (nothing is dropped).
    weight_decay : L2 rate lambda (penalty lambda/2 sum W^2 on weights, biases excluded), a
        number or one per model. ``l1``: L1 rate, the same way.
    shuffle : reshuffle every epoch, per model, from each model's own data stream. Full-batch
        training never reorders (the mean gradient does not depend on the order).
    validation_data : ``(x_val, y_val)``, evaluated in inference mode at each logged step.
    metrics : list of metric names (``["accuracy"]``); default accuracy for classification losses.
    callbacks : Callback objects (schedules, EarlyStopping, LogEvery, diagnostics).
    log_every : record the history every this many steps (and always at the first and last step).
        Default: once per epoch, but at most ~1000 points per curve.
    nan_guard : stop a model whose loss or parameters become NaN/inf with status "diverged".
    progress : show a progress bar; ``None`` = only on a terminal and for long runs.

    The recorded ``loss`` is the objective being minimised: the data loss of the batch of that step
    (before its update) plus the penalty; ``data_loss`` and ``penalty`` are recorded separately.
    """
    loss = losses_mod.get(loss)
    optimizer = optim_mod.SGD(0.01) if optimizer is None else optim_mod.get(optimizer)
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise GlassnetError(f"callbacks must be glassnet Callback objects, got {cb!r}")
    x = model.prepare_inputs(x)
    per_model_data = x.ndim == len(model.input_shape) + 2
    y = loss.prepare_targets(y, model.output_shape)
    y = y.astype(model.dtype, copy=False) if np.issubdtype(y.dtype, np.floating) else y
    n = x.shape[1] if per_model_data else x.shape[0]
    _check_lengths(x, y, n, per_model_data, model.M)
    if np.issubdtype(y.dtype, np.floating) and not np.all(np.isfinite(y)):
        raise GlassnetError("y contains NaN or infinite values")
    if batch_size is None:
        batch_size = n
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise GlassnetError(f"batch_size must be a positive integer or None (full batch), got {batch_size!r}")
    batch_size = min(int(batch_size), n)
    steps_per_epoch = math.ceil(n / batch_size)
    total_steps = _total_steps(epochs, steps, steps_per_epoch)
    if log_every is None:
        log_every = steps_per_epoch * max(1, math.ceil(total_steps / steps_per_epoch / 1000))
        log_every = min(log_every, max(1, total_steps // 2)) if total_steps > 1 else 1
    if isinstance(log_every, bool) or not isinstance(log_every, (int, np.integer)) or log_every < 1:
        raise GlassnetError(f"log_every must be a positive integer, got {log_every!r}")

    val = None
    if validation_data is not None:
        if not (isinstance(validation_data, (tuple, list)) and len(validation_data) == 2):
            raise GlassnetError("validation_data must be a tuple (x_val, y_val)")
        xv = model.prepare_inputs(validation_data[0], "validation x")
        yv = loss.prepare_targets(validation_data[1], model.output_shape)
        if np.issubdtype(yv.dtype, np.floating) and not np.all(np.isfinite(yv)):
            raise GlassnetError("validation y contains NaN or infinite values")
        val = (xv, yv.astype(model.dtype, copy=False) if np.issubdtype(yv.dtype, np.floating) else yv)

    optimizer.bind(model.param_list, model.M, model.dtype)
    terms = _penalty_terms(model, weight_decay, l1)
    metric_names = _metric_fns(metrics, loss)
    batcher = Batcher(x, y, batch_size, shuffle, model.streams, per_model_data)
    history = History(model.M, single=not model.ensemble)
    state = TrainState(model, optimizer, history, steps_per_epoch)
    model.history = history
    bar = _progress_bar(progress, total_steps, model.M)
    bar_every = max(1, total_steps // 200)
    t0 = time.perf_counter()

    for cb in callbacks:
        cb.on_train_begin(state)
    forward, backward, opt_step = model.forward, model.backward, optimizer.step
    step_callbacks = [cb for cb in callbacks if type(cb).on_step_begin is not Callback.on_step_begin]
    with np.errstate(all="ignore"):  # overflow in a diverging model is caught by the guard
        for step in range(total_steps):
            state.step = step
            state.epoch = step // steps_per_epoch
            for cb in step_callbacks:
                cb.on_step_begin(state)
            xb, yb = batcher.next()
            pred = forward(xb, True)
            log_now = step % log_every == 0 or step == total_steps - 1
            if log_now:
                data_loss, grad = loss.value_and_grad(pred, yb)
            else:
                grad = loss.grad(pred, yb)
            backward(grad)
            for p, reg in terms:
                p.grad = p.grad + reg.grad(p.value)
            if log_now:
                logs = _logs(model, loss, pred, yb, data_loss, terms, metric_names, val)
                if nan_guard:
                    bad = ~np.isfinite(logs["loss"]) & state.active
                    if bad.any():
                        state.stop_models(bad, "diverged")
                history.record(step, logs, state.active)
                for cb in callbacks:
                    cb.on_log(state, logs)
                if not state.active.any():
                    break
            opt_step()
            if (step + 1) % steps_per_epoch == 0:
                for cb in callbacks:
                    cb.on_epoch_end(state)
            if bar is not None and (step + 1) % bar_every == 0:
                bar.update(bar_every)
    state.step = min(total_steps, state.step + 1)
    if nan_guard:
        _final_guard(model, state)
    history.finish(steps_done=state.step, seconds=time.perf_counter() - t0)
    for cb in callbacks:
        cb.on_train_end(state)
    if bar is not None:
        bar.close()
    if _fit_observers:
        args = {"loss": loss, "optimizer": optimizer, "epochs": epochs, "steps": steps,
                "batch_size": batch_size, "weight_decay": weight_decay, "l1": l1, "shuffle": shuffle,
                "log_every": log_every}
        for observer in list(_fit_observers):
            observer(model, history, args)
    return history


def _check_lengths(x, y, n, per_model_data, M):
    ny = y.shape[1] if (per_model_data and y.ndim >= 2 and y.shape[0] == M and y.shape[1] == n) else y.shape[0]
    if ny != n:
        raise GlassnetError(f"x has {n} samples but y has {ny}; they must match")


def _total_steps(epochs, steps, steps_per_epoch) -> int:
    if epochs is not None and steps is not None:
        raise GlassnetError("give epochs or steps, not both")
    if steps is not None:
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
            raise GlassnetError(f"steps must be a positive integer, got {steps!r}")
        return int(steps)
    epochs = 1 if epochs is None else epochs
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise GlassnetError(f"epochs must be a positive integer, got {epochs!r}")
    return int(epochs) * steps_per_epoch


def _logs(model, loss, pred, yb, data_loss, terms, metric_names, val) -> dict:
    penalty = np.zeros(model.M)
    for p, reg in terms:
        penalty = penalty + reg.penalty(p.value)
    logs = {"loss": data_loss + penalty, "data_loss": data_loss, "penalty": penalty}
    if "accuracy" in metric_names:
        logs["accuracy"] = losses_mod.accuracy(pred, yb, loss)
    if val is not None:
        pv = model.forward(val[0], False)
        logs["val_loss"] = loss.value(pv, val[1])
        if "accuracy" in metric_names:
            logs["val_accuracy"] = losses_mod.accuracy(pv, val[1], loss)
    return logs


def _final_guard(model, state) -> None:
    """A model whose parameters went non-finite after the last logged step is still diverged."""
    bad = np.zeros(model.M, bool)
    for p in model.param_list:
        bad |= ~np.isfinite(p.value.reshape(model.M, -1)).all(axis=1)
    state.stop_models(bad & state.active, "diverged")


def _progress_bar(progress, total_steps, M):
    if progress is False:
        return None
    if progress is None and total_steps * M < 20_000:
        return None
    from tqdm.auto import tqdm  # noqa: PLC0415 - only when shown

    return tqdm(total=total_steps, unit="step", desc=f"training {M} model{'s' if M > 1 else ''}",
                disable=None if progress is None else False, leave=False)


def evaluate(model, x, y, loss, metrics=None) -> dict:
    """Data loss and metrics in inference mode: floats for one network, ``(M,)`` arrays otherwise."""
    loss = losses_mod.get(loss)
    x = model.prepare_inputs(x)
    y = loss.prepare_targets(y, model.output_shape)
    y = y.astype(model.dtype, copy=False) if np.issubdtype(y.dtype, np.floating) else y
    pred = model.forward(x, False)
    out = {"loss": loss.value(pred, y)}
    names = _metric_fns(metrics, loss)
    if "accuracy" in names:
        out["accuracy"] = losses_mod.accuracy(pred, y, loss)
    if not model.ensemble:
        out = {k: float(v[0]) for k, v in out.items()}
    return out
