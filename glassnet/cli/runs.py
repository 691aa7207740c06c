"""``glassnet runs list|show|compare|export``: read the run store.

Ids may be shortened to any unique prefix (like git).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from pathlib import Path

import click

from ..errors import GlassnetError
from .sweep import STORE_HELP

store_option = click.option("--store", default=None, metavar="PATH", help=STORE_HELP)


@click.group()
def runs():
    """Look at stored sweeps and runs: tables, details, configs, exports."""


@runs.command("list")
@click.argument("sweep", required=False)
@click.option("--status", default=None, help="Only runs with this status (completed, diverged, early_stopped, failed, running, pending).")
@store_option
def list_(sweep, status, store):
    """Sweeps in the store; with SWEEP, its runs."""
    from ..experiments import RunStore  # noqa: PLC0415
    from ..experiments.report import run_rows, sweep_rows, table  # noqa: PLC0415

    with RunStore(store, create=False) as st:
        if sweep is None and status is None:
            rows, headers = sweep_rows(st.sweeps())
            click.echo(table(rows, headers) if rows else "no sweeps yet")
            return
        sweep_id = _sweep_id(st, sweep) if sweep else None
        found = st.runs(sweep_id, status)
        swept = st.sweep(sweep_id)["swept"] if sweep_id else []
        rows, headers = run_rows(found, swept)
        click.echo(table(rows, headers) if rows else "no runs match")


@runs.command()
@click.argument("ident", metavar="SWEEP_OR_RUN")
@click.option("--config", "as_config", is_flag=True, help="Print the run's full config as TOML (re-runs it exactly).")
@store_option
def show(ident, as_config, store):
    """Details of a run (status, seed, swept values, final metrics, timings, files) or a sweep."""
    from ..experiments import RunStore, to_toml  # noqa: PLC0415
    from ..experiments.report import summary, table  # noqa: PLC0415

    with RunStore(store, create=False) as st:
        kind, full = st.resolve(ident)
        if kind == "sweep":
            s = st.sweep(full)
            if as_config:
                click.echo(to_toml(s["config"]), nl=False)
                return
            click.echo(f"sweep {s['id']} {s['name']!r} ({s['kind']}, {s['status']}): {s['n_runs']} runs over "
                       f"{', '.join(s['swept']) or 'seeds'}\ncommand: {s['command']}")
            rows, headers = summary(st.runs(full), s["swept"])
            click.echo(table(rows, headers))
            return
        run = st.run(full)
        sweep = st.sweep(run["sweep_id"])
        from_study = sweep["kind"] == "study"
        # a study run re-runs from its config like any run, unless its study recorded why it cannot
        fixed = from_study and not (run["params"] or {}).get("re_runnable", False)
        if as_config:
            if fixed:
                why = (run["params"] or {}).get("re_run_note", "recorded without a run config")
                raise GlassnetError(f"run {run['id']} was trained by {sweep['name']!r} and has no config that re-runs "
                                    f"it ({why}); re-run the study: glassnet study {sweep['name'].split(':', 1)[-1]}")
            cfg = {"name": sweep["name"], **{k: v for k, v in run["config"].items() if k != "name"}}
            click.echo(to_toml(cfg), nl=False)
            return
        click.echo(f"run {run['id']}  sweep {run['sweep_id']}  status {run['status']}  seed {run['seed']}")
        for k, v in (run["params"] or {}).items():
            click.echo(f"  {k} = {v}")
        for k, v in (run["metrics"] or {}).items():
            click.echo(f"  final {k}: {v}")
        if run["seconds"] is not None:
            where = f" (job {run['job']} on {run['host']})" if run["host"] else ""
            click.echo(f"  trained {run['steps_done']} steps in {run['seconds']:.2f} s{where}")
        if run["error"]:
            click.echo(f"  error: {run['error']}")
        if run["weights"]:
            problem = st.weights_problem(run)
            click.echo(f"  weights: {st.root / run['weights']}" + (
                f"\n  PROBLEM: {problem}; the next `glassnet train`/`sweep` of this config trains the run again"
                if problem else ""))
        curves = st.curves(full)
        if curves:
            click.echo("  curves: " + ", ".join(f"{k} ({len(s)} points)" for k, (s, _) in curves.items()))
        if from_study:
            click.echo(f"  trained by {sweep['name']!r}: glassnet study {sweep['name'].split(':', 1)[-1]}")
        if not fixed:
            click.echo(f"  config: glassnet runs show {run['id']} --config > run.toml && glassnet train run.toml")


@runs.command()
@click.argument("idents", nargs=-1, required=True, metavar="SWEEP_OR_RUN...")
@store_option
def compare(idents, store):
    """A sweep: its points side by side (mean and spread over seeds). Runs: their values side by side."""
    from ..experiments import RunStore  # noqa: PLC0415
    from ..experiments.report import run_rows, summary, table  # noqa: PLC0415

    with RunStore(store, create=False) as st:
        resolved = [st.resolve(i) for i in idents]
        for kind, full in resolved:
            if kind == "sweep":
                s = st.sweep(full)
                click.echo(f"sweep {full} {s['name']!r}")
                rows, headers = summary(st.runs(full), s["swept"])
                click.echo(table(rows, headers) + "\n")
        picked = [st.run(full) for kind, full in resolved if kind == "run"]
        if picked:
            keys = list(dict.fromkeys(k for r in picked for k in (r["params"] or {})))
            rows, headers = run_rows(picked, keys)
            click.echo(table(rows, headers))


@runs.command()
@click.argument("idents", nargs=-1, metavar="[SWEEP_OR_RUN...]")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("--out", default="-", metavar="FILE", help="Output file (default: standard output).")
@click.option("--curves", is_flag=True, help="JSON only: include every curve (steps and values).")
@store_option
def export(idents, fmt, out, curves, store):
    """Runs (default: all; or those of the given sweeps / runs) as CSV or JSON records."""
    from ..experiments import RunStore  # noqa: PLC0415
    from ..experiments.report import run_record  # noqa: PLC0415

    if out != "-":
        _check_out(out)
    with RunStore(store, create=False) as st:
        chosen = []
        for ident in idents or [None]:
            if ident is None:
                chosen += st.runs()
                continue
            kind, full = st.resolve(ident)
            chosen += st.runs(full) if kind == "sweep" else [st.run(full)]
        if fmt == "csv":
            records = [run_record(r) for r in chosen]
            fields = list(dict.fromkeys(k for rec in records for k in rec))
            buf = io.StringIO()
            writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
            writer.writeheader()
            writer.writerows(records)
            text = buf.getvalue()
        else:
            records = []
            for r in chosen:
                rec = {**run_record(r), "config": r["config"]}
                if curves:
                    rec["curves"] = {k: {"steps": s.tolist(), "values": x.tolist()}
                                     for k, (s, x) in st.curves(r["id"]).items()}
                records.append(rec)
            # JSON has no NaN or infinity: they are written as null
            text = json.dumps(_finite(records), indent=1, allow_nan=False) + "\n"
        if out == "-":
            click.echo(text, nl=False)
        else:
            _write(out, text)
            click.echo(f"wrote {len(chosen)} runs to {out}", err=True)


def _finite(obj):
    """``obj`` with every NaN or infinite float replaced by ``None``."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def _check_out(out) -> None:
    path = Path(out)
    if path.is_dir():
        raise GlassnetError(f"--out {out!r} is a folder; give a file name (e.g. {str(path / 'runs.csv')!r})")
    parent = path.parent
    if not parent.exists():
        raise GlassnetError(f"--out {out!r}: the folder {str(parent)!r} does not exist")
    if not parent.is_dir():
        raise GlassnetError(f"--out {out!r}: {str(parent)!r} is not a folder")


def _write(out, text: str) -> None:
    """Write ``text`` to a temporary file beside ``out`` and rename it into place."""
    path = Path(out)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise GlassnetError(f"--out {out!r}: cannot write it ({exc.strerror or exc})") from None


def _sweep_id(st, ident):

    kind, full = st.resolve(ident)
    if kind != "sweep":
        raise GlassnetError(f"{ident!r} is a run, not a sweep; use `glassnet runs show {ident}`")
    return full
