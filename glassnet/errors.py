"""The one exception type users see for bad input.

Every check at the boundary (public functions, configs, the CLI, playground messages) raises
:class:`GlassnetError` with a one-line message that names the argument, the value it got and
what is allowed. The CLI prints the message alone, never a traceback.
"""

from __future__ import annotations


class GlassnetError(ValueError):
    """Bad input to glassnet: the message names the field, the value and what is allowed."""


def check(condition: bool, message: str) -> None:
    """Raise :class:`GlassnetError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise GlassnetError(message)
