"""Record the networks a study trains into the run store, each described by a run config.

``Study.run`` makes one :class:`Recorder` per run and passes it to ``measure(settings,
recorder)``; nothing is global. A study attaches ``recorder.callback(data=recipe)`` to every fit
that is an experiment (a timing loop simply does not)::

    data = recipe.load()                                  # the arrays a re-run loads too
    model.fit(data.x, data.y, ..., callbacks=[probe, recorder.callback(data=recipe)])

The callback only *reads* the Trainer (``state.trainer``), at the start and at the end of
training, so a recorded study measures exactly what an unrecorded one does. For each of the
``M`` networks of the fit it keeps one run: a run config (the recipe's ``[data]`` table, the
model's layers (a graph model's architecture header), init (``"layer_default"`` when the model
has none) and dtype, the loss, the optimizer with that network's hyperparameters, its
batch size, steps, weight decay, L1, shuffle and seed), the status, final metrics, curves and
final weights. After ``measure`` the runs are written as one sweep (kind ``"study"``, name
``"study:NAME"``) by :meth:`Recorder.write`.

A run is marked ``re_runnable = True`` in its params only when its config is valid and rebuilds
the training exactly: at the start of training the data arrays must equal the recipe's, and the
initial weights must equal what the config's init draws from the seed. Otherwise (weights set by
hand after init, a model trained before, a callback that changes training, an initializer or
data outside the registries) it is recorded with ``re_runnable = False`` and the reason in
``re_run_note``. A network trained in an ensemble of ``MANY_MODELS`` or more is re-runnable, but
its note says that the re-run (a single network) agrees to rounding, not bit for bit: the
engine's speed paths for many models round differently. The study measures with
``Study.blas_threads`` BLAS threads (1): a BLAS splits a large matrix product differently for
another thread count, so a bit-identical re-run of a network with large layers needs the same
(``OPENBLAS_NUM_THREADS=1 glassnet train run.toml``); each run's description and params say so.
"""

from __future__ import annotations

import json
import time

import numpy as np

from ..backend import MANY_MODELS
from ..callbacks import Callback
from ..errors import GlassnetError
from ..network import architecture_header
from .runconfig import DataRecipe, batch_size_entry, build, canonical


class Recorder:
    """Collects one run per trained network; disabled (``enabled=False``) it records nothing and
    its callbacks do nothing."""

    def __init__(self, study: str, settings: dict | None = None, enabled: bool = True,
                 blas_threads: int | None = None):
        self.study = study
        self.settings = dict(settings or {})
        self.enabled = enabled
        #: BLAS threads the study trains with (None: the BLAS default), stated with every run
        self.blas_threads = blas_threads
        self.runs: list[dict] = []
        self.fits = 0
        self._arrays: dict[str, object] = {}  # recipe key -> loaded data, to check what a fit trains on

    def callback(self, data: DataRecipe, note: str = "", reason: str | None = None) -> Callback:
        """A callback that records the fit it is passed to, trained on ``data``'s arrays.

        ``note`` says what the fit is (shown in each run's description); ``reason`` marks the
        fit as not re-runnable, for a reason the checks cannot see.
        """
        if not self.enabled:
            return Callback()
        if not isinstance(data, DataRecipe):
            raise GlassnetError(f"recorder.callback needs the DataRecipe the fit's arrays come from, got {data!r}")
        return FitRecord(self, data, note, reason)

    def loaded(self, recipe: DataRecipe):
        """``recipe``'s arrays, loaded once per recorder."""
        if recipe.key not in self._arrays:
            self._arrays[recipe.key] = recipe.load()
        return self._arrays[recipe.key]

    def write(self, store, quick: bool, command: str = "") -> str:
        """Write the runs as one sweep into ``store`` (a RunStore or a path); returns its id."""
        from ..experiments.store import RunStore  # noqa: PLC0415

        if isinstance(store, RunStore):
            return self._write(store, quick, command)
        with RunStore(store) as st:
            return self._write(st, quick, command)

    def _write(self, st, quick: bool, command: str) -> str:
        import socket  # noqa: PLC0415

        config = {"study": self.study, "quick": quick,
                  "settings": json.loads(json.dumps(self.settings, default=str))}
        runs = sorted(self.runs, key=lambda r: r["fit"])  # fits that ran side by side end in any order
        # the rows first (pending), then each run's result with its weights file, as a sweep
        # stores a job's result
        sweep_id = st.record_external(
            f"study:{self.study}", [{"config": r["config"], "params": r["params"], "seed": r["seed"],
                                     "status": "pending"} for r in runs],
            kind="study", command=command, config=config)
        ids = [row["id"] for row in st.runs(sweep_id)]
        host = socket.gethostname()
        for rid, r in zip(ids, runs):
            st.write_result({"job": f"study:{self.study} fit {r['fit']}", "host": host, "started": r["started"],
                             "seconds": r["seconds"], "header": r["header"],
                             "runs": [{"id": rid, "status": r["status"], "stopped_at": r["stopped_at"],
                                       "steps_done": r["steps_done"], "metrics": r["metrics"],
                                       "curves": r["curves"], "weights": r["weights"]}]},
                            seeds={rid: r["seed"]})
        return sweep_id


