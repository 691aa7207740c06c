"""Small shared checks for the data package: seeds, fractions, counts and optional imports."""

from __future__ import annotations

import gzip
import importlib
import numbers
from pathlib import Path
from types import ModuleType

import numpy as np

from ..errors import GlassnetError

_PIP_NAMES = {"sklearn": "scikit-learn", "PIL": "pillow"}


def as_rng(seed, name: str = "seed") -> np.random.Generator:
    """``numpy.random.default_rng(seed)`` for an int seed; a Generator is used as given.

    Never the global NumPy random state: the same int seed gives the same numbers every time.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise GlassnetError(
            f"{name} must be a non-negative int or a numpy.random.Generator, got {seed!r}"
        )
    return np.random.default_rng(int(seed))


def check_int(value, name: str, low: int, high: int | None = None) -> int:
    """``value`` as an int in ``[low, high]`` (``high=None``: no upper bound)."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if ok and value >= low and (high is None or value <= high):
        return int(value)
    allowed = f"an int >= {low}" if high is None else f"an int in [{low}, {high}]"
    raise GlassnetError(f"{name} must be {allowed}, got {value!r}")


def check_float(value, name: str, low: float, high: float) -> float:
    """``value`` as a float in the closed interval ``[low, high]``."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and low <= value <= high:
        return float(value)
    raise GlassnetError(f"{name} must be a number in [{low}, {high}], got {value!r}")


def check_choice(value, name: str, allowed) -> str:
    """``value`` if it is one of ``allowed`` (strings), else a GlassnetError listing them."""
    if isinstance(value, str) and value in allowed:
        return value
    choices = ", ".join(repr(a) for a in allowed)
    raise GlassnetError(f"{name} must be one of {choices}, got {value!r}")


def optional_import(module: str, purpose: str) -> ModuleType:
    """Import an optional dependency, or say how to install it (``pip install glassnet[data]``)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        package = _PIP_NAMES.get(module.split(".")[0], module)
        raise GlassnetError(
            f"{purpose} needs {package}, which is not installed; "
            f"install it with `pip install glassnet[data]`"
        ) from exc


def read_maybe_gzip(path) -> tuple[Path, bytes]:
    """The bytes of ``path``, gunzipped when they start with the gzip magic number."""
    path = Path(path)
    if not path.is_file():
        raise GlassnetError(f"{path}: no such file")
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":  # gzip magic, whatever the file is called
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise GlassnetError(f"{path}: damaged or truncated gzip data ({exc})") from None
    return path, data
