"""``glassnet plot SWEEP_OR_RUN``: figures of a stored sweep or run (PNG or SVG)."""

from __future__ import annotations

import click

from .sweep import STORE_HELP


@click.command()
@click.argument("ident", metavar="SWEEP_OR_RUN")
@click.option("--out", default=None, metavar="DIR", help="Folder (default <store>/figures/<id>).")
@click.option("--format", "fmt", type=click.Choice(["png", "svg"]), default="png", show_default=True)
@click.option("--metric", "metrics", multiple=True, help="Curves to draw (default: loss, accuracy, validation).")
@click.option("--logx", is_flag=True, help="Logarithmic step axis (early training in detail).")
@click.option("--store", default=None, metavar="PATH", help=STORE_HELP)
def plot(ident, out, fmt, metrics, logx, store):
    """Loss and accuracy curves overlaid by the swept values (mean and spread over seeds), and
    weight heatmaps, for a sweep or a single run (an id or a unique prefix)."""
    from ..experiments import RunStore  # noqa: PLC0415
    from ..plots import run_figures, sweep_figures  # noqa: PLC0415

    with RunStore(store, create=False) as st:
        kind, full = st.resolve(ident)
        folder = out or st.root / "figures" / full
        warn = lambda m: click.echo(f"warning: {m}", err=True)  # noqa: E731 - a damaged weights file
        if kind == "sweep":
            paths = sweep_figures(st, full, folder, fmt, logx=logx, metrics=list(metrics) or None, on_problem=warn)
        else:
            paths = run_figures(st, full, folder, fmt, logx=logx, on_problem=warn)
        for p in paths:
            click.echo(str(p))
