"""What every glassnet network shares: parameters on the model axis, predict/evaluate/fit, and
``.npz`` files (a JSON header ``__model__`` plus one array per parameter and buffer, no pickle).

:class:`~glassnet.Sequential` (a chain of layers) and :class:`~glassnet.Model` (a graph of
layers called on tensors) are the two kinds; a subclass provides ``layers``, ``forward``,
``backward``, ``prepare_inputs``, ``config`` and ``from_header``.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from . import training
from . import initializers as inits
from .backend import as_array, check_memory, model_seeds, resolve_dtype
from .errors import GlassnetError

FORMAT = "glassnet-model"
FORMAT_VERSION = 1

#: kind name in a model file's header -> class (filled by the subclasses' modules)
NETWORK_KINDS: dict[str, type["Network"]] = {}


def _check_input_shape(value, what: str = "input_shape") -> tuple:
    if isinstance(value, int):
        value = (value,)
    try:
        shape = tuple(int(d) for d in value)
        ok = all(not isinstance(d, bool) and int(d) == d for d in value)
    except (TypeError, ValueError):
        shape, ok = (), False
    if not ok or not shape or min(shape) < 1:
        raise GlassnetError(f"{what} must be a tuple of ints >= 1, got {value!r}", field=what, value=value)
    return shape


def architecture_header(model) -> dict:
    """A model file's header without the per-network fields (seeds, models, ensemble): what a
    run store keeps once per job and completes with each run's seed (:func:`build_from_header`)."""
    return {k: v for k, v in model.config().items() if k not in ("seeds", "models", "ensemble")}


def build_from_header(header: dict, seed: int, arrays: dict) -> "Network":
    """One network (``M = 1``) of the architecture in ``header`` with the parameter and buffer
    arrays ``arrays`` (``param/<layer>/<name>``, ``buffer/<layer>/<name>``, without the model axis)."""
    kind = header.get("kind", "sequential")
    if kind not in NETWORK_KINDS:
        raise GlassnetError(f"model kind {kind!r} is unknown; known: {', '.join(NETWORK_KINDS)}")
    model = NETWORK_KINDS[kind].from_header({**header, "seeds": [int(seed)]})  # dry: nothing drawn
    model.ensemble = False
    for layer in model.layers:
        for short, p in layer.params.items():
            p.value = np.array(arrays[f"param/{layer.name}/{short}"], dtype=model.dtype).reshape(p.value.shape)
            p.grad = np.zeros_like(p.value)
        for short, b in layer.buffers.items():
            b[...] = arrays[f"buffer/{layer.name}/{short}"]
    return model


