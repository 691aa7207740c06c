"""The playground's web server: a Starlette app with the page, its modules and one websocket.

Routes: ``/`` the page, ``/settings.js`` the settings table as an ES module, ``/static/...`` the
page's modules, styles and vendored uPlot, ``/ws`` the websocket. Each websocket connection owns
one :class:`~glassnet.playground.controller.Controller` (one session, one network). Two
coroutines share it on the event loop: the receiver handles messages, the trainer trains one
update's worth of epochs, sends the update, and sleeps until the next frame is due. Both run
their NumPy work synchronously between awaits, so they never interleave inside a step.

The server's NumPy work runs on one BLAS thread (:func:`one_blas_thread`): its matrices are
small (a 10,000-point grid through 8 units), threads never help there, and on a busy machine
OpenBLAS's spinning threads made such a product 30 times slower.

The trainer trains for what is left of a frame's time (``1 / fps``) once the update's own cost
(building and sending it, measured) is set aside, but never for less than that cost: a large
network or an ensemble trains fewer epochs per update rather than dropping to a few updates per
second, and training keeps at least half of the time when an update costs more than a frame.

Starlette, uvicorn and websockets (the ``[playground]`` extra) are imported here only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import socket
import threading
from pathlib import Path
from urllib.parse import urlsplit

from . import hosts, protocol
from .controller import Controller
from .settings import as_js_module

STATIC = Path(__file__).parent / "static"
MAX_SESSIONS = 8
#: the largest websocket frame the server reads at all: above the protocol's limit, so a message
#: that is too large gets an error that says so (the page checks the same limit before sending);
#: a frame beyond this closes the socket with 1009, which the page explains
MAX_FRAME_BYTES = 8_000_000
#: training time per update, at most and at least (seconds)
MAX_TRAIN_BUDGET, MIN_TRAIN_BUDGET = 0.25, 0.005
log = logging.getLogger("glassnet.playground")


class Gone(Exception):
    """The page went away (closed, reloaded, network gone) while the server was sending."""


def _safe(obj):
    """Replace NaN/inf (not valid JSON) by None, recursively."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_safe(v) for v in obj]
    return obj


def dumps(msg: dict) -> str:
    try:
        return json.dumps(msg, allow_nan=False, separators=(",", ":"))
    except ValueError:
        return json.dumps(_safe(msg), allow_nan=False, separators=(",", ":"))


class Connection:
    """One page: a controller, a trainer task, and a lock so sends never interleave."""

    def __init__(self, ws):
        self.ws = ws
        self.ctl = Controller()
        self.wake = asyncio.Event()
        self.lock = asyncio.Lock()

    async def send(self, messages) -> None:
        """Send in order; :class:`Gone` once the page has closed (queued replies are dropped:
        nobody is there to read them, and it is no error of the server's)."""
        from starlette.websockets import WebSocketDisconnect, WebSocketState  # noqa: PLC0415

        async with self.lock:
            for m in messages:
                if self.closed or self.ws.application_state != WebSocketState.CONNECTED \
                        or self.ws.client_state != WebSocketState.CONNECTED:
                    self.closed = True
                    raise Gone
                try:
                    await self.ws.send_text(dumps(m))
                    # let a lost connection be noticed before the next write (asyncio logs every
                    # write to a dead socket from the fifth on)
                    await asyncio.sleep(0)
                except (WebSocketDisconnect, RuntimeError, OSError) as exc:  # closed under us
                    self.closed = True
                    raise Gone from exc

    async def run(self) -> None:
        self.closed = False
        trainer = asyncio.create_task(self.train_loop())
        try:
            await self.send(self.ctl.greeting())
            while True:
                event = await self.ws.receive()
                if event["type"] == "websocket.disconnect":
                    break
                raw = event.get("text") if event.get("text") is not None else event.get("bytes")
                await self.send(self.ctl.handle_raw(raw))
                self.wake.set()
        except Gone:
            pass
        finally:
            self.closed = True
            trainer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await trainer

    async def train_loop(self) -> None:
        loop = asyncio.get_running_loop()
        overhead = 0.0  # seconds an update costs besides training (built and sent), smoothed
        while True:
            if not self.ctl.s.playing:
                self.wake.clear()
                await self.wake.wait()
                continue
            t0 = loop.time()
            frame_time = 1.0 / self.ctl.s.settings["fps"]
            budget = min(MAX_TRAIN_BUDGET, max(MIN_TRAIN_BUDGET, frame_time - overhead, overhead))
            try:
                replies = self.ctl.tick(budget)
            except Exception as exc:  # noqa: BLE001 - report, pause, keep the connection
                log.exception("playground: training failed")
                self.ctl.s.playing = False
                replies = [protocol.error(f"training failed: {type(exc).__name__}: {exc}"), self.ctl.status()]
            t1 = loop.time()
            try:
                await self.send(replies)
            except Gone:
                return
            cost = self.ctl.frame_cost + loop.time() - t1
            overhead = cost if overhead == 0.0 else 0.8 * overhead + 0.2 * cost
            await asyncio.sleep(max(0.0, frame_time - (loop.time() - t0)))


