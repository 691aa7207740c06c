"""The Trainer: glassnet's one training loop, stepwise.

Everything that trains a network drives a :class:`Trainer`: :func:`~glassnet.training.fit` is
``Trainer(...).run(total_steps)``; the experiment worker and the studies call ``fit``; the
playground session calls :meth:`Trainer.run` a few steps per frame; the glass-box tools read its
state between steps. One update of M networks side by side::

    x_b, y_b = batcher.next()                  # shared (b, ...) or per model (M, b, ...)
    pred     = model.forward(x_b, train=True)  # (M, b, *output_shape)
    dL/dpred = loss.grad(pred, y_b)            # of the batch mean, per model
    model.backward(dL/dpred)                   # fills every Param.grad
    p.grad  += penalty.grad(p.value)           # weight decay / L1 / per-layer regularizers
    logs     (at logged steps: loss + penalty, data_loss, penalty, metrics, validation)
    optimizer.step()                           # per-model hyperparameters, frozen models masked

Between steps, everything is inspectable: ``trainer.model``, ``trainer.optimizer`` (its state
keyed by parameter), ``trainer.history``, ``trainer.state`` (step, epoch, per-model ``active``
and ``status``). Per-model stopping (divergence, early stopping) freezes those models and lets the
rest of an ensemble go on; a callback may also end the current :meth:`run` call for everyone by
setting ``state.stop_training = True`` (the next :meth:`run` goes on from there).
"""

from __future__ import annotations

import math
import time

import numpy as np

from .. import fast
from .. import losses as losses_mod
from .. import metrics as metrics_mod
from .. import optimizers as optim_mod
from ..callbacks import Callback
from ..errors import GlassnetError
from .batching import Batcher
from .history import History
from .log_schedule import LOG_EPOCH, check_log_every, schedule
from .penalties import penalty_terms

#: samples per update when none is given (Keras' default too)
DEFAULT_BATCH_SIZE = 32
#: the one spelling of "every sample in every update", in Python and in configs
FULL_BATCH = "full"
#: the compiled-segment kernel's name in glassnet.fast (see glassnet.fast.loop)
FAST_LOOP = "loop"


class TrainState:
    """What callbacks see: the model, optimizer, history, counters and per-model status.

    ``step`` is the index of the update being made (0-based) and, after a :meth:`Trainer.run`,
    the number of updates done; ``epoch`` = ``step // steps_per_epoch``; ``active[m]`` is False
    once model ``m`` stopped, with its reason in ``history.status[m]``.
    """

    def __init__(self, model, optimizer, history: History, steps_per_epoch: int, trainer=None):
        self.model, self.optimizer, self.history = model, optimizer, history
        #: the Trainer itself (loss, batch size, penalties, data), for callbacks that record runs
        self.trainer = trainer
        self.M = model.M
        self.step = 0
        self.epoch = 0
        self.steps_per_epoch = steps_per_epoch
        #: epochs are counted from this step (a batch-size change starts a new epoch there)
        self.epoch_origin, self.epochs_before = 0, 0
        self.active = np.ones(self.M, dtype=bool)
        #: True once every model has stopped (kept as a flag: the loop reads it every step)
        self.all_stopped = False
        #: set by a callback to end the current ``run`` call after this step (Keras' name)
        self.stop_training = False

    @property
    def status(self) -> list[str]:
        return self.history.status

    def stop_models(self, mask, status: str) -> None:
        """Stop training the models where ``mask`` is True (and still active), with ``status``."""
        mask = np.asarray(mask, bool) & self.active
        if not mask.any():
            return
        self.active &= ~mask
        self.all_stopped = not self.active.any()
        self.optimizer.freeze(mask)
        for m in np.flatnonzero(mask):
            self.history.status[m] = status
            self.history.stopped_at[m] = self.step


def check_batch_size(batch_size, name: str = "batch_size"):
    """``batch_size`` as given if it is a positive integer or ``"full"``; a GlassnetError otherwise."""
    if batch_size == FULL_BATCH and isinstance(batch_size, str):
        return FULL_BATCH
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise GlassnetError(f"{name} must be a positive integer or {FULL_BATCH!r} (every sample in every update), "
                            f"got {batch_size!r}", field=name, value=batch_size)
    return int(batch_size)


