"""The sweep planner: a config with a ``[sweep]`` becomes runs, runs become groups, groups become jobs.

1. **Expand.** The axes multiply: every ``grid`` key is an axis, the ``zip`` keys together are one
   axis, ``random`` is one axis of ``n`` points drawn with its own seed. Every point is replicated
   over the seeds (``seeds = N`` -> seed, seed+1, ..., seed+N-1). Each run gets its own complete,
   validated config: what it stores, and what ``glassnet train`` needs to re-run it.
2. **Group.** Runs whose configs differ only in per-model quantities (``training.seed``,
   ``training.weight_decay``, ``training.l1`` and the optimizer's per-model hyperparameters, e.g.
   ``lr`` and ``momentum`` for SGD) have the same shapes: they train as ONE model-axis ensemble
   (``Sequential(seed=[...])``, ``SGD(lr=[...])``, ``weight_decay=[...]``).
3. **Chunk.** A group is split into jobs of at most ``max_models_per_job`` models, and the most
   expensive jobs are halved until there are at least as many jobs as workers. Model ``m`` of an
   ensemble draws exactly the numbers of a single run with its seed, so chunking changes the
   speed, not what a run computes (up to the last bit where the engine picks a different matmul
   layout for another ensemble size).
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
from dataclasses import dataclass, field

import numpy as np

from .. import optimizers as optim_mod
from .config import config_hash, resolve, run_config, set_path, validate
from .schema import ExperimentConfig

#: per-model quantities outside the optimizer (which adds its own ``hyper`` names)
PER_MODEL_TRAINING = ("seed", "weight_decay", "l1")


@dataclass
class RunSpec:
    """One planned run: its index in the sweep, full config, hash, swept values and seed."""

    index: int
    config: dict
    hash: str
    params: dict
    seed: int
    id: str = ""


@dataclass
class Job:
    """Runs trained together as one ensemble in one worker call."""

    id: str
    group: str
    runs: list[RunSpec] = field(default_factory=list)

    @property
    def cost(self) -> float:
        t = self.runs[0].config["training"]
        return len(self.runs) * float(t.get("steps") or t.get("epochs", 1) * 1000)


@dataclass
class Plan:
    sweep_id: str
    name: str
    swept: list[str]
    runs: list[RunSpec]
    config: dict

    def jobs(self, workers: int = 1, max_models: int | None = None, runs=None) -> list[Job]:
        """Group ``runs`` (default all) and chunk the groups for ``workers`` workers."""
        cap = max_models or self.config.get("sweep", {}).get("max_models_per_job")
        return chunk(group(self.runs if runs is None else runs), workers, cap)


# ------------------------------------------------------------------------------------ expand
def _seeds(cfg: ExperimentConfig) -> list[int]:
    spec = cfg.sweep.seeds if cfg.sweep is not None and cfg.sweep.seeds is not None else cfg.training.seeds
    if spec is None:
        return [cfg.training.seed]
    if isinstance(spec, int):
        return [cfg.training.seed + i for i in range(spec)]
    return list(spec)


def _draw(rng: np.random.Generator, dist: dict):
    (kind, args), = dist.items()
    if kind == "uniform":
        return float(rng.uniform(args[0], args[1]))
    if kind == "log_uniform":
        return float(math.exp(rng.uniform(math.log(args[0]), math.log(args[1]))))
    if kind == "int_uniform":
        return int(rng.integers(int(args[0]), int(args[1]) + 1))
    return args[int(rng.integers(len(args)))]


def points(cfg: ExperimentConfig) -> list[dict]:
    """The sweep's points as ``{key.path: value}`` dicts, in a fixed order (seeds excluded)."""
    sweep = cfg.sweep
    if sweep is None:
        return [{}]
    axes: list[list[dict]] = [[{path: v} for v in values] for path, values in sweep.grid.items()]
    if sweep.zip:
        n = len(next(iter(sweep.zip.values())))
        axes.append([{p: vals[i] for p, vals in sweep.zip.items()} for i in range(n)])
    if sweep.random is not None:
        rng = np.random.default_rng(sweep.random.seed)
        axes.append([{p: _draw(rng, d) for p, d in sweep.random.params.items()} for _ in range(sweep.random.n)])
    return [dict(kv for d in combo for kv in d.items()) for combo in itertools.product(*axes)]


