"""Sequential: a stack of layers trained as M networks side by side (the model axis)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import initializers as inits
from . import losses as losses_mod
from . import training
from .backend import as_seed_list, model_seeds, resolve_dtype
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
    def build(self, input_shape) -> "Sequential":
        if isinstance(input_shape, int):
            input_shape = (input_shape,)
        try:
            input_shape = tuple(int(d) for d in input_shape)
        except (TypeError, ValueError):
            raise GlassnetError(f"input_shape must be a tuple of positive ints, got {input_shape!r}") from None
        if not input_shape or min(input_shape) < 1:
            raise GlassnetError(f"input_shape must be a tuple of positive ints, got {input_shape!r}")
        self.streams = as_seed_list(self.seeds)
        ctx = BuildContext(self.M, self.dtype, self.streams, self.init, self.bias_init)
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
        np.savez(path, **arrays)
        return path

    @classmethod
    def load(cls, path) -> "Sequential":
        """Read a model written by :meth:`save`; a missing or malformed field fails clearly."""
        path = Path(path)
        if not path.exists():
            raise GlassnetError(f"model file {str(path)!r} does not exist")
        try:
            data = np.load(path, allow_pickle=False)
        except Exception as exc:  # noqa: BLE001 - any unreadable file is one user error
            raise GlassnetError(f"{str(path)!r} is not a glassnet model file (.npz): {exc}") from None
        with data:
            if "__model__" not in data.files:
                raise GlassnetError(f"{str(path)!r} has no '__model__' header; not a glassnet model file")
            try:
                header = json.loads(str(data["__model__"]))
            except ValueError as exc:  # bad JSON, or an object array that would need pickle
                raise GlassnetError(f"{str(path)!r}: the '__model__' header is not valid JSON text ({exc})") from None
            _check_header(header, path)
            layers = [from_config(c) for c in header["layers"]]
            model = cls(layers, header["input_shape"], seed=header["seeds"],
                        dtype=header["dtype"], name=header.get("name", "sequential"))
            model.ensemble = bool(header["ensemble"])
            for layer in model.layers:
                for short, p in layer.params.items():
                    p.value[...] = _stored(data, f"param/{layer.name}/{short}", p.value.shape, path)
                for short, b in layer.buffers.items():
                    b[...] = _stored(data, f"buffer/{layer.name}/{short}", b.shape, path)
        return model


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


def _stored(data, key, shape, path):
    if key not in data.files:
        raise GlassnetError(f"{str(path)!r}: array {key!r} is missing")
    try:
        arr = data[key]
    except ValueError as exc:  # an object array: loading it would need pickle
        raise GlassnetError(f"{str(path)!r}: array {key!r} cannot be read without pickle ({exc})") from None
    if arr.shape != shape:
        raise GlassnetError(f"{str(path)!r}: array {key!r} has shape {arr.shape}, the architecture needs {shape}")
    return arr
