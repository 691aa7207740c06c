"""What a worker does with one job: load the data, build ONE model-axis ensemble for the job's
runs, train it, and return plain results (curves, final metrics, weights, status, timings).

Workers never touch the run store: everything goes back to the driver, which writes it. That is
what lets the same function run in this process, in a local process pool, or on a Dask or Ray
cluster whose machines cannot see the database.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass

import numpy as np

from .. import initializers as inits
from .. import losses as losses_mod
from .. import optimizers as optim_mod
from ..callbacks import Callback
from ..errors import GlassnetError
from ..model import Sequential

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


def load_data(cfg: dict) -> Data:
    """The data of a run config's ``[data]`` table."""
    from ..data import datasets, load, one_hot, standardize, train_test_split  # noqa: PLC0415

    d = cfg["data"]
    encoding, num_classes = None, None
    if "name" in d:
        ds = load(d["name"], **d.get("options", {}))
        x, y, num_classes = np.asarray(ds.x), np.asarray(ds.y), ds.num_classes
        if datasets.canonical(d["name"]) == "identity8":
            encoding = d.get("options", {}).get("encoding", "k")
    else:
        x = np.asarray(d["x"], dtype=np.float64)
        y = np.asarray(d["y"])
        if not np.issubdtype(y.dtype, np.number):
            raise GlassnetError(f"data.y must be numbers, got an array of {y.dtype}")
    if d.get("encoding"):
        if not np.issubdtype(y.dtype, np.integer) or y.ndim != 1:
            raise GlassnetError(f"data.encoding = {d['encoding']!r} needs integer class labels, got y of shape "
                                f"{y.shape} and dtype {y.dtype}")
        num_classes = num_classes or int(y.max()) + 1
        y = one_hot(y, num_classes, encoding=d["encoding"])
        encoding = d["encoding"]
    x_val = y_val = None
    if d.get("validation_split", 0) > 0:
        (x, y), (x_val, y_val) = train_test_split(x, y, 1 - d["validation_split"], seed=d.get("split_seed", 0))
    if d.get("standardize"):
        if x_val is None:
            x, _ = standardize(x)
        else:
            x, x_val, _ = standardize(x, x_val)
    return Data(x, y, x_val, y_val, encoding, num_classes)


def _output_units(cfg: dict, data: Data) -> int:
    m = cfg["model"]
    if m.get("output_units"):
        return m["output_units"]
    y = data.y
    if y.ndim >= 2:
        return int(y.shape[-1])
    loss = losses_mod.get(cfg["training"]["loss"])
    if loss.task == "multiclass" and np.issubdtype(y.dtype, np.integer):
        return int(data.num_classes or y.max() + 1)
    return 1


def _table(spec):
    return {"name": spec} if isinstance(spec, str) else spec


def build_model(cfg: dict, seeds: list[int], data: Data) -> Sequential:
    """The ensemble for ``seeds`` (one network per seed) described by ``cfg["model"]``."""
    from ..layers import Dense, from_config  # noqa: PLC0415

    m = cfg["model"]
    if "layers" in m:
        layers = [from_config(c) for c in m["layers"]]
    else:
        layers = [Dense(w, activation=m["activation"]) for w in m["hidden"]]
        layers.append(Dense(_output_units(cfg, data), activation=m["output_activation"]))
    return Sequential(layers, input_shape=data.x.shape[1:], init=inits.get(_table(m["init"])),
                      bias_init=inits.get(_table(m["bias_init"])), seed=list(seeds), dtype=m["dtype"])


def ensemble_optimizer(configs: list[dict]):
    """One optimizer for all runs: per-model hyperparameters become lists."""
    opts = [c["training"]["optimizer"] for c in configs]
    spec = dict(opts[0])
    hyper = optim_mod.optimizers.get(spec["name"]).hyper
    for h in hyper:
        if h in spec:
            values = [o[h] for o in opts]
            spec[h] = values if len(set(values)) > 1 else values[0]
    return optim_mod.get(spec)


