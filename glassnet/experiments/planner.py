"""The sweep planner: a config with a ``[sweep]`` becomes runs, runs become groups, groups become jobs.

1. **Expand.** The axes multiply: every ``grid`` key is an axis, the ``zip`` keys together are one
   axis, ``random`` is one axis of ``n`` points drawn with its own seed. Every point is replicated
   over the seeds (``seeds = N`` -> seed, seed+1, ..., seed+N-1). Each run gets its own complete,
   frozen :class:`~.schema.RunConfig`: what the executor ships, the worker trains, the store
   saves, and what ``glassnet train`` needs to re-run it. Nothing is validated here: the points
   were validated with the experiment (:func:`~.config.validate`), a run is a point's config
   with its seed.
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

import hashlib
import json
import math
from dataclasses import dataclass, field

from .. import optimizers as optim_mod
from .config import config_hash, point_runs, points
from .schema import ExperimentConfig, RunConfig

#: per-model quantities outside the optimizer (which adds its own ``hyper`` names)
PER_MODEL_TRAINING = ("seed", "weight_decay", "l1")


@dataclass
class RunSpec:
    """One planned run: its index in the sweep, frozen config, hash, swept values and seed."""

    index: int
    config: RunConfig
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
        t = self.runs[0].config.training
        return len(self.runs) * float(t.steps or (t.epochs or 1) * 1000)


@dataclass
class Plan:
    sweep_id: str
    name: str
    swept: list[str]
    runs: list[RunSpec]
    #: the experiment the runs come from
    config: ExperimentConfig

    @property
    def max_models(self) -> int | None:
        """``sweep.max_models_per_job``: the most models one job trains together."""
        sweep = getattr(self.config, "sweep", None)
        return sweep.max_models_per_job if sweep is not None else None

    def jobs(self, workers: int = 1, max_models: int | None = None, runs=None) -> list[Job]:
        """Group ``runs`` (default all) and chunk the groups for ``workers`` workers."""
        return chunk(group(self.runs if runs is None else runs), workers, max_models or self.max_models)


# ------------------------------------------------------------------------------------ expand
def expand(cfg: ExperimentConfig, source: str = "config") -> Plan:
    """Every run of ``cfg``: each validated sweep point replicated over the seeds, with its
    hash and id."""
    runs: list[RunSpec] = []
    seeds = cfg.seeds()
    for point, one in point_runs(cfg, source):
        for seed in seeds:
            rc = one.with_seed(seed)
            runs.append(RunSpec(len(runs), rc, config_hash(rc), dict(point), int(seed)))
    sweep_id = _digest(cfg.name, *sorted(r.hash for r in runs))[:10]
    for r in runs:
        r.id = _digest(sweep_id, r.hash)[:12]
    swept = list(dict.fromkeys(p for pt in points(cfg) for p in pt))
    return Plan(sweep_id, cfg.name, swept, runs, cfg)


def _digest(*parts) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()


# ------------------------------------------------------------------------------------- group
def per_model_keys(run_cfg: RunConfig) -> list[str]:
    """Key paths that may differ between models of one ensemble."""
    opt = optim_mod.optimizers.get(run_cfg.training.optimizer.name)
    return [f"training.{k}" for k in PER_MODEL_TRAINING] + [f"training.optimizer.{h}" for h in opt.hyper]


def group_key(run_cfg: RunConfig) -> str:
    """Hash of everything that fixes an ensemble's shapes and code path."""
    shape = run_cfg.as_dict()
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
