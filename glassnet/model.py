"""Sequential: a stack of layers trained as M networks side by side (the model axis)."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from . import initializers as inits
from . import losses as losses_mod
from . import training
from .backend import as_seed_list, check_memory, model_seeds, resolve_dtype
from .errors import GlassnetError
from .layers import BuildContext, Layer, Param, from_config

FORMAT = "glassnet-model"
FORMAT_VERSION = 1


class Sequential:
    """A feed-forward network: ``Sequential([Dense(3, activation="sigmoid"), Dense(8)], input_shape=(8,))``.

    Parameters
    ----------
    layers : list of Layer
    input_shape : tuple, per-sample shape without the batch axis, e.g. ``(8,)`` or ``(32, 32, 3)``.
        If omitted, the model is built on the first ``fit``/``predict`` from the data.
    init, bias_init : default initializers for weights and biases (a name, a dict or an
        Initializer); layers may override with ``kernel_init``/``bias_init``.
        Defaults: Glorot uniform weights, zero biases.
    seed : int or list of ints. With ``models=M`` an int ``s`` gives the models seeds s..s+M-1; a
        list gives one seed per model (and M = its length).
    models : number of networks trained together. ``None`` (and an int seed) is a single network:
        ``predict`` returns ``(B, ...)`` and histories hold plain curves. Otherwise outputs carry a
        leading model axis ``(M, ...)``.
    dtype : "float32" (default) or "float64".
    """

    def __init__(self, layers, input_shape=None, *, init=None, bias_init=None, seed=0, models=None,
                 dtype=None, name: str = "sequential"):
        layers = list(layers)
        bad = [l for l in layers if not isinstance(l, Layer)]
        if bad:
            raise GlassnetError(f"layers must be glassnet layers (Dense, Conv2D, ...), got {bad[0]!r}")
        if not layers:
            raise GlassnetError("Sequential needs at least one layer")
        self.layers: list[Layer] = layers
        self.seeds = model_seeds(seed, models)
        self.ensemble = models is not None or isinstance(seed, (list, tuple, np.ndarray))
        self.M = len(self.seeds)
        self.dtype = resolve_dtype(dtype)
        self.init = None if init is None else inits.get(init)
        self.bias_init = None if bias_init is None else inits.get(bias_init)
        self.name = name
        self.built = False
        self.input_shape = None
        self.history = None
        if input_shape is not None:
            self.build(input_shape)

    # -- building -----------------------------------------------------------------------------
    def build(self, input_shape, *, dry: bool = False) -> "Sequential":
        """Create every layer's parameters for per-sample ``input_shape``. ``dry``: shapes only
        (zero-stride placeholders; see :meth:`param_bytes`), for sizing before allocating."""
        if isinstance(input_shape, int):
            input_shape = (input_shape,)
        try:
            input_shape = tuple(int(d) for d in input_shape)
        except (TypeError, ValueError):
            raise GlassnetError(f"input_shape must be a tuple of positive ints, got {input_shape!r}") from None
        if not input_shape or min(input_shape) < 1:
            raise GlassnetError(f"input_shape must be a tuple of positive ints, got {input_shape!r}")
        self.streams = as_seed_list(self.seeds)
        ctx = BuildContext(self.M, self.dtype, self.streams, self.init, self.bias_init, dry=dry)
        counts: dict[str, int] = {}
        shape = input_shape
        for layer in self.layers:
            if layer.name is None:
                i = counts.get(layer.kind, 0)
                counts[layer.kind] = i + 1
                layer.name = f"{layer.kind}_{i}"
            shape = layer.build(shape, ctx)
        names = [l.name for l in self.layers]
        if len(set(names)) != len(names):
            raise GlassnetError(f"layer names must be unique, got {names}")
        self.layers[0].need_input_grad = False
        self.input_shape = input_shape
        self.output_shape = tuple(shape)
        self.param_list: list[Param] = [p for l in self.layers for p in l.params.values()]
        self.built = True
        return self

    def _ensure_built(self, x) -> None:
        if not self.built:
            x = np.asarray(x)
            self.build(x.shape[1:])

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

    def summary(self, print_fn=print) -> str:
        """A table of layers, output shapes and parameter counts (per network), and the total."""
        rows = [("layer", "type", "output shape", "params")]
        for l in self.layers:
            rows.append((l.name, repr(l), str((None,) + tuple(l.output_shape)), f"{l.param_count():,}"))
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        line = "-" * (sum(widths) + 6)
        out = [f'Model "{self.name}"' + (f" ({self.M} networks on the model axis)" if self.ensemble else ""), line]
        for i, r in enumerate(rows):
            out.append("  ".join(c.ljust(w) if j < 3 else c.rjust(w) for j, (c, w) in enumerate(zip(r, widths))))
            if i == 0:
                out.append(line)
        out += [line, f"Total params: {self.param_count():,}" + (" per network" if self.ensemble else "")]
        text = "\n".join(out)
        if print_fn is not None:
            print_fn(text)
        return text

    def __repr__(self):
        inner = ",\n".join(f"  {l!r}" for l in self.layers)
        extra = f", models={self.M}" if self.ensemble else ""
        return f"Sequential([\n{inner}\n], input_shape={self.input_shape}{extra})"

    # -- computation --------------------------------------------------------------------------
    def prepare_inputs(self, x, name: str = "x") -> np.ndarray:
        """Validate ``x`` as shared ``(B, *input_shape)`` or per-model ``(M, B, *input_shape)``."""
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
            raise GlassnetError(f"{name} must be a numeric array, got dtype {x.dtype}")
        self._ensure_built(x)
        n = len(self.input_shape)
        if x.shape[-n:] != self.input_shape or x.ndim not in (n + 1, n + 2) or (
                x.ndim == n + 2 and x.shape[0] != self.M):
            raise GlassnetError(
                f"{name} has shape {x.shape}; expected (batch, {', '.join(map(str, self.input_shape))}) "
                f"or (models={self.M}, batch, ...)"
            )
        x = x.astype(self.dtype, copy=False)
        if not np.all(np.isfinite(x)):
            raise GlassnetError(f"{name} contains NaN or infinite values")
        return x

    def forward(self, x, train: bool = False):
        """Run all layers: ``(B, ...)`` or ``(M, B, ...)`` in, ``(M, B, *output_shape)`` out."""
        if x.ndim == len(self.input_shape) + 1 and not self.layers[0].accepts_shared_input:
            x = np.broadcast_to(x, (self.M,) + x.shape)
        for layer in self.layers:
            x = layer.forward(x, train)
        if x.ndim == len(self.output_shape) + 1:  # never touched the model axis (no parameters)
            x = np.broadcast_to(x, (self.M,) + x.shape)
        return x

    def backward(self, grad):
        """Backpropagate dL/doutput ``(M, B, ...)`` through every layer, filling ``.grad``."""
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return grad

    def predict(self, x, batch_size: int | None = None) -> np.ndarray:
        """Outputs in inference mode: ``(B, ...)`` for a single network, ``(M, B, ...)`` for an ensemble."""
        x = self.prepare_inputs(x)
        lead = x.ndim - len(self.input_shape)
        B = x.shape[lead - 1]
        if batch_size is None or batch_size >= B:
            out = self.forward(x, train=False)
        else:
            chunks = [self.forward(x[:, i:i + batch_size] if lead == 2 else x[i:i + batch_size], train=False)
                      for i in range(0, B, batch_size)]
            out = np.concatenate(chunks, axis=1)
        return self._public(out)

    def evaluate(self, x, y, loss, metrics=None) -> dict:
        """Loss (data term, without penalties) and metrics in inference mode; per model for an ensemble.
        ``metrics`` defaults as in ``fit``: accuracy for classification losses."""
        return training.evaluate(self, x, y, loss, metrics)

    def fit(self, x, y, **kwargs):
        """Train; see :func:`glassnet.training.fit` for every argument. Returns a :class:`History`."""
        return training.fit(self, x, y, **kwargs)

    # -- persistence --------------------------------------------------------------------------
    def config(self) -> dict:
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "name": self.name,
            "input_shape": list(self.input_shape),
            "models": self.M,
            "ensemble": self.ensemble,
            "seeds": self.seeds,
            "dtype": self.dtype.name,
            "layers": [l.config() for l in self.layers],
        }

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

    @classmethod
    def load(cls, path) -> "Sequential":
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
            try:
                layers = [from_config(c) for c in header["layers"]]
                model = cls(layers, None, seed=header["seeds"], dtype=header["dtype"],
                            name=header.get("name", "sequential"))
                model.build(header["input_shape"], dry=True)
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
    required = {"format": str, "version": int, "input_shape": list, "seeds": list, "dtype": str,
                "ensemble": bool, "layers": list}
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
    dims = header["input_shape"]
    if not dims or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in dims):
        raise GlassnetError(f"{str(path)!r}: model header field 'input_shape' must be a list of ints >= 1, "
                            f"got {_short(dims)}")


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
