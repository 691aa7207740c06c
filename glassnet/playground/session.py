"""One page's training session: settings, data, a glassnet network and the Trainer that trains it.

The session holds a :class:`~glassnet.training.Trainer` over its training points (the same
loop ``fit`` runs) and calls ``trainer.run`` up to the end of each epoch, within a frame's time
budget (:class:`~glassnet.playground.callbacks.Deadline` ends a run early; the next run goes
on from that step). Its callbacks (:mod:`glassnet.playground.callbacks`) evaluate the train
and test losses in inference mode after every epoch, guard against divergence and apply the
stop conditions. A non-finite loss or a weight beyond ``WEIGHT_LIMIT`` pauses training,
restores the weights of the previous epoch and says what diverged and why.

Live settings reach the running Trainer without touching the weights or the optimizer's state:
learning rate, momentum and betas go into the optimizer, the L1/L2 rate through
``trainer.set_penalties``. A new batch size takes effect at the next epoch's start, where the
session hands the same optimizer (its state kept: binding it to the same parameters again keeps
it) and the same model to a Trainer with the new batching, so every epoch is one pass over the
points with one batch size. With batch norm, a batch of one point is never made (its variance
is 0): the batch size is at least 2, and a last batch of one point is dropped (``drop_last``,
only then). Seeded like ``fit``: shuffles come from the model's own data stream, so a session
and ``fit`` with the same settings and seed give bit-identical weights.

Nothing here knows about websockets: the server calls :meth:`set`, :meth:`train`, ... and sends
what :mod:`glassnet.playground.frames` builds.
"""

from __future__ import annotations

import math
import time
from typing import NamedTuple

import numpy as np

from .. import losses as losses_mod
from .. import metrics as metrics_mod
from ..data.toy2d import features
from ..errors import GlassnetError
from ..regularizers import L1, L2
from ..training import Trainer
from . import data as data_mod
from . import ensemble, network
from .callbacks import Deadline, EpochCurve, StallHint, StopRules, WeightGuard
from .settings import BY_KEY, EFFECT_ORDER, defaults, effect_of, multiclass_datasets, validate

#: a weight beyond this means training has run away (the NaN guard stops it before it overflows)
WEIGHT_LIMIT = 1e6
#: the Trainer records no history of its own: the page's curve is the per-epoch evaluation, and
#: a page may train for millions of epochs
NO_LOGS = 2**62


class Eval(NamedTuple):
    """One evaluation of every model, in inference mode: the epoch, and ``(M,)`` arrays of the
    train and test losses and accuracies (None where undefined: no points, or regression)."""

    epoch: int
    train: np.ndarray | None
    test: np.ndarray | None
    train_acc: np.ndarray | None
    test_acc: np.ndarray | None

    def of(self, m: int) -> tuple:
        """Model ``m``'s numbers as plain floats: (epoch, train, test, train_acc, test_acc)."""
        return (self.epoch,) + tuple(None if a is None else float(a[m]) for a in self[1:])


