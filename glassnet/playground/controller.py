"""One connection's conversation: validated messages in, reply messages out (no I/O here).

:meth:`Controller.handle` answers every message with at least one message (an ``error`` for a
bad one), so a page or a test always hears back; :meth:`Controller.tick` trains one update's
worth of epochs and returns the ``update`` (plus ``diverged``/``stopped`` when training paused).
The server (``server.py``) only moves these messages over the websocket.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from ..errors import GlassnetError
from . import backprop, ensemble, export, frames, protocol
from . import data as data_mod
from .session import PlaygroundSession
from .settings import EFFECT_ORDER

log = logging.getLogger("glassnet.playground")


class Controller:
    def __init__(self):
        self.session: PlaygroundSession | None = None
        self.grid = frames.GridCache(frames.GRID, np.float32)
        self.small = frames.GridCache(ensemble.MAP_SIZE, np.float32)
        self.frame = 0
        self.greeted = False  # has the page had the full state (settings, network, data)?
        self._seq = None  # the seq of the set message being handled
        self.frame_cost = 0.0  # seconds the last update took to build

    @property
    def s(self) -> PlaygroundSession:
        if self.session is None:
            self.session = PlaygroundSession()
        return self.session

    def greeting(self) -> list[dict]:
        """What a new connection hears first: the protocol and the data-set previews. The page
        then sends its settings (from its URL); the reply to that first message carries the full
        state, so nothing is built twice."""
        return [{"type": "hello", "version": 1, "messages": list(protocol.MESSAGES),
                 "previews": data_mod.previews()}]

    # -- replies ----------------------------------------------------------------------------------
    def update(self) -> dict:
        self.frame += 1
        return frames.update(self.s, self.grid, self.frame, self.small)

    def _settings(self, effect: str = "view") -> dict:
        """The settings as they are now; the reply to a ``set`` echoes its ``seq`` (the page
        applies only the reply to its latest change, so a quick second click is not undone by
        the reply to the first)."""
        out = {"type": "settings", "settings": dict(self.s.settings), "effect": effect}
        if self._seq is not None:
            out["seq"] = self._seq
        return out

    def _rebuilt(self, effect: str) -> list[dict]:
        """Replies after a change: settings, then network/data when they changed, then an update."""
        out = [self._settings(effect)]
        if EFFECT_ORDER[effect] >= EFFECT_ORDER["model"]:
            out.append(frames.network(self.s))
        if EFFECT_ORDER[effect] >= EFFECT_ORDER["data"]:
            out.append(frames.data(self.s))
        out += self._notes()
        out.append(self.update())
        return out

    def _notes(self) -> list[dict]:
        notes, self.s.notes = self.s.notes, []
        return [{"type": "notice", "message": n} for n in notes]

    def status(self) -> dict:
        return {"type": "status", "playing": self.s.playing, "epoch": self.s.epoch}

    # -- messages ---------------------------------------------------------------------------------
    def handle_raw(self, raw) -> list[dict]:
        """Parse, validate and handle one frame; never raises."""
        try:
            msg = protocol.parse(raw)
        except protocol.ProtocolError as exc:
            return [protocol.error(str(exc), exc.request)]
        return self.handle(msg)

    def handle(self, msg: dict) -> list[dict]:
        kind = msg["type"]
        self._seq = msg.get("seq") if kind == "set" else None
        try:
            replies = getattr(self, f"on_{kind}")(msg)
        except GlassnetError as exc:
            replies = self._notes() + [protocol.error(str(exc), kind), self._settings()]
        except Exception as exc:  # noqa: BLE001 - one bad message must not end the session
            log.exception("playground: %s failed", kind)
            replies = [protocol.error(f"internal error while handling {kind!r}: {type(exc).__name__}: {exc}", kind)]
        if not self.greeted:
            self.greeted = True
            if not any(r["type"] == "network" for r in replies):
                replies += self._rebuilt("data")
        self._seq = None
        return replies

    def on_set(self, msg):
        focus = self.s.focus
        effect = self.s.set(msg["settings"])
        out = self._rebuilt(effect if self.greeted else "data")
        if self.s.focus != focus and not any(r["type"] == "network" for r in out):
            # the main view shows another copy of the same ensemble (its curves go on)
            out.insert(1, {**frames.network(self.s), "focusOnly": True})
        return out

    def on_play(self, msg):
        if not len(self.s.xtr):
            raise GlassnetError("there are no training points: draw some or upload a CSV")
        self.s.playing = True
        return [self.status()]

    def on_pause(self, msg):
        self.s.playing = False
        return [self.status()]

    def on_step(self, msg):
        """One epoch (TF Playground's step), paused."""
        self.s.playing = False
        events = self.s.train(1, budget_s=60.0)
        return [self.status()] + events + self._notes() + [self.update()]

    def on_reset(self, msg):
        self.s.reset()
        return [self.status(), frames.network(self.s), self.update()]

    def on_regenerate(self, msg):
        self.s.regenerate()
        return self._rebuilt("data")

    def on_ping(self, msg):
        return [{"type": "pong", "frame": self.frame}]

    def on_edit(self, msg):
        if msg["param"] == "W" and "j" not in msg:
            raise GlassnetError("edit of a weight needs 'j' (the neuron it feeds)")
        self.s.edit(msg["layer"], msg["param"], msg["i"], msg.get("j"), float(msg["value"]))
        return [self.update()]

    def on_add_point(self, msg):
        """A drawn point joins the training points; the network trains on (no ``network`` reply,
        so the page keeps its curve and diagram)."""
        self.s.add_point(float(msg["x1"]), float(msg["x2"]), msg["label"])
        return [self._settings("live"), frames.data(self.s)] + self._notes() + [self.update()]

    def on_clear_points(self, msg):
        dtype = "float64" if self.s.settings["problem"] == "regression" else "int64"
        self.s.set_custom(data_mod.Points(np.zeros((0, 2)), np.zeros(0, dtype)))
        self.s.playing = False
        return self._rebuilt("data")

    def on_upload_csv(self, msg):
        s = self.s
        points, note = data_mod.parse_csv(msg["text"], s.settings["problem"], s.settings["classes"])
        if s.settings["problem"] == "multiclass":
            k = max(3, int(points.y.max()) + 1)
            if k != s.settings["classes"]:
                s.settings["classes"] = k
                note = "; ".join(filter(None, [note, f"{k} classes"]))
        s.set_custom(points)
        s.playing = False
        if note:
            s.notes.append(f"CSV: {len(points)} points ({note})")
        return self._rebuilt("data")

    def on_trace(self, msg):
        s = self.s
        label = data_mod.check_label(s.settings["problem"], msg["label"], s.settings["classes"], drawn=False)
        if msg.get("apply"):
            backprop.apply(s, msg["x1"], msg["x2"], label)
            s.record()
            return [backprop.trace(s, msg["x1"], msg["x2"], label), self.update()]
        return [backprop.trace(s, msg["x1"], msg["x2"], label)]

    def on_export(self, msg):
        fmt = msg["format"]
        content = {"toml": export.to_toml, "python": export.to_python, "npz": export.to_npz}[fmt](self.s)
        name = {"toml": "playground.toml", "python": "playground.py", "npz": "playground.npz"}[fmt]
        return [{"type": "export", "format": fmt, "filename": name, "content": content,
                 "encoding": "base64" if fmt == "npz" else "text"}]

    def on_import(self, msg):
        if msg["format"] == "toml":
            export.from_toml(self.s, msg["content"])
            return self._rebuilt("data")
        export.from_npz(self.s, msg["content"])
        return [{"type": "notice", "message": "weights imported"}, self.update()]

    # -- training ---------------------------------------------------------------------------------
    def tick(self, budget_s: float = 0.25) -> list[dict]:
        """One update while playing: train ``epochsPerUpdate`` epochs (within the time budget),
        then build the update (``frame_cost``: the seconds that took)."""
        events = self.s.train(self.s.settings["epochsPerUpdate"], budget_s=budget_s)
        t0 = time.perf_counter()
        update = self.update()
        self.frame_cost = time.perf_counter() - t0
        return [update] + events + self._notes() + ([self.status()] if events else [])
