"""Small shared checks for the data package: seeds, fractions, counts, optional imports, and
the memory budget every loader checks a file's declared sizes against before allocating."""

from __future__ import annotations

import importlib
import numbers
import os
import zlib
from pathlib import Path
from types import ModuleType

import numpy as np

from ..backend import MAX_BYTES_DEFAULT, MAX_BYTES_ENV, memory_budget  # noqa: F401 - re-exported
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


#: The memory budget for one array (or one file's decompressed contents) that a loader builds
#: from a file is glassnet's one budget (:func:`glassnet.backend.memory_budget`, 4 GiB unless
#: ``GLASSNET_MAX_BYTES`` says otherwise). Sizes a file declares (IDX dimensions, a pickle's byte
#: counts, an image's pixel count, a gzip stream's inflated length) are checked against it
#: *before* anything is allocated, so a small hostile file cannot make glassnet allocate gigabytes.
MAX_ARRAY_BYTES = MAX_BYTES_DEFAULT
max_array_bytes = memory_budget

_CHUNK = 1 << 20  # bytes read or inflated at a time


def check_budget(nbytes: int, path, what: str) -> int:
    """``nbytes`` if it fits the memory budget, else a one-line GlassnetError naming ``path``."""
    budget = max_array_bytes()
    if nbytes > budget:
        raise GlassnetError(
            f"{path}: {what} needs {nbytes:,} bytes, over the memory budget of {budget:,} "
            f"bytes (set {MAX_BYTES_ENV} to raise it)"
        )
    return nbytes


class DataFile:
    """A file read front to back, gunzipped on the fly when it starts with the gzip magic.

    :meth:`read` never returns (or allocates) more than it was asked for and than the file
    holds, so a caller that checks a declared size first reads no more than that size: a gzip
    bomb is inflated only up to the caller's limit. Damaged gzip data is a GlassnetError.
    """

    def __init__(self, path):
        self.path = Path(path)
        if not self.path.is_file():
            what = "not a regular file" if self.path.exists() else "no such file"
            raise GlassnetError(f"{self.path}: {what}")
        try:
            self._file = open(self.path, "rb")  # noqa: SIM115 - closed in close()
        except OSError as exc:
            raise GlassnetError(f"{self.path}: cannot read ({exc.strerror or exc})") from None
        self.size = os.fstat(self._file.fileno()).st_size  # bytes on disk
        self.gzipped = self._file.read(2) == b"\x1f\x8b"  # gzip magic, whatever the name
        self._file.seek(0)
        self._inflater = zlib.decompressobj(wbits=31) if self.gzipped else None
        self._pending = b""  # compressed bytes read but not yet inflated
        self._done = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        self._file.close()

    def _raw(self, n: int) -> bytes:
        try:
            return self._file.read(n)
        except OSError as exc:
            raise GlassnetError(f"{self.path}: cannot read ({exc.strerror or exc})") from None

    def _damaged(self, why) -> GlassnetError:
        return GlassnetError(f"{self.path}: damaged or truncated gzip data ({why})")

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes (fewer only at the end of the data)."""
        if not self.gzipped:
            return self._raw(max(0, min(n, self.size - self._file.tell())))
        out, have = [], 0
        while have < n and not self._done:
            if self._inflater.eof:  # one gzip member ended: another may follow
                rest = self._inflater.unused_data + self._raw(_CHUNK)
                if not rest.strip(b"\x00"):  # only (optional) zero padding is left
                    self._done = True
                    break
                if rest[:2] != b"\x1f\x8b":
                    raise self._damaged("trailing bytes after the gzip stream")
                self._inflater, self._pending = zlib.decompressobj(wbits=31), rest
            at_end = False
            if not self._pending:
                self._pending = self._raw(_CHUNK)
                at_end = not self._pending
            try:
                chunk = self._inflater.decompress(self._pending, min(n - have, _CHUNK))
            except zlib.error as exc:
                raise self._damaged(exc) from None
            self._pending = self._inflater.unconsumed_tail
            if at_end and not chunk and not self._inflater.eof:
                raise self._damaged("the compressed stream ends early")
            out.append(chunk)
            have += len(chunk)
        return b"".join(out)


def read_maybe_gzip(path, limit: int | None = None) -> tuple[Path, bytes]:
    """The bytes of ``path``, gunzipped when they start with the gzip magic number.

    At most ``limit`` bytes (default: the memory budget, :func:`max_array_bytes`) are read or
    inflated; a file holding more is refused with one line before more is allocated.
    """
    with DataFile(path) as file:
        limit = max_array_bytes() if limit is None else min(limit, max_array_bytes())
        if not file.gzipped and file.size > limit:
            raise GlassnetError(
                f"{file.path}: the file holds {file.size:,} bytes, over the limit of {limit:,} "
                f"bytes (the memory budget; set {MAX_BYTES_ENV} to raise it)"
            )
        data = file.read(limit + 1)
        if len(data) > limit:
            raise GlassnetError(
                f"{file.path}: the gzip data inflates to more than {limit:,} bytes, over the "
                f"memory budget (set {MAX_BYTES_ENV} to raise it)"
            )
    return file.path, data
