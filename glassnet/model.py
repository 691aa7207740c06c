"""Sequential: a stack of layers trained as M networks side by side (the model axis)."""

from __future__ import annotations

import numpy as np

from .backend import as_array, as_seed_list
from .errors import GlassnetError
from .layers import BuildContext, Layer, Param, from_config
from .network import NETWORK_KINDS, Network, _check_input_shape


class Sequential(Network):
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
        self._settings(seed, models, dtype, init, bias_init, name)
        self.built = False
        self.input_shape = None
        self.history = None
        if input_shape is not None:
            self.build(input_shape)

    kind = "sequential"

    # -- building -----------------------------------------------------------------------------
    def build(self, input_shape, *, dry: bool = False) -> "Sequential":
        """Create every layer's parameters for per-sample ``input_shape``. ``dry``: shapes only
        (zero-stride placeholders; see :meth:`param_bytes`), for sizing before allocating."""
        input_shape = _check_input_shape(input_shape)
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
            x = as_array(x)
            self.build(x.shape[1:])

    @property
    def input_shapes(self) -> list[tuple]:
        return [self.input_shape]

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
        if isinstance(x, (list, tuple)) and x and isinstance(x[0], np.ndarray) and len(x) == 1:
            x = x[0]
        arr = as_array(x, name) if not isinstance(x, np.ndarray) else x
        if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
            raise GlassnetError(f"{name} must be a numeric array, got dtype {arr.dtype}", field=name)
        self._ensure_built(arr)
        return self.check_array(arr, self.input_shape, name)

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

    # -- persistence --------------------------------------------------------------------------
    def config(self) -> dict:
        return {**super().config(), "input_shape": list(self.input_shape),
                "layers": [l.config() for l in self.layers]}

    @classmethod
    def from_header(cls, header: dict) -> "Sequential":
        """The architecture of a model file's header, built dry (shapes only, nothing drawn)."""
        if not isinstance(header.get("layers"), list) or not header["layers"]:
            raise GlassnetError("model header field 'layers' must be a non-empty list")
        if not isinstance(header.get("input_shape"), list):
            raise GlassnetError(f"model header field 'input_shape' must be a list, got {header.get('input_shape')!r}")
        layers = [from_config(c) for c in header["layers"]]
        model = cls(layers, None, seed=header["seeds"], dtype=header["dtype"], name=header.get("name", "sequential"))
        return model.build(_check_input_shape(header["input_shape"], "model header field 'input_shape'"), dry=True)


NETWORK_KINDS["sequential"] = Sequential
