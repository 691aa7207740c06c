"""What a worker does with one job: load the data, build ONE model-axis ensemble for the job's
runs, train it, and return plain results (curves, final metrics, weights, status, timings).

A job's runs carry frozen, validated :class:`~glassnet.experiments.schema.RunConfig` objects;
the worker reads them and checks nothing again (the engine's own boundary checks in ``fit``
apply, as for any Python caller).

Workers never touch the run store: everything goes back to the driver, which writes it. That is
what lets the same function run in this process, in a local process pool, or on a Dask or Ray
cluster whose machines cannot see the database.
"""

from __future__ import annotations

import inspect
import os
import socket
import time
from dataclasses import dataclass

import numpy as np

from .. import initializers as inits
from .. import losses as losses_mod
from .. import metrics as metrics_mod
from .. import optimizers as optim_mod
from ..callbacks import Callback
from ..errors import GlassnetError
from ..model import Sequential
from ..network import architecture_header
from ..training import FULL_BATCH
from .schema import LAYER_DEFAULT, RunConfig

#: test hook: comma-separated run ids; a worker whose job holds one of them dies (os._exit) after
#: training it, before returning, as a crashed or killed machine would. Used by the resume tests.
KILL_ENV = "GLASSNET_TEST_KILL_RUNS"


@dataclass
class Data:
    """Training (and validation) arrays of one run, with how targets are encoded."""

    x: np.ndarray
    y: np.ndarray
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    encoding: str | None = None  # "k" / "k-1" when y holds encoded class labels
    num_classes: int | None = None


def load_data(cfg: RunConfig) -> Data:
    """The data of a run config's ``[data]`` table."""
    from ..data import datasets, load, one_hot, standardize, train_test_split  # noqa: PLC0415

    d = cfg.data
    encoding, num_classes = None, None
    if d.name is not None:
        ds = load(d.name, **d.options)
        x, y, num_classes = np.asarray(ds.x), np.asarray(ds.y), ds.num_classes
        if d.name == "identity8":
            encoding = d.options.get("encoding", "k")
    else:
        x = np.asarray(d.x, dtype=np.float64)
        y = np.asarray(d.y)
        if not np.issubdtype(y.dtype, np.number):
            raise GlassnetError(f"data.y must be numbers, got an array of {y.dtype}")
    if d.encoding:
        if not np.issubdtype(y.dtype, np.integer) or y.ndim != 1:
            raise GlassnetError(f"data.encoding = {d.encoding!r} needs integer class labels, got y of shape "
                                f"{y.shape} and dtype {y.dtype}")
        num_classes = num_classes or int(y.max()) + 1
        y = one_hot(y, num_classes, encoding=d.encoding)
        encoding = d.encoding
    x_val = y_val = None
    if d.validation_split > 0:
        (x, y), (x_val, y_val) = train_test_split(x, y, 1 - d.validation_split, seed=d.split_seed)
    if d.standardize:
        if x_val is None:
            x, _ = standardize(x)
        else:
            x, x_val, _ = standardize(x, x_val)
    return Data(x, y, x_val, y_val, encoding, num_classes)


def _output_units(cfg: RunConfig, data: Data) -> int:
    if cfg.model.output_units:
        return cfg.model.output_units
    y = data.y
    if y.ndim >= 2:
        return int(y.shape[-1])
    loss = losses_mod.get(cfg.training.loss)
    if loss.task == "multiclass" and np.issubdtype(y.dtype, np.integer):
        return int(data.num_classes or y.max() + 1)
    return 1


def _table(spec):
    return {"name": spec} if isinstance(spec, str) else spec


def make_model(cfg: RunConfig, seeds: list[int], data: Data):
    """The ensemble for ``seeds`` described by ``cfg.model``, not built yet (no parameters):
    ``build_model`` builds it; the driver sizes it with a dry build first. A Sequential, or for
    ``model.architecture`` a :class:`GraphRecipe` that builds the graph the same two ways."""
    from ..layers import Dense, from_config  # noqa: PLC0415

    m = cfg.model
    init, bias_init = _initializer(m.init), _initializer(m.bias_init)
    if m.architecture is not None:
        return GraphRecipe(m.architecture, list(seeds), m.dtype, init, bias_init)
    if m.layers is not None:
        layers = [from_config(c) for c in m.layers]
    else:
        layers = [Dense(w, activation=m.activation) for w in m.hidden]
        layers.append(Dense(_output_units(cfg, data), activation=m.output_activation))
    return Sequential(layers, init=init, bias_init=bias_init, seed=list(seeds), dtype=m.dtype)


