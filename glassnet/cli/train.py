"""``glassnet train [CONFIG]``: train the config's run(s) and store them.

Without CONFIG it trains the embedded default, the seed-003 8-3-8 autoencoder, so
``glassnet train`` works on a fresh install. ``training.seeds = N`` trains N replicas together as
one model-axis ensemble. A config with a ``[sweep]`` belongs to ``glassnet sweep``.
"""

from __future__ import annotations

import shlex
import sys

import click

from .sweep import common_options, exit_unless_trained, make_mirrors


@click.command()
@click.argument("config", required=False, type=click.Path(dir_okay=False))
@common_options
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a terminal).")
def train(config, overrides, store, fresh, tensorboard, mlflow_uri, progress):
    """Train CONFIG (a TOML file; default: the seed-003 autoencoder) and store the run."""
    from ..errors import GlassnetError  # noqa: PLC0415
    from ..experiments import RunStore, load_config, run_sweep  # noqa: PLC0415
    from ..experiments.report import run_rows, table  # noqa: PLC0415

    cfg = load_config(config, overrides)
    if cfg.sweep is not None:
        raise GlassnetError(f"{config}: has a [sweep] table; run it with `glassnet sweep {config}`")
    with RunStore(store) as st:
        report = run_sweep(cfg, st, workers=1, fresh=fresh, kind="train", source=config or "default config",
                           command=shlex.join(["glassnet", *sys.argv[1:]]), progress=progress,
                           mirrors=make_mirrors(tensorboard, mlflow_uri), echo=click.echo)
        runs = [st.run(r.id) for r in report.plan.runs]
        rows, headers = run_rows(runs, [])
        click.echo(table(rows, headers))
        if report.skipped and not report.trained and not st.busy:
            click.echo("already trained (same config); --fresh trains again")
        click.echo(f"weights: {st.root / 'weights'}/<run>.npz   details: glassnet runs show {runs[0]['id']}")
        exit_unless_trained(st, runs)
