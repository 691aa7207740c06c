"""The playground server over its real websocket (Starlette's test client): routes, the greeting,
every message type, malformed and oversized messages, limits, live training and the NaN guard."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")

from glassnet.playground import create_app, protocol  # noqa: E402
from glassnet.playground.settings import MAX_HIDDEN_LAYERS, MAX_NEURONS, table  # noqa: E402

from playground_ws import BASE, LoopbackClient, connect, recv_until  # noqa: E402

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def client():
    with LoopbackClient() as c:
        yield c


def test_routes_serve_the_page_its_modules_and_the_settings_table(client):
    page = client.get("/")
    assert page.status_code == 200 and '<script type="module" src="/static/main.js">' in page.text
    js = client.get("/settings.js")
    assert js.headers["content-type"].startswith("text/javascript")
    served = json.loads(js.text.split("export const SETTINGS = ", 1)[1].split(";\nexport const LIMITS", 1)[0])
    assert served == json.loads(json.dumps(table()))
    for path in ["main.js", "state.js", "connection.js", "controls.js", "render/network.js", "render/heatmap.js",
                 "render/chart.js", "style.css", "vendor/uPlot.esm.js", "vendor/uPlot.min.css", "vendor/uPlot.LICENSE.txt"]:
        r = client.get(f"/static/{path}")
        assert r.status_code == 200 and len(r.content) > 100, path
    assert "MIT" in client.get("/static/vendor/uPlot.LICENSE.txt").text
    assert client.get("/static/../server.py").status_code == 404


#: one valid example of every message type (a new type must add one here)
EXAMPLES = {
    "set": ({"settings": {"noise": 10}}, "update"),
    "play": ({}, "status"), "pause": ({}, "status"), "step": ({}, "update"), "reset": ({}, "update"),
    "regenerate": ({}, "update"), "clear_points": ({}, "update"), "ping": ({}, "pong"),
    "edit": ({"layer": 0, "param": "b", "i": 1, "value": 0.5}, "update"),
    "add_point": ({"x1": 1.0, "x2": -1.0, "label": 1}, "update"),
    "upload_csv": ({"text": "x1,x2,label\n1,1,1\n-1,-1,0\n2,2,1\n"}, "update"),
    "trace": ({"x1": 0.5, "x2": 0.5, "label": 0}, "trace"),
    "export": ({"format": "npz"}, "export"),
    "import": ({"format": "toml", "content": None}, "update"),
}


def test_examples_cover_every_message_type():
    assert set(EXAMPLES) == set(protocol.MESSAGES)


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_every_message_type_gets_its_reply(client, kind):
    with connect(client) as ws:
        fields, reply = EXAMPLES[kind]
        if kind == "import":
            ws.send_json({"type": "export", "format": "toml"})
            fields = {"format": "toml", "content": recv_until(ws, "export")[-1]["content"]}
        ws.send_json({"type": kind, **fields})
        seen = recv_until(ws, reply)
        assert not [m for m in seen if m["type"] == "error"], seen
        ws.send_json({"type": "pause"})


MALFORMED = [
    ("not json {", "not valid JSON"),
    ("[1, 2]", "JSON object"),
    ('{"kind": "play"}', "'type'"),
    ('{"type": "fly"}', "unknown message type 'fly'"),
    ('{"type": "play", "speed": 2}', "unknown field(s) 'speed'"),
    ('{"type": "edit", "layer": 0, "param": "W", "i": 0, "j": 0}', "missing field 'value'"),
    ('{"type": "edit", "layer": 0, "param": "W", "i": 0, "j": 0, "value": "big"}', "'value'"),
    ('{"type": "edit", "layer": 0, "param": "W", "i": 0, "j": 0, "value": NaN}', "not valid JSON"),
    ('{"type": "edit", "layer": 0, "param": "W", "i": 0, "j": 0, "value": 1e300}', "[-1e+06, 1e+06]"),
    ('{"type": "edit", "layer": true, "param": "W", "i": 0, "j": 0, "value": 1}', "'layer'"),
    ('{"type": "add_point", "x1": 7, "x2": 0, "label": 1}', "[-6, 6]"),
    ('{"type": "set", "settings": [1]}', "an object"),
    ('{"type": "set", "settings": {"learningRate": 0.7}}', "'learningRate' = 0.7 is not allowed"),
    ('{"type": "set", "settings": {"speed": 1}}', "unknown setting 'speed'"),
    ('{"type": "export", "format": "pickle"}', "'toml', 'python', 'npz'"),
    ('{"type": "import", "format": "npz", "content": "@@@"}', "base64"),
    ('{"type": "import", "format": "toml", "content": "x = 1"}', "playground state"),
]


@pytest.mark.parametrize("raw, words", MALFORMED)
def test_malformed_messages_get_an_error_and_the_session_goes_on(client, raw, words):
    with connect(client) as ws:
        ws.send_text(raw)
        errors = [m for m in recv_until(ws, "error")]
        assert words in errors[-1]["message"]
        ws.send_json({"type": "ping"})
        assert recv_until(ws, "pong")[-1]["type"] == "pong"


def test_binary_and_oversized_frames_are_refused(client):
    with connect(client) as ws:
        ws.send_bytes(b"\x00\x01")
        assert "binary" in recv_until(ws, "error")[-1]["message"]
        ws.send_text(json.dumps({"type": "ping", "pad": "x" * (protocol.MAX_MESSAGE_BYTES + 10)}))
        assert "larger than the limit" in recv_until(ws, "error")[-1]["message"]
        ws.send_json({"type": "upload_csv", "text": "1,1,1\n" * 40_000})
        assert "at most 200,000 characters" in recv_until(ws, "error")[-1]["message"]


@pytest.mark.parametrize("settings, words", [
    ({"networkShape": [2] * (MAX_HIDDEN_LAYERS + 1)}, "at most 10 entries"),
    ({"networkShape": [MAX_NEURONS + 1]}, "[1, 32]"),
    ({"noise": 55}, "[0, 50]"),
    ({"batchSize": 0}, "[1, 100]"),
    ({"x": False, "y": False}, "at least one input feature"),
])
def test_limits_are_enforced(client, settings, words):
    with connect(client) as ws:
        ws.send_json({"type": "set", "settings": settings})
        seen = recv_until(ws, "settings")
        assert words in seen[-2]["message"]
        assert seen[-1]["settings"]["networkShape"] == [4, 2]  # nothing applied


def test_play_streams_updates_and_a_learning_rate_change_keeps_training(client):
    with connect(client, epochsPerUpdate=2, fps=60) as ws:
        ws.send_json({"type": "play"})
        epochs = [m["epoch"] for m in recv_until(ws, "update") if m["type"] == "update"]
        for _ in range(3):
            epochs += [m["epoch"] for m in recv_until(ws, "update") if m["type"] == "update"]
        ws.send_json({"type": "set", "settings": {"learningRate": 0.1}})
        seen = recv_until(ws, "settings")
        assert seen[-1]["effect"] == "live"
        after = [m for m in recv_until(ws, "update") if m["type"] == "update"][-1]
        assert after["epoch"] >= epochs[-1] > 0 and epochs == sorted(epochs)
        ws.send_json({"type": "pause"})
        assert recv_until(ws, "status")[-1]["playing"] is False


def test_nan_guard_message_at_learning_rate_10(client):
    with connect(client, problem="regression", learningRate=10, epochsPerUpdate=5) as ws:
        ws.send_json({"type": "play"})
        diverged = recv_until(ws, "diverged")[-1]
        assert "learning rate 10" in diverged["message"] and "lower the learning rate" in diverged["message"]
        status = recv_until(ws, "status")[-1]
        assert status["playing"] is False


def test_other_sites_cannot_open_the_websocket(client):
    from starlette.websockets import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect):
        with client.websocket_connect("/ws", headers={"origin": "http://evil.example"}) as ws:
            ws.receive_json()
    with client.websocket_connect("/ws", headers={"origin": BASE}) as ws:
        assert ws.receive_json()["type"] == "hello"


def test_too_many_pages_get_an_error():
    with LoopbackClient(create_app(max_sessions=1)) as c:
        with c.websocket_connect("/ws") as first:
            assert first.receive_json()["type"] == "hello"
            with c.websocket_connect("/ws") as second:
                msg = second.receive_json()
                assert msg["type"] == "error" and "too many" in msg["message"]


# -- option lists from the registries --------------------------------------------------------------
def served_rows(client) -> dict:
    text = client.get("/settings.js").text
    rows = json.loads(text.split("export const SETTINGS = ", 1)[1].split(";\nexport const LIMITS", 1)[0])
    return {row["key"]: row for row in rows}


def test_a_newly_registered_activation_is_offered_and_accepted(client):
    """Registering an activation is the only edit: the page's lists offer it and a set message
    trains with it; gone again once unregistered."""
    from glassnet.activations import Activation, activations

    class Cube(Activation):
        """f(z) = z^3; f'(z) = 3 z^2."""

        name = "cube"
        label = "Cube"
        formula = "f(z) = z^3"
        derivative_formula = "f'(z) = 3z^2"

        def __call__(self, z):
            return z * z * z

        def derivative(self, z, a):
            return 3 * z * z

    assert "cube" not in served_rows(client)["activation"]["choices"]
    with activations.temporary("cube", Cube, "cubic"):
        rows = served_rows(client)
        assert "cube" in rows["activation"]["choices"] and "cube" in rows["layerActivations"]["choices"]
        assert rows["activation"]["labels"]["cube"] == "Cube" and rows["activation"]["helps"]["cube"] == "f(z) = z^3"
        assert rows["activation"]["aliases"]["cubic"] == "cube"
        with connect(client, activation="cube", layerActivations=["", "cubic"]) as ws:
            ws.send_json({"type": "step"})
            seen = recv_until(ws, "update")
            assert not [m for m in seen if m["type"] == "error"], seen
            assert seen[-1]["epoch"] == 1 and seen[-1]["loss"]["train"] is not None
            ws.send_json({"type": "set", "settings": {"networkShape": [3]}})
            network = [m for m in recv_until(ws, "update") if m["type"] == "network"][-1]
            assert [c["activation"] for c in network["columns"]] == ["cube", "tanh"]
    assert "cube" not in served_rows(client)["activation"]["choices"]
    with connect(client) as ws:
        ws.send_json({"type": "set", "settings": {"activation": "cube"}})
        assert "'activation' = 'cube' is not allowed" in recv_until(ws, "error")[-1]["message"]


