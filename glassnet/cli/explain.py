"""``glassnet explain``: worked examples of backprop, softmax, parameter counts and activations, and why a
stored run diverged, died or stalled."""

from __future__ import annotations

import click

from ..errors import GlassnetError

_NUMBERS = {"ignore_unknown_options": True}  # so "-1.5" is a number, not an option


@click.group()
def explain():
    """Worked explanations: backprop step by step, softmax, parameter counts, activations; why a run diverged."""


@explain.command()
@click.argument("spec", required=False)
@click.option("--config", "config", type=click.Path(dir_okay=False), help="A TOML file with the network "
              "(spec = \"...\", or x, y, w1, f1, ... keys, or [[layer]] tables).")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "latex"]), default="text",
              show_default=True)
@click.option("--check", is_flag=True, help="Also run the finite-difference gradient check.")
def backprop(spec, config, fmt, check):
    """Forward pass, local derivatives, chain rule and update of a small network.

    \b
    Example:
        glassnet explain backprop "x=1, y=5, w1=3, relu, w2=2, loss=half_se, lr=0.1"
    """
    from ..diagnostics.trace import trace_backprop  # noqa: PLC0415

    if (spec is None) == (config is None):
        raise GlassnetError("give a SPEC string or --config FILE.toml (one of them)")
    if config is not None:
        spec = _read_toml(config)
    trace = trace_backprop(spec)
    click.echo(trace.render(fmt))
    if check:
        report = trace.check()
        click.echo(f"\ngradient check (central differences): max relative error {report.max_rel_error:.2e} "
                   f"({'ok' if report.ok(1e-6) else 'MISMATCH'})")


