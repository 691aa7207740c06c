"""Which ``Host`` a request may name: the defence against DNS rebinding.

A page on another site can make its own host name resolve to 127.0.0.1 (DNS rebinding); the
browser then sends that page's requests, and websocket, to this server as same-origin traffic,
with the attacker's name in the ``Host`` header (and in ``Origin``, so the Origin check alone
passes). The server therefore answers only requests whose ``Host`` is a loopback name
(``localhost``, an address in 127.0.0.0/8, ``::1``) or the host it was started on; anything else
gets ``403 Forbidden`` before a page, a module or a websocket is served.
"""

from __future__ import annotations

import ipaddress

#: loopback names every server accepts (besides the addresses 127.0.0.0/8 and ::1)
LOOPBACK_NAMES = ("localhost",)


def host_name(header: str | None) -> str | None:
    """The host of a ``Host`` header without its port, lower case (``[::1]:8765`` -> ``::1``);
    None when the header is missing or malformed."""
    if not header:
        return None
    header = header.strip().lower()
    if header.startswith("["):  # an IPv6 literal: [addr] or [addr]:port
        end = header.find("]")
        if end < 0 or (header[end + 1:] and not _port(header[end + 1:])):
            return None
        return header[1:end]
    name, sep, port = header.rpartition(":")
    if not sep:
        return header
    return name if _port(":" + port) and name else None


def _port(text: str) -> bool:
    return text.startswith(":") and text[1:].isdigit() and 0 < int(text[1:]) < 65536


def is_loopback(name: str) -> bool:
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def allowed(header: str | None, configured: tuple[str, ...] = ()) -> bool:
    """Is a request with this ``Host`` header for this server? Loopback names, and the host
    names the server was started on (``configured``; ``0.0.0.0`` and ``::`` add nothing)."""
    name = host_name(header)
    if name is None:
        return False
    extra = {h.strip("[]").lower() for h in configured if h not in ("0.0.0.0", "::", "")}
    return is_loopback(name) or name in extra