def check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise GlassnetError(f"{name} must be a positive integer, got {value!r}", field=name, value=value)
    return int(value)


class Trainer:
    """Train ``model`` on ``(x, y)`` one step at a time.

    Parameters
    ----------
    model : a built (or buildable from ``x``) :class:`~glassnet.Sequential`.
    x : ``(N, *input_shape)`` shared by all models, or ``(M, N, *input_shape)`` per model.
    y : targets for ``loss``: ``(N, *output_shape)``, integer labels ``(N,)`` for the categorical
        losses; ``(M, N, ...)`` when ``x`` is per model.
    loss : a name from the ``glassnet.losses.losses`` registry, an options dict, or a Loss; for a
        model with several outputs one loss for all, a list in output order or a dict by output
        name, weighted by ``loss_weights`` (each output's own loss is logged as ``<output>_loss``).
    optimizer : an Optimizer, a name or an options dict; default ``SGD(lr=0.01)``. Binding the same
        optimizer to the same model again keeps its state (momentum, moments, step count).
    batch_size : samples per update, or ``"full"``. Larger than N means full batch. The last batch
        of an epoch may be smaller, unless ``drop_last`` (then it is skipped: batch norm needs two
        samples).
    weight_decay, l1 : L2 rate lambda (penalty lambda/2 sum W^2 on weights, biases excluded) and
        L1 rate, each a number or one per model.
    shuffle : reshuffle every epoch, per model, from each model's own data stream.
    validation_data : ``(x_val, y_val)``, evaluated in inference mode at each logged step.
    metrics : metric names or options dicts from ``glassnet.metrics.metrics``; default accuracy
        for classification losses.
    callbacks : :class:`~glassnet.callbacks.Callback` objects.
    log_every : record the history every this many steps, or ``"epoch"``, or at a list of step
        numbers (:mod:`~glassnet.training.log_schedule`); the first step of a :meth:`run` with
        ``log_first`` and its last step are always recorded.
    nan_guard : stop a model whose logged loss or final parameters are NaN/inf with status
        "diverged".
    sample_weight : ``(N,)`` non-negative weights, one per sample: the loss becomes
        ``1/b sum_i w_i l_i`` over a batch of b (Keras' convention: divided by the batch size, not
        by the sum of weights), its gradient scaled per sample the same way.
    class_weight : ``{class: weight}``; a sample's weight is its class's (1 for classes not
        given), multiplied into ``sample_weight`` (Keras' ``class_weight``).
    clip_value : clamp every gradient entry to ``[-clip_value, clip_value]`` (PyTorch's
        ``clip_grad_value_``).
    clip_norm : per model, scale the whole gradient (every parameter, penalties included) by
        ``min(1, clip_norm / (||g|| + 1e-6))`` (PyTorch's ``clip_grad_norm_``; Keras'
        ``global_clipnorm``). With both, values are clamped first.
    """

    def __init__(self, model, x, y, *, loss="mse", optimizer=None, batch_size=DEFAULT_BATCH_SIZE,
                 weight_decay=0.0, l1=0.0, shuffle: bool = True, drop_last: bool = False, validation_data=None,
                 metrics=None, callbacks=(), log_every=LOG_EPOCH, nan_guard: bool = True, sample_weight=None,
                 class_weight=None, clip_value=None, clip_norm=None, loss_weights=None):
        outputs = getattr(model, "outputs", None)
        if outputs is not None and len(outputs) > 1 or isinstance(loss, (list, dict)):
            names = [t.name for t in outputs] if outputs is not None else []
            self.loss = losses_mod.for_outputs(loss, loss_weights, names)
        else:
            self.loss = losses_mod.get(loss)
        self.optimizer = optim_mod.SGD(0.01) if optimizer is None else optim_mod.get(optimizer)
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise GlassnetError(f"callbacks must be glassnet Callback objects, got {cb!r}", field="callbacks",
                                    value=cb)
        self.model = model
        self.x, self.y, self.per_model_data = self._prepare(model, x, y)
        self.n = model.n_samples(self.x)
        if self.n == 0:
            raise GlassnetError("x has no samples; give at least one", field="x")
        self.shuffle, self.drop_last = bool(shuffle), bool(drop_last)
        self.val = self._validation(validation_data)
        self.metrics = metrics_mod.resolve(metrics, self.loss)
        if isinstance(self.loss, losses_mod.MultiLoss) and (self.metrics or sample_weight is not None
                                                             or class_weight is not None):
            raise GlassnetError("metrics and sample or class weights are not supported for a model with several "
                                "outputs yet; each output's loss is logged", field="metrics")
        self.nan_guard = bool(nan_guard)
        self._set_batching(check_batch_size(batch_size))
        self.log_every = log_every
        self.weights = sample_weights(self.y, self.n, sample_weight, class_weight, self.per_model_data, model.M)
        self.clip_value = _positive_or_none(clip_value, "clip_value")
        self.clip_norm = _positive_or_none(clip_norm, "clip_norm")

        self.optimizer.bind(model.param_list, model.M, model.dtype)
        self.set_penalties(weight_decay, l1)
        self.history = History(model.M, single=not model.ensemble)
        self.state = TrainState(model, self.optimizer, self.history, self.steps_per_epoch, trainer=self)
        model.history = self.history
        self.seconds = 0.0
        self._began = False

    # -- setup ----------------------------------------------------------------------------------
    def _prepare(self, model, x, y, what: str = "y", x_name: str = "x"):
        x = model.prepare_inputs(x, x_name)
        per_model_data = model.is_per_model(x)
        n = model.n_samples(x)
        y = self.loss.prepare_targets(y, model.output_shape)
        targets = y if isinstance(y, list) else [y]
        for i, t in enumerate(targets):
            if np.issubdtype(t.dtype, np.floating):
                targets[i] = t = t.astype(model.dtype, copy=False)
            ny = t.shape[1] if (per_model_data and t.ndim >= 2 and t.shape[0] == model.M and t.shape[1] == n) \
                else t.shape[0]
            if ny != n:
                raise GlassnetError(f"{x_name} has {n} samples but {what} has {ny}; they must match", field=what)
            if np.issubdtype(t.dtype, np.floating) and not np.all(np.isfinite(t)):
                raise GlassnetError(f"{what} contains NaN or infinite values", field=what)
        return x, (targets if isinstance(y, list) else targets[0]), per_model_data

    def _validation(self, validation_data):
        if validation_data is None:
            return None
        if not (isinstance(validation_data, tuple) and len(validation_data) == 2) and not (
                isinstance(validation_data, list) and len(validation_data) == 2):
            raise GlassnetError("validation_data must be a tuple (x_val, y_val)", field="validation_data")
        try:
            xv, yv, _ = self._prepare(self.model, validation_data[0], validation_data[1], "validation y",
                                      "validation x")
        except GlassnetError as exc:
            raise GlassnetError(f"validation_data: {exc}", field="validation_data") from None
        if self.model.n_samples(xv) == 0:
            raise GlassnetError("validation x has no samples", field="validation_data")
        return xv, yv

    def _set_batching(self, batch_size) -> None:
        b = self.n if batch_size == FULL_BATCH else min(batch_size, self.n)
        self.batch_size = batch_size
        self.batcher = Batcher(self.x, self.y, b, self.shuffle, self.model.streams, self.per_model_data,
                               drop_last=self.drop_last)
        self.steps_per_epoch = self.batcher.steps_per_epoch
        if getattr(self, "state", None) is not None:
            self.state.steps_per_epoch = self.steps_per_epoch

    def set_batch_size(self, batch_size) -> None:
        """Change the batch size between steps (the playground's live setting); the next step
        starts a new epoch (a partly done epoch counts as one)."""
        state = self.state
        done = state.step - state.epoch_origin
        state.epochs_before += done // self.steps_per_epoch + (1 if done % self.steps_per_epoch else 0)
        state.epoch_origin = state.step
        state.epoch = state.epochs_before
        self._set_batching(check_batch_size(batch_size))

    def set_penalties(self, weight_decay=0.0, l1=0.0) -> None:
        """Set the global L2 and L1 rates between steps (a number or one per model)."""
        self.weight_decay, self.l1 = weight_decay, l1
        self.terms = penalty_terms(self.model, weight_decay, l1)

    @property
    def log_every(self):
        """An int, ``"epoch"``, or the sorted step numbers to record (assigning checks the value)."""
        return self._log_every

    @log_every.setter
    def log_every(self, value) -> None:
        self._log_every = check_log_every(value)

    # -- stepping -------------------------------------------------------------------------------
    def step(self) -> dict | None:
        """Make one update; return that step's logs if it was logged."""
        return self.run(1)

    def run(self, steps: int, *, log_first: bool = True, log_last: bool = True, progress=None) -> dict | None:
        """Make up to ``steps`` updates (fewer if every model stops, or a callback sets
        ``state.stop_training``); return the logs of the last logged step (or None).

        ``log_first``/``log_last``: also record the history at this call's first and last step.
        ``progress``: a tqdm-like bar to ``update`` as steps are done.
        """
        steps = check_positive_int(steps, "steps")
        state, model, loss, batcher = self.state, self.model, self.loss, self.batcher
        callbacks = self.callbacks
        if not self._began:
            self._began = True
            for cb in callbacks:
                cb.on_train_begin(state)
        state.stop_training = False
        forward, backward, opt_step = model.forward, model.backward, self.optimizer.step
        step_callbacks = [cb for cb in callbacks if type(cb).on_step_begin is not Callback.on_step_begin]
        logged = schedule(self._log_every, self.steps_per_epoch)
        spe, origin = self.steps_per_epoch, state.epoch_origin
        weights, clipping = self.weights, self.clip_value is not None or self.clip_norm is not None
        bar_every = max(1, steps // 200)
        logs = None
        first, last = state.step, state.step + steps - 1
        log_a, log_b = (first if log_first else -1), (last if log_last else -1)
        epochs_before = state.epochs_before
        plan = self._compiled_plan(steps)
        t0 = time.perf_counter()
        # overflow in a diverging model is caught by the guard; the fast path's scope: see
        # glassnet.fast.training_scope
        with np.errstate(all="ignore"), fast.training_scope(model):
            step = first
            while step <= last:
                if plan is not None:
                    # unlogged steps before the next logged one (never this call's last step) in
                    # one compiled call; see glassnet.fast.loop
                    k = min(_next_logged(step, logged, log_a, log_b), last, step + plan.max_segment) - step
                    if k >= plan.min_segment:
                        plan = self._run_compiled(plan, k)
                        if plan is not None:
                            step += k
                            state.step = step
                            if progress is not None:
                                progress.update(k)
                            continue
                state.step = step
                state.epoch = epochs_before + (step - origin) // spe
                for cb in step_callbacks:
                    cb.on_step_begin(state)
                xb, yb = batcher.next()
                pred = forward(xb, True)
                log_now = logged.logged(step) or step == log_a or step == log_b
                if weights is not None:
                    data_loss, grad = self._weighted(pred, yb, batcher.weights_of_last(weights), log_now)
                elif log_now:
                    data_loss, grad = loss.value_and_grad(pred, yb)
                else:
                    grad = loss.grad(pred, yb)
                backward(grad)
                for p, reg in self.terms:
                    p.grad = p.grad + reg.grad(p.value)
                if clipping:
                    self._clip()
                if log_now:
                    logs = self._log(step, pred, yb, data_loss)
                    if state.all_stopped:
                        state.step = step + 1
                        break
                opt_step()
                if (step + 1 - origin) % spe == 0:
                    for cb in callbacks:
                        cb.on_epoch_end(state)
                state.step = step + 1
                if progress is not None and (plan is not None or (step - first + 1) % bar_every == 0):
                    progress.update(1 if plan is not None else bar_every)
                if state.stop_training or state.all_stopped:
                    break
                step += 1
        state.epoch = state.epochs_before + (state.step - origin) // spe
        self.seconds += time.perf_counter() - t0
        self.history.sync(state.step, self.seconds)
        return logs

    def _compiled_plan(self, steps: int):
        """The fast path's compiled segments for this run, or None (reference only)."""
        if steps <= 3 or not fast.enabled():
            return None
        try:
            from ..fast import loop  # noqa: PLC0415 - the plan; Numba is imported only if it applies
            return loop.plan_for(self)
        except Exception as exc:  # noqa: BLE001 - the fast path never turns into an error
            fast.mark_broken(FAST_LOOP, exc)
            return None

    def _run_compiled(self, plan, k: int):
        """Run ``k`` compiled updates; on a failure (compiling, say) warn once, return None and
        leave the state untouched so the reference path makes these steps."""
        try:
            plan.run(k)
            return plan
        except Exception as exc:  # noqa: BLE001 - fall back, never fail
            fast.mark_broken(FAST_LOOP, exc)
            return None

    def _weighted(self, pred, yb, wb, value: bool):
        """Loss value (if ``value``) and gradient with per-sample weights ``wb`` (``(b,)`` or ``(M, b)``)."""
        w = wb.astype(pred.dtype, copy=False)
        view = w.reshape(w.shape + (1,) * (pred.ndim - 2)) if w.ndim == 2 else \
            w.reshape((1,) + w.shape + (1,) * (pred.ndim - 2))
        grad = self.loss.grad(pred, yb) * view
        data_loss = (self.loss.sample_values(pred, yb) * w).mean(axis=1) if value else None
        return data_loss, grad

    def _clip(self) -> None:
        """Gradient clipping, per model (see the class docstring)."""
        params, M = self.model.param_list, self.model.M
        if self.clip_value is not None:
            for p in params:
                p.grad = np.clip(p.grad, -self.clip_value, self.clip_value)
        if self.clip_norm is not None:
            sq = np.zeros(M)
            for p in params:
                g = p.grad.reshape(M, -1)
                sq += np.einsum("mi,mi->m", g, g)
            coef = np.minimum(1.0, self.clip_norm / (np.sqrt(sq) + 1e-6)).astype(self.model.dtype)
            for p in params:
                p.grad = p.grad * coef.reshape((M,) + (1,) * (p.grad.ndim - 1))

    def _log(self, step: int, pred, yb, data_loss) -> dict:
        """Record the logs of ``step`` (before its update) and run the guard and ``on_log``."""
        model, state = self.model, self.state
        penalty = np.zeros(model.M)
        for p, reg in self.terms:
            penalty = penalty + reg.penalty(p.value)
        logs = {"loss": data_loss + penalty, "data_loss": data_loss, "penalty": penalty}
        if hasattr(self.loss, "parts"):  # several outputs: each one's own loss too
            logs.update(self.loss.parts(pred, yb))
        for name, metric in self.metrics.items():
            logs[name] = metric(pred, yb, self.loss)
        if self.val is not None:
            pv = model.forward(self.val[0], False)
            logs["val_loss"] = self.loss.value(pv, self.val[1])
            if hasattr(self.loss, "parts"):
                logs.update({f"val_{k}": v for k, v in self.loss.parts(pv, self.val[1]).items()})
            for name, metric in self.metrics.items():
                logs[f"val_{name}"] = metric(pv, self.val[1], self.loss)
        if self.nan_guard:
            bad = ~np.isfinite(logs["loss"]) & state.active
            if bad.any():
                state.stop_models(bad, "diverged")
        self.history.record(step, logs, state.active)
        for cb in self.callbacks:
            cb.on_log(state, logs)
        return logs

    def finish(self) -> History:
        """End training: the final NaN guard (parameters gone non-finite after the last logged
        step), ``on_train_end`` callbacks; returns the :class:`History`."""
        if self.nan_guard:
            self.check_parameters()
        self.history.sync(self.state.step, self.seconds)
        for cb in self.callbacks:
            cb.on_train_end(self.state)
        return self.history

    def check_parameters(self, limit: float | None = None) -> np.ndarray:
        """Stop, as "diverged", every active model with a non-finite parameter (or one beyond
        ``limit`` in absolute value); returns the mask of models stopped now."""
        model = self.model
        bad = np.zeros(model.M, bool)
        with np.errstate(invalid="ignore"):
            for p in model.param_list:
                v = p.value.reshape(model.M, -1)
                bad |= ~np.isfinite(v).all(axis=1)
                if limit is not None:
                    bad |= (np.abs(v) > limit).any(axis=1)
        bad &= self.state.active
        self.state.stop_models(bad, "diverged")
        return bad

    @property
    def epoch(self) -> int:
        return self.state.epoch

    @property
    def steps_done(self) -> int:
        return self.state.step

    def __repr__(self):
        return (f"Trainer({self.model.M} model{'s' if self.model.M > 1 else ''}, loss={self.loss!r}, "
                f"optimizer={self.optimizer!r}, batch_size={self.batch_size!r}, step={self.state.step})")


def _next_logged(step: int, logged, log_a: int, log_b: int) -> int:
    """The first step >= ``step`` that is logged: by the schedule ``logged``, or ``log_a``/``log_b``."""
    nxt = logged.next(step)
    for s in (log_a, log_b):
        if step <= s < nxt:
            nxt = s
    return nxt


def _positive_or_none(value, name: str):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value) or value <= 0:
        raise GlassnetError(f"{name} must be a finite number > 0 (or None), got {value!r}", field=name, value=value)
    return float(value)


