"""The sweep driver: plan, skip what is finished, execute, store results as they arrive.

``run_sweep(config, store)`` is what ``glassnet sweep`` and ``glassnet train`` call::

    plan  = expand(config)                    # every run's frozen config (validated when read), ids, hashes
    check = what only the data can tell       # data/model/loss fit, memory budget: before any work
    todo  = runs not finished in the store    # resume: finished runs are never trained again
    for result in execute(jobs):              # as each job finishes, in any order
        store.write_result(result)            # curves, metrics, status, weights (.npz)

Ctrl-C or a dead worker keeps every stored run; running the same command again trains the rest.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..backend import MAX_BYTES_ENV, memory_budget
from ..errors import GlassnetError
from ..training import FULL_BATCH
from .executors import default_workers, execute
from .planner import Plan, expand, group
from .schema import ExperimentConfig
from .store import RunStore
from .worker import Data, load_data, make_model, run_metrics

#: bytes a parameter costs while training, in parameter sizes: its values, its gradient and up
#: to two optimizer moments (Adam)
TRAINING_COPIES = 4


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
    """Check, on the driver and before any work is sent, what only the data can tell; a problem
    names the config table it comes from (and the sweep point).

    This is not validation: every value was validated once, when the config was read
    (:func:`~glassnet.experiments.config.validate`), and nothing here checks a value again. What
    is left needs the data, so it is checked here, once per group of runs of one shape:

    * ``data``: the data set builds (its builder checks its own option values; the config
      checked their names and declared size) and ``data.encoding`` fits its labels;
    * ``model``: the memory the job's ensemble needs while training (parameters, gradients and
      optimizer moments of the most models one job trains, and the activations of one batch),
      sized with a dry build (shapes only) against the memory budget (``$GLASSNET_MAX_BYTES``)
      before anything is allocated; then one network builds on these inputs (Dense needs flat
      inputs, convolutions need images, the output width comes from the targets);
    * ``training.loss`` and ``training.metrics``: they accept the network's outputs and the
      targets (one forward pass on a few samples).

    (The budget check is the one place a memory bomb in ``model`` is caught: it needs the input
    width, which only the data gives.)
    """
    for runs in group(plan.runs):
        run = runs[0]
        cfg = run.config
        where = f"{source}: sweep point {run.params}: " if run.params else f"{source}: "
        models = min(len(runs), plan.max_models or len(runs))  # the most one job of the group trains
        built: dict = {}
        layers = "model.hidden" if cfg.model.hidden is not None else \
            "model.layers" if cfg.model.layers is not None else "model.architecture"
        steps = [("data", "data", lambda: load_data(cfg)),
                 (layers, "budget", lambda: _fits_budget(cfg, built["data"], models, plan.config.sweep is not None)),
                 ("model", "model", lambda: make_model(cfg, [run.seed], built["data"]).build(built["data"].x.shape[1:])),
                 ("training.loss", "forward", lambda: _dry_loss(cfg, built["model"], built["data"])),
                 ("training.metrics", "metrics", lambda: _dry_metrics(cfg, built["data"], *built["forward"]))]
        for table, key, make in steps:
            try:
                built[key] = make()
            except (GlassnetError, ValueError, TypeError) as exc:  # numpy shape errors included
                msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise GlassnetError(f"{where}{table}: {msg}") from None


def _fits_budget(cfg, data: Data, models: int, sweep: bool) -> None:
    """Refuse a job whose ensemble cannot fit the memory budget (see :func:`check_plan`)."""
    dry = make_model(cfg, [0], data).build(data.x.shape[1:], dry=True)
    per_model = dry.param_bytes() * TRAINING_COPIES
    n = len(data.x)
    batch = n if cfg.training.batch_size == FULL_BATCH else min(cfg.training.batch_size, n)
    widths = sum(int(np.prod(layer.output_shape, dtype=np.float64)) for layer in dry.layers)
    per_model += 2 * batch * widths * dry.dtype.itemsize  # forward caches and their gradients
    need, budget = per_model * models, memory_budget()
    if need > budget:
        hint = "" if models == 1 else "; or fewer models per job: sweep.max_models_per_job" if sweep \
            else "; or fewer seeds"
        raise GlassnetError(f"training {models} network{'s' if models > 1 else ''} of "
                            f"{dry.param_count():,} parameters at once needs about {need / 2**20:,.0f} MiB, "
                            f"over the memory budget of {budget / 2**20:,.0f} MiB (set {MAX_BYTES_ENV} to allow "
                            f"more{hint})")


def _dry_loss(cfg, model, data: Data):
    """One forward pass and the loss on a few samples: catches data/model/loss mismatches.
    Returns ``(pred, y, loss)`` for the metrics check."""
    from .. import losses as losses_mod  # noqa: PLC0415

    loss = losses_mod.get(cfg.training.loss)
    y = loss.prepare_targets(data.y, model.output_shape)[:8]
    x = model.prepare_inputs(data.x[:8])
    with np.errstate(all="ignore"):
        pred = model.forward(x, False)
        loss.value(pred, y)
    return pred, y, loss


def _dry_metrics(cfg, data: Data, pred, y, loss) -> None:
    """The run's metrics on those outputs: catches a metric that cannot read them (top-k of one
    output, a threshold that is not a number)."""
    with np.errstate(all="ignore"):
        for name, metric in run_metrics(cfg, loss, data).items():
            try:
                metric(pred, y, loss)
            except (GlassnetError, ValueError, TypeError, IndexError) as exc:
                raise GlassnetError(f"{name}: cannot be computed on this model's outputs "
                                    f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None


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
