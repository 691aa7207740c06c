"""One page's training session: settings, data, a glassnet network, its optimizer, the loop.

The loop is the engine's own pieces, stepped a batch at a time so the server can interleave
messages: ``model.forward(x, train=True)``, ``loss.grad``, ``model.backward``, the regularizer's
gradient on every weight, ``optimizer.step()``. (``Sequential.fit`` would rebind the optimizer,
and so reset Adam's moments, on every call.) After each epoch the train and test losses are
evaluated in inference mode; a non-finite loss or weight pauses training, restores the weights
of the previous epoch and says what diverged and why (the NaN guard).

Nothing here knows about websockets: the server calls :meth:`set`, :meth:`train`, ... and sends
what :mod:`glassnet.playground.frames` builds.
"""

from __future__ import annotations

import math
import time

import numpy as np

from .. import losses as losses_mod
from ..data.toy2d import features
from ..errors import GlassnetError
from ..regularizers import L1, L2
from . import data as data_mod
from . import network
from .settings import BY_KEY, EFFECT_ORDER, MULTICLASS_DATASETS, defaults, effect_of, validate

#: a weight beyond this means training has run away (the NaN guard stops it before it overflows)
WEIGHT_LIMIT = 1e6


class PlaygroundSession:
    """The state of one page. ``settings`` is a partial dict of the table's keys."""

    def __init__(self, settings: dict | None = None):
        self.settings = defaults()
        self.custom: data_mod.Points | None = None  # your own points, for dataset "custom"
        self.custom_problem: str | None = None
        self.playing = False
        self.notes: list[str] = []
        self._build_data()
        if settings:
            self.set(settings)

    # -- settings -------------------------------------------------------------------------------
    def set(self, changes: dict) -> str:
        """Validate and apply settings atomically; return the effect (``view`` ... ``data``).

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
        effect = effect_of(changed)
        old, self.settings = self.settings, new
        try:
            if EFFECT_ORDER[effect] >= EFFECT_ORDER["model"]:
                self.playing = False  # a new network: TF Playground pauses too
            if EFFECT_ORDER[effect] >= EFFECT_ORDER["data"]:
                self._build_data()
            elif EFFECT_ORDER[effect] >= EFFECT_ORDER["model"]:
                self._build_model()
            elif effect == "optimizer":
                self.opt = network.optimizer(self.settings, self.model)
            self._apply_live()
        except GlassnetError:
            self.settings = old
            if EFFECT_ORDER[effect] >= EFFECT_ORDER["model"]:
                self._build_data()  # back to a consistent state under the old settings
            raise
        return effect

    def _reconcile(self, s: dict) -> None:
        """Adjust combinations that cannot work, noting each change for the page."""
        if s["problem"] == "multiclass" and s["dataset"] not in MULTICLASS_DATASETS:
            self.notes.append(f"data set {s['dataset']!r} has two classes; using 'spiral' for {s['classes']} classes")
            s["dataset"] = "spiral"
        uses_custom = (s["regDataset"] if s["problem"] == "regression" else s["dataset"]) == "custom"
        if uses_custom and (self.custom is None or self.custom_problem != s["problem"]):
            key = "regDataset" if s["problem"] == "regression" else "dataset"
            fallback = BY_KEY[key]["default"] if s["problem"] != "multiclass" else "spiral"
            self.notes.append(f"no custom points for {s['problem']} yet (draw or upload some); using {fallback!r}")
            s[key] = fallback
        if len(s["layerActivations"]) > len(s["networkShape"]):
            s["layerActivations"] = s["layerActivations"][:len(s["networkShape"])]
        if not any(s[k] for k in ("x", "y", "xSquared", "ySquared", "xTimesY", "sinX", "sinY")):
            raise GlassnetError("choose at least one input feature (x, y, xSquared, ...)")

    def _apply_live(self) -> None:
        s = self.settings
        network.apply_live(s, self.opt)
        rate = s["regularizationRate"]
        self.reg = None if s["regularization"] == "none" or rate == 0 else (L1 if s["regularization"] == "L1" else L2)(rate)

    # -- data and model ---------------------------------------------------------------------------
    @property
    def uses_custom(self) -> bool:
        s = self.settings
        return (s["regDataset"] if s["problem"] == "regression" else s["dataset"]) == "custom"

    def _build_data(self) -> None:
        s = self.settings
        points = self.custom if self.uses_custom else data_mod.generate(s)
        self.train_pts, self.test_pts = data_mod.split(points, s["percTrainData"], s["seed"])
        self._init_rng = np.random.default_rng([s["seed"], 7])
        self._build_model()

    def _targets(self, y):
        problem = self.settings["problem"]
        if problem == "classification":
            return (2.0 * y - 1.0)[:, None]  # TF Playground's -1/+1 targets for the tanh output
        if problem == "regression":
            return y.astype(np.float64)[:, None]
        return y.astype(np.int64)

    def _build_model(self) -> None:
        s = self.settings
        self.feature_names = data_mod.feature_names(s)
        self.xtr = features(self.train_pts.x, self.feature_names) if len(self.train_pts) else np.zeros((0, len(self.feature_names)))
        self.xte = features(self.test_pts.x, self.feature_names) if len(self.test_pts) else np.zeros((0, len(self.feature_names)))
        self.ytr, self.yte = self._targets(self.train_pts.y), self._targets(self.test_pts.y)
        if self.settings["problem"] != "regression" and len(self.train_pts):
            k = 2 if s["problem"] == "classification" else s["classes"]
            if self.train_pts.y.max() >= k:
                raise GlassnetError(f"the points have labels up to {self.train_pts.y.max()} but the problem has {k} classes")
        self.model_seed = int(self._init_rng.integers(0, 2**31 - 1))
        self.model, self.groups = network.build(s, len(self.feature_names), self.model_seed)
        _, _, loss_name = network.task(s)
        self.loss = losses_mod.get(loss_name)
        self.opt = network.optimizer(s, self.model)
        self._apply_live()
        self.epoch = 0
        self._pos = len(self.xtr)  # the first step starts an epoch
        self._perm_rng = np.random.default_rng([s["seed"], self.model_seed])
        self.pending: list[tuple] = []  # curve points not yet sent: (epoch, train, test, train_acc, test_acc)
        self.last = self._evaluate()
        self.pending.append(self.last)
        self._good = self._snapshot()

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

    def add_point(self, x1: float, x2: float, label) -> None:
        """Add one point (drawn on the page); the first turns the current data into custom data."""
        label = data_mod.check_label(self.settings["problem"], label, self.settings["classes"])
        if not self.uses_custom:
            self.custom = data_mod.Points(np.concatenate([self.train_pts.x, self.test_pts.x]),
                                          np.concatenate([self.train_pts.y, self.test_pts.y]))
            self.custom_problem = self.settings["problem"]
        if len(self.custom) >= data_mod.MAX_CUSTOM_POINTS:
            raise GlassnetError(f"at most {data_mod.MAX_CUSTOM_POINTS} points; clear some first")
        dtype = np.int64 if self.settings["problem"] != "regression" else np.float64
        self.set_custom(data_mod.Points(np.vstack([self.custom.x, [[x1, x2]]]),
                                        np.append(self.custom.y, label).astype(dtype)))

    # -- training ---------------------------------------------------------------------------------
    def _snapshot(self):
        return [p.value.copy() for p in self.model.param_list]

    def _restore(self, values) -> None:
        for p, v in zip(self.model.param_list, values):
            p.value[...] = v

    def train(self, epochs: int, budget_s: float = 0.25) -> list[dict]:
        """Train up to ``epochs`` epochs, or until ``budget_s`` seconds pass (mid-epoch is fine:
        the next call goes on where this one stopped). Returns events for the page: a
        ``diverged`` or ``stopped`` message when the NaN guard or a stop condition paused."""
        n = len(self.xtr)
        if n == 0:
            self.playing = False
            return [{"type": "stopped", "reason": "no training points: draw or upload some"}]
        b = min(self.settings["batchSize"], n)
        bn = self.settings["batchNorm"]
        params = [p for p in self.model.param_list if p.regularize]
        forward, backward, step = self.model.forward, self.model.backward, self.opt.step
        deadline = time.perf_counter() + budget_s
        done = 0
        with np.errstate(all="ignore"):  # a diverging network overflows; the guard below reports it
            while done < epochs:
                if self._pos >= n:
                    self._perm = self._perm_rng.permutation(n)
                    self._pos = 0
                    self._good = self._snapshot()
                idx = self._perm[self._pos:self._pos + b]
                self._pos += len(idx)
                if not (bn and len(idx) < 2):  # batch norm needs two points per batch
                    pred = forward(self.xtr[idx], True)
                    backward(self.loss.grad(pred, self.ytr[idx]))
                    if self.reg is not None:
                        for p in params:
                            p.grad = p.grad + self.reg.grad(p.value)
                    step()
                if self._pos >= n:
                    self.epoch += 1
                    done += 1
                    event = self._end_epoch()
                    if event is not None:
                        self.playing = False
                        return [event]
                if time.perf_counter() > deadline:
                    break
        return []

    def _evaluate(self) -> tuple:
        """(epoch, train loss, test loss, train accuracy, test accuracy); None where undefined."""
        out = [self.epoch]
        accs = []
        with np.errstate(all="ignore"):
            for x, y in ((self.xtr, self.ytr), (self.xte, self.yte)):
                if len(x) == 0:
                    out.append(None)
                    accs.append(None)
                    continue
                pred = self.model.forward(x, False)
                out.append(float(self.loss.value(pred, y)[0]))
                accs.append(None if self.settings["problem"] == "regression" else self._accuracy(pred, y))
        return tuple(out + accs)

    def _accuracy(self, pred, y) -> float:
        if self.settings["problem"] == "multiclass":
            return float((pred[0].argmax(axis=-1) == y).mean())
        return float(((pred[0, :, 0] > 0) == (y[:, 0] > 0)).mean())

    def _end_epoch(self) -> dict | None:
        self.last = self._evaluate()
        self.pending.append(self.last)
        bad = self._divergence()
        if bad is not None:
            return bad
        s, test = self.settings, self.last[2]
        if s["stopEpochs"] and self.epoch >= s["stopEpochs"]:
            return {"type": "stopped", "reason": f"reached the stop condition: epoch {self.epoch:,}"}
        if s["stopLoss"] and test is not None and test < s["stopLoss"]:
            return {"type": "stopped",
                    "reason": f"reached the stop condition: test loss {test:.4f} < {s['stopLoss']:g} at epoch {self.epoch:,}"}
        return None

    def _divergence(self) -> dict | None:
        """The NaN guard: a loss that is not finite or a weight beyond ``WEIGHT_LIMIT`` pauses
        training with a message saying what diverged and why; the weights go back to the start of
        the epoch (the last state that passed this check)."""
        loss = self.last[1]
        sizes = [(float(np.max(np.abs(p.value))) if np.isfinite(p.value).all() else math.inf, p.name)
                 for p in self.model.param_list]
        biggest, where = max(sizes)
        if loss is not None and math.isfinite(loss) and biggest <= WEIGHT_LIMIT:
            return None
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
        self.opt = network.optimizer(s, self.model)  # its state holds the overflow too
        self.epoch -= 1
        self.last = self._evaluate()
        self.pending.append(self.last)
        return {"type": "diverged", "epoch": epoch, "learningRate": lr,
                "message": (f"Training paused: {what} at epoch {epoch:,} with learning rate {lr:g}: "
                            f"{why}. The weights are back to the end of epoch {epoch - 1:,}.")}

    # -- editing ----------------------------------------------------------------------------------
    def edit(self, layer: int, param: str, i: int, j: int | None, value: float) -> None:
        """Set one weight ``W[i, j]`` (input i -> neuron j) or bias ``b[i]`` of hidden/output layer
        ``layer`` (0-based over the page's columns)."""
        if not 0 <= layer < len(self.groups):
            raise GlassnetError(f"layer must be in [0, {len(self.groups)}), got {layer}")
        dense = self.groups[layer].dense
        if param == "W":
            n_in, units = dense.W.value.shape[1:]
            if j is None or not (0 <= i < n_in and 0 <= j < units):
                raise GlassnetError(f"weight index must be i in [0, {n_in}), j in [0, {units}), got i={i}, j={j}")
            dense.W.value[0, i, j] = value
        else:
            units = dense.b.value.shape[1]
            if not 0 <= i < units:
                raise GlassnetError(f"bias index must be in [0, {units}), got {i}")
            dense.b.value[0, i] = value
        self.last = self._evaluate()
        self.pending.append(self.last)

    def load_weights(self, model) -> None:
        """Copy parameters from a loaded glassnet model with this page's architecture."""
        mine, theirs = self.model.config()["layers"], model.config()["layers"]
        if [(c["type"], c.get("units")) for c in mine] != [(c["type"], c.get("units")) for c in theirs] or \
                model.input_shape != self.model.input_shape:
            raise GlassnetError(
                f"the weights file is for inputs {model.input_shape} and layers "
                f"{[c.get('units', c['type']) for c in theirs]}, but the page has inputs {self.model.input_shape} "
                f"and layers {[c.get('units', c['type']) for c in mine]}; import the TOML setup first")
        for p, q in zip(self.model.param_list, model.param_list):
            p.value[...] = q.value[:1]
        for a, b in zip(self.model.layers, model.layers):
            for k in a.buffers:
                a.buffers[k][...] = b.buffers[k][:1]
        self.opt = network.optimizer(self.settings, self.model)
        self.last = self._evaluate()
        self.pending.append(self.last)
