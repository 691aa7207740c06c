"""A tiny network written on one line, for the backprop trace.

``"x=1, y=5, w1=3, relu, w2=2, loss=half_se, lr=0.1"`` is seed 001's chain: input 1, target 5,
weight 3, a ReLU, weight 2, half squared error, learning rate 0.1. The grammar, comma separated:

* ``x=...`` and ``y=...``: a number, a list (one sample with several features/outputs) or a list
  of lists (several samples, one row each). Integer ``y`` labels work with the
  cross-entropy losses.
* ``w<k>=...``: the weights of layer ``k`` (1, 2, ...), shape ``(inputs, units)`` as in
  ``z = x W + b``. A number is a 1x1 matrix; a flat list is one column ``(n, 1)`` when the layer
  has ``n`` inputs, or one row ``(1, n)`` when it has a single input.
* ``b<k>=...``: the bias of layer ``k`` (a layer without one has no bias).
* an activation name (``relu``, ``sigmoid``, ...; any name from the activations registry), or
  ``f<k>=name``: the activation of the layer written just before it (default: identity).
* ``loss=name`` (default ``half_sse``; ``half_se`` is read as ``half_sse``, seed 001's
  L = 1/2 (y - yhat)^2) and ``lr=number`` (default 0.1).
* ``skip<k>=j``: a skip connection: the output of layer ``k`` is ``a_k = f_k(z_k) + a_j``
  (``a_0 = x``, ``j < k``, the same width), a residual connection as ``gn.Add``. For example
  ``"x=1, y=5, w1=3, relu, w2=0.5, relu, skip2=1, w3=2"``: a_2 = relu(0.5 a_1) + a_1, so the
  gradient reaching a_1 is the sum of the one through layer 2 and the one along the skip.

A recurrent spec (a key ``wx`` or ``wh``) is two or more steps of a SimpleRNN followed by a dense
output, for backprop through time: ``"x=[1, 2], y=0.5, wx=0.5, wh=-1, tanh, wy=2, loss=half_se"``
-- ``x`` is the sequence (a flat list: one feature per step; a list of lists: one row per step),
``wx`` ``(features, units)``, ``wh`` ``(units, units)``, ``b`` the hidden bias, the activation
name (default tanh), ``wy`` ``(units, outputs)`` and ``by`` the output layer, ``h0`` the initial
state (default 0): a_t = x_t wx + h_{t-1} wh + b, h_t = f(a_t), yhat = h_T wy + by (see
:mod:`glassnet.diagnostics.trace_rnn`).

The same fields come from a TOML file (``glassnet explain backprop --config FILE``): either
``spec = "x=1, ..."`` or the keys above (``w1 = 3``, ``f1 = "relu"``), or ``[[layer]]`` tables
with ``w``, ``b`` and ``activation``.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

import numpy as np

from .. import activations as acts
from .. import losses as losses_mod
from ..errors import GlassnetError

#: spellings of seed 001 that are not registry names; they resolve to a registered loss
LOSS_SPELLINGS = {"half_se": "half_sse", "half_squared_error": "half_sse"}
_KEY = re.compile(r"^(x|y|loss|lr|spec|[wbf]\d+|act\d+|skip\d+)$")
#: keys of a recurrent spec (:func:`parse_rnn_spec`)
_RNN_KEY = re.compile(r"^(x|y|loss|lr|spec|wx|wh|b|wy|by|h0|f|activation)$")


@dataclass
class NetSpec:
    """A parsed spec: data, per-layer weights, biases and activations, loss and learning rate.

    ``x`` is ``(B, n_in)``, ``y`` is ``(B, n_out)`` (or integer labels ``(B,)``), ``weights[k]``
    is ``(n_k, n_{k+1})``, ``biases[k]`` is ``(n_{k+1},)`` or None.
    """

    x: np.ndarray
    y: np.ndarray
    weights: list
    biases: list
    activations: list
    loss: str = "half_sse"
    lr: float = 0.1
    #: skip connections: layer k (1-based) -> j, for a_k = f_k(z_k) + a_j
    skips: dict = None

    def build_model(self):
        """A float64 network holding exactly these weights: a :class:`~glassnet.Sequential` of
        Dense layers, or with skip connections a graph :class:`~glassnet.Model` whose ``Add``
        nodes sum each skipped tensor into its layer's output."""
        from ..layers import Dense  # noqa: PLC0415 - the model imports layers; keep this module light
        from ..model import Sequential  # noqa: PLC0415

        layers = [Dense(W.shape[1], activation=f, use_bias=b is not None)
                  for W, b, f in zip(self.weights, self.biases, self.activations)]
        if self.skips:
            from ..graph import Input, Model  # noqa: PLC0415
            from ..layers.merge import Add  # noqa: PLC0415

            inp = Input((self.x.shape[1],))
            outs = [inp]
            for k, layer in enumerate(layers, start=1):
                t = layer(outs[-1])
                if k in self.skips:
                    t = Add(name=f"add_{k}")([outs[self.skips[k]], t])
                outs.append(t)
            model = Model(inp, outs[-1], dtype="float64", seed=0)
        else:
            model = Sequential(layers, input_shape=(self.x.shape[1],), dtype="float64", seed=0)
        for layer, W, b in zip(layers, self.weights, self.biases):
            layer.W.value[0] = W
            if b is not None:
                layer.b.value[0] = b
        return model


