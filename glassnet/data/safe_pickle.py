"""Unpickling that builds NumPy arrays and plain containers, and nothing else.

CIFAR's "python version" files are pickles, and a pickle can name any importable callable
(``os.system``, ``builtins.eval``) and have the loader call it. glassnet never unpickles
arbitrary objects: :class:`RestrictedUnpickler` resolves only the handful of names NumPy's own
array pickles use, and maps each to a checking stand-in, never to NumPy's function itself:

* ``numpy.dtype(spec)`` gives a plain bool, int, unsigned, float or complex dtype (never an
  object, structured, string or datetime dtype);
* ``_reconstruct`` plus its ``__setstate__`` state (protocols 0-4) and ``_frombuffer``
  (protocol 5) become ``numpy.frombuffer(data, dtype).reshape(shape)`` after checking that the
  data hold exactly ``prod(shape) * itemsize`` bytes, then a copy: never an uninitialised
  buffer, never object pointers made from file bytes;
* ``numpy.ndarray`` may only be named as ``_reconstruct``'s first argument, never called.

Before unpickling, :func:`check_pickle_sizes` walks the opcodes once and refuses a byte count
(``BINBYTES8`` and friends) larger than what is left of the file, and a memo index larger than
the pickle could have filled, so a few bytes cannot make the unpickler allocate gigabytes. The
arrays built may total at most the pickle's own size: each array's bytes are in the file.
"""

from __future__ import annotations

import io
import pickle
import pickletools
import re

import numpy as np

from ..errors import GlassnetError
from ._util import max_array_bytes, read_maybe_gzip

_MAX_NDIM = 32  # NumPy 1 allows 32 dimensions, NumPy 2 64; no data set needs more


class UnsafePickle(pickle.UnpicklingError):
    """A pickle that could be unpickled, but not safely: refused before anything is built."""


class DamagedPickle(UnsafePickle):
    """A pickle whose declared sizes the file cannot back (truncated, or crafted to allocate)."""


class RefusedGlobal(UnsafePickle):
    """A pickle named a global outside :attr:`RestrictedUnpickler.ALLOWED`, or misused one."""


def _text(value, what: str) -> str:
    # Protocol-2 pickles written by Python 2 (the original CIFAR files) give bytes for str.
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str):
        raise RefusedGlobal(f"{what} must be a string, got {type(value).__name__}")
    return value


class _DtypeStub:
    """What ``numpy.dtype(spec, align, copy)`` gives while unpickling: a checked plain dtype."""

    __slots__ = ("dtype",)

    def __init__(self, dtype: np.dtype):
        self.dtype = dtype

    def __setstate__(self, state) -> None:
        # (version, byte order, subarray, names, fields, elsize, alignment, flags[, metadata])
        if (not isinstance(state, tuple) or len(state) not in (8, 9)
                or any(part is not None for part in state[2:5])):
            raise RefusedGlobal("only plain numeric dtypes are unpickled (no fields or subarrays)")
        order = _text(state[1], "a dtype's byte order")
        if order not in ("<", ">", "|", "="):
            raise RefusedGlobal(f"unknown dtype byte order {order!r}")
        if order in "<>":
            self.dtype = self.dtype.newbyteorder(order)


class _ArrayStub:
    """What ``_reconstruct(ndarray, ...)`` gives: an array-to-be, built by its BUILD state."""

    __slots__ = ("array", "_build")

    def __init__(self, build):
        self.array, self._build = None, build

    def __setstate__(self, state) -> None:
        # (version, shape, dtype, is_fortran, raw data), or the same without the version
        if not isinstance(state, tuple) or len(state) not in (4, 5) or self.array is not None:
            raise RefusedGlobal("an array state must be (version, shape, dtype, fortran, data)")
        shape, dtype, fortran, raw = state[-4:]
        self.array = self._build(raw, dtype, shape, "F" if fortran else "C")


class _NdarrayName:
    """``numpy.ndarray`` as a pickle may name it: a marker for ``_reconstruct``, not a callable.

    Calling ``ndarray(shape, dtype, buffer)`` is how a hostile pickle turns file bytes into
    object pointers or gets an uninitialised buffer of any size, so it is refused.
    """

    def __call__(self, *args, **kwargs):
        raise RefusedGlobal("refused call of numpy.ndarray: arrays are only rebuilt from their data")


