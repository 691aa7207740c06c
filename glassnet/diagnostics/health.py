"""Unit health: dead ReLUs, saturated sigmoid/tanh units and duplicate (symmetric) neurons.

Each function looks at every *activation site* of a model — a Dense (or conv) layer's inner
activation, or a standalone Activation/PReLU layer — keyed by that layer's name, and answers per
model and per unit: ``{layer_name: array (M, units)}``. "Units" are the last axis (features of a
dense layer, channels of an image layer). Data passes in inference mode, in chunks, so a data set
of any size is reduced without keeping activations.
"""

from __future__ import annotations

import numpy as np

from ..errors import GlassnetError

#: activations whose slope is 0 for z <= 0: a unit that is never positive gets no gradient
ZERO_SLOPE = ("relu",)
#: the wider ReLU family ("never positive" still means a unit stuck on its negative branch)
RELU_FAMILY = ("relu", "leaky_relu", "prelu", "elu", "selu")


def activation_sites(model):
    """``[(layer_name, activation_layer, activation_name)]`` for every non-identity activation."""
    from ..layers import Activation, PReLU  # noqa: PLC0415

    out = []
    for layer in model.layers:
        act = getattr(layer, "act", layer)
        if isinstance(act, PReLU):
            out.append((layer.name, act, "prelu"))
        elif isinstance(act, Activation) and not act._identity:
            out.append((layer.name, act, act.fn.name))
    return out


def _slope_zero_below(act_layer, name) -> bool:
    if name in ZERO_SLOPE:
        return True
    return name == "leaky_relu" and getattr(act_layer.fn, "alpha", 1.0) == 0


def _chunks(model, x, batch_size):
    """Model inputs in chunks along the batch axis (shared or per-model data)."""
    x = model.prepare_inputs(x)
    axis = x.ndim - len(model.input_shape) - 1
    n = x.shape[axis]
    step = n if batch_size is None else int(batch_size)
    for i in range(0, n, max(step, 1)):
        yield x[(slice(None),) * axis + (slice(i, i + step),)]


def _reduce_sites(model, x, sites, fn, combine, batch_size):
    """Run the data through the model; ``fn(act_layer, z, a)`` gives an ``(M, ...)`` statistic per
    chunk, ``combine(old, new)`` merges chunks."""
    out: dict = {}
    for xb in _chunks(model, x, batch_size):
        model.forward(xb, train=False)
        for name, act, kind in sites:
            z = act._z
            a = act.fn(z) if kind != "prelu" else None
            value = fn(act, kind, z, a)
            out[name] = value if name not in out else combine(out[name], value)
    return out


def _per_unit(v):
    """``(M, B, ..., units)`` -> ``(M, N, units)``: every axis but models and units flattened."""
    return v.reshape(v.shape[0], -1, v.shape[-1])


def dead_units(model, x, *, family: bool = False, batch_size: int | None = 4096) -> dict:
    """Units whose pre-activation is never positive on ``x``: ``{layer: bool (M, units)}``.

    A ReLU unit with z <= 0 for every sample outputs 0 and gets zero gradient on all of its
    incoming weights, so it can never recover (seed 004's dead ReLU). By default only
    activations with zero slope below 0 are checked (ReLU; leaky ReLU with alpha 0).
    ``family=True`` also reports leaky ReLU, PReLU, ELU and SELU units that are never positive —
    stuck on their negative branch, though they still get a (small) gradient.
    """
    kinds = RELU_FAMILY if family else ZERO_SLOPE
    sites = [s for s in activation_sites(model)
             if s[2] in kinds or (not family and _slope_zero_below(s[1], s[2]))]
    ever_positive = _reduce_sites(model, x, sites, lambda act, kind, z, a: (_per_unit(z) > 0).any(axis=1),
                                  np.logical_or, batch_size)
    return {k: ~v for k, v in ever_positive.items()}


def count_dead_units(model, x, **kwargs) -> dict:
    """``{layer: int array (M,)}``: how many units of each layer are dead (see :func:`dead_units`)."""
    return {k: v.sum(axis=1) for k, v in dead_units(model, x, **kwargs).items()}