def _bad(token: str, what: str) -> GlassnetError:
    return GlassnetError(f"backprop spec: bad token {token!r}: {what}")


def _split(text: str) -> list[str]:
    """Split on commas outside brackets."""
    tokens, depth, cur = [], 0, []
    for ch in text:
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
            if depth < 0:
                raise GlassnetError(f"backprop spec: unbalanced ']' in {text!r}")
        if ch == "," and depth == 0:
            tokens.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    if depth != 0:
        raise GlassnetError(f"backprop spec: unbalanced '[' in {text!r}")
    tokens.append("".join(cur).strip())
    if tokens and tokens[-1] == "":
        tokens.pop()  # a trailing comma is harmless
    for t in tokens:
        if t == "":
            raise GlassnetError(f"backprop spec: empty token (two commas in a row) in {text!r}")
    return tokens


def _number_array(value, token: str) -> np.ndarray:
    if isinstance(value, str):
        try:
            value = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            raise _bad(token, "the value must be a number or a [list] of numbers") from None
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise _bad(token, "the value must be a number or a [list] of numbers (rows of equal length)") from None
    if arr.ndim > 2 or arr.size == 0 or not np.all(np.isfinite(arr)):
        raise _bad(token, "the value must be a finite number, a list or a list of lists")
    return arr


def parse_spec(text: str) -> NetSpec:
    """Parse the one-line form; every error is one line naming the offending token."""
    if not isinstance(text, str) or not text.strip():
        raise GlassnetError("backprop spec must be a non-empty string like "
                            "'x=1, y=5, w1=3, relu, w2=2, loss=half_se, lr=0.1'")
    if _is_recurrent(_split(text)):
        return parse_rnn_spec(text)
    items = []  # (token, key, raw value)
    last_layer = None
    for tok in _split(text):
        if "=" in tok:
            key, _, value = tok.partition("=")
            key = key.strip().lower()
            if not _KEY.match(key) or key == "spec":
                raise _bad(tok, f"unknown key {key!r}; keys are x, y, w<k>, b<k>, f<k>, skip<k>, loss, lr "
                                "(a recurrent spec: x, y, wx, wh, b, wy, by, h0, loss, lr)")
            items.append((tok, key, value.strip()))
            if key[0] == "w" and key != "w":
                last_layer = int(key[1:])
        else:
            if last_layer is None:
                raise _bad(tok, "an activation must follow the weight of its layer (w1=..., relu)")
            items.append((tok, f"f{last_layer}", tok))
    return _assemble(items)


