"""``glassnet study``: run a study that reproduces a seed experiment, or list them."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("name", required=False)
@click.option("--list", "list_", is_flag=True, help="List the studies, one line each.")
@click.option("--quick", is_flag=True, help="A reduced version (seconds, for CI).")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Folder for report.md and figures [default: ./glassnet-runs/studies/NAME].")
@click.option("--seeds", type=int, default=None, help="Networks per configuration [default: 5, quick 3].")
@click.option("--store", default=None, metavar="PATH",
              help="Run store to record every trained network in [default: OUT/runs.db with --out, else "
                   "$GLASSNET_STORE or ./glassnet-runs/runs.db].")
@click.option("--no-store", is_flag=True, help="Do not record the trained networks in a run store.")
def study(name, list_, quick, out, seeds, store, no_store):
    """Run study NAME: train its sweeps, write report.md and PNG figures into --out, and print a
    summary table. Every finding in the report is computed from the run's measurements."""
    from ..errors import GlassnetError  # noqa: PLC0415
    from ..experiments.store import default_path  # noqa: PLC0415
    from ..studies import all_studies, get_study  # noqa: PLC0415

    if list_:
        entries = all_studies()
        width = max(len(s.name) for s in entries)
        for s in entries:
            click.echo(f"{s.name.ljust(width)}  {s.summary}")
        return
    if name is None:
        valid = ", ".join(s.name for s in all_studies())
        raise GlassnetError(f"give a study name (one of {valid}) or --list")
    if store is not None and no_store:
        raise GlassnetError(f"--store {store!r} and --no-store contradict each other; give one of them")
    if not no_store and store is None:
        store = Path(out) / "runs.db" if out is not None else default_path()
    st = get_study(name)
    result = st.run(quick=quick, out=out, seeds=seeds, store=None if no_store else store)
    click.echo(f"study {st.name} ({'quick' if quick else 'full'}, {result.seeds} seeds): "
               f"measured in {result.seconds:.1f} s")
    click.echo(result.report.summary_text())
    click.echo("\nkey findings:")
    for f in result.findings:
        click.echo(f"- {f}")
    click.echo(f"\nreport: {result.report_path}  ({len(result.figures)} figures)")
    if "sweep_id" in result.extra:
        click.echo(f"runs: {result.extra['runs']} networks recorded as sweep {result.extra['sweep_id']} in {store} "
                   f"(glassnet runs show {result.extra['sweep_id']} --store {store})")