class FullDataMetrics(Callback):
    """Accuracy (and, for mini-batches, the data loss) on the whole training set at every logged
    step, per model: curves ``accuracy`` and ``train_loss``.

    The engine logs both over the step's batch (one pattern for batch size 1: a noisy curve), and
    reads a one-hot target by argmax, which is wrong for the "k-1" encoding (class 0 is the
    all-zeros row); this callback decodes targets and outputs with the data's encoding.
    """

    def __init__(self, x, y, loss, encoding, accuracy: bool = True, full_loss: bool = False):
        from ..data import from_one_hot  # noqa: PLC0415

        self.x, self.y, self.loss, self.encoding = x, y, loss, encoding
        self.want_accuracy, self.want_loss = accuracy, full_loss
        self.xp = self.yp = None
        self.labels = from_one_hot(y, encoding) if encoding else None
        self.curves: dict[str, list[np.ndarray]] = {}

    def accuracy(self, pred) -> np.ndarray:
        from ..data import from_one_hot  # noqa: PLC0415

        if self.labels is None:
            return losses_mod.accuracy(pred, self.y, self.loss)
        return (from_one_hot(pred, self.encoding) == self.labels).mean(axis=1)

    def on_train_begin(self, state):
        self.xp = state.model.prepare_inputs(self.x)
        self.yp = self.loss.prepare_targets(self.y, state.model.output_shape)

    def on_log(self, state, logs):
        pred = state.model.forward(self.xp, False)
        live = state.active | (state.history.stopped_at == state.step)
        if self.want_accuracy:
            self.curves.setdefault("accuracy", []).append(np.where(live, self.accuracy(pred), np.nan))
        if self.want_loss:
            self.curves.setdefault("train_loss", []).append(np.where(live, self.loss.value(pred, self.yp), np.nan))


def _has_accuracy(loss, data: Data) -> bool:
    return loss.task != "regression" or data.encoding is not None


def train_group(configs: list[dict], seeds: list[int], progress=False):
    """Train the runs ``configs`` (equal shapes) as one ensemble; returns (model, history, data, acc)."""
    cfg = configs[0]
    t = cfg["training"]
    data = load_data(cfg)
    model = build_model(cfg, seeds, data)
    loss = losses_mod.get(t["loss"])
    want = t.get("metrics", ["accuracy"] if _has_accuracy(loss, data) else [])
    minibatch = 0 < t["batch_size"] < len(data.x)
    acc = FullDataMetrics(data.x, data.y, loss, data.encoding, "accuracy" in want, minibatch) \
        if ("accuracy" in want or minibatch) else None
    # the engine's own accuracy is needed only for val_accuracy; the callback covers training
    metrics = want if data.x_val is not None else []
    wd = [c["training"]["weight_decay"] for c in configs]
    l1 = [c["training"]["l1"] for c in configs]
    hist = model.fit(
        data.x, data.y, loss=loss, optimizer=ensemble_optimizer(configs),
        steps=t.get("steps"), epochs=t.get("epochs"), batch_size=t["batch_size"] or "full",
        weight_decay=wd if len(set(wd)) > 1 else wd[0], l1=l1 if len(set(l1)) > 1 else l1[0],
        shuffle=t["shuffle"], metrics=metrics,
        validation_data=(data.x_val, data.y_val) if data.x_val is not None else None,
        callbacks=[acc] if acc is not None else [], log_every=t.get("log_every"), progress=progress)
    for name, values in (acc.curves if acc is not None else {}).items():
        hist.curves[name] = np.stack(values, axis=1)
    return model, hist, data, acc


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
        model, hist, data, acc = train_group([r.config for r in job.runs], [r.seed for r in job.runs])
    except Exception as exc:  # noqa: BLE001 - reported per run, the sweep goes on
        msg = f"{type(exc).__name__}: {exc}".splitlines()[0]
        return {**info, "seconds": time.time() - t0, "runs": [
            {"id": r.id, "status": "failed", "error": msg} for r in job.runs]}
    if set(filter(None, os.environ.get(KILL_ENV, "").split(","))) & {r.id for r in job.runs}:
        os._exit(17)
    with np.errstate(all="ignore"):  # diverged models evaluate to inf/NaN, stored as null
        ev = model.evaluate(data.x, data.y, hist_loss(job), metrics=())
        train_acc = acc.accuracy(model.forward(model.prepare_inputs(data.x), False)) \
            if acc is not None and acc.want_accuracy else None
        val = model.evaluate(data.x_val, data.y_val, hist_loss(job), metrics=()) if data.x_val is not None else None
    header = {"layers": [l.config() for l in model.layers], "input_shape": list(model.input_shape),
              "dtype": model.dtype.name}
    runs = []
    for m, r in enumerate(job.runs):
        stop = int(hist.stopped_at[m])
        keep = hist.steps <= stop if stop >= 0 else np.ones(len(hist.steps), bool)
        # float64 here; the store keeps float32 unless a value would overflow it (divergence)
        curves = {k: (hist.steps[keep].astype(np.int64), v[m][keep].astype(np.float64))
                  for k, v in hist.curves.items()}
        metrics = {k: _finite(c[1][-1]) if len(c[1]) else None for k, c in curves.items()}
        metrics["train_loss"] = _finite(ev["loss"][m])  # after the last update, whole training set
        if train_acc is not None:
            metrics["train_accuracy"] = _finite(train_acc[m])
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
    return losses_mod.get(job.runs[0].config["training"]["loss"])
