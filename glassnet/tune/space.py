"""Configurations to tune: a grid, or random draws from ranges.

A configuration is a dict of per-model hyperparameters, ``{"lr": 0.1, "momentum": 0.9,
"weight_decay": 1e-4}`` (see :mod:`glassnet.tune.slots` for the names allowed).
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from ..errors import GlassnetError


def grid(**values) -> list[dict]:
    """Every combination of the given values, the last name varying fastest:
    ``grid(lr=[0.1, 1], momentum=[0, 0.9])`` is four configurations."""
    if not values:
        raise GlassnetError("grid needs at least one hyperparameter, e.g. grid(lr=[0.01, 0.1])", field="values")
    for k, v in values.items():
        if isinstance(v, (str, bytes)) or not hasattr(v, "__iter__") or len(list(v)) == 0:
            raise GlassnetError(f"grid: {k} must be a non-empty list of values, got {v!r}", field=k, value=v)
    names = list(values)
    return [dict(zip(names, (float(x) for x in combo))) for combo in itertools.product(*values.values())]


def sample(n: int, rng=0, **ranges) -> list[dict]:
    """``n`` random configurations. Each range is ``(low, high)`` drawn uniformly,
    ``(low, high, "log")`` drawn log-uniformly (low > 0), or a list of choices.
    ``rng``: a seed or a ``numpy.random.Generator``."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise GlassnetError(f"sample: n must be a positive integer, got {n!r}", field="n", value=n)
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    draws = {}
    for k, spec in ranges.items():
        if isinstance(spec, list):
            if not spec:
                raise GlassnetError(f"sample: {k} has no choices", field=k, value=spec)
            draws[k] = [float(spec[i]) for i in rng.integers(0, len(spec), n)]
            continue
        if not isinstance(spec, tuple) or len(spec) not in (2, 3) or (len(spec) == 3 and spec[2] != "log"):
            raise GlassnetError(f"sample: {k} must be (low, high), (low, high, 'log') or a list of choices, got "
                                f"{spec!r}", field=k, value=spec)
        lo, hi = float(spec[0]), float(spec[1])
        log = len(spec) == 3
        if not (math.isfinite(lo) and math.isfinite(hi)) or hi < lo or (log and lo <= 0):
            raise GlassnetError(f"sample: {k} range {spec!r} must have finite low <= high" + (
                " and low > 0 for 'log'" if log else ""), field=k, value=spec)
        u = rng.uniform(np.log(lo), np.log(hi), n) if log else rng.uniform(lo, hi, n)
        draws[k] = (np.exp(u) if log else u).tolist()
    return [{k: draws[k][i] for k in ranges} for i in range(n)]
