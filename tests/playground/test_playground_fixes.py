"""Issue 12's server-side bugs, over the websocket: each test failed before its fix.

(Page-side bugs are in test_playground_browser_fixes.py; the Host check in
test_playground_hosts.py.)
"""

from __future__ import annotations

import json
import logging
import time

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")

from glassnet.playground import backprop, protocol  # noqa: E402
from glassnet.playground.data import N_CLASSIFICATION  # noqa: E402
from glassnet.playground.session import PlaygroundSession  # noqa: E402

from playground_ws import LoopbackClient, connect, recv_until  # noqa: E402

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def client():
    with LoopbackClient() as c:
        yield c


@pytest.fixture
def server_logs():
    """Every record logged while the test runs by the server's loggers (uvicorn's do not reach
    pytest's caplog: they do not propagate to the root logger)."""
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    handler = Keep(level=logging.WARNING)
    names = ("uvicorn.error", "uvicorn", "glassnet.playground", "asyncio")
    for name in names:
        logging.getLogger(name).addHandler(handler)
    yield records
    for name in names:
        logging.getLogger(name).removeHandler(handler)


def _csv(n: int = 20, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    rows = [f"{x:.4f},{y:.4f},{int(x * y > 0)}" for x, y in rng.uniform(-5, 5, (n, 2))]
    return "x1,x2,label\n" + "\n".join(rows) + "\n"


def _n_points(data_msg) -> int:
    return (len(data_msg["train"]) + len(data_msg["test"])) // 3


def _export_toml(ws) -> str:
    ws.send_json({"type": "export", "format": "toml"})
    return recv_until(ws, "export")[-1]["content"]


# -- 4: a TOML export of your own points imports them back, even over cleared points -----------------
def test_toml_import_brings_back_uploaded_points_after_clear(client):
    with connect(client) as ws:
        ws.send_json({"type": "upload_csv", "text": _csv(20)})
        assert _n_points([m for m in recv_until(ws, "update") if m["type"] == "data"][-1]) == 20
        toml = _export_toml(ws)
        ws.send_json({"type": "clear_points"})
        assert _n_points([m for m in recv_until(ws, "update") if m["type"] == "data"][-1]) == 0
        ws.send_json({"type": "import", "format": "toml", "content": toml})
        seen = recv_until(ws, "update")
        assert not [m for m in seen if m["type"] == "error"], seen
        assert _n_points([m for m in seen if m["type"] == "data"][-1]) == 20


# -- 6: CSV uploads -------------------------------------------------------------------------------------
def test_a_binary_file_is_refused_in_one_line_without_a_traceback(client, server_logs):
    binary = bytes(range(256)).decode("utf-8", "replace")  # what the page's file.text() makes of it
    with connect(client) as ws:
        ws.send_json({"type": "upload_csv", "text": binary})
        error = recv_until(ws, "error")[-1]
        assert "not a text CSV" in error["message"] and "internal error" not in error["message"], error
        ws.send_json({"type": "upload_csv", "text": "1,2,1\n\x00\x00,3,0\n"})
        assert "not a text CSV: line 2" in recv_until(ws, "error")[-1]["message"]
    assert not [r for r in server_logs if r.exc_info], [r.getMessage() for r in server_logs]


def test_a_one_point_csv_trains():
    s = PlaygroundSession()
    from glassnet.playground import data

    points, _ = data.parse_csv("1.5,2.5,1\n", "classification", 3)
    s.set_custom(points)
    assert len(s.train_pts) == 1 and len(s.test_pts) == 0
    assert s.trainer is not None and s.train(1, budget_s=10) == [] and s.epoch == 1


@pytest.mark.parametrize("text, words", [
    ("1,1,1\n2,2,0\n1e300,0,1\n", "line 3"),
    ("1,1,1\n2,2,0\nnan,0,1\n", "line 3"),
    ("x1,x2,label\n1,1,1\n2,2,0\n1,-1,1\n-2,1,0\n90000,0,1\n", "line 6: the point (90000, 0) is far from the others"),
])
def test_a_far_point_is_refused_by_line(client, text, words):
    with connect(client) as ws:
        ws.send_json({"type": "upload_csv", "text": text})
        assert words in recv_until(ws, "error")[-1]["message"]


def test_coordinates_beyond_the_square_are_still_scaled_in(client):
    with connect(client) as ws:
        ws.send_json({"type": "upload_csv", "text": "10,0,1\n-20,5,0\n3,3,1\n"})
        seen = recv_until(ws, "update")
        assert any("scaled by 0.3" in m.get("message", "") for m in seen if m["type"] == "notice"), seen
        data = [m for m in seen if m["type"] == "data"][-1]
        assert max(abs(v) for i, v in enumerate(data["train"] + data["test"]) if i % 3 < 2) == pytest.approx(6)


# -- 7: TOML import validation ----------------------------------------------------------------------
def _custom_toml(client) -> str:
    with connect(client) as ws:
        ws.send_json({"type": "upload_csv", "text": _csv(10)})
        recv_until(ws, "update")
        return _export_toml(ws)


def _replace_points(toml: str, rows: list) -> str:
    head, rest = toml.split("#| points = [\n", 1)
    rest = rest.split("#| ]\n", 1)[1]
    return head + "#| points = [\n" + "".join(f"#|   {json.dumps(r)},\n" for r in rows) + "#| ]\n" + rest


def test_a_state_without_problem_takes_the_default(client):
    toml = _custom_toml(client)
    edited = "\n".join(line for line in toml.splitlines() if not line.startswith("#| problem ="))
    with connect(client, problem="regression") as ws:
        ws.send_json({"type": "import", "format": "toml", "content": edited})
        seen = recv_until(ws, "update")
        assert not [m for m in seen if m["type"] == "error"], seen
        settings = [m for m in seen if m["type"] == "settings"][-1]["settings"]
        assert settings["problem"] == "classification" and settings["dataset"] == "custom"
        assert _n_points([m for m in seen if m["type"] == "data"][-1]) == 10


@pytest.mark.parametrize("rows, words", [
    ([[1e300, 0, 1], [1, 1, 0]], "row 1: (1e+300, 0) is outside the square"),
    ([[1, 1, 0], [2, 2, 7]], "row 2: label 7 is not a class of the classification problem"),
    ([[1, 1, 0.5], [2, 2, 1]], "row 1: label 0.5 is not a class"),
    ([[1, 1], [2, 2]], "rows of three finite numbers"),
])
def test_imported_points_are_checked(client, rows, words):
    toml = _replace_points(_custom_toml(client), rows)
    with connect(client) as ws:
        ws.send_json({"type": "import", "format": "toml", "content": toml})
        error = recv_until(ws, "error")[-1]["message"]
        assert words in error and "internal error" not in error, error
        ws.send_json({"type": "ping"})
        recv_until(ws, "pong")


# -- 8: the backprop trace in full precision ----------------------------------------------------------
def test_the_trace_carries_vanishing_gradients_in_full_precision(client):
    settings = {"networkShape": [8, 8, 8, 8, 8, 8], "activation": "sigmoid", "seed": 3}
    with connect(client, **settings) as ws:
        ws.send_json({"type": "trace", "x1": 2.0, "x2": -1.0, "label": 1})
        sent = recv_until(ws, "trace")[-1]
    local = backprop.trace(PlaygroundSession(settings), 2.0, -1.0, 1)
    assert sent["columns"][0]["dW"] == local["columns"][0]["dW"]  # bit for bit: no rounding on the way
    dw = np.abs(np.array(sent["columns"][0]["dW"]))
    assert (dw > 0).all() and (np.round(dw, 6) == 0).any()  # six decimals would show some as exact 0


# -- 10: the smaller items ------------------------------------------------------------------------------
def test_drawing_a_point_keeps_the_network_and_its_training(client):
    with connect(client) as ws:
        for _ in range(3):
            ws.send_json({"type": "step"})
            before = recv_until(ws, "update")[-1]
        n = N_CLASSIFICATION
        ws.send_json({"type": "add_point", "x1": 1.0, "x2": 1.0, "label": 1})
        seen = recv_until(ws, "update")
        assert "network" not in [m["type"] for m in seen], [m["type"] for m in seen]
        after = seen[-1]
        assert before["epoch"] == after["epoch"] == 3
        assert [w["W"] for w in before["weights"]] == [w["W"] for w in after["weights"]]
        data = [m for m in seen if m["type"] == "data"][-1]
        assert _n_points(data) == n + 1 and data["train"][-3:] == [1.0, 1.0, 1.0]  # a drawn point trains
        ws.send_json({"type": "step"})
        assert recv_until(ws, "update")[-1]["epoch"] == 4


def test_drawn_points_stay_in_training_and_leave_the_split_of_the_others():
    s = PlaygroundSession()
    train = s.train_pts.x.copy()
    s.add_point(0.5, 0.5, 1)
    s.add_point(-0.5, 0.5, 0)
    assert np.array_equal(s.train_pts.x[:len(train)], train)
    assert s.train_pts.x[-2:].tolist() == [[0.5, 0.5], [-0.5, 0.5]]


@pytest.mark.parametrize("key, bad, good", [("noise", 37, 35), ("percTrainData", 55, 60)])
def test_out_of_step_values_are_refused(client, key, bad, good):
    with connect(client) as ws:
        ws.send_json({"type": "set", "settings": {key: bad}})
        assert "in steps of" in recv_until(ws, "error")[-1]["message"]
        ws.send_json({"type": "set", "settings": {key: good}})
        seen = recv_until(ws, "update")
        assert [m for m in seen if m["type"] == "settings"][-1]["settings"][key] == good


def test_classification_at_learning_rate_10_gets_a_hint(client):
    with connect(client, learningRate=10, epochsPerUpdate=10, fps=60) as ws:
        ws.send_json({"type": "play"})
        hint = recv_until(ws, "notice", limit=2000)[-1]["message"]
        assert "stalled" in hint and "learning rate 10" in hint and "lower the learning rate" in hint


# -- the real server: closing with queued messages, a frame over the limit --------------------------------
@pytest.fixture(scope="module")
def server():
    pytest.importorskip("uvicorn")
    pytest.importorskip("websockets")
    from glassnet.playground.server import BackgroundServer

    bg = BackgroundServer()
    with bg:
        yield f"127.0.0.1:{bg.port}"


def _ws(host):
    from websockets.sync.client import connect as ws_connect

    return ws_connect(f"ws://{host}/ws", origin=f"http://{host}", max_size=None)


@pytest.mark.parametrize("how", ["close", "drop"])
def test_closing_with_queued_messages_logs_nothing(server, server_logs, how):
    for _ in range(2):
        ws = _ws(server).__enter__()
        ws.recv()
        ws.send(json.dumps({"type": "set", "settings": {"fps": 60, "networkShape": [8, 8, 8]}}))
        ws.send(json.dumps({"type": "play"}))
        for _ in range(30):
            ws.send(json.dumps({"type": "export", "format": "toml"}))
        if how == "close":
            ws.close()
        else:  # the tab is killed: no close frame, unread data (the peer resets)
            time.sleep(0.2)
            ws.socket.close()
    time.sleep(1.5)
    assert not server_logs, [f"{r.name}: {r.getMessage()[:200]}" for r in server_logs]


def test_a_4_mb_frame_gets_an_error_and_the_page_stays_connected(server):
    with _ws(server) as ws:
        ws.recv()
        ws.send(json.dumps({"type": "upload_csv", "text": "1,1,1\n" * 700_000}))
        msg = json.loads(ws.recv())
        while msg["type"] != "error":
            msg = json.loads(ws.recv())
        assert f"larger than the limit of {protocol.MAX_MESSAGE_BYTES:,}" in msg["message"]
        ws.send(json.dumps({"type": "ping"}))
        while msg["type"] != "pong":
            msg = json.loads(ws.recv())