def _initializer(spec):
    """A model-wide initializer of a config, or None for ``"layer_default"`` (each layer's own)."""
    return None if spec == LAYER_DEFAULT else inits.get(_table(spec))


class GraphRecipe:
    """A graph model's architecture header (``model.architecture``) waiting for its inputs, with
    the seeds, dtype and initializers to build it: ``build(input_shape, dry=False)`` as
    ``Sequential.build``; the header fixes the input shape, which must be the data's."""

    def __init__(self, header: dict, seeds: list[int], dtype: str, init, bias_init):
        self.header, self.seeds, self.dtype, self.init, self.bias_init = header, seeds, dtype, init, bias_init

    def build(self, input_shape, *, dry: bool = False):
        from ..graph import Model  # noqa: PLC0415

        model = Model.from_header({**self.header, "seeds": self.seeds, "dtype": self.dtype}, dry=dry,
                                  init=self.init, bias_init=self.bias_init)
        if tuple(model.input_shape) != tuple(input_shape):
            raise GlassnetError(f"model.architecture takes inputs of per-sample shape {tuple(model.input_shape)}, "
                                f"but the data's are {tuple(input_shape)}")
        return model


def build_model(cfg: RunConfig, seeds: list[int], data: Data):
    """The ensemble for ``seeds`` (one network per seed) described by ``cfg.model``, built for
    the data's inputs."""
    return make_model(cfg, seeds, data).build(data.x.shape[1:])


def ensemble_optimizer(configs: list[RunConfig]):
    """The one optimizer the job trains with: per-model hyperparameters become lists. The
    options were validated (and made explicit) with the config; this is the one construction
    that trains."""
    opts = [c.training.optimizer.resolved() for c in configs]
    spec = dict(opts[0])
    hyper = optim_mod.optimizers.get(spec["name"]).hyper
    for h in hyper:
        if h in spec:
            values = [o[h] for o in opts]
            spec[h] = values if len(set(values)) > 1 else values[0]
    return optim_mod.get(spec)


def run_metrics(cfg: RunConfig, loss, data: Data) -> dict[str, metrics_mod.Metric]:
    """The run's metrics, by name, from ``glassnet.metrics.metrics``: ``training.metrics`` or, by
    default, accuracy where the targets are classes. A metric that reads classes (accuracy,
    precision, ...) decodes with the data's encoding unless the config gives one: with "k-1"
    targets class 0 is the all-zeros row, which an argmax would read as class 1."""
    specs = cfg.training.metrics
    if specs is None:
        specs = ["accuracy"] if _has_accuracy(loss, data) else []
    out = {}
    for spec in specs:
        table = _table(spec)
        if data.encoding and "encoding" not in table and \
                "encoding" in inspect.signature(metrics_mod.metrics.get(table["name"])).parameters:
            table = {**table, "encoding": data.encoding}
        metric = metrics_mod.get(table)
        out[metric.name] = metric
    return out


class FullDataMetrics(Callback):
    """The run's metrics (and, for mini-batches, the data loss) on the whole training set at
    every logged step, per model: one curve per metric name (``accuracy`` ...) and ``train_loss``.

    The engine logs both over the step's batch (one pattern for batch size 1: a noisy curve);
    the studies and figures read these whole-set curves instead.
    """

    def __init__(self, x, y, loss, metrics: dict, full_loss: bool = False):
        self.x, self.y, self.loss = x, y, loss
        self.metrics = dict(metrics)
        self.want_loss = full_loss
        self.xp = self.yp = None
        self.curves: dict[str, list[np.ndarray]] = {}

    def evaluate(self, model) -> dict[str, np.ndarray]:
        """Every metric of the model's current outputs on the whole training set, ``(M,)`` each."""
        if self.xp is None:
            self.prepare(model)
        pred = model.forward(self.xp, False)
        return {name: metric(pred, self.yp, self.loss) for name, metric in self.metrics.items()}

    def prepare(self, model):
        self.xp = model.prepare_inputs(self.x)
        self.yp = self.loss.prepare_targets(self.y, model.output_shape)

    def on_train_begin(self, state):
        self.prepare(state.model)

    def on_log(self, state, logs):
        pred = state.model.forward(self.xp, False)
        live = state.active | (state.history.stopped_at == state.step)
        for name, metric in self.metrics.items():
            self.curves.setdefault(name, []).append(np.where(live, metric(pred, self.yp, self.loss), np.nan))
        if self.want_loss:
            self.curves.setdefault("train_loss", []).append(np.where(live, self.loss.value(pred, self.yp), np.nan))


def _has_accuracy(loss, data: Data) -> bool:
    return loss.task != "regression" or data.encoding is not None