def spec_from_dict(d: dict) -> NetSpec:
    """The TOML/dict form: ``{"spec": "..."}``, flat keys, or ``layer = [{w, b, activation}]``."""
    if not isinstance(d, dict):
        raise GlassnetError(f"backprop config must be a table of keys, got {type(d).__name__}")
    if "spec" in d:
        extra = sorted(set(d) - {"spec"})
        if extra:
            raise GlassnetError(f"backprop config: give 'spec' alone or the keys, not both (also got {extra})")
        return parse_spec(d["spec"])
    items = []
    layers = d.get("layer", d.get("layers"))
    for key, value in d.items():
        if key in ("layer", "layers"):
            continue
        k = str(key).lower()
        if not _KEY.match(k):
            raise GlassnetError(f"backprop config: unknown key {key!r}; keys are x, y, w<k>, b<k>, "
                                "f<k>, loss, lr, spec, [[layer]]")
        items.append((f"{key} = {value!r}", k, value))
    if layers is not None:
        if not isinstance(layers, list) or not all(isinstance(t, dict) for t in layers):
            raise GlassnetError("backprop config: 'layer' must be an array of tables [[layer]]")
        for i, t in enumerate(layers, start=1):
            for key, value in t.items():
                short = {"w": "w", "weights": "w", "b": "b", "bias": "b", "activation": "f", "skip": "skip"}.get(key)
                if short is None:
                    raise GlassnetError(f"backprop config: layer {i} has unknown key {key!r}; "
                                        "keys are w, b, activation, skip")
                items.append((f"layer {i} {key} = {value!r}", f"{short}{i}", value))
    return _assemble(items)


def _assemble(items) -> NetSpec:
    fields: dict[str, tuple[str, object]] = {}
    for tok, key, value in items:
        key = "f" + key[3:] if key.startswith("act") else key
        if key in fields:
            raise _bad(tok, f"{key} is given twice")
        fields[key] = (tok, value)
    for need in ("x", "y", "w1"):
        if need not in fields:
            raise GlassnetError(f"backprop spec needs {need}=...; e.g. "
                                "'x=1, y=5, w1=3, relu, w2=2, loss=half_se, lr=0.1'")
    n_layers = max(int(k[1:]) for k in fields if k[0] in "wbf" and k[1:].isdigit())
    for k in fields:
        num = k[4:] if k.startswith("skip") else k[1:]
        if (k[0] in "bf" or k.startswith("skip")) and num.isdigit() and f"w{num}" not in fields:
            raise _bad(fields[k][0], f"layer {num} has no weight w{num}")
    missing = [k for k in range(1, n_layers + 1) if f"w{k}" not in fields]
    if missing:
        raise GlassnetError(f"backprop spec: weights must be numbered 1..{n_layers}; w{missing[0]} is missing")

    loss_name = "half_sse"
    if "loss" in fields:
        tok, name = fields["loss"]
        name = LOSS_SPELLINGS.get(str(name).strip().lower(), str(name).strip())
        try:
            loss = losses_mod.get(name)
        except GlassnetError as exc:
            raise _bad(tok, str(exc)) from None
        loss_name = loss.name
    loss = losses_mod.get(loss_name)
    lr = 0.1
    if "lr" in fields:
        tok, value = fields["lr"]
        arr = _number_array(value, tok)
        if arr.ndim != 0 or arr < 0:
            raise _bad(tok, "lr must be one number >= 0")
        lr = float(arr)

    tok, xv = fields["x"]
    x = _number_array(xv, tok)
    x = x.reshape(1, -1) if x.ndim < 2 else x
    width = x.shape[1]
    widths = [width]  # of a_0 = x, a_1, ...
    weights, biases, activations, skips = [], [], [], {}
    for k in range(1, n_layers + 1):
        tok, wv = fields[f"w{k}"]
        W = _number_array(wv, tok)
        if W.ndim == 0:
            W = W.reshape(1, 1)
        elif W.ndim == 1:
            W = W.reshape(-1, 1) if W.size == width else W.reshape(1, -1)
        if W.shape[0] != width:
            raise _bad(tok, f"layer {k} gets {width} input(s), so w{k} needs {width} row(s); "
                            f"it has shape {W.shape}")
        width = W.shape[1]
        b = None
        if f"b{k}" in fields:
            btok, bv = fields[f"b{k}"]
            b = _number_array(bv, btok).reshape(-1)
            if b.size != width:
                raise _bad(btok, f"layer {k} has {width} unit(s), so b{k} needs {width} value(s)")
        f = "identity"
        if f"f{k}" in fields:
            ftok, name = fields[f"f{k}"]
            try:
                f = acts.get(str(name).strip()).name
            except GlassnetError as exc:
                raise _bad(ftok, str(exc)) from None
        if f"skip{k}" in fields:
            stok, sv = fields[f"skip{k}"]
            j = _number_array(sv, stok)
            if j.ndim != 0 or j != int(j) or not 0 <= int(j) < k:
                raise _bad(stok, f"skip{k} names the earlier output a_j added to layer {k}'s output: "
                                 f"an integer j in 0..{k - 1} (0 is x)")
            j = int(j)
            if widths[j] != width:
                raise _bad(stok, f"a_{j} has {widths[j]} unit(s) but layer {k} has {width}: a skip "
                                 "connection adds tensors of one width")
            skips[k] = j
        widths.append(width)
        weights.append(W)
        biases.append(b)
        activations.append(f)

    tok, yv = fields["y"]
    y = _number_array(yv, tok)
    B = x.shape[0]
    if loss.task == "multiclass" and y.ndim <= 1 and y.size == B and np.all(np.mod(y, 1) == 0) and width > 1:
        y = y.reshape(B).astype(np.int64)  # class labels
    else:
        y = y.reshape(1, -1) if y.ndim == 0 or (y.ndim == 1 and B == 1) else y
        y = y.reshape(-1, 1) if y.ndim == 1 else y
        if y.shape != (B, width):
            raise _bad(tok, f"the network maps {B} sample(s) to {width} output(s), so y needs shape "
                            f"({B}, {width}); it has {y.shape}")
    return NetSpec(x, y, weights, biases, activations, loss_name, lr, skips)


