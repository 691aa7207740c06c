"""``glassnet sweep CONFIG``: run every point of a config's ``[sweep]``, store it, plot it.

Runs that share shapes train together as one model-axis ensemble; the jobs go to a local process
pool (default), a Dask cluster or a Ray cluster. Re-running the same command resumes: finished
runs are skipped.
"""

from __future__ import annotations

import shlex
import sys

import click

from ..experiments.executors import EXECUTORS, check_workers

STORE_HELP = "Run store: a .db file or a directory (default ./glassnet-runs/runs.db, or $GLASSNET_STORE)."


def common_options(fn):
    """--set and --store, shared by ``train`` and ``sweep``."""
    fn = click.option("--store", default=None, metavar="PATH", help=STORE_HELP)(fn)
    fn = click.option("--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE",
                      help="Override a config value (read as TOML), e.g. --set training.steps=2000. Repeatable.")(fn)
    fn = click.option("--fresh", is_flag=True, help="Train every run again, even those already finished.")(fn)
    fn = click.option("--tensorboard", default=None, metavar="DIR",
                      help="Also write TensorBoard event files here (needs tensorboardX).")(fn)
    fn = click.option("--mlflow", "mlflow_uri", default=None, metavar="URI",
                      help="Also log runs to MLflow at this tracking URI ('-' for MLflow's default; needs mlflow).")(fn)
    return fn


def exit_unless_trained(st, runs) -> None:
    """After ``train``/``sweep``: say which finished runs were trained again because their weights
    file was missing or damaged, and exit with status 1 (one line on stderr) when a run of this
    command failed or is still being trained by another glassnet process."""
    if st.damaged:
        click.echo(f"trained again: {len(st.damaged)} finished runs whose weights file was missing or damaged "
                   f"({next(iter(st.damaged.values()))})")
    failed = [r for r in runs if r["status"] == "failed"]
    busy = [r for r in runs if r["status"] == "running"]
    parts = []
    if failed:
        why = (failed[0]["error"] or "no error recorded").splitlines()[0][:200]
        parts.append(f"{len(failed)} of {len(runs)} runs failed (run {failed[0]['id']}: {why}); "
                     f"see `glassnet runs show {failed[0]['id']}`, run the same command again to retry")
    if busy:
        who = st.busy.get(busy[0]["id"], "another process")
        parts.append(f"{len(busy)} of {len(runs)} runs are being trained by another glassnet process ({who}); "
                     "run the same command again when it is done")
    if parts:
        click.echo("error: " + "; ".join(parts), err=True)
        click.get_current_context().exit(1)


def make_mirrors(tensorboard, mlflow_uri):
    from ..experiments.mirrors import MLflowMirror, TensorBoardMirror  # noqa: PLC0415

    mirrors = []
    if tensorboard:
        mirrors.append(TensorBoardMirror(tensorboard))
    if mlflow_uri:
        mirrors.append(MLflowMirror(None if mlflow_uri == "-" else mlflow_uri))
    return mirrors


@click.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--executor", type=click.Choice(EXECUTORS), default="local", show_default=True,
              help="local process pool, or an existing Dask / Ray cluster.")
@click.option("--address", default=None, help="Cluster address: tcp://HOST:8786 (dask); auto or ray://HOST:10001 (ray).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Parallel jobs (default: one per core locally, 2 for a local Dask/Ray).")
@common_options
@click.option("--plot/--no-plot", default=True, show_default=True, help="Write the sweep's figures at the end.")
@click.option("--out", default=None, metavar="DIR", help="Figure folder (default <store>/figures/<sweep id>).")
@click.option("--format", "fmt", type=click.Choice(["png", "svg"]), default="png", show_default=True)
@click.option("--dry-run", is_flag=True, help="Print the plan (runs, groups, jobs) and stop.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a terminal).")
def sweep(config, executor, address, workers, overrides, store, fresh, tensorboard, mlflow_uri, plot, out, fmt,
          dry_run, progress):
    """Run the sweep in CONFIG (a TOML file) and store every run."""
    from ..experiments import RunStore, expand, load_config, run_sweep  # noqa: PLC0415
    from ..experiments.report import summary, table  # noqa: PLC0415

    check_workers(workers, executor, address)
    cfg = load_config(config, overrides)
    if dry_run:
        plan = expand(cfg, config)
        jobs = plan.jobs(workers or 2)
        click.echo(f"sweep {plan.sweep_id} {plan.name!r}: {len(plan.runs)} runs over {', '.join(plan.swept) or 'seeds'}; "
                   f"{len({j.group for j in jobs})} groups, {len(jobs)} jobs")
        for j in jobs:
            click.echo(f"  job {j.id}: {len(j.runs)} models, e.g. {j.runs[0].params or 'base'} seed {j.runs[0].seed}")
        return
    with RunStore(store) as st:
        report = run_sweep(cfg, st, executor=executor, workers=workers, address=address, fresh=fresh,
                           command=shlex.join(["glassnet", *sys.argv[1:]]), source=config, progress=progress,
                           mirrors=make_mirrors(tensorboard, mlflow_uri), echo=click.echo)
        runs = st.runs(report.sweep_id)
        rows, headers = summary(runs, report.plan.swept)
        click.echo(table(rows, headers))
        click.echo(f"trained {len(report.trained)} runs in {report.seconds:.1f} s"
                   + (f"; {len(report.failed)} failed (run again to retry)" if report.failed else ""))
        if plot and any(r["status"] not in ("pending", "running") for r in runs):
            from ..plots import sweep_figures  # noqa: PLC0415

            folder = out or st.root / "figures" / report.sweep_id
            for p in sweep_figures(st, report.sweep_id, folder, fmt,
                                   on_problem=lambda m: click.echo(f"warning: {m}", err=True)):
                click.echo(f"figure: {p}")
        click.echo(f"store: {st.path}  (glassnet runs list {report.sweep_id})")
        exit_unless_trained(st, st.runs(report.sweep_id))