_NDARRAY = _NdarrayName()
_DTYPE_SPEC = re.compile(r"[biufc][0-9]{1,2}")
_IN_PROGRESS = object()
_CORES = ("numpy.core", "numpy._core")


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler for array data: NumPy arrays, dtypes, scalars and builtin containers only.

    ``find_class`` is the only way a pickle can reach a callable, and it answers only for the
    names in ``ALLOWED``, each with a checking stand-in (see the module docstring); any other
    global (``os.system``, ``builtins.eval``, ...) raises before it is looked up. Persistent ids
    are refused too (no ``persistent_load``).

    ``limit`` bounds the bytes of all arrays built (and, separately, of all ``bytes`` rebuilt
    from protocol-2 strings); :func:`restricted_load` passes the pickle's size, the default is
    the memory budget (:func:`glassnet.data._util.max_array_bytes`).
    """

    #: (module, name) a pickle may name -> the method that stands in for it. NumPy 2 renamed
    #: ``numpy.core`` to ``numpy._core``; pickles name either.
    ALLOWED = {
        **{(f"{core}.multiarray", "_reconstruct"): "_reconstruct" for core in _CORES},
        **{(f"{core}.multiarray", "scalar"): "_scalar" for core in _CORES},
        **{(f"{core}.numeric", "_frombuffer"): "_frombuffer" for core in _CORES},
        ("numpy", "ndarray"): "_ndarray",
        ("numpy", "dtype"): "_dtype",
        ("_codecs", "encode"): "_latin1_encode",
        ("builtins", "bytes"): "_empty_bytes",  # how protocols 0-2 write b""
        ("__builtin__", "bytes"): "_empty_bytes",
    }

    def __init__(self, file, *, limit: int | None = None, **kwargs):
        super().__init__(file, **kwargs)
        self._limit = max_array_bytes() if limit is None else limit
        self._limit_is = "the memory budget" if limit is None else "the pickle's own size"
        self._array_bytes = self._encoded_bytes = self._stubs = 0

    def find_class(self, module: str, name: str):
        try:
            attribute = self.ALLOWED[(module, name)]
        except KeyError:
            raise RefusedGlobal(
                f"refused global {module}.{name}: only NumPy arrays are unpickled"
            ) from None
        return _NDARRAY if attribute == "_ndarray" else getattr(self, attribute)

    def load(self):
        obj = super().load()
        if not self._stubs:
            return obj
        try:
            return self._finish(obj, {}, [])
        except RecursionError:
            raise pickle.UnpicklingError("containers nested too deeply") from None

    # --- the stand-ins find_class hands out -------------------------------------------------

    def _dtype(self, spec, align=False, copy=False):
        spec = _text(spec, "a dtype")
        if not _DTYPE_SPEC.fullmatch(spec):
            raise RefusedGlobal(
                f"refused dtype {spec!r}: only bool, int, uint, float and complex arrays "
                f"are unpickled"
            )
        try:
            dtype = np.dtype(spec)
        except TypeError:
            raise RefusedGlobal(f"unknown dtype {spec!r}") from None
        self._stubs += 1
        return _DtypeStub(dtype)

    def _reconstruct(self, cls, shape=None, dtype=None):
        if cls is not _NDARRAY:
            raise RefusedGlobal("_reconstruct may only rebuild a plain numpy.ndarray")
        self._stubs += 1
        return _ArrayStub(self._build)

    def _frombuffer(self, buf, dtype, shape, order, axis_order=None):
        order = _text(order, "an array order")
        if order not in ("C", "F", "K"):
            raise RefusedGlobal(f"unknown array order {order!r}")
        if order == "K" and axis_order is not None:
            if (not isinstance(axis_order, tuple) or not isinstance(shape, tuple)
                    or sorted(axis_order) != list(range(len(shape)))):
                raise RefusedGlobal(f"axis order {axis_order!r} is not a permutation of the axes")
            return self._build(buf, dtype, shape, "C").transpose(axis_order)
        return self._build(buf, dtype, shape, "F" if order == "F" else "C")

    def _scalar(self, dtype, data=None):
        dtype = self._checked_dtype(dtype)
        if not isinstance(data, (bytes, bytearray)) or len(data) != dtype.itemsize:
            raise RefusedGlobal(f"a {dtype} scalar needs exactly {dtype.itemsize} bytes")
        return np.frombuffer(data, dtype)[0]

    def _latin1_encode(self, text, encoding="latin1"):
        # What protocol-2 pickles written by Python 3 use to rebuild ``bytes``.
        if encoding not in ("latin1", "latin-1"):
            raise RefusedGlobal(f"refused _codecs.encode with encoding {encoding!r}")
        if not isinstance(text, str):
            raise RefusedGlobal(f"_codecs.encode needs a str, got {type(text).__name__}")
        self._encoded_bytes += len(text)
        if self._encoded_bytes > self._limit:
            raise UnsafePickle(
                f"strings rebuilt as bytes total over {self._limit:,} bytes ({self._limit_is})"
            )
        return text.encode("latin1")

    @staticmethod
    def _empty_bytes(*args):
        if args:
            raise RefusedGlobal("bytes() is only unpickled without arguments (an empty bytes)")
        return b""

    # --- checks ----------------------------------------------------------------------------

    @staticmethod
    def _checked_dtype(dtype) -> np.dtype:
        if not isinstance(dtype, _DtypeStub):
            raise RefusedGlobal(
                f"an array's dtype must be an unpickled numpy.dtype, got {type(dtype).__name__}"
            )
        return dtype.dtype

    def _build(self, raw, dtype, shape, order: str) -> np.ndarray:
        """``frombuffer(raw, dtype).reshape(shape, order)``, copied, after checking every size."""
        dtype = self._checked_dtype(dtype)
        if (not isinstance(shape, tuple) or len(shape) > _MAX_NDIM
                or not all(type(s) is int and s >= 0 for s in shape)):
            raise RefusedGlobal(
                f"an array shape must be a tuple of at most {_MAX_NDIM} non-negative ints, "
                f"got {shape!r}"
            )
        if isinstance(raw, pickle.PickleBuffer):
            raw = raw.raw()  # a flat memoryview of bytes
        elif not isinstance(raw, (bytes, bytearray)):
            raise RefusedGlobal(f"array data must be bytes, got {type(raw).__name__}")
        count = 1
        for size in shape:
            count *= size  # a Python int: no overflow
        nbytes = count * dtype.itemsize
        if memoryview(raw).nbytes != nbytes:
            raise UnsafePickle(
                f"an array of shape {shape} and dtype {dtype} needs {nbytes:,} bytes, "
                f"but its data hold {memoryview(raw).nbytes:,}"
            )
        self._array_bytes += nbytes
        if self._array_bytes > self._limit:
            raise UnsafePickle(f"arrays total over {self._limit:,} bytes ({self._limit_is})")
        if count == 0:
            return np.zeros(shape, dtype, order=order)
        return np.frombuffer(raw, dtype, count).reshape(shape, order=order).copy(order="K")

    def _finish(self, obj, done: dict, reentered: list):
        """``obj`` with every stand-in replaced by its array or dtype (containers in place)."""
        kind = type(obj)
        if kind is _ArrayStub:
            if obj.array is None:
                raise RefusedGlobal("an array pickle without its data (_reconstruct with no state)")
            return obj.array
        if kind is _DtypeStub:
            return obj.dtype
        if kind not in (list, dict, tuple, set, frozenset):
            return obj
        key = id(obj)
        if key in done:
            if done[key] is _IN_PROGRESS:  # a cycle back into a tuple being rebuilt
                reentered.append(obj)
                return obj
            return done[key]
        if kind is list:
            done[key] = obj
            for i, item in enumerate(obj):
                obj[i] = self._finish(item, done, reentered)
        elif kind is dict or kind is set:
            done[key] = obj
            items = list(obj.items()) if kind is dict else list(obj)
            obj.clear()
            if kind is dict:
                obj.update((self._finish(k, done, reentered), self._finish(v, done, reentered))
                           for k, v in items)
            else:
                obj.update(self._finish(item, done, reentered) for item in items)
        else:  # tuple, frozenset: immutable, rebuilt when an item changed
            done[key] = _IN_PROGRESS
            items = [self._finish(item, done, reentered) for item in obj]
            same = all(new is old for new, old in zip(items, obj))
            done[key] = obj if same else kind(items)
            if not same and any(r is obj for r in reentered):
                raise RefusedGlobal("a reference cycle through a tuple that holds arrays")
        return done[key]


# --- the opcode walk ------------------------------------------------------------------------

_UNSIGNED = {
    pickletools.TAKEN_FROM_ARGUMENT1: (1, False),
    pickletools.TAKEN_FROM_ARGUMENT4: (4, True),
    pickletools.TAKEN_FROM_ARGUMENT4U: (4, False),
    pickletools.TAKEN_FROM_ARGUMENT8U: (8, False),
}


def _opcode_table() -> dict[int, tuple]:
    table = {}
    for op in pickletools.opcodes:
        arg, code = op.arg, op.code.encode("latin-1")[0]
        if arg is None:
            table[code] = (op.name, "fixed", 0)
        elif arg.n >= 0:
            table[code] = (op.name, "fixed", arg.n)
        elif arg.n == pickletools.UP_TO_NEWLINE:
            table[code] = (op.name, "lines", 2 if arg.name == "stringnl_noescape_pair" else 1)
        else:
            table[code] = (op.name, "counted", *_UNSIGNED[arg.n])
    return table


_OPCODES = _opcode_table()
_STOP = pickletools.code2op["."].code.encode()[0]
_FRAME = b"\x95"[0]


def check_pickle_sizes(data: bytes) -> None:
    """Walk the opcodes of the pickle ``data`` (up to STOP) and refuse sizes it cannot back.

    Raises :class:`DamagedPickle` for a byte count (``BINBYTES8``, ``BINUNICODE``, ``LONG4``,
    ``FRAME``, ...) larger than the bytes left after it, and for a memo index (``LONG_BINPUT``,
    ``PUT``) above the number of opcodes so far (a genuine pickler numbers its memo from 0, one
    entry per opcode at most; a huge index makes the unpickler grow its memo to that size).
    Unknown opcodes and truncation are left for the unpickler to report.
    """
    pos, end, ops = 0, len(data), 0
    view = memoryview(data)
    while pos < end:
        code = data[pos]
        entry = _OPCODES.get(code)
        if entry is None or code == _STOP:
            return
        name, how = entry[0], entry[1]
        start, pos, ops = pos, pos + 1, ops + 1
        if how == "fixed":
            if name == "LONG_BINPUT" and pos + 4 <= end:
                _check_memo_index(int.from_bytes(view[pos:pos + 4], "little"), ops, start)
            if code == _FRAME and pos + 8 <= end:
                _check_count(name, int.from_bytes(view[pos:pos + 8], "little"), end - pos - 8, start)
                pos += 8  # a frame's contents are opcodes too: walk on into them
                continue
            pos += entry[2]
        elif how == "lines":
            for _ in range(entry[2]):
                newline = data.find(b"\n", pos)
                if newline < 0:
                    return
                if name == "PUT":
                    try:
                        _check_memo_index(int(bytes(view[pos:newline])), ops, start)
                    except ValueError:
                        return
                pos = newline + 1
        else:
            width, signed = entry[2], entry[3]
            if pos + width > end:
                return
            count = int.from_bytes(view[pos:pos + width], "little", signed=signed)
            pos += width
            _check_count(name, count, end - pos, start)
            pos += count


def _check_count(name: str, count: int, left: int, at: int) -> None:
    if count < 0 or count > left:
        raise DamagedPickle(
            f"pickle opcode {name} at byte {at} declares {count:,} bytes, but only {left:,} "
            f"follow in the file"
        )


def _check_memo_index(index: int, ops: int, at: int) -> None:
    if index > ops:
        raise DamagedPickle(
            f"pickle memo index {index:,} at byte {at} is beyond the {ops:,} opcodes before it"
        )


def restricted_load(path) -> object:
    """Unpickle ``path`` (raw or gzipped) with :class:`RestrictedUnpickler`.

    Python 2 strings (the original CIFAR files) come back as ``bytes``. The file (inflated) may
    hold at most the memory budget (:data:`glassnet.data._util.MAX_ARRAY_BYTES`); its declared
    sizes are checked by :func:`check_pickle_sizes` before unpickling.
    """
    path, data = read_maybe_gzip(path)
    try:
        check_pickle_sizes(data)
        return RestrictedUnpickler(io.BytesIO(data), encoding="bytes", limit=len(data)).load()
    except RefusedGlobal as exc:
        raise GlassnetError(f"{path}: not a plain-array pickle: {_one_line(exc)}") from None
    except DamagedPickle as exc:
        raise GlassnetError(f"{path}: truncated or damaged pickle: {_one_line(exc)}") from None
    except UnsafePickle as exc:
        raise GlassnetError(f"{path}: refused pickle: {_one_line(exc)}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError,
            KeyError, OverflowError, MemoryError, RecursionError) as exc:
        raise GlassnetError(
            f"{path}: truncated or damaged pickle ({type(exc).__name__}: {_one_line(exc)})"
        ) from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]