class FitRecord(Callback):
    """Records one fit (see the module docstring); reads the Trainer, never changes it."""

    #: a callback that only reads the Trainer; a fit with any other kind is not re-runnable
    reads_only = True

    def __init__(self, recorder: Recorder, data: DataRecipe, note: str, reason: str | None):
        self.recorder, self.data, self.note, self.reason = recorder, data, note, reason
        self.problem: str | None = reason
        self.started = 0.0
        # numbered when made, not when done: fits trained side by side on threads (a study's
        # independent sweeps) keep the numbers and the stored order of the order they were set up
        recorder.fits += 1
        self.number = recorder.fits

    def on_train_begin(self, state):
        self.started = time.time()
        if self.problem is None:
            self.problem = _check_start(state.trainer, self.data, self.recorder)

    def on_train_end(self, state):
        rec = self.recorder
        number = self.number
        t = state.trainer
        model, hist = t.model, t.history
        M = model.M
        group = f"fit {number}: {_architecture(model)}"
        per_model = _per_model_values(t)
        seeds = [int(s) for s in model.seeds]
        batch = t.batch_size
        header = architecture_header(model)
        what = f"fit {number}" + (f" ({self.note})" if self.note else "")
        threads = "" if rec.blas_threads is None else \
            f"; trained with {rec.blas_threads} BLAS thread(s): re-run with OPENBLAS_NUM_THREADS={rec.blas_threads}"
        for m in range(M):
            config, problem = _run_config(t, self.data, m, rec.study, what, threads)
            problem = self.problem or problem
            note = problem or (f"trained in an ensemble of {M} models (>= {MANY_MODELS}): the engine's many-model "
                               "code paths round differently from a single network's, so a re-run agrees to "
                               "rounding, not bit for bit" if M >= MANY_MODELS else "")
            params = {"group": group, **{k: v[m] for k, v in per_model.items()}, "batch_size": batch,
                      "re_runnable": problem is None}
            if note:
                params["re_run_note"] = note
            if rec.blas_threads is not None:
                params["blas_threads"] = rec.blas_threads
            curves = {k: (np.asarray(hist.steps), np.asarray(v)[m]) for k, v in hist.curves.items()}
            metrics = {k: _last_finite(v) for k, (_, v) in curves.items()}
            for key, alias in (("loss", "train_loss"), ("accuracy", "train_accuracy"), ("val_loss", "final_val_loss")):
                if key in metrics:
                    metrics[alias] = metrics[key]
            weights = {f"param/{l.name}/{s}": p.value[m].copy() for l in model.layers for s, p in l.params.items()}
            weights.update({f"buffer/{l.name}/{s}": b[m].copy() for l in model.layers for s, b in l.buffers.items()})
            rec.runs.append({
                "fit": number, "config": _stored(config), "params": params, "seed": seeds[m],
                "status": hist.status[m], "steps_done": int(hist.steps_done), "stopped_at": int(hist.stopped_at[m]),
                "seconds": float(hist.seconds) / M, "started": self.started, "metrics": metrics, "curves": curves,
                "weights": weights, "header": header})