def saturation(model, x, threshold: float = 0.99, batch_size: int | None = 4096) -> dict:
    """Share of samples on which each sigmoid/tanh unit is saturated: ``{layer: (M, units)}``.

    Saturated means the output is within ``1 - threshold`` of an asymptote: sigmoid a > threshold
    or a < 1 - threshold; tanh |a| > threshold. There f'(z) is below ~1 - threshold^2 (tanh) or
    ~(1 - threshold) (sigmoid), so gradients through the unit nearly vanish.
    """
    if not 0.5 < threshold < 1:
        raise GlassnetError(f"threshold must be in (0.5, 1), got {threshold!r}")
    sites = [s for s in activation_sites(model) if s[2] in ("sigmoid", "tanh")]

    def share(act, kind, z, a):
        a = _per_unit(a)
        sat = (a > threshold) | (a < 1 - threshold) if kind == "sigmoid" else np.abs(a) > threshold
        return np.stack([sat.sum(axis=1), np.full(sat.shape[::2], sat.shape[1])], axis=0)

    counts = _reduce_sites(model, x, sites, share, np.add, batch_size)
    return {k: v[0] / v[1] for k, v in counts.items()}


def saturated_units(model, x, threshold: float = 0.99, fraction: float = 0.9, **kwargs) -> dict:
    """Sigmoid/tanh units saturated on at least ``fraction`` of the samples: ``{layer: bool (M, units)}``
    (see :func:`saturation` for the rule)."""
    if not 0 < fraction <= 1:
        raise GlassnetError(f"fraction must be in (0, 1], got {fraction!r}")
    return {k: v >= fraction for k, v in saturation(model, x, threshold, **kwargs).items()}


def duplicate_units(model, atol: float = 1e-8) -> dict:
    """Groups of units with identical incoming weights AND bias: ``{layer: [groups per model]}``.

    For each layer with a weight ``W`` (last axis = units; Dense and conv kernels alike) and model
    m, ``result[layer][m]`` is a list of groups, each a sorted list of >= 2 unit indices whose
    incoming weights and biases agree within ``atol``. Such units compute the same function,
    receive the same gradient and stay identical forever (seed 000 q1: symmetric initialization).
    """
    if not atol >= 0:
        raise GlassnetError(f"atol must be >= 0, got {atol!r}")
    out = {}
    for layer in model.layers:
        W = layer.params.get("W")
        if W is None:
            continue
        b = layer.params.get("b")
        M, units = W.value.shape[0], W.value.shape[-1]
        cols = W.value.reshape(M, -1, units)
        if b is not None:
            cols = np.concatenate([cols, b.value.reshape(M, 1, units)], axis=1)
        out[layer.name] = [_groups(cols[m].T, atol) for m in range(M)]
    return out


def _groups(vectors: np.ndarray, atol: float) -> list[list[int]]:
    """Groups of rows equal within ``atol`` (max-abs), transitively merged (union-find)."""
    n = vectors.shape[0]
    parent = list(range(n))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    # cheap screen: equal rows have sums within F*atol; sort by sum and compare neighbours' windows
    sums = vectors.sum(axis=1)
    order = np.argsort(sums, kind="stable")
    tol = atol * vectors.shape[1] + 1e-300
    for ii in range(n):
        i = order[ii]
        for jj in range(ii + 1, n):
            j = order[jj]
            if sums[j] - sums[i] > tol:
                break
            if np.max(np.abs(vectors[i] - vectors[j])) <= atol:
                ri, rj = root(i), root(j)
                if ri != rj:
                    parent[max(ri, rj)] = min(ri, rj)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(root(i), []).append(i)
    return sorted(sorted(g) for g in groups.values() if len(g) > 1)


def unit_health(model, x, **kwargs) -> dict:
    """All three checks at once: ``{"dead": ..., "saturated": ..., "duplicates": ...}``."""
    return {"dead": dead_units(model, x), "saturated": saturated_units(model, x, **kwargs),
            "duplicates": duplicate_units(model)}