def expand(cfg: ExperimentConfig, source: str = "config") -> Plan:
    """Every run of ``cfg`` with its own validated config."""
    base = cfg.model_dump(mode="json", exclude_none=True)
    base.pop("sweep", None)
    base["training"].pop("seeds", None)
    seeds = _seeds(cfg)
    runs: list[RunSpec] = []
    for point in points(cfg):
        raw = copy.deepcopy(base)
        for path, value in point.items():
            if path.startswith("sweep.") or path in ("training.seed", "training.seeds"):
                from ..errors import GlassnetError  # noqa: PLC0415

                raise GlassnetError(f"{source}: sweep over {path!r} is not possible; use sweep.seeds for seeds")
            set_path(raw, path, copy.deepcopy(value))
        label = f"{source}: sweep point {_short(point)}" if point else source
        one = run_config(resolve(validate(raw, label)))
        for seed in seeds:
            rc = copy.deepcopy(one)
            rc["training"]["seed"] = int(seed)
            runs.append(RunSpec(len(runs), rc, config_hash(rc), dict(point), int(seed)))
    resolved = resolve(cfg)
    sweep_id = _digest(resolved.get("name", ""), *sorted(r.hash for r in runs))[:10]
    for r in runs:
        r.id = _digest(sweep_id, r.hash)[:12]
    swept = list(dict.fromkeys(p for pt in points(cfg) for p in pt))
    return Plan(sweep_id, resolved.get("name", "experiment"), swept, runs, resolved)


def _short(point: dict) -> str:
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in point.items())


def _digest(*parts) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()


# ------------------------------------------------------------------------------------- group
def per_model_keys(run_cfg: dict) -> list[str]:
    """Key paths that may differ between models of one ensemble."""
    opt = optim_mod.optimizers.get(run_cfg["training"]["optimizer"]["name"])
    return [f"training.{k}" for k in PER_MODEL_TRAINING] + [f"training.optimizer.{h}" for h in opt.hyper]


def group_key(run_cfg: dict) -> str:
    """Hash of everything that fixes an ensemble's shapes and code path."""
    shape = copy.deepcopy(run_cfg)
    shape.pop("name", None)
    shape.pop("description", None)
    for path in per_model_keys(run_cfg):
        *head, last = path.split(".")
        node = shape
        for part in head:
            node = node[part]
        node.pop(last, None)
    return _digest(json.dumps(shape, sort_keys=True))[:12]


def group(runs: list[RunSpec]) -> list[list[RunSpec]]:
    """Runs in groups of equal shape, each in sweep order; groups in order of first appearance."""
    groups: dict[str, list[RunSpec]] = {}
    for r in runs:
        groups.setdefault(group_key(r.config), []).append(r)
    return list(groups.values())


def chunk(groups: list[list[RunSpec]], workers: int = 1, max_models: int | None = None) -> list[Job]:
    """Split groups into jobs: at most ``max_models`` models each, then halve the most
    expensive job until there are ``workers`` jobs (or every job holds one model)."""
    jobs: list[Job] = []
    for runs in groups:
        key = group_key(runs[0].config)
        n = math.ceil(len(runs) / max_models) if max_models else 1
        size = math.ceil(len(runs) / n)
        for i in range(0, len(runs), size):
            jobs.append(Job("", key, runs[i:i + size]))
    while len(jobs) < workers:
        big = max(jobs, key=lambda j: (j.cost, -jobs.index(j)))
        if len(big.runs) < 2:
            break
        half = math.ceil(len(big.runs) / 2)
        i = jobs.index(big)
        jobs[i:i + 1] = [Job("", big.group, big.runs[:half]), Job("", big.group, big.runs[half:])]
    counts: dict[str, int] = {}
    for j in jobs:
        counts[j.group] = counts.get(j.group, 0) + 1
        j.id = f"{j.group[:8]}.{counts[j.group]}"
    return jobs