class PlaygroundSession:
    """The state of one page. ``settings`` is a partial dict of the table's keys.

    Between calls everything is inspectable: ``model``, ``trainer`` (None while there are no
    training points), ``opt`` (the trainer's optimizer), ``epoch`` (epochs completed),
    ``last_all`` (the latest :class:`Eval` of every model), ``last`` (the main view's numbers
    from it) and ``pending`` (evaluations not sent yet).

    With ``ensemble = N > 1`` the model holds N copies side by side (see
    :mod:`glassnet.playground.ensemble`): ``members`` describes them, ``stopped`` marks the
    copies the NaN guard stopped (the others train on), ``focus`` is the copy the main views show.
    """

    def __init__(self, settings: dict | None = None):
        self.settings = defaults()
        self.custom: data_mod.Points | None = None  # your own points, for dataset "custom"
        self.custom_problem: str | None = None
        self.playing = False
        self.notes: list[str] = []
        self.deadline = Deadline()
        self.guard = WeightGuard(self, WEIGHT_LIMIT)
        self.stop_rules = StopRules(self)
        self.stall = StallHint(self)
        self.callbacks = [EpochCurve(self), self.guard, self.stop_rules, self.stall, self.deadline]
        self.trainer: Trainer | None = None
        self._build_data()
        if settings:
            self.set(settings)

    # -- settings -------------------------------------------------------------------------------
    def set(self, changes: dict, rebuild: bool = False) -> str:
        """Validate and apply settings atomically; return the effect (``view`` ... ``data``).
        ``rebuild``: new data and a new network even where no setting changed (an import).

        Every key is validated before anything changes; an invalid value raises
        :class:`GlassnetError` naming it. Combinations that cannot work are adjusted with a note
        in :attr:`notes` (a two-class data set for the multi-class problem, ``custom`` without
        points).
        """
        if not isinstance(changes, dict):
            raise GlassnetError(f"settings must be an object of key: value, got {changes!r}")
        new = dict(self.settings)
        for key, value in changes.items():
            new[key] = validate(key, value)
        self._reconcile(new)
        changed = [k for k in new if new[k] != self.settings[k]]
        effect = "data" if rebuild else effect_of(changed)
        old, self.settings = self.settings, new
        if EFFECT_ORDER[effect] >= EFFECT_ORDER["live"]:
            self.stall.reset()
        try:
            if EFFECT_ORDER[effect] >= EFFECT_ORDER["model"]:
                self.playing = False  # a new network: TF Playground pauses too
            if EFFECT_ORDER[effect] >= EFFECT_ORDER["data"]:
                self._build_data()
            elif EFFECT_ORDER[effect] >= EFFECT_ORDER["model"]:
                self._build_model()
            elif effect == "optimizer":
                self._new_trainer(network.optimizer(self.settings, self._lr()))
            self._apply_live()
        except GlassnetError:
            self.settings = old
            if EFFECT_ORDER[effect] >= EFFECT_ORDER["model"]:
                self._build_data()  # back to a consistent state under the old settings
            raise
        return effect

    def _reconcile(self, s: dict) -> None:
        """Adjust combinations that cannot work, noting each change for the page."""
        multiclass = multiclass_datasets()
        if s["problem"] == "multiclass" and s["dataset"] not in multiclass:
            fallback = "spiral" if "spiral" in multiclass else multiclass[0]
            self.notes.append(f"data set {s['dataset']!r} has two classes; using {fallback!r} for {s['classes']} classes")
            s["dataset"] = fallback
        uses_custom = (s["regDataset"] if s["problem"] == "regression" else s["dataset"]) == "custom"
        if uses_custom and (self.custom is None or self.custom_problem != s["problem"]):
            key = "regDataset" if s["problem"] == "regression" else "dataset"
            fallback = BY_KEY[key]["default"] if s["problem"] != "multiclass" else "spiral"
            self.notes.append(f"no custom points for {s['problem']} yet (draw or upload some); using {fallback!r}")
            s[key] = fallback
        if s["focus"] >= s["ensemble"]:
            s["focus"] = 0
        if len(s["layerActivations"]) > len(s["networkShape"]):
            s["layerActivations"] = s["layerActivations"][:len(s["networkShape"])]
        if not any(s[k] for k in ("x", "y", "xSquared", "ySquared", "xTimesY", "sinX", "sinY")):
            raise GlassnetError("choose at least one input feature (x, y, xSquared, ...)")

    def _apply_live(self) -> None:
        """Learning rate, momentum/betas and the L1/L2 penalty into the running Trainer (its
        optimizer's state and the weights stay); a new batch size waits for the next epoch.
        An ensemble that sweeps the learning rate or the penalty gets one per model."""
        s = self.settings
        if self.trainer is not None:
            network.apply_live(s, self.opt, self._lr())
            l2, l1 = ensemble.penalty_rates(s, self.members)
            self.trainer.set_penalties(weight_decay=l2, l1=l1)

    @property
    def reg(self):
        """The main view's copy's penalty (for the backprop view's one plain step), or None."""
        s = self.focus_settings
        rate = s["regularizationRate"]
        kind = s["regularization"] if rate else "none"
        return None if kind == "none" else (L1 if kind == "L1" else L2)(rate)

    def _lr(self):
        """The per-model learning rates when the ensemble sweeps them, else None (the page's)."""
        if self.settings["ensembleSweep"] == "learningRate" and self.M > 1:
            return ensemble.per_model(self.settings, self.members, "learningRate")
        return None

    # -- the copies of an ensemble ---------------------------------------------------------------
    @property
    def M(self) -> int:
        return self.model.M

    @property
    def focus(self) -> int:
        """The copy the main views show (0 for a single network)."""
        return min(self.settings["focus"], self.M - 1)

    @property
    def focus_settings(self) -> dict:
        """The settings of the main view's copy (the swept value in place)."""
        return ensemble.member_settings(self.settings, self.members[self.focus])

    def record(self) -> None:
        """Evaluate every model now: the latest numbers, and a point of the curves to send."""
        self.last_all = self.evaluate_all()
        self.pending.append(self.last_all)

    @property
    def last(self) -> tuple:
        """The main view's copy's latest numbers: (epoch, train, test, train_acc, test_acc)."""
        return self.last_all.of(self.focus)

    # -- data and model ---------------------------------------------------------------------------
    @property
    def uses_custom(self) -> bool:
        s = self.settings
        return (s["regDataset"] if s["problem"] == "regression" else s["dataset"]) == "custom"

    def _build_data(self) -> None:
        s = self.settings
        self.points = self.custom if self.uses_custom else data_mod.generate(s)
        self.train_pts, self.test_pts = data_mod.split(self.points, s["percTrainData"], s["seed"])
        self._init_rng = np.random.default_rng([s["seed"], 7])
        self._build_model()

    def _features(self) -> None:
        """The input features and targets of the training and test points."""
        self.feature_names = data_mod.feature_names(self.settings)
        n_f = len(self.feature_names)
        self.xtr = features(self.train_pts.x, self.feature_names) if len(self.train_pts) else np.zeros((0, n_f))
        self.xte = features(self.test_pts.x, self.feature_names) if len(self.test_pts) else np.zeros((0, n_f))
        self.ytr, self.yte = self._targets(self.train_pts.y), self._targets(self.test_pts.y)

    def _targets(self, y):
        problem = self.settings["problem"]
        if problem == "classification":
            return (2.0 * y - 1.0)[:, None]  # TF Playground's -1/+1 targets for the tanh output
        if problem == "regression":
            return y.astype(np.float64)[:, None]
        return y.astype(np.int64)

    def _build_model(self) -> None:
        s = self.settings
        self._features()
        if self.settings["problem"] != "regression" and len(self.train_pts):
            k = 2 if s["problem"] == "classification" else s["classes"]
            if self.train_pts.y.max() >= k:
                raise GlassnetError(f"the points have labels up to {self.train_pts.y.max()} but the problem has {k} classes")
        self.model_seed = int(self._init_rng.integers(0, 2**31 - 1))
        self.members = ensemble.members(s, self.model_seed)
        seeds = self.model_seed if len(self.members) == 1 else [m.seed for m in self.members]
        self.model, self.groups = network.build(s, len(self.feature_names), seeds, self.members)
        self.stopped = np.zeros(self.M, bool)
        _, _, loss_name = network.task(s)
        self.loss = losses_mod.get(loss_name)
        self.metric_specs = self._metric_specs()
        self.metric = metrics_mod.get(self.metric_specs[0]) if self.metric_specs else None
        self.epoch = 0
        self.stall.reset()
        self.pending: list[Eval] = []  # evaluations not yet sent
        self._new_trainer(network.optimizer(s, self._lr()))
        self.record()
        self._good = self._snapshot()

    def _metric_specs(self) -> list:
        """Accuracy from the metrics registry: the tanh output against -1/+1 targets is read at 0,
        the K logits by their argmax; none for regression."""
        problem = self.settings["problem"]
        if problem == "regression":
            return []
        return [{"name": "accuracy", "threshold": 0}] if problem == "classification" else ["accuracy"]

    def _batching(self) -> tuple[int, bool]:
        """(batch size, drop_last) for the training points (see the module docstring)."""
        n = len(self.xtr)
        b = min(self.settings["batchSize"], n)
        if self.settings["batchNorm"]:
            b = min(max(b, 2), n)
            return b, n % b == 1
        return b, False

    def _new_trainer(self, optimizer) -> None:
        """A Trainer for the model and the training points with ``optimizer`` (bound by the
        Trainer: a new one starts fresh, the running one keeps its state); None without points."""
        self.opt = optimizer
        self.trainer = None
        if len(self.xtr):
            # no history (NO_LOGS), so no logged-step guard: WeightGuard checks every epoch's end
            self._trainer_batching = b, drop_last = self._batching()
            self.trainer = Trainer(self.model, self.xtr, self.ytr, loss=self.loss, optimizer=optimizer, batch_size=b,
                                   drop_last=drop_last, shuffle=True, metrics=self.metric_specs,
                                   callbacks=self.callbacks, log_every=NO_LOGS, nan_guard=False)
            if self.stopped.any():  # a new Trainer starts every model afresh: the stopped stay stopped
                self.trainer.state.stop_models(self.stopped, "diverged")
        self._apply_live()

    def reset(self) -> None:
        """New initial weights (a new draw), same data; the epoch counter restarts."""
        self.playing = False
        self._build_model()

    def regenerate(self) -> None:
        """New data from a new seed (and a new network)."""
        seed = int(np.random.default_rng().integers(0, BY_KEY["seed"]["max"] + 1))
        self.set({"seed": seed})

    def set_custom(self, points: data_mod.Points) -> None:
        """Train on ``points`` (your own): switches the data set to ``custom``."""
        self.custom, self.custom_problem = points, self.settings["problem"]
        key = "regDataset" if self.settings["problem"] == "regression" else "dataset"
        self.settings[key] = "custom"
        self._build_data()

    def import_state(self, settings: dict, custom: data_mod.Points | None) -> None:
        """An imported page state: every setting (validated as ``set`` does) and, for custom
        data, its points; data and network are rebuilt even where nothing differs."""
        old = (self.custom, self.custom_problem)
        if custom is not None:
            self.custom, self.custom_problem = custom, settings["problem"]
        try:
            self.set(settings, rebuild=True)
        except GlassnetError:
            self.custom, self.custom_problem = old
            raise
        self.playing = False

    def add_point(self, x1: float, x2: float, label) -> None:
        """Add one point (drawn on the page); the first turns the current data into custom data.

        The network, the optimizer's state and the epoch count are kept (training goes on with
        the new point): a drawn point always trains, and the split of the other points stays."""
        label = data_mod.check_label(self.settings["problem"], label, self.settings["classes"])
        base = self.custom if self.uses_custom else self.points
        if len(base) >= data_mod.MAX_CUSTOM_POINTS:
            raise GlassnetError(f"at most {data_mod.MAX_CUSTOM_POINTS} points; clear some first")
        dtype = np.int64 if self.settings["problem"] != "regression" else np.float64
        self.custom = data_mod.Points(np.vstack([base.x, [[x1, x2]]]), np.append(base.y, label).astype(dtype),
                                      np.append(base.drawn_mask(), True))
        self.custom_problem = self.settings["problem"]
        self.settings["regDataset" if self.settings["problem"] == "regression" else "dataset"] = "custom"
        self.points = self.custom
        self.train_pts, self.test_pts = data_mod.split(self.points, self.settings["percTrainData"], self.settings["seed"])
        self._features()
        self._new_trainer(self.opt)
        self.record()

    # -- training ---------------------------------------------------------------------------------
    def _snapshot(self):
        return [p.value.copy() for p in self.model.param_list]

    def _restore(self, values) -> None:
        for p, v in zip(self.model.param_list, values):
            p.value[...] = v

    def _epoch_start(self) -> None:
        """At an epoch's start: keep the weights (the guard's way back) and apply a new batch size."""
        self._good = self._snapshot()
        if self._batching() != self._trainer_batching:
            self._new_trainer(self.opt)

    def train(self, epochs: int, budget_s: float = 0.25) -> list[dict]:
        """Train up to ``epochs`` epochs, or until ``budget_s`` seconds pass (mid-epoch is fine:
        the next call goes on where this one stopped). Returns events for the page: a
        ``diverged`` or ``stopped`` message when the NaN guard or a stop condition paused."""
        if self.trainer is None:
            self.playing = False
            return [{"type": "stopped", "reason": "no training points: draw or upload some"}]
        self.deadline.at = time.perf_counter() + budget_s
        for _ in range(epochs):
            trainer = self.trainer
            spe, into = trainer.steps_per_epoch, trainer.state.step % trainer.steps_per_epoch
            if into == 0:
                self._epoch_start()
                trainer = self.trainer
                spe = trainer.steps_per_epoch
            trainer.run(spe - into, log_first=False, log_last=False)
            event = self._event()
            if event is not None:
                self.playing = False
                return [event]
            if trainer.state.step % spe or time.perf_counter() > self.deadline.at:
                break  # the frame's time is up (mid-epoch: the next call finishes it)
        return []

    def _event(self) -> dict | None:
        """What the callbacks ended the run for: a divergence (then restore) or a stop condition."""
        if self.guard.tripped:
            self.guard.tripped = False
            return self._diverged()
        reason, self.stop_rules.reason = self.stop_rules.reason, None
        return None if reason is None else {"type": "stopped", "reason": reason}

    def evaluate(self) -> tuple:
        """(epoch, train loss, test loss, train accuracy, test accuracy) of the main view's copy,
        in inference mode; None where undefined (no points, or no accuracy for regression)."""
        return self.evaluate_all().of(self.focus)

    def evaluate_all(self) -> Eval:
        """Every model's losses and accuracies on the training and test points (inference mode)."""
        out, accs = [], []
        with np.errstate(all="ignore"):
            for x, y in ((self.xtr, self.ytr), (self.xte, self.yte)):
                if len(x) == 0:
                    out.append(None)
                    accs.append(None)
                    continue
                pred = self.model.forward(x, False)
                out.append(np.asarray(self.loss.value(pred, y), float))
                accs.append(None if self.metric is None else np.asarray(self.metric(pred, y, self.loss), float))
        return Eval(self.epoch, *out, *accs)

    def copies_diverged(self, bad: np.ndarray) -> None:
        """The NaN guard in an ensemble: the copies in ``bad`` stop (frozen, status "diverged"),
        their weights go back to the start of the epoch (their last state that passed the
        guard), and the others train on; a notice says which and why."""
        self.stopped |= bad
        self.trainer.state.stop_models(bad, "diverged")
        for p, good in zip(self.model.param_list, self._good):
            p.value[bad] = good[bad]
        names = ", ".join(f"{m.index + 1} ({m.label})" for m in self.members if bad[m.index])
        left = int((~self.stopped).sum())
        self.notes.append(f"Copy {names} diverged at epoch {self.epoch:,} (its loss or a weight ran away) and "
                          f"stopped with the weights of epoch {self.epoch - 1:,}; {left} of {self.M} train on.")
        self.record()

    def _diverged(self) -> dict:
        """The NaN guard's message: what diverged and why. The weights go back to the start of
        the epoch (the last state that passed the guard) and the optimizer starts afresh (its
        state holds the overflow too)."""
        loss = self.last[1]
        with np.errstate(invalid="ignore"):
            sizes = [(float(np.max(np.abs(p.value))) if np.isfinite(p.value).all() else math.inf, p.name)
                     for p in self.model.param_list]
        biggest, where = max(sizes)
        if loss is None or not math.isfinite(loss):
            what = f"the loss became {'NaN' if loss is None or math.isnan(loss) else 'inf'}"
        else:
            what = f"the weights grew past {WEIGHT_LIMIT:g} (|{where}| = {biggest:.3g})"
        s = self.settings
        lr, rate = s["learningRate"], s["regularizationRate"]
        if s["regularization"] != "none" and lr * rate >= 1:
            why = (f"the {s['regularization']} step (learning rate x regularization rate = {lr * rate:g} >= 1) "
                   "throws every weight past zero and makes it larger each update; lower the regularization "
                   "rate or the learning rate")
        else:
            why = ("each update overshoots the minimum, so the weights grow without bound"
                   f" (first in {where}); lower the learning rate")
        epoch = self.epoch
        self._restore(self._good)
        self.epoch -= 1
        self.stopped[:] = False
        self._new_trainer(network.optimizer(s, self._lr()))
        self.record()
        return {"type": "diverged", "epoch": epoch, "learningRate": lr,
                "message": (f"Training paused: {what} at epoch {epoch:,} with learning rate {lr:g}: "
                            f"{why}. The weights are back to the end of epoch {epoch - 1:,}.")}

    # -- editing ----------------------------------------------------------------------------------
    def edit(self, layer: int, param: str, i: int, j: int | None, value: float) -> None:
        """Set one weight ``W[i, j]`` (input i -> neuron j) or bias ``b[i]`` of hidden/output layer
        ``layer`` (0-based over the page's columns)."""
        if not 0 <= layer < len(self.groups):
            raise GlassnetError(f"layer must be in [0, {len(self.groups)}), got {layer}")
        dense, m = self.groups[layer].dense, self.focus
        if param == "W":
            n_in, units = dense.W.value.shape[1:]
            if j is None or not (0 <= i < n_in and 0 <= j < units):
                raise GlassnetError(f"weight index must be i in [0, {n_in}), j in [0, {units}), got i={i}, j={j}")
            dense.W.value[m, i, j] = value
        else:
            units = dense.b.value.shape[1]
            if not 0 <= i < units:
                raise GlassnetError(f"bias index must be in [0, {units}), got {i}")
            dense.b.value[m, i] = value
        self.record()

    def load_weights(self, model) -> None:
        """Copy parameters from a loaded glassnet model with this page's architecture (into the
        main view's copy of an ensemble)."""
        mine, theirs = self.model.config()["layers"], model.config()["layers"]
        if [(c["type"], c.get("units")) for c in mine] != [(c["type"], c.get("units")) for c in theirs] or \
                model.input_shape != self.model.input_shape:
            raise GlassnetError(
                f"the weights file is for inputs {model.input_shape} and layers "
                f"{[c.get('units', c['type']) for c in theirs]}, but the page has inputs {self.model.input_shape} "
                f"and layers {[c.get('units', c['type']) for c in mine]}; import the TOML setup first")
        m = self.focus
        for p, q in zip(self.model.param_list, model.param_list):
            p.value[m] = q.value[0]
        for a, b in zip(self.model.layers, model.layers):
            for k in a.buffers:
                a.buffers[k][m] = b.buffers[k][0]
        self._new_trainer(network.optimizer(self.settings, self._lr()))
        self.record()

    def focus_view(self):
        """The main view's copy as a float64 network of its own whose parameters and buffers are
        views of the model's (``value[m:m+1]``, nothing copied); the model itself when single."""
        if self.M == 1:
            return self.model
        m = self.focus
        key = (id(self.model), m)
        if getattr(self, "_view64_key", None) != key:
            settings = {**ensemble.member_settings(self.settings, self.members[m]), "ensemble": 1}
            self._view64, _ = network.build(settings, len(self.feature_names), self.members[m].seed)
            self._view64_key = key
        for p, q in zip(self._view64.param_list, self.model.param_list):
            p.value = q.value[m:m + 1]
        for a, b in zip(self._view64.layers, self.model.layers):
            for k in a.buffers:
                a.buffers[k] = b.buffers[k][m:m + 1]
        return self._view64

    def focus32(self):
        """The main view's copy as a float32 network of its own, its weights copied from the live
        model at each call. The page's 100x100 output and neuron thumbnails are computed on it:
        they are bytes in the end, float32 tanh is several times faster than float64 (a 6x8
        network's grid costs half as much), and an ensemble costs one network's work there."""
        m = self.focus
        key = (id(self.model), m)
        if getattr(self, "_view_key", None) != key:
            settings = {**ensemble.member_settings(self.settings, self.members[m]), "ensemble": 1}
            self._view, _ = network.build(settings, len(self.feature_names), self.members[m].seed, dtype="float32")
            self._view_key = key
        with np.errstate(over="ignore"):  # a weight past float32's range is inf there: the page shows it
            for p, q in zip(self._view.param_list, self.model.param_list):
                np.copyto(p.value, q.value[m:m + 1], casting="same_kind")
            for a, b in zip(self._view.layers, self.model.layers):
                for k in a.buffers:
                    np.copyto(a.buffers[k], b.buffers[k][m:m + 1], casting="same_kind")
        return self._view

    def twin32(self):
        """A float32 copy of every model (refreshed from the live weights at each call) for the
        ensemble's maps: they are bytes in the end, and float32 tanh is several times faster than
        float64, which makes the copies' maps cheap enough for every update."""
        if getattr(self, "_twin_key", None) != id(self.model):
            seeds = self.model_seed if self.M == 1 else [m.seed for m in self.members]
            self._twin, _ = network.build(self.settings, len(self.feature_names), seeds, self.members, dtype="float32")
            self._twin_key = id(self.model)
        with np.errstate(over="ignore"):
            for p, q in zip(self._twin.param_list, self.model.param_list):
                np.copyto(p.value, q.value, casting="same_kind")
            for a, b in zip(self._twin.layers, self.model.layers):
                for k in a.buffers:
                    np.copyto(a.buffers[k], b.buffers[k], casting="same_kind")
        return self._twin

    def single(self, m: int | None = None):
        """Copy ``m`` (the main view's by default) as a network of its own (M = 1): the same
        architecture, activation and weights; what Export saves."""
        m = self.focus if m is None else m
        settings = {**ensemble.member_settings(self.settings, self.members[m]), "ensemble": 1}
        model, _ = network.build(settings, len(self.feature_names), self.members[m].seed)
        for p, q in zip(model.param_list, self.model.param_list):
            p.value[0] = q.value[m]
        for a, b in zip(model.layers, self.model.layers):
            for k in a.buffers:
                a.buffers[k][0] = b.buffers[k][m]
        return model
