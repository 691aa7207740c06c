"""Study ``initialization`` (seed 000, questions 1-2): equal weights vs He vs Glorot vs small
normal weights, with zero or random biases.

Question 1 asks whether all weights may start at one value, drawn with He initialization. In a
layer whose units start with identical incoming weights and biases, every unit computes the same
output and receives the same gradient, so they stay copies of each other forever: the layer
acts like a single unit. :func:`glassnet.diagnostics.duplicate_units` counts the copies during
training. Question 2 asks about zero biases; the study also measures what random biases do to
the equal-weight network.

Seed 001 (Playground, preliminary questions b and c) is measured on the He-initialized runs:
different initial weights end in different final weights (compared after matching hidden units by
permutation, :func:`glassnet.landscape.align`), and whether those are separate minima (the loss
along the straight line between two of them, :func:`glassnet.landscape.interpolate`); and what
"stuck" at a too-low learning rate is: the same initial weights and batches at a rate ten times
lower, compared at equal steps and at equal lr x steps.

Task: the Playground's circle set (standardized), a 2-8-8-1 network with ReLU hidden layers and
a sigmoid output, binary cross-entropy, SGD. Every finding is a claim
(:meth:`~glassnet.studies.report.Report.claim`) whose premise is checked on the measurements.
"""

from __future__ import annotations

import numpy as np

from .. import landscape
from .. import losses as losses_mod
from .. import metrics as metrics_mod
from ..diagnostics import compute_gradients, duplicate_units
from ..initializers import GlorotUniform, HeNormal, Initializer, Normal, Zeros
from ..layers import Dense
from ..model import Sequential
from ..optimizers import SGD
from .base import Study, register_study
from .common import Probe
from .initialization_report import analyze
from .report import fmt
from .runconfig import DataRecipe


class SameValue(Initializer):
    """Every entry of the tensor gets ONE value drawn from ``base`` (seed 000 question 1:
    "all the weights to the same value, selected randomly using He initialization")."""

    name = "same_value"

    def __init__(self, base: Initializer):
        self.base = base

    def __call__(self, shape, rng, dtype, fan_in, fan_out):
        value = self.base((1,), rng, dtype, fan_in, fan_out)[0]
        return np.full(shape, value, dtype=dtype)


WEIGHT_INITS = {
    "equal (one He draw)": lambda: SameValue(HeNormal()),
    "He normal": HeNormal,
    "Glorot uniform": GlorotUniform,
    "N(0, var 0.01)": lambda: Normal(variance=0.01),
}
BIAS_INITS = {"zero": Zeros, "N(0, var 0.01)": lambda: Normal(variance=0.01)}
HIDDEN = ("dense_0", "dense_1")


def _probe(x, y):
    bce = losses_mod.get("binary_cross_entropy")
    start = {}

    def fn(model):
        pred = model.forward(x, False)
        out = {"loss": bce.value(pred, y), "accuracy": metrics_mod.get("accuracy")(pred, y, bce)}
        if not start:  # the first logged step comes before the first update: the initial weights
            start.update({p.name: p.value.copy() for p in model.param_list})
        out["moved"] = _distance({p.name: p.value for p in model.param_list}, start)
        groups = duplicate_units(model, atol=1e-10)
        for layer in HIDDEN:
            units = model.layers[HIDDEN.index(layer)].units
            # distinct functions = units minus the copies inside each group of identical units
            out[f"distinct/{layer}"] = np.array([units - sum(len(g) - 1 for g in gs) for gs in groups[layer]])
            W = model.layers[HIDDEN.index(layer)].W.value
            out[f"spread/{layer}"] = W.std(axis=-1).mean(axis=-1)  # how different the units' weights are
        return out

    return fn


def _distance(a: dict, b: dict) -> np.ndarray:
    """Per-model Euclidean distance between two ``{name: (M, ...)}`` parameter sets."""
    return np.sqrt(sum(((a[k] - b[k]).reshape(len(a[k]), -1) ** 2).sum(axis=1) for k in a))


def _grad_norm(model, x, y) -> np.ndarray:
    """The full training-set gradient norm of every network, ``(M,)`` (outside training only)."""
    compute_gradients(model, x, y, "binary_cross_entropy")
    return np.sqrt(sum((p.grad.reshape(model.M, -1).astype(np.float64) ** 2).sum(axis=1) for p in model.param_list))


