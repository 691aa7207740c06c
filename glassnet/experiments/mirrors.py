"""Optional mirrors of stored runs into the tools users already watch.

* :class:`TensorBoardMirror` writes tensorboardX event files, one directory per run
  (``<logdir>/<sweep id>/<run id>``), every curve as a scalar series. Needs ``tensorboardX``
  (``pip install 'glassnet[tracking]'``).
* :class:`MLflowMirror` logs each run as an MLflow run: the swept values and seed as params, the
  curves as metrics with their steps, the final metrics, the status as a tag. Needs ``mlflow``
  (``pip install 'glassnet[mlflow]'``).

The run store stays the source of truth: a mirror is called by the driver after a job's results
are stored (:meth:`log_job`) and reads them back from the store, so what it shows is what was
saved. Both import their library lazily and fail with one line when it is missing.
"""

from __future__ import annotations

import math

from ..errors import GlassnetError


def _import(module: str, extra: str):
    import importlib  # noqa: PLC0415

    try:
        return importlib.import_module(module)
    except ImportError:
        raise GlassnetError(f"mirroring to {module} needs it installed: pip install 'glassnet[{extra}]'") from None


class Mirror:
    def log_job(self, store, result: dict) -> None:
        for r in result["runs"]:
            self.log_run(store, store.run(r["id"]))

    def log_run(self, store, run: dict) -> None:
        raise NotImplementedError


class TensorBoardMirror(Mirror):
    """Event files under ``logdir``: ``<sweep id>/<run id>/events.out.tfevents...``."""

    def __init__(self, logdir):
        self.tbx = _import("tensorboardX", "tracking")
        self.logdir = str(logdir)

    def log_run(self, store, run):
        writer = self.tbx.SummaryWriter(logdir=f"{self.logdir}/{run['sweep_id']}/{run['id']}")
        try:
            for name, (steps, values) in store.curves(run["id"]).items():
                for s, v in zip(steps.tolist(), values.tolist()):
                    if math.isfinite(v):
                        writer.add_scalar(name, v, s)
            text = ", ".join(f"{k}={v}" for k, v in (run.get("params") or {}).items())
            writer.add_text("run", f"seed={run['seed']} status={run['status']} {text}".strip())
        finally:
            writer.close()


class MLflowMirror(Mirror):
    """Runs under the MLflow experiment named after the sweep, at ``tracking_uri`` if given."""

    def __init__(self, tracking_uri: str | None = None):
        self.mlflow = _import("mlflow", "mlflow")
        if tracking_uri:
            self.mlflow.set_tracking_uri(tracking_uri)

    def log_run(self, store, run):
        mlflow = self.mlflow
        sweep = store.sweep(run["sweep_id"])
        mlflow.set_experiment(f"glassnet/{sweep['name']}")
        with mlflow.start_run(run_name=run["id"]):
            mlflow.log_params({**{k: str(v) for k, v in (run.get("params") or {}).items()}, "seed": run["seed"]})
            mlflow.set_tags({"glassnet.sweep": run["sweep_id"], "glassnet.status": run["status"]})
            for name, (steps, values) in store.curves(run["id"]).items():
                for s, v in zip(steps.tolist(), values.tolist()):
                    if math.isfinite(v):
                        mlflow.log_metric(name, v, step=s)
            finals = {f"final_{k}": v for k, v in (run.get("metrics") or {}).items() if v is not None}
            if finals:
                mlflow.log_metrics(finals)