def as_spec(spec):
    """A :class:`NetSpec` (or :class:`RNNSpec`) from a string, a dict (TOML form) or a spec."""
    if isinstance(spec, (NetSpec, RNNSpec)):
        return spec
    if isinstance(spec, dict):
        if "spec" not in spec and ("wx" in spec or "wh" in spec):
            return _assemble_rnn([(f"{k} = {v!r}", str(k).lower(), v) for k, v in spec.items()])
        return spec_from_dict(spec)
    return parse_spec(spec)


# -- a recurrent network: SimpleRNN steps, then a dense output ------------------------------------
@dataclass
class RNNSpec:
    """A parsed recurrent spec (one sequence): ``x`` ``(T, C)``, ``y`` ``(1, K)``, ``wx``
    ``(C, H)``, ``wh`` ``(H, H)``, ``b`` ``(H,)``, ``activation``, ``wy`` ``(H, K)``, ``by``
    ``(K,)``, ``h0`` ``(H,)``; a_t = x_t wx + h_{t-1} wh + b, h_t = f(a_t), yhat = h_T wy + by."""

    x: np.ndarray
    y: np.ndarray
    wx: np.ndarray
    wh: np.ndarray
    b: np.ndarray
    activation: str
    wy: np.ndarray
    by: np.ndarray
    h0: np.ndarray
    loss: str = "half_sse"
    lr: float = 0.1

    def build_model(self):
        """A float64 ``Sequential([SimpleRNN(H), Dense(K)])`` holding these weights (in the engine's
        PyTorch layout: ``weight_ih = wx^T``, ``weight_hh = wh^T``, ``bias_ih = b``, ``bias_hh = 0``)
        with ``h0`` as the recurrent layer's initial state."""
        from ..layers import Dense, SimpleRNN  # noqa: PLC0415
        from ..model import Sequential  # noqa: PLC0415

        H, K = self.wh.shape[0], self.wy.shape[1]
        rnn, out = SimpleRNN(H, activation=self.activation), Dense(K)
        model = Sequential([rnn, out], input_shape=self.x.shape, dtype="float64", seed=0)
        rnn.weight_ih.value[0] = self.wx.T
        rnn.weight_hh.value[0] = self.wh.T
        rnn.bias_ih.value[0] = self.b
        rnn.bias_hh.value[0] = 0.0
        out.W.value[0] = self.wy
        out.b.value[0] = self.by
        rnn.initial_state = self.h0
        return model


def _is_recurrent(tokens) -> bool:
    return any(t.partition("=")[0].strip().lower() in ("wx", "wh") for t in tokens if "=" in t)


