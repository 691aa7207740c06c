"""Record every network a study trains into the run store, with no per-study code.

While :func:`recording` is active (``Study.run`` wraps ``measure`` in it), every
``fit`` appends one entry per network of the ensemble: its config-ish description, its
per-model hyperparameters, status, final metrics and curves. It observes the training loop
through :func:`glassnet.training.observe_fits` and only *reads* the model, the fit's settings
and the returned :class:`~glassnet.history.History` after training, so the study's numbers are
exactly those of an unrecorded run. After ``measure`` the entries are
written as one sweep (kind ``"study"``, name ``"study:NAME"``) with
:meth:`~glassnet.experiments.store.RunStore.record_external`.

Fits that are not experiments (e.g. timing loops) run inside :func:`paused`.
"""

from __future__ import annotations

import contextlib
import json

import numpy as np

_ACTIVE: list["FitRecorder"] = []   # the recorder of the study being measured (a stack; one deep)


class FitRecorder:
    """Collects one run dict per trained network (see :meth:`add`)."""

    def __init__(self, study: str, settings: dict | None = None):
        self.study = study
        self.settings = dict(settings or {})
        self.runs: list[dict] = []
        self.fits = 0
        self.paused = 0

    def add(self, model, hist, kwargs: dict) -> None:
        """Record the ``model.M`` networks of one finished fit.

        Each run gets ``params`` (what a sweep would call its swept values: ``group`` -- the
        fit's index and architecture -- and the per-model ``lr``/``momentum``/...,
        ``weight_decay``, ``l1``, ``batch_size``), the loss/optimizer in ``config``, the status,
        ``metrics`` = last finite value of each curve (``train_loss`` = final logged loss) and
        every curve of ``hist.curves`` (each ``(M, T)``; row ``m`` with ``hist.steps``).
        """
        self.fits += 1
        M = model.M
        group = f"fit {self.fits}: {_architecture(model)}"
        per_model = _per_model_values(kwargs, M)
        opt = kwargs.get("optimizer")
        fixed = {"loss": str(kwargs.get("loss", "mse")), "optimizer": type(opt).__name__ if opt is not None else "SGD",
                 "batch_size": _plain(kwargs.get("batch_size", 32)), "steps": _plain(kwargs.get("steps")),
                 "epochs": _plain(kwargs.get("epochs"))}
        seeds = list(getattr(model, "seeds", None) or [None] * M)
        for m in range(M):
            params = {"group": group, **{k: v[m] for k, v in per_model.items()}, "batch_size": fixed["batch_size"]}
            curves = {k: (np.asarray(hist.steps), np.asarray(v)[m]) for k, v in hist.curves.items()}
            metrics = {k: _last_finite(v) for k, (_, v) in curves.items()}
            if "loss" in metrics:
                metrics["train_loss"] = metrics["loss"]
            if "accuracy" in metrics:
                metrics["train_accuracy"] = metrics["accuracy"]
            if "val_loss" in metrics:
                metrics["final_val_loss"] = metrics["val_loss"]
            self.runs.append({
                "config": {"study": self.study, "fit": self.fits, "model_index": m, **params, **fixed,
                           "seed": _plain(seeds[m])},
                "params": params, "seed": _plain(seeds[m]), "status": hist.status[m],
                "steps_done": int(hist.steps_done), "stopped_at": int(hist.stopped_at[m]),
                "seconds": float(hist.seconds) / M, "metrics": metrics, "curves": curves})


@contextlib.contextmanager
def recording(recorder: FitRecorder):
    """Within the block, every ``fit`` is recorded by ``recorder`` (unless :func:`paused`)."""
    from ..training import observe_fits  # noqa: PLC0415 - avoid a cycle

    def observe(model, hist, args):
        if not recorder.paused:
            recorder.add(model, hist, args)

    _ACTIVE.append(recorder)
    try:
        with observe_fits(observe):
            yield recorder
    finally:
        _ACTIVE.remove(recorder)


@contextlib.contextmanager
def paused():
    """Fits inside this block are not recorded (timing loops, warm-ups)."""
    rec = _ACTIVE[-1] if _ACTIVE else None
    if rec is not None:
        rec.paused += 1
    try:
        yield
    finally:
        if rec is not None:
            rec.paused -= 1


def write(recorder: FitRecorder, store, quick: bool, command: str = "") -> str:
    """Write ``recorder``'s runs as one sweep into ``store`` (a RunStore or a path); its id."""
    from ..experiments.store import RunStore  # noqa: PLC0415

    config = {"study": recorder.study, "quick": quick, "settings": json.loads(json.dumps(recorder.settings, default=str))}
    if isinstance(store, RunStore):
        return store.record_external(f"study:{recorder.study}", recorder.runs, kind="study", command=command,
                                     config=config)
    with RunStore(store) as st:
        return st.record_external(f"study:{recorder.study}", recorder.runs, kind="study", command=command,
                                  config=config)


def _architecture(model) -> str:
    """E.g. ``"dense 8 relu > dense 1 sigmoid"`` (layer type, units, activation)."""
    parts = []
    for layer in model.layers:
        cfg = layer.config() if hasattr(layer, "config") else {}
        bits = [type(layer).__name__.lower()]
        for k in ("units", "rate", "activation"):
            v = cfg.get(k)
            v = v.get("name") if isinstance(v, dict) else v
            if v is not None and v not in ("identity", "linear"):
                bits.append(str(v))
        parts.append(" ".join(bits))
    return " > ".join(parts)


def _per_model_values(kwargs: dict, M: int) -> dict[str, list]:
    """Per-model hyperparameters of a fit: the optimizer's (its ``hyper`` names; ``lr`` is the
    base rate, before any schedule), ``weight_decay`` and ``l1``; each a list of length M."""
    out = {}
    opt = kwargs.get("optimizer")
    for h in getattr(opt, "hyper", ()):
        v = getattr(opt, "base_lr" if h == "lr" and hasattr(opt, "base_lr") else h, None)
        if v is not None:
            out[h] = _spread(v, M)
    for key in ("weight_decay", "l1"):
        out[key] = _spread(kwargs.get(key, 0.0), M)
    return out


def _spread(v, M: int) -> list:
    a = np.asarray(v, dtype=float).reshape(-1)
    a = np.broadcast_to(a, (M,)) if a.size == 1 else a
    return [float(x) for x in a[:M]]


def _last_finite(row):
    row = np.asarray(row, dtype=float)
    ok = np.flatnonzero(np.isfinite(row))
    return float(row[ok[-1]]) if ok.size else None


def _plain(v):
    """JSON-friendly scalars (NumPy ints/floats -> Python)."""
    return v.item() if isinstance(v, np.generic) else v