class Network:
    """Base class of glassnet's networks (see the module docstring). Attributes every subclass
    sets: ``layers``, ``M``, ``seeds``, ``ensemble``, ``dtype``, ``streams``, ``param_list``,
    ``built``, ``name``, ``history``."""

    kind = "network"

    def _settings(self, seed, models, dtype, init, bias_init, name) -> None:
        """What every kind takes the same way: seeds (one per model; ``models`` or a list of
        seeds makes an ensemble), dtype, default initializers and the name."""
        self.seeds = model_seeds(seed, models)
        self.ensemble = models is not None or isinstance(seed, (list, tuple, np.ndarray))
        self.M = len(self.seeds)
        self.dtype = resolve_dtype(dtype)
        self.init = None if init is None else inits.get(init)
        self.bias_init = None if bias_init is None else inits.get(bias_init)
        self.name = name
        self.history = None

    def _repr_html_(self) -> str:
        """Jupyter: the summary as an HTML table (see :func:`glassnet.notebook.summary_html`)."""
        from .notebook import summary_html  # noqa: PLC0415 - notebook helpers load on use

        return summary_html(self)

    # -- inspection ---------------------------------------------------------------------------
    @property
    def params(self) -> dict[str, np.ndarray]:
        """Parameter arrays by name, each ``(M, ...)`` (``(...)`` for a single model)."""
        return {p.name: self._public(p.value) for p in self.param_list}

    @property
    def grads(self) -> dict[str, np.ndarray]:
        """Gradients from the last backward pass, by name."""
        return {p.name: self._public(p.grad) for p in self.param_list}

    def _public(self, a):
        return a if self.ensemble else a[0]

    def param_bytes(self) -> int:
        """Bytes of every parameter of all ``M`` networks (gradients and optimizer state come on
        top: about 2-4 times as much while training)."""
        return int(sum(np.prod(p.value.shape, dtype=np.float64) * self.dtype.itemsize for p in self.param_list))

    def param_count(self) -> int:
        """Trainable parameters of one network."""
        return sum(l.param_count() for l in self.layers)

    # -- computation shared by every kind ------------------------------------------------------
    def predict(self, x, batch_size: int | None = None):
        """Outputs in inference mode: ``(B, ...)`` for a single network, ``(M, B, ...)`` for an
        ensemble (a list of them for a model with several outputs)."""
        x = self.prepare_inputs(x)
        B = self.n_samples(x)
        if batch_size is None or batch_size >= B:
            out = self.forward(x, train=False)
        else:
            chunks = [self.forward(self.take(x, slice(i, i + batch_size)), train=False) for i in range(0, B, batch_size)]
            out = [np.concatenate(parts, axis=1) for parts in zip(*chunks)] if isinstance(chunks[0], list) \
                else np.concatenate(chunks, axis=1)
        return [self._public(o) for o in out] if isinstance(out, list) else self._public(out)

    def evaluate(self, x, y, loss, metrics=None) -> dict:
        """Loss (data term, without penalties) and metrics in inference mode; per model for an ensemble.
        ``metrics`` defaults as in ``fit``: accuracy for classification losses."""
        return training.evaluate(self, x, y, loss, metrics)

    def fit(self, x, y, **kwargs):
        """Train; see :func:`glassnet.training.fit` for every argument. Returns a :class:`History`."""
        return training.fit(self, x, y, **kwargs)

    # -- data layout ------------------------------------------------------------------------------
    def is_per_model(self, x) -> bool:
        """Whether prepared inputs carry the model axis (``(M, B, ...)``) or are shared (``(B, ...)``)."""
        first = x[0] if isinstance(x, (list, tuple)) else x
        return first.ndim == len(self.input_shapes[0]) + 2

    def n_samples(self, x) -> int:
        """Samples in prepared inputs ``x``."""
        first = x[0] if isinstance(x, (list, tuple)) else x
        return first.shape[1] if self.is_per_model(x) else first.shape[0]

    def take(self, x, index):
        """The samples ``index`` (a slice or indices) of prepared inputs."""
        per_model = self.is_per_model(x)
        pick = (lambda a: a[:, index]) if per_model else (lambda a: a[index])
        return [pick(a) for a in x] if isinstance(x, (list, tuple)) else pick(x)

    def check_array(self, x, shape: tuple, name: str) -> np.ndarray:
        """One input array validated as shared ``(B, *shape)`` or per-model ``(M, B, *shape)``."""
        x = as_array(x, name)
        if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
            raise GlassnetError(f"{name} must be a numeric array, got dtype {x.dtype}", field=name)
        n = len(shape)
        if x.shape[x.ndim - n:] != tuple(shape) or x.ndim not in (n + 1, n + 2) or (
                x.ndim == n + 2 and x.shape[0] != self.M):
            raise GlassnetError(
                f"{name} has shape {x.shape}; expected (batch, {', '.join(map(str, shape))}) "
                f"or (models={self.M}, batch, ...)", field=name)
        x = x.astype(self.dtype, copy=False)
        if not np.all(np.isfinite(x)):
            raise GlassnetError(f"{name} contains NaN or infinite values", field=name)
        return x

    # -- persistence ------------------------------------------------------------------------------
    def config(self) -> dict:
        """The JSON header of a model file: the common fields; subclasses add their architecture."""
        return {"format": FORMAT, "version": FORMAT_VERSION, "kind": self.kind, "name": self.name,
                "models": self.M, "ensemble": self.ensemble, "seeds": self.seeds, "dtype": self.dtype.name}

    def save(self, path) -> Path:
        """Write ``.npz``: a JSON header ``__model__`` plus one array per parameter and buffer.
        Loads without pickle."""
        if not self.built:
            raise GlassnetError("cannot save a model that has not been built (give input_shape or fit it)")
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(path.suffix + ".npz") if path.suffix else path.with_suffix(".npz")
        arrays = {"__model__": np.array(json.dumps(self.config()))}
        for layer in self.layers:
            for short, p in layer.params.items():
                arrays[f"param/{layer.name}/{short}"] = p.value
            for short, b in layer.buffers.items():
                arrays[f"buffer/{layer.name}/{short}"] = b
        path.parent.mkdir(parents=True, exist_ok=True)
        # a temporary name in the same folder, then an atomic rename: a crash mid-write never
        # leaves a truncated model file under the real name
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return path

    @staticmethod
    def load(path) -> "Network":
        """Read a model written by :meth:`save`; a missing, malformed or oversized field fails clearly.

        Nothing is drawn or allocated before the declared architecture is checked against the
        arrays the file holds and against the memory budget (:func:`glassnet.backend.memory_budget`).
        """
        path = Path(path)
        if not path.is_file():
            raise GlassnetError(f"model file {str(path)!r} does not exist" if not path.exists()
                                else f"model file {str(path)!r} is not a regular file")
        try:
            data = np.load(path, allow_pickle=False)
        except Exception as exc:  # noqa: BLE001 - any unreadable file is one user error
            raise GlassnetError(f"{str(path)!r} is not a glassnet model file (.npz): {_first_line(exc)}") from None
        if not isinstance(data, np.lib.npyio.NpzFile):  # a .npy renamed .npz
            raise GlassnetError(f"{str(path)!r} is a single .npy array, not a glassnet model file (.npz)")
        with data:
            if "__model__" not in data.files:
                raise GlassnetError(f"{str(path)!r} has no '__model__' header; not a glassnet model file")
            try:
                header = json.loads(str(data["__model__"]))
            except Exception as exc:  # noqa: BLE001 - bad JSON, a corrupt entry, an object array
                raise GlassnetError(f"{str(path)!r}: the '__model__' header is not valid JSON text "
                                    f"({_first_line(exc)})") from None
            _check_header(header, path)
            kind = header.get("kind", "sequential")
            if kind not in NETWORK_KINDS:
                raise GlassnetError(f"{str(path)!r}: model kind {kind!r} is unknown; known: {', '.join(NETWORK_KINDS)}")
            try:
                model = NETWORK_KINDS[kind].from_header(header)  # a dry build: shapes, no draws
            except GlassnetError as exc:
                raise GlassnetError(f"{str(path)!r}: {exc}") from None
            model.ensemble = bool(header["ensemble"])
            check_memory(model.param_bytes(), f"{str(path)!r}: the declared architecture")
            stored = _stored_shapes(data, path)
            for layer in model.layers:
                for short, p in layer.params.items():
                    p.value = _stored(data, stored, f"param/{layer.name}/{short}", p.value.shape, model.dtype, path)
                    p.grad = np.zeros_like(p.value)
                for short, b in layer.buffers.items():
                    b[...] = _stored(data, stored, f"buffer/{layer.name}/{short}", b.shape, model.dtype, path)
        bad = [p.name for p in model.param_list if not np.isfinite(p.value).all()]
        if bad:
            warnings.warn(f"{str(path)}: parameters {', '.join(bad)} hold NaN or infinite values "
                          "(saved from a diverged run?)", RuntimeWarning, stacklevel=2)
        return model




