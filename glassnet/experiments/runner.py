"""The sweep driver: plan, skip what is finished, execute, store results as they arrive.

``run_sweep(config, store)`` is what ``glassnet sweep`` and ``glassnet train`` call::

    plan  = expand(config)                    # every run, validated, with ids and hashes
    check = one model per group built here    # bad data/model combinations fail before any work
    todo  = runs not finished in the store    # resume: finished runs are never trained again
    for result in execute(jobs):              # as each job finishes, in any order
        store.write_result(result)            # curves, metrics, status, weights (.npz)

Ctrl-C or a dead worker keeps every stored run; running the same command again trains the rest.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import GlassnetError
from .executors import default_workers, execute
from .planner import Plan, expand
from .schema import ExperimentConfig
from .store import RunStore
from .worker import build_model, ensemble_optimizer, load_data


@dataclass
class SweepReport:
    """What a sweep call did: the plan, which runs it trained, which it skipped, how long."""

    plan: Plan
    trained: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    jobs: int = 0
    seconds: float = 0.0
    interrupted: bool = False

    @property
    def sweep_id(self) -> str:
        return self.plan.sweep_id


def check_plan(plan: Plan, source: str = "config") -> None:
    """Build the data, one model and the optimizer of every group here, before any work is sent;
    a problem names the config table it comes from (and the sweep point)."""
    from .. import losses as losses_mod  # noqa: PLC0415

    for job in plan.jobs(workers=1, max_models=None):
        run = job.runs[0]
        where = f"{source}: sweep point {run.params}: " if run.params else f"{source}: "
        steps = [("data", lambda: load_data(run.config)),
                 ("model", lambda: build_model(run.config, [run.seed], built["data"])),
                 ("training.loss", lambda: _dry_loss(losses_mod.get(run.config["training"]["loss"]),
                                                     built["model"], built["data"])),
                 ("training.optimizer", lambda: ensemble_optimizer([r.config for r in job.runs]))]
        built: dict = {}
        for table, make in steps:
            try:
                built[table] = make()
            except (GlassnetError, ValueError, TypeError) as exc:  # numpy shape errors included
                msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise GlassnetError(f"{where}{table}: {msg}") from None


def _dry_loss(loss, model, data):
    """One forward pass and loss value on a few samples: catches data/model/loss mismatches."""
    y = loss.prepare_targets(data.y, model.output_shape)
    x = model.prepare_inputs(data.x[:8])
    with np.errstate(all="ignore"):
        return loss.value(model.forward(x, False), y[:8])


def run_sweep(config: ExperimentConfig, store: RunStore, *, executor: str = "local", workers: int | None = None,
              address: str | None = None, fresh: bool = False, kind: str = "sweep", command: str = "",
              source: str = "config", progress: bool | None = None, mirrors=(), echo=print) -> SweepReport:
    """Run every unfinished run of ``config``'s sweep and store the results; see the module doc."""
    t0 = time.perf_counter()
    plan = expand(config, source)
    check_plan(plan, source)
    store.add_sweep(plan, kind, command)
    if fresh:
        store.reset([r.id for r in plan.runs])
    done = store.finished_ids(plan.sweep_id)
    todo = [r for r in plan.runs if r.id not in done]
    report = SweepReport(plan, skipped=[r.id for r in plan.runs if r.id in done])
    workers = workers or (default_workers() if executor == "local" else 2)
    jobs = plan.jobs(workers, runs=todo) if todo else []
    report.jobs = len(jobs)
    if echo:
        echo(f"sweep {plan.sweep_id} {plan.name!r}: {len(plan.runs)} runs, {len(report.skipped)} already "
             f"finished, {len(todo)} to train in {len(jobs)} job{'s' if len(jobs) != 1 else ''} "
             f"({executor}, {min(workers, max(len(jobs), 1))} worker{'s' if workers > 1 else ''})")
    if not jobs:
        store.finish_sweep(plan.sweep_id, "done")
        report.seconds = time.perf_counter() - t0
        return report
    seeds = {r.id: r.seed for r in todo}
    pending = {r.id for r in todo}
    bar = _bar(progress, len(todo))
    try:
        for result in execute(jobs, executor, workers, address):
            store.write_result(result, seeds)
            for r in result["runs"]:
                pending.discard(r["id"])
                (report.failed if r["status"] == "failed" else report.trained).append(r["id"])
            for mirror in mirrors:
                mirror.log_job(store, result)
            if bar is not None:
                bar.update(len(result["runs"]))
    except KeyboardInterrupt:
        report.interrupted = True
        store.finish_sweep(plan.sweep_id, "interrupted")
        raise
    except GlassnetError:
        raise
    except Exception as exc:  # noqa: BLE001 - a dead worker or a lost cluster: keep what is stored
        msg = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        store.mark(sorted(pending), "failed", f"job lost: {msg}")
        report.failed += sorted(pending)
        store.finish_sweep(plan.sweep_id, "incomplete")
        raise GlassnetError(
            f"sweep {plan.sweep_id}: {len(plan.runs) - len(report.failed)} of {len(plan.runs)} runs finished; "
            f"{len(pending)} lost ({msg}); run the same command again to resume") from None
    finally:
        if bar is not None:
            bar.close()
    store.finish_sweep(plan.sweep_id, "done" if not report.failed else "incomplete")
    report.seconds = time.perf_counter() - t0
    return report


def _bar(progress, total):
    if progress is False:
        return None
    from tqdm.auto import tqdm  # noqa: PLC0415

    return tqdm(total=total, unit="run", desc="sweep", disable=None if progress is None else False,
                smoothing=0.1, dynamic_ncols=True)