# -- describing a fit -----------------------------------------------------------------------------
class _NotDescribable(Exception):
    """Part of a fit that no config key can say."""


def _check_start(trainer, recipe: DataRecipe, recorder: Recorder) -> str | None:
    """Why the fit that ``trainer`` is about to run cannot be re-run from its config (None if
    it can): checked before the first step, against the recipe's arrays and the config's init."""
    if trainer.per_model_data:
        return "trained on per-model data arrays, which a config cannot give"
    if trainer.drop_last:
        return "trained with drop_last, which a config cannot say"
    if not trainer.nan_guard:
        return "trained without the NaN guard, which a config cannot turn off"
    for cb in trainer.callbacks:
        if not getattr(cb, "reads_only", False):
            return f"trained with the callback {type(cb).__name__}, which changes training"
    model = trainer.model
    try:
        config, problem = _run_config(trainer, recipe, 0, "check", "check", steps=1)
        if problem is not None:
            return problem
        data = recorder.loaded(recipe)
        if not _same(model.prepare_inputs(data.x), trainer.x):
            return "its inputs are not the data recipe's arrays"
        y = trainer.loss.prepare_targets(data.y, model.output_shape)
        y = y.astype(model.dtype, copy=False) if np.issubdtype(y.dtype, np.floating) else y
        if not _same(y, trainer.y):
            return "its targets are not the data recipe's arrays"
        fresh = build(config, model.seeds, data)
    except GlassnetError as exc:
        return f"its config does not rebuild it: {str(exc).splitlines()[0]}"
    for a, b in zip(model.layers, fresh.layers):
        for (name, p), q in zip(a.params.items(), b.params.values()):
            if not _same(p.value, q.value):
                return f"its initial weights ({a.name}.{name}) are not those its init and seed draw (set after init?)"
        for (name, v), w in zip(a.buffers.items(), b.buffers.values()):
            if not _same(v, w):
                return f"its initial {a.name}.{name} is not what a fresh model starts from (trained before?)"
    return None


def _same(a, b) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and bool(np.array_equal(a, b))


def _run_config(trainer, recipe: DataRecipe, m: int, study: str, what: str, extra: str = "",
                steps: int | None = None) -> tuple[dict, str | None]:
    """The canonical run config of network ``m`` of the fit (``steps``: default the steps done),
    and why it is not valid (or None); an invalid description is still kept, in plain JSON, to
    show what was trained."""
    model = trainer.model
    head = {"name": f"study:{study}", "description": f"{what} of study {study}{extra}", "data": recipe.table}
    try:
        raw = {**head, "model": _model_table(model), "training": _training_table(trainer, m, steps)}
    except _NotDescribable as exc:
        return _plain({**head, "model": {"layers": [l.config() for l in model.layers]}}), str(exc)
    try:
        return canonical(raw), None
    except GlassnetError as exc:
        return _plain(raw), f"not a valid run config: {str(exc).splitlines()[0]}"


def _stored(config) -> dict:
    """What the run store keeps of a run config: a RunConfig's canonical dict, or the plain dict
    of a description that is not a valid config."""
    return config if isinstance(config, dict) else config.as_dict()