def _first_line(exc) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _check_header(header, path) -> None:
    required = {"format": str, "version": int, "seeds": list, "dtype": str, "ensemble": bool}
    if not isinstance(header, dict):
        raise GlassnetError(f"{str(path)!r}: the '__model__' header must be a JSON object")
    for key, typ in required.items():
        if key not in header:
            raise GlassnetError(f"{str(path)!r}: model header is missing the field {key!r}")
        if not isinstance(header[key], typ):
            raise GlassnetError(f"{str(path)!r}: model header field {key!r} must be a {typ.__name__}, "
                                f"got {header[key]!r}")
    if header["format"] != FORMAT:
        raise GlassnetError(f"{str(path)!r}: format is {header['format']!r}, expected {FORMAT!r}")
    if header["version"] > FORMAT_VERSION:
        raise GlassnetError(f"{str(path)!r}: format version {header['version']} is newer than this "
                            f"glassnet reads ({FORMAT_VERSION}); upgrade glassnet")
    seeds = header["seeds"]
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s < 2**63 for s in seeds):
        raise GlassnetError(f"{str(path)!r}: model header field 'seeds' must be a non-empty list of ints >= 0, "
                            f"got {_short(seeds)}")



def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _stored_shapes(data, path) -> dict[str, tuple]:
    """``{key: shape}`` of every array in the archive, read from the .npy headers alone."""
    shapes = {}
    zf = data.zip
    for info in zf.infolist():
        key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
        try:
            with zf.open(info) as f:
                version = np.lib.format.read_magic(f)
                read = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                    np.lib.format.read_array_header_2_0
                shape, _, _ = read(f, max_header_size=100_000)
        except Exception as exc:  # noqa: BLE001 - a corrupt entry is one user error
            raise GlassnetError(f"{str(path)!r}: array {key!r} is not readable ({_first_line(exc)})") from None
        shapes[key] = tuple(shape)
    return shapes


def _stored(data, shapes, key, shape, dtype, path):
    if key not in shapes:
        raise GlassnetError(f"{str(path)!r}: array {key!r} is missing")
    if shapes[key] != tuple(shape):
        raise GlassnetError(f"{str(path)!r}: array {key!r} has shape {shapes[key]}, the architecture needs "
                            f"{tuple(shape)}")
    try:
        arr = data[key]
    except ValueError as exc:  # an object array: loading it would need pickle
        raise GlassnetError(f"{str(path)!r}: array {key!r} cannot be read without pickle ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - truncated or corrupt data
        raise GlassnetError(f"{str(path)!r}: array {key!r} is not readable ({_first_line(exc)})") from None
    if not np.issubdtype(arr.dtype, np.number):
        raise GlassnetError(f"{str(path)!r}: array {key!r} has dtype {arr.dtype}, expected numbers")
    return np.array(arr, dtype=dtype, copy=True)