def train_group(configs: list[RunConfig], seeds: list[int], progress=False):
    """Train the runs ``configs`` (equal shapes) as one ensemble; returns (model, history, data,
    whole-set metrics callback or None)."""
    cfg = configs[0]
    t = cfg.training
    data = load_data(cfg)
    model = build_model(cfg, seeds, data)
    loss = losses_mod.get(t.loss)
    metrics = run_metrics(cfg, loss, data)
    minibatch = t.batch_size != FULL_BATCH and t.batch_size < len(data.x)
    whole = FullDataMetrics(data.x, data.y, loss, metrics, minibatch) if (metrics or minibatch) else None
    wd = [c.training.weight_decay for c in configs]
    l1 = [c.training.l1 for c in configs]
    hist = model.fit(
        data.x, data.y, loss=loss, optimizer=ensemble_optimizer(configs),
        steps=t.steps, epochs=t.epochs, batch_size=t.batch_size,
        weight_decay=wd if len(set(wd)) > 1 else wd[0], l1=l1 if len(set(l1)) > 1 else l1[0],
        # the engine's own metrics are needed only for val_*; the callback covers training
        shuffle=t.shuffle, metrics=list(metrics.values()) if data.x_val is not None else [],
        validation_data=(data.x_val, data.y_val) if data.x_val is not None else None,
        callbacks=[whole] if whole is not None else [], log_every=t.log_every, progress=progress)
    for name, values in (whole.curves if whole is not None else {}).items():
        hist.curves[name] = np.stack(values, axis=1)
    return model, hist, data, whole


def _finite(v) -> float | None:
    v = float(v)
    return v if np.isfinite(v) else None


def run_job(job) -> dict:
    """Train one job (a :class:`~glassnet.experiments.planner.Job`) and return its results.

    Never raises for a training problem: a failure comes back as status "failed" for every run of
    the job, with the error, so the driver can store it and go on.
    """
    t0, c0 = time.time(), time.process_time()
    info = {"job": job.id, "host": socket.gethostname(), "pid": os.getpid(), "started": t0}
    try:
        model, hist, data, whole = train_group([r.config for r in job.runs], [r.seed for r in job.runs])
    except Exception as exc:  # noqa: BLE001 - reported per run, the sweep goes on
        msg = f"{type(exc).__name__}: {exc}".splitlines()[0]
        return {**info, "seconds": time.time() - t0, "runs": [
            {"id": r.id, "status": "failed", "error": msg} for r in job.runs]}
    if set(filter(None, os.environ.get(KILL_ENV, "").split(","))) & {r.id for r in job.runs}:
        os._exit(17)
    with np.errstate(all="ignore"):  # diverged models evaluate to inf/NaN, stored as null
        ev = model.evaluate(data.x, data.y, hist_loss(job), metrics=())
        final = whole.evaluate(model) if whole is not None else {}
        val = model.evaluate(data.x_val, data.y_val, hist_loss(job), metrics=()) if data.x_val is not None else None
    header = architecture_header(model)
    runs = []
    for m, r in enumerate(job.runs):
        stop = int(hist.stopped_at[m])
        keep = hist.steps <= stop if stop >= 0 else np.ones(len(hist.steps), bool)
        # float64 here; the store keeps float32 unless a value would overflow it (divergence)
        curves = {k: (hist.steps[keep].astype(np.int64), v[m][keep].astype(np.float64))
                  for k, v in hist.curves.items()}
        metrics = {k: _finite(c[1][-1]) if len(c[1]) else None for k, c in curves.items()}
        metrics["train_loss"] = _finite(ev["loss"][m])  # after the last update, whole training set
        for name, values in final.items():  # after the last update, whole training set
            metrics[f"train_{name}"] = _finite(values[m])
        if val is not None:
            metrics["final_val_loss"] = _finite(val["loss"][m])
        arrays = {f"param/{l.name}/{s}": p.value[m].copy() for l in model.layers for s, p in l.params.items()}
        arrays.update({f"buffer/{l.name}/{s}": b[m].copy() for l in model.layers for s, b in l.buffers.items()})
        runs.append({"id": r.id, "status": hist.status[m], "stopped_at": stop, "steps_done": hist.steps_done
                     if stop < 0 else stop, "curves": curves, "metrics": metrics, "weights": arrays})
    return {**info, "seconds": time.time() - t0, "cpu_seconds": time.process_time() - c0,
            "train_seconds": hist.seconds, "models": len(job.runs),
            "header": header, "runs": runs}


def hist_loss(job):
    return losses_mod.get(job.runs[0].config.training.loss)
