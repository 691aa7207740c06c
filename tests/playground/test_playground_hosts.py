"""DNS rebinding: the server answers only to loopback host names and the host it was started on.

A page on another site that rebinds its name to 127.0.0.1 sends ``Host: evil.example:PORT``
(and a matching Origin, so the Origin check alone passes). Every route and the websocket must
refuse it with 403 before serving anything; loopback hosts keep working. Checked with the
Starlette test client and against the real uvicorn server with hand-written requests (the
Host header forged byte for byte).
"""

from __future__ import annotations

import base64
import os
import socket
import warnings

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient, WebSocketDenialResponse  # noqa: E402

from glassnet.playground import create_app, hosts  # noqa: E402

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("header, ok", [
    ("127.0.0.1:8765", True), ("127.0.0.1", True), ("localhost:8765", True), ("LOCALHOST", True),
    ("[::1]:8765", True), ("[::1]", True), ("127.1.2.3:80", True),
    ("evil.example:8765", False), ("evil.example", False), ("localhost.evil.example:8765", False),
    ("127.0.0.1.nip.io:8765", False), ("0.0.0.0:8765", False), ("192.168.1.5:8765", False),
    ("", False), (None, False), ("[::1", False), ("localhost:99999", False), ("localhost:abc", False),
])
def test_host_header_rule(header, ok):
    assert hosts.allowed(header) is ok


def test_the_configured_host_is_accepted_too():
    assert hosts.allowed("192.168.1.5:8765", ("192.168.1.5",))
    assert hosts.allowed("myhost:8765", ("MyHost",))
    assert not hosts.allowed("evil.example:8765", ("0.0.0.0",))  # binding all interfaces names no host


@pytest.mark.parametrize("path", ["/", "/settings.js", "/static/main.js"])
def test_http_with_a_forged_host_gets_403(path):
    with TestClient(create_app(), base_url="http://evil.example:8765") as c:
        r = c.get(path)
        assert r.status_code == 403 and "localhost" in r.text
    with TestClient(create_app(), base_url="http://localhost:8765") as c:
        assert c.get(path).status_code == 200


def test_websocket_with_a_forged_host_gets_403():
    with TestClient(create_app(), base_url="http://evil.example:8765") as c:
        with pytest.raises(WebSocketDenialResponse) as info:
            with c.websocket_connect("ws://evil.example:8765/ws", headers={"origin": "http://evil.example:8765"}):
                pass
        assert info.value.status_code == 403
    with TestClient(create_app(), base_url="http://localhost:8765") as c:
        with c.websocket_connect("ws://localhost:8765/ws", headers={"origin": "http://localhost:8765"}) as ws:
            assert ws.receive_json()["type"] == "hello"


# -- the real server, requests written by hand ---------------------------------------------------------
def _request(port: int, text: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(text.encode("latin-1"))
        out = b""
        while b"\r\n\r\n" not in out:
            chunk = s.recv(4096)
            if not chunk:
                break
            out += chunk
        return out


def _ws_handshake(host: str) -> str:
    key = base64.b64encode(os.urandom(16)).decode()
    return (f"GET /ws HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: http://{host}\r\n\r\n")


@pytest.fixture(scope="module")
def server():
    pytest.importorskip("uvicorn")
    from glassnet.playground.server import BackgroundServer

    bg = BackgroundServer()
    with bg:
        yield bg.port


def test_real_server_refuses_a_rebound_page_and_serves_localhost(server):
    port = server
    forged = _request(port, f"GET / HTTP/1.1\r\nHost: evil.example:{port}\r\nConnection: close\r\n\r\n")
    assert forged.startswith(b"HTTP/1.1 403"), forged[:200]
    good = _request(port, f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n")
    assert good.startswith(b"HTTP/1.1 200"), good[:200]
    forged_ws = _request(port, _ws_handshake(f"evil.example:{port}"))
    assert forged_ws.startswith(b"HTTP/1.1 403"), forged_ws[:200]
    good_ws = _request(port, _ws_handshake(f"localhost:{port}"))
    assert good_ws.startswith(b"HTTP/1.1 101"), good_ws[:200]
