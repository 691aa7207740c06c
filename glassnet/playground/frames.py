"""What the page draws, computed from a session: compact, JSON-ready messages.

* ``update``: losses, new curve points, the output over a 100x100 grid (uint8, base64), each
  neuron's output over a coarser grid (thumbnails), every weight and bias (float32, base64), the
  confusion matrix and, when asked, the diagnostics overlay: all of the main view's copy (the
  only network, or the ``focus`` copy of an ensemble); for an ensemble also its ``ensemble``
  part (:func:`glassnet.playground.ensemble.frame`).
* ``network``: the architecture (feature names, units and activation per column).
* ``data``: the training and test points.

Grid: cell ``(r, c)`` is the point ``x1 = -6 + 12 (c + 0.5) / G``, ``x2 = 6 - 12 (r + 0.5) / G``
(row 0 at the top, as the canvas draws it). Values in [-1, 1] map to bytes as
``round((v + 1) * 127.5)``; class probabilities in [0, 1] as ``round(p * 255)``.
"""

from __future__ import annotations

import base64
import math

import numpy as np

from ..data.toy2d import features
from ..diagnostics import dead_units, duplicate_units, saturated_units
from . import ensemble
from .data import DOMAIN, flat

GRID = 100
#: a tanh/sigmoid neuron is marked saturated when |a| > 0.99 on this share of the training points
SATURATED_SHARE = 0.9


def b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii")


def num(v):
    """A JSON-safe float (None for NaN/inf/None)."""
    return None if v is None or not math.isfinite(v) else float(v)


def to_byte(v: np.ndarray) -> np.ndarray:
    """[-1, 1] -> 0..255 (values outside are clipped; NaN -> the middle)."""
    v = np.clip(v, -1.0, 1.0)
    v[np.isnan(v)] = 0.0
    v += 1.0
    v *= 127.5
    return np.rint(v, out=v).astype(np.uint8)


def grid_points(g: int = GRID) -> np.ndarray:
    """``(g*g, 2)`` cell centres, row-major from the top-left corner."""
    t = -DOMAIN + 2 * DOMAIN * (np.arange(g) + 0.5) / g
    x1, x2 = np.meshgrid(t, t[::-1])
    return np.column_stack([x1.ravel(), x2.ravel()])


class GridCache:
    """The grid's input features (of ``dtype``), kept while the feature set stays the same."""

    def __init__(self, g: int = GRID, dtype=np.float64):
        self._key, self._x = None, None
        self.points = grid_points(g)
        self.dtype = dtype

    def features(self, names) -> np.ndarray:
        key = tuple(names)
        if key != self._key:
            self._key, self._x = key, features(self.points, names).astype(self.dtype)
        return self._x


def group_outputs(session, x, model=None) -> tuple[list[np.ndarray], np.ndarray]:
    """Forward ``x`` in inference mode through ``model`` (the session's, every copy, by
    default); each hidden column's output ``(M, B, units)`` and the network output
    ``(M, B, outputs)``."""
    model = session.model if model is None else model
    outs = []
    lasts = {g.last for g in session.groups}
    with np.errstate(all="ignore"):
        h = x
        for i, layer in enumerate(model.layers):
            h = layer.forward(h, False)
            if i in lasts:
                outs.append(np.broadcast_to(h, (model.M,) + h.shape[-2:]) if h.ndim == 2 else h)
    return outs[:-1], outs[-1]


def thumb_stride(n_neurons: int) -> int:
    """50x50 thumbnails for small networks, 20x20 when there are many neurons."""
    return 2 if n_neurons <= 64 else 5


def curve(pending: list, m: int = 0) -> dict:
    """Model ``m``'s curve points not sent yet: ``{epoch: [...], train: [...], test: [...],
    trainAcc, testAcc}`` (``pending``: :class:`~glassnet.playground.session.Eval` records)."""
    cols = list(zip(*[e.of(m) for e in pending])) if pending else [[]] * 5
    names = ["epoch", "train", "test", "trainAcc", "testAcc"]
    out = {k: [num(v) for v in col] for k, col in zip(names[1:], cols[1:])}
    return {"epoch": [int(e) for e in cols[0]], **out}


