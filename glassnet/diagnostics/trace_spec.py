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
_KEY = re.compile(r"^(x|y|loss|lr|spec|[wbf]\d+|act\d+)$")


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

    def build_model(self):
        """A float64 :class:`~glassnet.Sequential` of Dense layers holding exactly these weights."""
        from ..layers import Dense  # noqa: PLC0415 - the model imports layers; keep this module light
        from ..model import Sequential  # noqa: PLC0415

        layers = [Dense(W.shape[1], activation=f, use_bias=b is not None)
                  for W, b, f in zip(self.weights, self.biases, self.activations)]
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
    items = []  # (token, key, raw value)
    last_layer = None
    for tok in _split(text):
        if "=" in tok:
            key, _, value = tok.partition("=")
            key = key.strip().lower()
            if not _KEY.match(key) or key == "spec":
                raise _bad(tok, f"unknown key {key!r}; keys are x, y, w<k>, b<k>, f<k>, loss, lr")
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
                short = {"w": "w", "weights": "w", "b": "b", "bias": "b", "activation": "f"}.get(key)
                if short is None:
                    raise GlassnetError(f"backprop config: layer {i} has unknown key {key!r}; "
                                        "keys are w, b, activation")
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
    n_layers = max(int(k[1:]) for k in fields if k[0] in "wbf" and len(k) > 1)
    for k in fields:
        if k[0] in "bf" and len(k) > 1 and f"w{k[1:]}" not in fields:
            raise _bad(fields[k][0], f"layer {k[1:]} has no weight w{k[1:]}")
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
    weights, biases, activations = [], [], []
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
    return NetSpec(x, y, weights, biases, activations, loss_name, lr)


def as_spec(spec) -> NetSpec:
    """A :class:`NetSpec` from a string, a dict (TOML form) or a NetSpec."""
    if isinstance(spec, NetSpec):
        return spec
    if isinstance(spec, dict):
        return spec_from_dict(spec)
    return parse_spec(spec)
