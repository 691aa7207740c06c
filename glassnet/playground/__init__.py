"""The glassnet playground: a TensorFlow-Playground-class page driven by the glassnet engine.

``glassnet playground`` (or :func:`serve`) starts a local server; the page talks to one
:class:`~glassnet.playground.session.PlaygroundSession` per connection over a websocket.

Modules: ``settings`` (the one table of controls), ``options`` (its option lists, from the
engine's registries), ``protocol`` (message validation), ``session`` (data, network, and the
engine's Trainer that trains it), ``callbacks`` (the session's curve, NaN guard and stop rules),
``frames`` (what the page draws),
``backprop`` (one point's forward/backward/update, via ``diagnostics.trace_model``),
``export`` (TOML, Python, .npz), ``controller`` (messages -> replies), ``server`` (Starlette).
The web dependencies (``pip install 'glassnet[playground]'``) are imported only by ``server``.
"""

from __future__ import annotations


def create_app(max_sessions: int = 8, hosts_allowed: tuple[str, ...] = ()):
    """The ASGI application (see :mod:`glassnet.playground.server`)."""
    from .server import create_app as _create  # noqa: PLC0415 - keeps `import glassnet` light

    return _create(max_sessions, hosts_allowed)


def serve(host: str = "127.0.0.1", port: int = 8765, open_browser: bool = True) -> None:
    """Run the playground server until interrupted."""
    from .server import serve as _serve  # noqa: PLC0415

    _serve(host, port, open_browser)


__all__ = ["create_app", "serve"]
