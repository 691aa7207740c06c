"""Helpers for the playground's protocol tests: a test client that speaks to a loopback host,
and the websocket conversation (connect, read up to a message type)."""

from __future__ import annotations

import contextlib
import warnings

with warnings.catch_warnings():  # Starlette 1.x prefers httpx2 for its test client; httpx still works
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from glassnet.playground import create_app, protocol

#: the server answers only to loopback hosts (see test_playground_hosts.py), so the test client
#: speaks to 127.0.0.1 rather than Starlette's default "testserver"
BASE = "http://127.0.0.1:8765"


class LoopbackClient(TestClient):
    """Starlette's test client with ``Host: 127.0.0.1:8765`` on HTTP and websocket requests
    (its ``websocket_connect`` would send ``testserver`` for a relative URL)."""

    def __init__(self, app=None, base_url: str = BASE, **kwargs):
        super().__init__(app if app is not None else create_app(), base_url=base_url, **kwargs)
        self.ws_base = base_url.replace("http", "ws", 1)

    def websocket_connect(self, url, *args, **kwargs):
        return super().websocket_connect(url if "://" in url else self.ws_base + url, *args, **kwargs)


def recv_until(ws, kind, limit=400):
    """Messages up to and including the first of type ``kind``."""
    seen = []
    for _ in range(limit):
        m = ws.receive_json()
        seen.append(m)
        if m["type"] == kind:
            return seen
    raise AssertionError(f"no {kind!r} among {[m['type'] for m in seen]}")


@contextlib.contextmanager
def connect(client, **settings):
    """A page: connected, greeted, settings sent and the full state received."""
    with client.websocket_connect("/ws") as ws:
        hello = ws.receive_json()
        assert hello["type"] == "hello" and set(hello["messages"]) == set(protocol.MESSAGES)
        ws.send_json({"type": "set", "settings": settings})
        kinds = [m["type"] for m in recv_until(ws, "update") if m["type"] != "notice"]
        assert kinds == ["settings", "network", "data", "update"]
        yield ws
        ws.send_json({"type": "pause"})
