"""Experiments at scale: TOML configs, sweep planning, executors, the run store.

>>> from glassnet.experiments import load_config, run_sweep, RunStore
>>> cfg = load_config("examples/seed003_weight_decay.toml", ["training.steps=2000"])
>>> report = run_sweep(cfg, RunStore("glassnet-runs"))

Modules: ``schema`` (what a config may say), ``config`` (read, override, validate, write),
``planner`` (expand, group, chunk), ``worker`` (train one job), ``executors`` (joblib: local
pool, Dask, Ray), ``store`` (SQLite), ``runner`` (the driver), ``mirrors`` (TensorBoard, MLflow).
"""

from .config import load_config, parse_override, resolve, run_config, to_toml, validate
from .planner import Job, Plan, RunSpec, expand
from .runner import SweepReport, run_sweep
from .schema import ExperimentConfig, RunConfig
from .store import RunStore

__all__ = ["ExperimentConfig", "Job", "Plan", "RunConfig", "RunSpec", "RunStore", "SweepReport", "expand",
           "load_config", "parse_override", "resolve", "run_config", "run_sweep", "to_toml", "validate"]