def sample_weights(y, n: int, sample_weight, class_weight, per_model_data: bool, M: int):
    """Per-sample weights ``(N,)`` (or ``(M, N)`` for per-model data) from ``sample_weight``
    and ``class_weight``; ``None`` when neither is given."""
    if sample_weight is None and class_weight is None:
        return None
    w = np.ones(n)
    if sample_weight is not None:
        sw = np.asarray(sample_weight, dtype=np.float64) if _is_numeric(sample_weight) else None
        if sw is None or sw.shape != (n,) or not np.all(np.isfinite(sw)) or np.any(sw < 0):
            raise GlassnetError(f"sample_weight must be {n} finite numbers >= 0 (one per sample), got "
                                f"{'shape ' + str(sw.shape) if sw is not None else repr(sample_weight)[:60]}",
                                field="sample_weight")
        w = w * sw
    if class_weight is not None:
        if not isinstance(class_weight, dict) or not all(
                isinstance(k, (int, np.integer)) and not isinstance(k, bool) for k in class_weight):
            raise GlassnetError("class_weight must be a dict {class index: weight}", field="class_weight",
                                value=class_weight)
        for k, v in class_weight.items():
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise GlassnetError(f"class_weight[{k}] must be a finite number >= 0, got {v!r}",
                                    field="class_weight", value=class_weight)
        labels = _class_labels(y[0] if per_model_data and y.ndim >= 2 and y.shape[:2] == (M, n) else y)
        table = np.ones(max(int(labels.max()) + 1, max(class_weight) + 1))
        for k, v in class_weight.items():
            table[k] = v
        w = w * table[labels]
    return w


def _is_numeric(a) -> bool:
    try:
        return np.issubdtype(np.asarray(a).dtype, np.number)
    except Exception:  # noqa: BLE001 - ragged lists and the like
        return False


def _class_labels(y) -> np.ndarray:
    """Integer classes of targets: labels as they are, one-hot rows by argmax, one column at 0.5."""
    y = np.asarray(y)
    if np.issubdtype(y.dtype, np.integer) and y.ndim == 1:
        return y
    if y.ndim >= 2 and y.shape[-1] > 1:
        return y.reshape(y.shape[0], -1).argmax(axis=1)
    return (y.reshape(y.shape[0]) > 0.5).astype(np.int64)


def default_log_every(total_steps: int, steps_per_epoch: int) -> int:
    """Once per epoch, but at most ~1000 points per curve (and at least two points)."""
    every = steps_per_epoch * max(1, math.ceil(total_steps / steps_per_epoch / 1000))
    return min(every, max(1, total_steps // 2)) if total_steps > 1 else 1