def test_an_activation_that_is_not_elementwise_is_not_offered(client):
    """Softmax normalizes a whole layer: not a hidden unit's activation. The rule is the entry's
    ``elementwise`` property, so another such entry is left out as well."""
    from glassnet.activations import Softmax, activations

    class Sparsemax(Softmax):
        name = "sparsemax_like"

    with activations.temporary("sparsemax_like", Sparsemax):
        choices = served_rows(client)["activation"]["choices"]
        assert "softmax" not in choices and "sparsemax_like" not in choices and "tanh" in choices


def test_every_list_of_the_page_comes_from_a_registry(client):
    import glassnet as gn
    from glassnet.data import datasets

    rows = served_rows(client)
    assert set(rows["init"]["choices"]) >= set(gn.initializers.initializers.names())
    assert set(rows["optimizer"]["choices"]) >= set(gn.optimizers.optimizers.names())
    assert rows["optimizer"]["uses"]["momentum"] == ["momentum"] and rows["optimizer"]["uses"]["sgd"] == []
    assert set(rows["dataset"]["choices"]) - {"custom"} <= set(datasets.names())
    assert {"circle", "xor", "gauss", "spiral"} <= set(rows["dataset"]["choices"])
    assert {"plane", "multi_gaussian"} <= set(rows["regDataset"]["choices"])
    # old names still open: TF Playground's "linear", the page's former "multi-gaussian" and "he"
    with connect(client, activation="linear", problem="regression", regDataset="multi-gaussian", init="he") as ws:
        ws.send_json({"type": "ping"})
        recv_until(ws, "pong")


