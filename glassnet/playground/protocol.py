"""The websocket protocol: every message the page may send, validated before anything runs.

A message is a JSON object with a ``type`` and that type's fields (nothing else). A message that
is not JSON, too large, of an unknown type, missing a field, carrying an unknown field or a value
of the wrong kind raises :class:`ProtocolError`; the server answers it with
``{"type": "error", "message": ...}`` and carries on.

Page -> server::

    set          {settings: {key: value, ...}, seq?} keys and values from the settings table; the
                                                    reply's settings message echoes seq
    play | pause | step | reset | regenerate | clear_points | ping   {}
    edit         {layer, param: "W"|"b", i, j?, value}
    add_point    {x1, x2, label}                     x1, x2 in [-6, 6]
    upload_csv   {text}                              "x1,x2,label" lines, <= 200 kB
    trace        {x1, x2, label, apply?}             the backprop steps for one point
    export       {format: "toml"|"python"|"npz"}
    import       {format: "toml"|"npz", content}     TOML text, or base64 .npz

Server -> page: ``hello``, ``settings``, ``network``, ``data``, ``update``, ``status``,
``diverged``, ``stopped``, ``trace``, ``export``, ``notice``, ``pong``, ``error``.
"""

from __future__ import annotations

import json
import math

from .data import DOMAIN, MAX_CSV_BYTES
from .export import MAX_IMPORT_BYTES

#: the largest text frame read at all (an import of a 2 MB .npz in base64 fits)
MAX_MESSAGE_BYTES = 4 * MAX_IMPORT_BYTES // 3 + 64_000
MAX_WEIGHT = 1e6


class ProtocolError(ValueError):
    """A message that breaks the protocol; ``request`` is its type when one could be read."""

    def __init__(self, message: str, request: str | None = None):
        super().__init__(message)
        self.request = request


def _number(lo=-math.inf, hi=math.inf):
    def check(v):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not lo <= v <= hi:
            rng = f" in [{lo:g}, {hi:g}]" if math.isfinite(lo) else ""
            return f"a finite number{rng}"
        return None
    return check


def _int(lo, hi):
    def check(v):
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            return f"an integer in [{lo}, {hi}]"
        return None
    return check


def _choice(*options):
    def check(v):
        return None if v in options and isinstance(v, str) else "one of " + ", ".join(map(repr, options))
    return check


def _text(max_bytes):
    def check(v):
        if not isinstance(v, str) or len(v) > max_bytes:
            return f"a string of at most {max_bytes:,} characters"
        return None
    return check


def _object(v):
    return None if isinstance(v, dict) else "an object {key: value}"


def _bool(v):
    return None if isinstance(v, bool) else "true or false"


_coord = _number(-DOMAIN, DOMAIN)
_label = _number(-1e6, 1e6)

#: type -> {field: (check, required)}
MESSAGES: dict[str, dict] = {
    "set": {"settings": (_object, True), "seq": (_int(0, 2**31), False)},
    "play": {}, "pause": {}, "step": {}, "reset": {}, "regenerate": {}, "clear_points": {}, "ping": {},
    "edit": {"layer": (_int(0, 64), True), "param": (_choice("W", "b"), True), "i": (_int(0, 64), True),
             "j": (_int(0, 64), False), "value": (_number(-MAX_WEIGHT, MAX_WEIGHT), True)},
    "add_point": {"x1": (_coord, True), "x2": (_coord, True), "label": (_label, True)},
    "upload_csv": {"text": (_text(MAX_CSV_BYTES), True)},
    "trace": {"x1": (_coord, True), "x2": (_coord, True), "label": (_label, True), "apply": (_bool, False)},
    "export": {"format": (_choice("toml", "python", "npz"), True)},
    "import": {"format": (_choice("toml", "npz"), True), "content": (_text(MAX_MESSAGE_BYTES), True)},
}


def parse(raw) -> dict:
    """Decode and validate one message; returns the message dict or raises :class:`ProtocolError`."""
    if isinstance(raw, (bytes, bytearray)):
        raise ProtocolError("binary frames are not part of the protocol; send JSON text")
    if not isinstance(raw, str):
        raise ProtocolError("empty frame")
    if len(raw) > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message of {len(raw):,} characters is larger than the limit of {MAX_MESSAGE_BYTES:,}")
    try:
        msg = json.loads(raw, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(f"message is not valid JSON: {str(exc)[:120]}") from None
    if not isinstance(msg, dict):
        raise ProtocolError("a message must be a JSON object with a 'type'")
    kind = msg.get("type")
    if not isinstance(kind, str):
        raise ProtocolError(f"a message must have a string 'type'; valid types: {', '.join(MESSAGES)}")
    if kind not in MESSAGES:
        raise ProtocolError(f"unknown message type {kind[:40]!r}; valid types: {', '.join(MESSAGES)}", kind[:40])
    schema = MESSAGES[kind]
    extra = sorted(set(msg) - set(schema) - {"type"})
    if extra:
        raise ProtocolError(f"{kind}: unknown field(s) {', '.join(map(repr, extra))[:200]}; "
                            f"fields: {', '.join(schema) or 'none'}", kind)
    for field, (check, required) in schema.items():
        if field not in msg:
            if required:
                raise ProtocolError(f"{kind}: missing field {field!r}", kind)
            continue
        problem = check(msg[field])
        if problem:
            raise ProtocolError(f"{kind}: field {field!r} = {str(msg[field])[:60]!r} must be {problem}", kind)
    return msg


def error(message: str, request: str | None = None) -> dict:
    return {"type": "error", "message": str(message), "request": request}