def update(session, grid: GridCache, frame: int, small: GridCache | None = None) -> dict:
    """The ``update`` message: everything that changes while training (``small``: the coarser
    grid of an ensemble's maps)."""
    s = session.settings
    xg = grid.features(session.feature_names)
    hidden, out = group_outputs(session, xg.astype(np.float32, copy=False), session.focus32())
    hidden, out = [h[0] for h in hidden], out[0]
    m = session.focus
    msg = {"type": "update", "frame": frame, "epoch": session.epoch, "playing": session.playing,
           "grid": GRID, "focus": m}
    _, train, test, train_acc, test_acc = session.last
    msg["loss"] = {"train": num(train), "test": num(test)}
    msg["accuracy"] = None if s["problem"] == "regression" else {"train": num(train_acc), "test": num(test_acc)}
    msg["curve"] = curve(session.pending, m)
    msg["ensemble"] = None
    if session.M > 1:
        small = small or GridCache(ensemble.MAP_SIZE, np.float32)
        twin = session.twin32()
        _, out_all = group_outputs(session, small.features(session.feature_names), twin)
        msg["ensemble"] = ensemble.frame(session, out_all, session.pending, b64, to_byte, twin)
    session.pending = []
    if s["problem"] == "multiclass":
        z = out - out.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        msg["heatmap"] = b64(np.nan_to_num(p.argmax(axis=1)).astype(np.uint8))
        msg["heatmapConf"] = b64(np.rint(np.nan_to_num(p.max(axis=1)) * 255).astype(np.uint8))
    else:
        msg["heatmap"] = b64(to_byte(out[:, 0]))
    # thumbnails: the active input features (scaled to [-1, 1] over the grid), then every hidden neuron
    n_neurons = xg.shape[1] + sum(h.shape[1] for h in hidden)
    stride = thumb_stride(n_neurons)
    scale = np.maximum(np.abs(xg).max(axis=0), 1e-12)
    cols = [xg / scale] + hidden
    thumbs = [to_byte(c.T.reshape(-1, GRID, GRID)[:, ::stride, ::stride]) for c in cols]
    msg["thumbs"] = {"size": GRID // stride, "count": n_neurons, "data": b64(np.concatenate([t.ravel() for t in thumbs]))}
    with np.errstate(over="ignore"):  # a huge float64 weight is +-inf in float32, which the page shows
        msg["weights"] = [{"shape": list(g.dense.W.value.shape[1:]), "W": b64(g.dense.W.value[m].astype(np.float32)),
                           "b": b64(g.dense.b.value[m].astype(np.float32))} for g in session.groups]
    msg["confusion"] = confusion(session)
    msg["diagnostics"] = diagnostics(session) if s["showDiagnostics"] else None
    return msg


def confusion(session) -> list[list[int]] | None:
    """Counts ``[true class][predicted class]`` on the test points (training points if none),
    classes read as the accuracy metric reads them."""
    if session.metric is None:
        return None
    x, y = (session.xte, session.yte) if len(session.xte) else (session.xtr, session.ytr)
    if len(x) == 0:
        return None
    with np.errstate(all="ignore"):  # the main view's copy alone
        pred = session.focus_view().forward(x, False)
        guess, truth, k = session.metric.classes(pred, y, session.loss)
    counts = np.zeros((k, k), dtype=int)
    np.add.at(counts, (truth[0], guess[0]), 1)
    return counts.tolist()


def diagnostics(session) -> dict | None:
    """Dead, saturated and duplicate neurons of each hidden column (the engine's
    :mod:`glassnet.diagnostics.health` on the training points): per column lists of neuron
    indices, and groups of duplicates. Of the main view's copy (as a network of its own, so a
    copy of an activation sweep is judged by its own activation)."""
    if len(session.xtr) == 0:
        return None
    model = session.focus_view()
    with np.errstate(all="ignore"):
        dead = dead_units(model, session.xtr)
        sat = saturated_units(model, session.xtr, fraction=SATURATED_SHARE)
        dup = duplicate_units(model)
    out = {"dead": [], "saturated": [], "duplicates": []}
    first = 0
    for g in session.groups[:-1]:
        names = [layer.name for layer in model.layers[first:g.last + 1]]
        first = g.last + 1
        flags = lambda table: sorted({int(i) for n in names if n in table for i in np.flatnonzero(table[n][0])})
        out["dead"].append(flags(dead))
        out["saturated"].append(flags(sat))
        dense = model.layers[session.model.layers.index(g.dense)]  # the same place in the copy's network
        groups = dup.get(dense.name)
        out["duplicates"].append(groups[0] if groups is not None else [])
    out["counts"] = {k: sum(map(len, out[k])) for k in ("dead", "saturated")}
    out["counts"]["duplicates"] = sum(len(grp) for col in out["duplicates"] for grp in col)
    return out


def network(session) -> dict:
    """The ``network`` message: what the diagram draws."""
    s = session.settings
    m = session.focus
    columns = [{"units": g.dense.units, "activation": g.activations[m]} for g in session.groups]
    members = None if session.M == 1 else {
        "sweep": s["ensembleSweep"], "labels": [mem.label for mem in session.members],
        "seeds": [mem.seed for mem in session.members]}
    return {"type": "network", "features": session.feature_names, "columns": columns,
            "problem": s["problem"], "classes": s["classes"] if s["problem"] == "multiclass" else 2,
            "params": session.model.param_count(), "summary": session.model.summary(print_fn=None),
            "members": members, "focus": m}


def data(session) -> dict:
    """The ``data`` message: ``[x1, x2, label, ...]`` for the training and the test points."""
    return {"type": "data", "train": flat(session.train_pts), "test": flat(session.test_pts),
            "custom": session.uses_custom}