# -- hardening: sizes declared by an import are checked before anything is built -----------------------
def _npz(header: dict) -> str:
    import base64
    import io

    import numpy as np

    buf = io.BytesIO()
    np.savez_compressed(buf, __model__=np.array(json.dumps(header)))
    return base64.b64encode(buf.getvalue()).decode()


PLAYGROUND_HEADER = {"format": "glassnet-model", "version": 1, "kind": "sequential", "name": "playground",
                     "models": 1, "ensemble": False, "seeds": [1], "dtype": "float64", "input_shape": [2],
                     "layers": [{"type": "dense", "name": "dense_0", "units": 4, "activation": {"name": "tanh"}},
                                {"type": "dense", "name": "dense_1", "units": 1, "activation": {"name": "tanh"}}]}


@pytest.mark.parametrize("change, words", [
    ({"input_shape": [10**9]}, "input_shape [1000000000]"),
    ({"input_shape": [2, 100_000, 100_000]}, "1 to 7 features"),
    ({"input_shape": "2"}, "1 to 7 features"),
    ({"seeds": list(range(10_000))}, "one model"),
    ({"seeds": [-1]}, "one model"),
    ({"dtype": "complex256"}, "dtype"),
    ({"layers": [{"type": "dense", "units": 4}] * 12}, "at most 10 hidden layers"),
    ({"layers": [{"type": "dense", "units": 4}, {"type": "dense", "units": 33}]}, "1 to 32 units"),
    ({"layers": [{"type": "dense", "units": 4}, {"type": "dense", "units": True}]}, "1 to 32 units"),
])
def test_an_import_declaring_more_than_a_page_holds_is_refused_unbuilt(client, monkeypatch, change, words):
    """The size bomb of issue 10: a message of under a kilobyte declaring a huge input. The
    header is checked against the page's limits before any model is built, and refused in one line."""
    from glassnet.playground import export

    def never(*args, **kwargs):
        raise AssertionError("a model was built from a refused header")

    monkeypatch.setattr(export.Sequential, "load", never)
    content = _npz({**PLAYGROUND_HEADER, **change})
    with connect(client) as ws:
        ws.send_json({"type": "import", "format": "npz", "content": content})
        error = recv_until(ws, "error")[-1]
        assert "not a playground network" in error["message"] and words in error["message"], error
        assert "\n" not in error["message"]
        ws.send_json({"type": "ping"})
        assert recv_until(ws, "pong")[-1]["type"] == "pong"


def test_a_playground_header_passes_the_size_check():
    from glassnet.playground.export import _header_problem

    assert _header_problem(PLAYGROUND_HEADER) is None
    assert len(_npz({**PLAYGROUND_HEADER, "input_shape": [10**9]})) < 1000  # the bomb is that small