def _minima(model, starts, x, y, ts) -> dict:
    """Every pair of the trained networks of ``model``: their distance (raw and after matching
    hidden units by permutation), the loss along the straight line between them (raw and aligned);
    ``starts``: the networks' initial points, for scale."""
    S = model.M
    pts = [landscape.point(model, m) for m in range(S)]
    zero = [np.zeros_like(a) for a in pts[0]]
    out = {"pairs": [], "norm": np.array([landscape.distance(p, zero) for p in pts]),
           "ts": np.asarray(ts, dtype=float)}
    for i in range(S):
        for j in range(i + 1, S):
            al = landscape.align(model, i, j, method="weights")
            raw = landscape.interpolate(model, pts[i], pts[j], x, y, "binary_cross_entropy", ts=ts)
            aligned = landscape.interpolate(model, pts[i], al.point, x, y, "binary_cross_entropy", ts=ts)
            out["pairs"].append({"pair": (i, j), "distance": landscape.distance(pts[i], pts[j]),
                                 "start_distance": landscape.distance(starts[i], starts[j]),
                                 "aligned_distance": landscape.distance(pts[i], al.point),
                                 "raw_path": raw.loss, "aligned_path": aligned.loss,
                                 "raw_barrier": raw.barrier, "aligned_barrier": aligned.barrier})
    return out


@register_study
class Initialization(Study):
    name = "initialization"
    seed_file = "000_16da2bc5b32683df.txt + 001_1fb43f74043566a6.txt"
    title = ("equal weights vs He vs Glorot vs N(0, 0.01); zero vs random biases; symmetric neurons; "
             "different starts, different minima; a too-low learning rate")
    summary = ("seed 000 q1-2 / 001: equal-weight init keeps neurons identical; He/Glorot/N(0,0.01); zero vs random "
               "bias; different final weights; too-low lr")

    def settings(self, quick, seeds):
        return {"seeds": seeds, "data": "circle (n=400, noise 0.05), standardized, half for testing",
                "network": "2-8-8-1, ReLU hidden, sigmoid output", "loss": "binary_cross_entropy",
                "optimizer": "SGD", "lr": 0.1, "batch_size": 16, "steps": 1500 if quick else 6000,
                "accuracy target": 0.9, "low lr (seed 001)": 0.01, "path points": 21}

    def measure(self, s, recorder):
        recipe = DataRecipe("circle", options={"n": 400, "noise": 0.05, "seed": 0}, validation_split=0.5,
                            split_seed=0, standardize=True)
        data = recipe.load()
        xtr, xte = data.x, data.x_val
        ytr, yte = data.y.astype(float)[:, None], data.y_val.astype(float)[:, None]
        out, extra = {}, {}
        fits = [(w, b, s["lr"]) for w in WEIGHT_INITS for b in BIAS_INITS] + \
               [("He normal", "zero", s["low lr (seed 001)"])]
        for wname, bname, lr in fits:
            model = Sequential([Dense(8, activation="relu"), Dense(8, activation="relu"),
                                Dense(1, activation="sigmoid")], input_shape=(2,), init=WEIGHT_INITS[wname](),
                               bias_init=BIAS_INITS[bname](), seed=list(range(s["seeds"])), dtype="float64")
            low = lr != s["lr"]
            if wname == "He normal" and bname == "zero":
                grad0 = _grad_norm(model, xtr, ytr)  # before training: reads the gradient, changes no weight
                starts = [landscape.point(model, m) for m in range(model.M)]
            probe = Probe(_probe(xtr, ytr))
            note = f"{wname} weights, {bname} biases" + (f", low lr {fmt(lr)}" if low else "")
            model.fit(data.x, data.y, loss="binary_cross_entropy", optimizer=SGD(lr=lr),
                      batch_size=s["batch_size"], steps=s["steps"], log_every=max(1, s["steps"] // 100),
                      metrics=[], callbacks=[probe, recorder.callback(recipe, note)], progress=False)
            run = {k: v.T for k, v in probe.values.items()}  # (S, T)
            run["steps"] = np.array(probe.steps)
            run["test_accuracy"] = np.atleast_1d(model.evaluate(xte, yte, "binary_cross_entropy")["accuracy"])
            if wname == "He normal" and bname == "zero":
                run["grad_start"], run["grad_end"] = grad0, _grad_norm(model, xtr, ytr)
            if low:
                extra["low_lr"] = run
            else:
                out[(wname, bname)] = run
                if (wname, bname) == ("He normal", "zero") and s["seeds"] > 1:
                    extra["minima"] = _minima(model, starts, xtr, ytr, np.linspace(0, 1, s["path points"]))
        return {"runs": out, **extra}

    def analyze(self, data, s, report):
        analyze(data, s, report)