def _model_table(model) -> dict:
    """``[model]`` of the run config: a Sequential's ``layers``, or a graph model's
    ``architecture`` (its model file's JSON header, :func:`~glassnet.network.architecture_header`);
    the model-wide initializers, or ``"layer_default"`` where the model has none (each layer then
    draws with its own default: recording Glorot there would re-run a recurrent layer with
    weights other than PyTorch's uniform it started from)."""
    from ..graph import Model  # noqa: PLC0415

    table = {"init": _init_spec(model.init), "bias_init": _init_spec(model.bias_init), "dtype": model.dtype.name}
    if isinstance(model, Model):
        table["architecture"] = _plain(architecture_header(model))
    else:
        table["layers"] = _plain([l.config() for l in model.layers])
    return table


def _init_spec(init):
    from ..experiments.schema import LAYER_DEFAULT  # noqa: PLC0415
    from ..initializers import initializers  # noqa: PLC0415

    if init is None:
        return LAYER_DEFAULT
    if init.name not in initializers:
        raise _NotDescribable(f"its initializer {init.name!r} is not in the initializer registry")
    spec = init.config()
    try:
        return json.loads(json.dumps(spec))
    except TypeError:
        raise _NotDescribable(f"its initializer {init!r} has no plain config") from None


def _training_table(trainer, m: int, steps: int | None = None) -> dict:
    loss = trainer.loss
    if loss.config() != {"name": loss.name}:
        raise _NotDescribable(f"its loss {loss!r} has options a config cannot give")
    opt = trainer.optimizer.config()
    for h in type(trainer.optimizer).hyper:
        if h in opt:
            opt[h] = _pick(opt[h], m)
    out = {"loss": loss.name, "optimizer": _plain(opt), "steps": int(trainer.steps_done if steps is None else steps),
           "batch_size": batch_size_entry(trainer.batch_size), "shuffle": bool(trainer.shuffle),
           "weight_decay": _pick(trainer.weight_decay, m), "l1": _pick(trainer.l1, m),
           "seed": int(trainer.model.seeds[m])}
    if isinstance(trainer.log_every, (int, np.integer)):
        out["log_every"] = int(trainer.log_every)
    return out


def _pick(value, m: int):
    """Model ``m``'s value of a number-or-one-per-model hyperparameter, as a Python float."""
    a = np.asarray(value, dtype=float).reshape(-1)
    return float(a[0] if a.size == 1 else a[m])


def _plain(obj):
    """JSON-safe: NumPy scalars and arrays become Python numbers and lists; anything else its repr."""
    return json.loads(json.dumps(obj, default=lambda v: v.tolist() if isinstance(v, (np.ndarray, np.generic))
                                 else repr(v)))


# -- what the run list shows ---------------------------------------------------------------------
def _architecture(model) -> str:
    """E.g. ``"dense 8 relu > dense 1 sigmoid"`` (layer type, units, activation)."""
    parts = []
    for layer in model.layers:
        cfg = layer.config()
        bits = [type(layer).__name__.lower()]
        for k in ("units", "filters", "rate", "activation"):
            v = cfg.get(k)
            v = v.get("name") if isinstance(v, dict) else v
            if v is not None and v not in ("identity", "linear"):
                bits.append(str(v))
        parts.append(" ".join(bits))
    return " > ".join(parts)


def _per_model_values(trainer) -> dict[str, list]:
    """Per-model hyperparameters of a fit: the optimizer's (its ``hyper`` names; ``lr`` is the
    base rate, before any schedule), ``weight_decay`` and ``l1``; each a list of length M."""
    M = trainer.model.M
    opt = trainer.optimizer.config()
    out = {h: [_pick(opt[h], m) for m in range(M)] for h in type(trainer.optimizer).hyper if h in opt}
    out["weight_decay"] = [_pick(trainer.weight_decay, m) for m in range(M)]
    out["l1"] = [_pick(trainer.l1, m) for m in range(M)]
    return out


def _last_finite(row):
    row = np.asarray(row, dtype=float)
    ok = np.flatnonzero(np.isfinite(row))
    return float(row[ok[-1]]) if ok.size else None
