"""The ensemble view: N copies of the page's network trained at once, as ONE model-axis program.

With ``ensemble = N > 1`` the session's model holds N networks side by side (every parameter
``(N, ...)``, one Trainer, one optimizer with per-model hyperparameters). The copies differ in
one setting, ``ensembleSweep``:

* ``seed``: only their initial weights and shuffles (model m has seed ``s + m``, where ``s`` is
  the seed the page draws for its network; model 0 is the single network of that seed);
* ``learningRate`` or ``regularizationRate``: a per-model ``(N,)`` learning rate (the optimizer's
  own per-model hyperparameter) or L1/L2 rate (``Trainer.set_penalties`` takes one per model);
* ``init``: each copy's weights drawn by its own initializer (a network built with the seeds of
  the copies that use it, copied into their slots: model m is exactly the single network with
  that initializer and seed ``s + m``);
* ``activation``: each copy's hidden layers apply their own activation, through
  :class:`PerModelActivation`, an activation layer that applies model m's function to model m's
  slice (value and derivative side by side, as every activation), so the architecture stays one
  program: same layers, same shapes.

Model m takes the m-th value of the sweep's list, cycling when N is longer (so N = 16 over 8
learning rates is two seeds of each). Batch size is not offered: copies with different batch
sizes take different numbers of steps on different batches, which is not one program.

:func:`frame` builds the update's ``ensemble`` part: every copy's decision map, the disagreement
map, the curves of all copies and the counts of converged, diverged and dead-unit copies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import activations as acts
from ..layers.activation import Activation
from . import options

#: the most copies a page trains at once
MAX_ENSEMBLE = 32
#: what the copies may differ in (a settings key, or "seed")
SWEEPS = ("seed", "learningRate", "init", "activation", "regularizationRate")
SWEEP_LABELS = {"seed": "Seed (initial weights, shuffles)", "learningRate": "Learning rate", "init": "Initialization",
                "activation": "Activation", "regularizationRate": "Regularization rate (L2 unless L1 is chosen)"}
#: the values a sweep spans (the initializers and activations: every option the page offers)
SWEEP_VALUES = {"learningRate": [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3],
                "regularizationRate": [0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1]}
#: side of each copy's decision map and of the disagreement map (cells of the same [-6, 6]
#: square as the page's 100x100 output, twice as large)
MAP_SIZE = 50
#: a copy has converged at this training accuracy (two or more classes), or below this training
#: loss (regression)
CONVERGED_ACCURACY, CONVERGED_LOSS = 0.95, 0.01
#: a hidden neuron is dead when its output varies by less than this over the training points
DEAD_RANGE = 1e-6


def values(sweep: str) -> list:
    """The values the copies take, in order (model m takes ``values[m % len(values)]``)."""
    if sweep == "init":
        return [o.name for o in options.options("initializer")]
    if sweep == "activation":
        return [o.name for o in options.options("activation")]
    return SWEEP_VALUES.get(sweep, [])


@dataclass(frozen=True)
class Member:
    """One copy: its index, seed, the swept value (None for a seed sweep) and a short label."""

    index: int
    seed: int
    value: object
    label: str


def members(settings: dict, base_seed: int) -> list[Member]:
    """The copies the settings describe (one, ``ensemble = 1``, is the page's single network)."""
    n, sweep = settings["ensemble"], settings["ensembleSweep"]
    vals = values(sweep) if n > 1 else []
    out = []
    for m in range(n):
        seed = base_seed + m
        if not vals:
            out.append(Member(m, seed, None, f"seed s+{m}"))  # s: the page's seed for its network
            continue
        v = vals[m % len(vals)]
        if sweep == "learningRate":
            text = f"lr {v:g}"
        elif sweep == "regularizationRate":
            text = f"{_penalty(settings)} {v:g}"
        else:
            text = str(v)
        out.append(Member(m, seed, v, text))
    return out


def _penalty(settings: dict) -> str:
    return settings["regularization"] if settings["regularization"] != "none" else "L2"


def member_settings(settings: dict, member: Member) -> dict:
    """The settings of one copy: the page's, with the swept value in place (what its export and
    its backprop trace use)."""
    sweep = settings["ensembleSweep"]
    if member.value is None or settings["ensemble"] <= 1:
        return dict(settings)
    out = dict(settings)
    out[sweep] = member.value
    if sweep == "regularizationRate":
        out["regularization"] = _penalty(settings)
    return out


def per_model(settings: dict, mems: list[Member], key: str) -> np.ndarray:
    """``(M,)`` values of a numeric setting over the copies (the swept one varies)."""
    return np.array([member_settings(settings, m)[key] for m in mems], dtype=np.float64)


def penalty_rates(settings: dict, mems: list[Member]) -> tuple:
    """(L2 rates, L1 rates) per copy, each a float when every copy has the same."""
    l2, l1 = [], []
    for m in mems:
        s = member_settings(settings, m)
        rate = s["regularizationRate"] if s["regularization"] != "none" else 0.0
        l2.append(rate if s["regularization"] == "L2" else 0.0)
        l1.append(rate if s["regularization"] == "L1" else 0.0)
    simplify = (lambda r: float(r[0]) if len(set(r)) == 1 else np.array(r))
    return simplify(l2), simplify(l1)


class PerModelActivation(Activation):
    """An activation layer whose function differs per model: model m's slice of ``(M, B, units)``
    goes through ``f_m`` (forward ``a = f_m(z)``, backward ``dL/dz = f_m'(z) dL/da``, each
    function's own pair). Models that share a function are computed together."""

    def __init__(self, names: list[str], name: str | None = None):
        super().__init__(names[0], name=name)
        self.names = list(names)
        self.groups = [(acts.get(n), np.array([m for m, k in enumerate(names) if k == n]))
                       for n in dict.fromkeys(names)]
        self._identity = False

    def forward(self, x, train):
        if x.ndim == 2:  # shared input: give every model its copy
            x = np.broadcast_to(x, (len(self.names),) + x.shape)
        a = np.empty(x.shape, dtype=np.result_type(x.dtype, np.float32))
        for fn, idx in self.groups:
            a[idx] = fn(x[idx])
        self._z, self._a = x, a
        return a

    def backward(self, dy):
        dz = np.empty_like(dy)
        for fn, idx in self.groups:
            dz[idx] = fn.backward(self._z[idx], self._a[idx], dy[idx])
        return dz

    def config(self):
        return {**super().config(), "activation": {"name": "per_model", "activations": self.names}}

    def __repr__(self):
        return f"PerModelActivation({'/'.join(dict.fromkeys(self.names))})"


# -- the update's ensemble part --------------------------------------------------------------------
def disagreement(out: np.ndarray, problem: str, active: np.ndarray) -> np.ndarray:
    """Per grid cell, how much the active copies disagree, in [0, 1]: for classes, the share of
    copies outside the most predicted class, scaled so that an even split over the classes is
    1 (two classes: 8 vs 8 is 1, 15 vs 1 is 1/8); for regression, twice the standard deviation
    of the outputs (clipped at 1). ``out``: ``(M, cells, outputs)``."""
    o = out[active]
    if len(o) < 2:
        return np.zeros(out.shape[1])
    # diverged copies' outputs overflow in the spread: nan_to_num and the clip bound it (inf to 1, NaN to 0)
    with np.errstate(invalid="ignore", over="ignore"):
        if problem == "regression":
            return np.clip(2 * np.nan_to_num(o[..., 0].std(axis=0)), 0, 1)
        if problem == "classification":
            votes = (o[..., 0] > 0).sum(axis=0)
            k = 2
            top = np.maximum(votes, len(o) - votes)
        else:
            k = o.shape[-1]
            cls = np.nan_to_num(o).argmax(axis=-1)
            top = np.stack([(cls == c).sum(axis=0) for c in range(k)]).max(axis=0)
    return (1 - top / len(o)) / (1 - 1 / k)


def dead_counts(hidden: list[np.ndarray]) -> np.ndarray:
    """``(M,)`` hidden neurons per copy whose output is constant over the training points
    (within ``DEAD_RANGE``): a dead ReLU, or a unit saturated on every point; it learns nothing."""
    if not hidden:
        return np.zeros(0, int)
    with np.errstate(invalid="ignore"):
        return sum(((h.max(axis=1) - h.min(axis=1)) <= DEAD_RANGE).sum(axis=1) for h in hidden)


def converged(session) -> np.ndarray:
    """``(M,)``: has each copy fit its training points (see ``CONVERGED_*``)?"""
    ev = session.last_all
    if session.settings["problem"] == "regression" or ev.train_acc is None:
        return np.nan_to_num(np.asarray(ev.train if ev.train is not None else [], float), nan=np.inf) < CONVERGED_LOSS
    return np.nan_to_num(ev.train_acc, nan=0.0) >= CONVERGED_ACCURACY


def _nums(a) -> list:
    return [None if v is None or not math.isfinite(v) else float(v) for v in np.asarray(a, float).tolist()]


def curves(pending: list) -> dict:
    """Every copy's new curve points: ``{epoch: [...], train: [[M values], ...], test: [...]}``."""
    return {"epoch": [int(e.epoch) for e in pending],
            "train": [None if e.train is None else _nums(e.train) for e in pending],
            "test": [None if e.test is None else _nums(e.test) for e in pending]}


def frame(session, out: np.ndarray, pending: list, b64, to_byte, twin=None) -> dict:
    """The update's ``ensemble`` part from every copy's output ``out`` ``(M, S*S, outputs)`` over
    the ``MAP_SIZE`` grid (same layout as the page's grid, S cells a side): maps (bytes, S*S per
    copy, in copy order), the disagreement map (bytes, S*S) with its share of disagreeing
    cells and its mean, the curves, each copy's status, and the counts."""
    from .frames import group_outputs  # noqa: PLC0415 - frames calls this module

    problem = session.settings["problem"]
    M = out.shape[0]
    grid = out.reshape(M, MAP_SIZE, MAP_SIZE, -1)
    if problem == "multiclass":
        maps = np.nan_to_num(grid).argmax(axis=-1).astype(np.uint8)
    else:
        maps = to_byte(grid[..., 0])
    active = ~session.stopped
    d = disagreement(out, problem, active)
    key = (id(session.model), session.epoch, len(session.xtr))
    if getattr(session, "_dead_key", None) != key:
        dead = np.zeros(M, int)
        if len(session.xtr):
            hidden, _ = group_outputs(session, session.xtr.astype(np.float32) if twin is not None else session.xtr, twin)
            dead = dead_counts(hidden) if hidden else dead
        session._dead_key, session._dead = key, dead
    dead = session._dead
    conv = converged(session) & active
    return {"n": M, "focus": session.focus, "size": MAP_SIZE, "maps": b64(maps),
            "disagreement": b64(np.rint(np.clip(d, 0, 1) * 255).astype(np.uint8)),
            "share": float(np.mean(d > 1e-9)), "mean": float(np.mean(d)),
            "status": ["diverged" if s else "training" for s in session.stopped],
            "converged": conv.tolist(), "dead": dead.astype(int).tolist(),
            "counts": {"converged": int(conv.sum()), "diverged": int(session.stopped.sum()),
                       "dead": int(((dead > 0) & active).sum()), "training": int(active.sum())},
            "curves": curves(pending)}
