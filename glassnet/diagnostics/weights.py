"""Weight statistics: sparsity (exact zeros) and near-zeros, per model.

"Weights" are the parameters that weight penalties apply to (``param.regularize``: Dense and conv
kernels), not biases or normalization scales, unless ``include_biases=True``.
"""

from __future__ import annotations

import numpy as np

from ..errors import GlassnetError


def weight_params(model, include_biases: bool = False) -> list:
    """The parameters counted as weights (see the module docstring)."""
    return [p for p in model.param_list if p.regularize or include_biases]


def _share(model, test, include_biases) -> np.ndarray:
    params = weight_params(model, include_biases)
    if not params:
        raise GlassnetError("the model has no weights to measure")
    hits = sum(test(p.value).reshape(model.M, -1).sum(axis=1) for p in params)
    total = sum(int(np.prod(p.value.shape[1:])) for p in params)
    return hits / total


def sparsity(model, include_biases: bool = False) -> np.ndarray:
    """Share of weights that are exactly zero, per model: ``(M,)`` in [0, 1]."""
    return _share(model, lambda w: w == 0, include_biases)


def near_zero_share(model, tol: float = 1e-3, include_biases: bool = False) -> np.ndarray:
    """Share of weights with ``|w| <= tol``, per model ``(M,)``. L1 training by (sub)gradient
    descent drives weights *towards* zero but rarely exactly onto it; this counts how many got
    there within ``tol``."""
    if not tol >= 0:
        raise GlassnetError(f"tol must be >= 0, got {tol!r}")
    return _share(model, lambda w: np.abs(w) <= tol, include_biases)


def layer_sparsity(model) -> dict:
    """``{param_name: (M,)}``: share of exact zeros in each weight parameter."""
    return {p.name: (p.value == 0).reshape(model.M, -1).mean(axis=1) for p in weight_params(model)}
