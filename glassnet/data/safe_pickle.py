"""Unpickling that builds NumPy arrays and plain containers, and nothing else.

CIFAR's "python version" files are pickles, and a pickle can name any importable callable
(``os.system``, ``builtins.eval``) and have the loader call it. glassnet never unpickles
arbitrary objects: :class:`RestrictedUnpickler` resolves only the handful of NumPy globals an
array needs, so a pickle naming anything else fails before that thing is ever looked up.
"""

from __future__ import annotations

import io
import pickle

import numpy as np

from ..errors import GlassnetError
from ._util import read_maybe_gzip


def _numpy_globals() -> dict[tuple[str, str], object]:
    core = getattr(np, "_core", None) or np.core  # NumPy 2 renamed numpy.core to numpy._core
    allowed = {}
    for module in ("numpy.core", "numpy._core"):
        allowed[(f"{module}.multiarray", "_reconstruct")] = core.multiarray._reconstruct
        allowed[(f"{module}.multiarray", "scalar")] = core.multiarray.scalar
        allowed[(f"{module}.numeric", "_frombuffer")] = core.numeric._frombuffer
    allowed[("numpy", "ndarray")] = np.ndarray
    allowed[("numpy", "dtype")] = np.dtype
    return allowed


class RefusedGlobal(pickle.UnpicklingError):
    """A pickle named a global outside :attr:`RestrictedUnpickler.ALLOWED`."""


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    # What protocol-2 pickles written by Python 3 use to rebuild ``bytes``.
    if encoding not in ("latin1", "latin-1"):
        raise RefusedGlobal(f"refused _codecs.encode with encoding {encoding!r}")
    return text.encode("latin1")


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler for array data: NumPy arrays, dtypes, scalars and builtin containers only.

    ``find_class`` is the only way a pickle can reach a callable, and it answers only for the
    names in ``ALLOWED``; any other global (``os.system``, ``builtins.eval``, ...) raises before
    it is called. Persistent ids are refused too (no ``persistent_load``).
    """

    ALLOWED = {**_numpy_globals(), ("_codecs", "encode"): _latin1_encode}

    def find_class(self, module: str, name: str):
        try:
            return self.ALLOWED[(module, name)]
        except KeyError:
            raise RefusedGlobal(
                f"refused global {module}.{name}: only NumPy arrays are unpickled"
            ) from None


def restricted_load(path) -> object:
    """Unpickle ``path`` (raw or gzipped) with :class:`RestrictedUnpickler`.

    Python 2 strings (the original CIFAR files) come back as ``bytes``.
    """
    path, data = read_maybe_gzip(path)
    try:
        return RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()
    except RefusedGlobal as exc:
        raise GlassnetError(f"{path}: not a plain-array pickle: {exc}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError,
            KeyError) as exc:
        raise GlassnetError(
            f"{path}: truncated or damaged pickle ({type(exc).__name__}: {exc})"
        ) from None
