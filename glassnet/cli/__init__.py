"""The ``glassnet`` command. Each subcommand lives in its own module and is imported only when
used, so ``glassnet --help`` stays fast and optional extras load lazily.

To add a subcommand: write ``glassnet/cli/<name>.py`` defining a click command, and add it to
``COMMANDS`` below as ``"name": ("glassnet.cli.<module>", "<attribute>", "one-line help")``.
"""

from __future__ import annotations

import errno
import importlib
import sys

import click

from ..errors import GlassnetError

COMMANDS: dict[str, tuple[str, str, str]] = {
    "demo": ("glassnet.cli.demo", "demo", "Train the seed-003 8-3-8 autoencoder and print what it learned."),
    "playground": ("glassnet.cli.playground", "playground", "Open the browser playground (a local server)."),
    "train": ("glassnet.cli.train", "train", "Train a TOML config (default: the seed-003 autoencoder) into the run store."),
    "sweep": ("glassnet.cli.sweep", "sweep", "Run a config's sweep (grid/zip/random x seeds) locally, on Dask or on Ray."),
    "runs": ("glassnet.cli.runs", "runs", "List, show, compare and export stored sweeps and runs."),
    "plot": ("glassnet.cli.plot", "plot", "Figures of a stored sweep or run: curves by swept value, weight heatmaps."),
    "explain": ("glassnet.cli.explain", "explain", "Worked examples (backprop step by step, softmax, params, activations) and why a run diverged or died."),
    "study": ("glassnet.cli.study", "study", "Run a study that reproduces a seed experiment (--list to see them)."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module, attr, _ = COMMANDS[name]
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx, formatter):
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="glassnet")
def cli():
    """glassnet: a glass-box neural-network lab."""


def main(argv=None) -> int:
    """Entry point: user errors (usage errors included) print one line, never a traceback, and
    exit with status 2; a command whose runs failed exits with status 1 (after its output);
    Ctrl-C exits with 130."""
    try:
        code = cli.main(args=argv, prog_name="glassnet", standalone_mode=False)
    except GlassnetError as exc:
        click.echo(f"error: {exc}", err=True)
        return 2
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.UsageError as exc:  # one line too, naming where the help is
        where = exc.ctx.command_path if exc.ctx is not None else "glassnet"
        click.echo(f"error: {' '.join(exc.format_message().split())} (see `{where} --help`)", err=True)
        return exc.exit_code
    except click.ClickException as exc:
        click.echo(f"error: {' '.join(exc.format_message().split())}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    except OSError as exc:  # a file a command could not read or write, not caught closer to it
        if exc.errno == errno.EPIPE:  # `glassnet runs list | head`
            return 0
        where = f": {exc.filename}" if getattr(exc, "filename", None) else ""
        click.echo(f"error: {exc.strerror or exc}{where}", err=True)
        return 2
    # a command exits non-zero through ctx.exit(code), which click hands back here
    return code if isinstance(code, int) and not isinstance(code, bool) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
