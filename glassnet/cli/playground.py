"""``glassnet playground``: the browser playground on a local server."""

from __future__ import annotations

import click

from ..errors import GlassnetError


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on. The page has no login: keep it on 127.0.0.1 unless you trust the network.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--no-browser", is_flag=True, help="Do not open a browser window.")
def playground(host, port, no_browser):
    """Start the playground (a TensorFlow-Playground-class page trained by the glassnet engine)
    at http://HOST:PORT/ and open it in a browser."""
    try:
        import starlette  # noqa: F401, PLC0415 - the optional extra
        import uvicorn  # noqa: F401, PLC0415
    except ImportError as exc:
        raise GlassnetError(f"the playground needs its extra ({exc.name} is missing): "
                            "pip install 'glassnet[playground]'") from None
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(f"warning: listening on {host}: anyone who can reach it can use this playground", err=True)
    from ..playground.server import serve  # noqa: PLC0415

    serve(host=host, port=port, open_browser=not no_browser)