def _read_toml(path) -> dict:
    try:
        import tomllib  # noqa: PLC0415 - Python 3.11+
    except ModuleNotFoundError:  # pragma: no cover - Python 3.10: the tomli backport (a dependency)
        import tomli as tomllib  # noqa: PLC0415

    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise GlassnetError(f"--config file {str(path)!r} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise GlassnetError(f"--config file {str(path)!r} is not valid TOML: {exc}") from None


@explain.command(context_settings=_NUMBERS)
@click.argument("z", nargs=-1, required=True)
@click.option("--label", type=int, default=None, help="The true class (an index), for the cross-entropy.")
@click.option("--names", default=None, help="Class names, comma separated (e.g. A,B,C).")
def softmax(z, label, names):
    """Softmax probabilities, predicted class and cross-entropy of scores Z.

    \b
    Example:
        glassnet explain softmax 7 1 2.2 --label 0
    """
    from ..diagnostics.explain import explain_softmax  # noqa: PLC0415

    click.echo(str(explain_softmax(_floats(z, "Z"), label=label,
                                   names=None if names is None else names.split(","))))


@explain.command()
@click.argument("sizes", nargs=-1, required=True)
@click.option("--conv", is_flag=True, help="SIZES are channels: input channels, then filters per conv layer.")
@click.option("--kernel", default="3", show_default=True, help="Conv kernel size: 3 or 3x5.")
@click.option("--no-bias", is_flag=True, help="Layers without biases.")
def params(sizes, conv, kernel, no_bias):
    """Parameters per layer and in total, of a dense or conv stack.

    \b
    Examples:
        glassnet explain params 6 32 32 32 4
        glassnet explain params --conv 3 64 128 --kernel 3
    """
    from ..diagnostics.explain import count_conv_params, count_params  # noqa: PLC0415

    ints = _ints(sizes, "SIZES")
    if conv:
        try:
            k = tuple(int(v) for v in kernel.lower().split("x"))
        except ValueError:
            raise GlassnetError(f"--kernel must be like 3 or 3x5, got {kernel!r}") from None
        if len(k) not in (1, 2):
            raise GlassnetError(f"--kernel must be like 3 or 3x5, got {kernel!r}")
        result = count_conv_params(ints, k[0] if len(k) == 1 else k, use_bias=not no_bias)
    else:
        result = count_params(ints, use_bias=not no_bias)
    click.echo(str(result))


@explain.command()
@click.argument("name")
@click.option("--plot", type=click.Path(dir_okay=False), default=None, help="Save a plot of f and f' here.")
def activation(name, plot):
    """Formula, derivative, range and values of an activation (with --plot, a figure).

    \b
    Example:
        glassnet explain activation elu --plot elu.png
    """
    from ..diagnostics.explain import explain_activation  # noqa: PLC0415

    if plot is not None:
        _check_plot_path(plot)
    try:
        click.echo(str(explain_activation(name, plot=plot)))
    except OSError as exc:
        raise GlassnetError(f"--plot {plot!r}: cannot write it ({exc.strerror or exc})") from None


@explain.command()
@click.argument("ident", metavar="RUN_ID")
@click.option("--store", default=None, metavar="PATH", help="Run store: a .db file or a directory "
              "(default ./glassnet-runs/runs.db, or $GLASSNET_STORE).")
@click.option("--member", type=int, default=None, help="With a SWEEP id: the run's index in the sweep "
              "(default: its first diverged run).")
@click.option("--healthy", default=None, metavar="RUN_ID", help="Compare with this run (default: a finished run "
              "of the same sweep that trains as one ensemble with it, same seed first).")
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Replay this many steps (default: the "
              "whole run, at most 20,000).")
@click.option("--plot", type=click.Path(dir_okay=False), default=None, help="Save a figure of the loss, update "
              "ratio and gradient norm of the layer named, beside the healthy run.")
def divergence(ident, store, member, healthy, steps, plot):
    """Why a stored run diverged, died or stalled: the first bad step, layer and chain-rule factor.

    The run is replayed from its config, step by step, beside a healthy run of the same sweep;
    the rules and thresholds are in glassnet.diagnostics.divergence.

    \b
    Example:
        glassnet explain divergence 3f9a2c1b --store glassnet-runs
    """
    from ..diagnostics.divergence_store import explain_stored_run  # noqa: PLC0415
    from ..experiments import RunStore  # noqa: PLC0415

    if plot is not None:
        _check_plot_path(plot)
    with RunStore(store, create=False) as st:
        report, info = explain_stored_run(st, ident, member=member, healthy=healthy, steps=steps)
    run, v = info["run"], report.verdicts[0]
    part = "" if info["replayed"] == info["total_steps"] else \
        f" (the first {info['replayed']:,} of {info['total_steps']:,} steps; --steps to change)"
    if v.ok:
        click.echo(f"run {run['id']} trained normally: nothing went wrong in the replay{part}: {v.note} "
                   f"(stored status {run['status']!r})")
        return
    click.echo(report.render())
    click.echo(f"replayed run {run['id']} (stored status {run['status']!r}) from its config{part}")
    if plot is not None:
        try:
            report.plot(plot)
        except OSError as exc:
            raise GlassnetError(f"--plot {plot!r}: cannot write it ({exc.strerror or exc})") from None
        click.echo(f"figure: {plot}")


def _check_plot_path(plot) -> None:
    """--plot goes into an existing folder: a missing one is named, never created."""
    from pathlib import Path  # noqa: PLC0415

    parent = Path(plot).parent
    if not parent.exists():
        raise GlassnetError(f"--plot {plot!r}: the folder {str(parent)!r} does not exist (create it first)")
    if not parent.is_dir():
        raise GlassnetError(f"--plot {plot!r}: {str(parent)!r} is not a folder")


def _floats(values, name):
    try:
        return [float(v) for v in values]
    except ValueError:
        raise GlassnetError(f"{name} must be numbers, got {' '.join(values)!r}") from None


def _ints(values, name):
    try:
        return [int(v) for v in values]
    except ValueError:
        raise GlassnetError(f"{name} must be whole numbers, got {' '.join(values)!r}") from None
