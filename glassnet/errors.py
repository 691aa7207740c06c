"""The one exception type users see for bad input.

Every check at the boundary (public functions, configs, the CLI, playground messages) raises
:class:`GlassnetError` with a one-line message that names the argument, the value it got and
what is allowed. The CLI prints the message alone, never a traceback.

An error about one argument carries it as ``field`` (and the offending ``value``), so a config
layer can attribute the message to its key path without parsing the text:
``GlassnetError("lr must be >= 0, got -1", field="lr", value=-1)``.
"""

from __future__ import annotations

_UNSET = object()


class GlassnetError(ValueError):
    """Bad input to glassnet: the message names the field, the value and what is allowed.

    ``field`` is the argument the error is about (``None`` when it is about no single argument);
    ``value`` the value it got.
    """

    def __init__(self, message: str = "", *, field: str | None = None, value=_UNSET):
        super().__init__(message)
        self.field = field
        self.value = None if value is _UNSET else value
        self.has_value = value is not _UNSET


def check(condition: bool, message: str, *, field: str | None = None, value=_UNSET) -> None:
    """Raise :class:`GlassnetError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise GlassnetError(message, field=field, value=value)