def parse_rnn_spec(text: str) -> RNNSpec:
    """Parse a recurrent spec (see the module docstring); errors name the token."""
    items = []
    for tok in _split(text):
        if "=" in tok:
            key, _, value = tok.partition("=")
            items.append((tok, key.strip().lower(), value.strip()))
        else:
            items.append((tok, "f", tok))
    return _assemble_rnn(items)


def _matrix(value, tok, rows, cols, name):
    """A number, list or list of lists as a (rows, cols) matrix (a flat list fills the one
    dimension that is not 1)."""
    a = _number_array(value, tok)
    if a.ndim < 2 and a.size == rows * cols and (rows == 1 or cols == 1 or a.ndim == 0):
        a = a.reshape(rows, cols)
    if a.shape != (rows, cols):
        raise _bad(tok, f"{name} needs shape ({rows}, {cols}); it has {a.shape}")
    return a


def _assemble_rnn(items) -> RNNSpec:
    fields: dict[str, tuple[str, object]] = {}
    for tok, key, value in items:
        key = {"activation": "f", "bh": "b"}.get(key, key)
        if not _RNN_KEY.match(key):
            raise _bad(tok, f"unknown key {key!r} in a recurrent spec; keys are x, y, wx, wh, b, an activation, "
                            "wy, by, h0, loss, lr")
        if key in fields:
            raise _bad(tok, f"{key} is given twice")
        fields[key] = (tok, value)
    for need in ("x", "y", "wx", "wh", "wy"):
        if need not in fields:
            raise GlassnetError(f"recurrent backprop spec needs {need}=...; e.g. "
                                "'x=[1, 2], y=0.5, wx=0.5, wh=-1, tanh, wy=2, loss=half_se'")
    tok, xv = fields["x"]
    x = _number_array(xv, tok)
    x = x.reshape(-1, 1) if x.ndim < 2 else x  # a flat list: one feature per step
    T, C = x.shape
    tok, wv = fields["wh"]
    wh = _number_array(wv, tok)
    H = 1 if wh.ndim == 0 else wh.shape[0]
    wh = _matrix(wv, tok, H, H, "wh")
    wx = _matrix(fields["wx"][1], fields["wx"][0], C, H, "wx")
    tok, wv = fields["wy"]
    wy_arr = _number_array(wv, tok)
    K = 1 if wy_arr.ndim == 0 else (wy_arr.shape[1] if wy_arr.ndim == 2 else (wy_arr.size if H == 1 else 1))
    wy = _matrix(wv, tok, H, K, "wy")
    vec = {}
    for key, n in (("b", H), ("by", K), ("h0", H)):
        vec[key] = np.zeros(n)
        if key in fields:
            btok, bv = fields[key]
            v = _number_array(bv, btok).reshape(-1)
            if v.size != n:
                raise _bad(btok, f"{key} needs {n} value(s)")
            vec[key] = v
    f = "tanh"
    if "f" in fields:
        ftok, name = fields["f"]
        try:
            f = acts.get(str(name).strip()).name
        except GlassnetError as exc:
            raise _bad(ftok, str(exc)) from None
        if not acts.get(f).elementwise:
            raise _bad(ftok, "the recurrent activation must be elementwise")
    loss = "half_sse"
    if "loss" in fields:
        ltok, name = fields["loss"]
        name = LOSS_SPELLINGS.get(str(name).strip().lower(), str(name).strip())
        try:
            loss = losses_mod.get(name).name
        except GlassnetError as exc:
            raise _bad(ltok, str(exc)) from None
    lr = 0.1
    if "lr" in fields:
        ltok, value = fields["lr"]
        arr = _number_array(value, ltok)
        if arr.ndim != 0 or arr < 0:
            raise _bad(ltok, "lr must be one number >= 0")
        lr = float(arr)
    tok, yv = fields["y"]
    y = _number_array(yv, tok)
    if losses_mod.get(loss).task == "multiclass" and y.size == 1 and K > 1 and float(y) == int(y):
        y = y.reshape(1).astype(np.int64)
    else:
        y = y.reshape(1, -1)
        if y.shape != (1, K):
            raise _bad(tok, f"the network has {K} output(s), so y needs {K} value(s); it has {y.size}")
    return RNNSpec(x, y, wx, wh, vec["b"], f, wy, vec["by"], vec["h0"], loss, lr)