class HostCheck:
    """ASGI middleware: refuse, with 403, every HTTP request and websocket whose ``Host`` is not
    a loopback name or one of ``configured`` (see :mod:`glassnet.playground.hosts`)."""

    def __init__(self, app, configured: tuple[str, ...] = ()):
        self.app, self.configured = app, tuple(configured)

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")
        if hosts.allowed(host, self.configured):
            return await self.app(scope, receive, send)
        body = (f"403 Forbidden: this glassnet playground answers only to localhost, 127.0.0.1 and [::1]"
                f" (the request named host {host[:80]!r})\n").encode()
        headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 403, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return None
        await receive()  # websocket.connect
        if "websocket.http.response" in scope.get("extensions", {}):
            await send({"type": "websocket.http.response.start", "status": 403, "headers": headers})
            await send({"type": "websocket.http.response.body", "body": body})
        else:  # a server without denial responses answers a close before accept with 403
            await send({"type": "websocket.close", "code": 1008})
        return None


def create_app(max_sessions: int = MAX_SESSIONS, hosts_allowed: tuple[str, ...] = ()):
    """The Starlette application. At most ``max_sessions`` pages train at once; requests must
    name a loopback host or one of ``hosts_allowed`` (the host the server was started on)."""
    from starlette.applications import Starlette  # noqa: PLC0415 - the optional extra
    from starlette.responses import FileResponse, Response  # noqa: PLC0415
    from starlette.routing import Mount, Route, WebSocketRoute  # noqa: PLC0415
    from starlette.staticfiles import StaticFiles  # noqa: PLC0415

    active = {"n": 0}
    no_cache = {"Cache-Control": "no-cache"}

    async def index(request):
        return FileResponse(STATIC / "index.html", headers=no_cache)

    async def settings_js(request):
        return Response(as_js_module(), media_type="text/javascript", headers=no_cache)

    async def websocket(ws):
        # another web site open in the same browser must not drive this server (cross-site websocket)
        origin = ws.headers.get("origin")
        if origin and urlsplit(origin).netloc != ws.headers.get("host"):
            await ws.close(code=1008)
            return
        await ws.accept()
        if active["n"] >= max_sessions:
            await ws.send_text(dumps(protocol.error(
                f"too many playground pages are open ({max_sessions}); close one and reload")))
            await ws.close(code=1013)
            return
        active["n"] += 1
        try:
            await Connection(ws).run()
        finally:
            active["n"] -= 1

    routes = [Route("/", index), Route("/settings.js", settings_js),
              Mount("/static", StaticFiles(directory=STATIC), name="static"),
              WebSocketRoute("/ws", websocket)]
    return HostCheck(Starlette(routes=routes), hosts_allowed)


def one_blas_thread():
    """Limit BLAS to one thread while the server runs; returns the limiter (``None`` without
    threadpoolctl), whose ``restore_original_limits()`` undoes it."""
    try:
        from threadpoolctl import threadpool_limits  # noqa: PLC0415 - a core dependency
    except ImportError:  # pragma: no cover
        return None
    return threadpool_limits(limits=1, user_api="blas")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _config(host, port, log_level):
    import uvicorn  # noqa: PLC0415 - the optional extra

    return uvicorn.Config(create_app(hosts_allowed=(host,)), host=host, port=port, log_level=log_level,
                          ws_max_size=MAX_FRAME_BYTES, lifespan="off")


def serve(host: str = "127.0.0.1", port: int = 8765, open_browser: bool = True, log_level: str = "warning") -> None:
    """Run the playground until interrupted, opening the page in a browser unless told not to."""
    import uvicorn  # noqa: PLC0415

    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/"
    print(f"glassnet playground: {url}  (Ctrl+C to stop)")
    if open_browser:
        import webbrowser  # noqa: PLC0415

        threading.Timer(1.0, webbrowser.open, [url]).start()
    limiter = one_blas_thread()
    try:
        uvicorn.Server(_config(host, port, log_level)).run()
    finally:
        if limiter is not None:
            limiter.restore_original_limits()


class BackgroundServer:
    """The playground in a thread (for tests and benchmarks): ``with BackgroundServer() as url:``.
    BLAS runs on one thread meanwhile (process-wide, as :func:`serve` does)."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None):
        import uvicorn  # noqa: PLC0415

        self.port = port or free_port(host)
        self.url = f"http://{host}:{self.port}/"
        self.server = uvicorn.Server(_config(host, self.port, "warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.limiter = one_blas_thread()
        self.thread.start()
        for _ in range(200):
            if self.server.started:
                return self.url
            threading.Event().wait(0.025)
        raise RuntimeError("the playground server did not start within 5 s")

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)
        if self.limiter is not None:
            self.limiter.restore_original_limits()
