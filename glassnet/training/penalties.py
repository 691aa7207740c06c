"""Weight penalties of a training run: the global L2/L1 rates plus each parameter's own regularizer.

``penalty_terms(model, weight_decay, l1)`` lists ``(param, regularizer)`` pairs; the Trainer adds
``regularizer.grad(param.value)`` to the gradient and ``regularizer.penalty`` to the logged loss:

* ``weight_decay`` lambda: ``lambda/2 * sum W^2`` on every parameter with ``regularize`` set
  (weights; biases and normalization scales are excluded), seed 003's definition;
* ``l1``: ``l1 * sum |W|`` on the same parameters;
* a layer's ``kernel_regularizer`` on its own weights.
"""

from __future__ import annotations

import numpy as np

from ..backend import per_model
from ..regularizers import L1, L2


def penalty_terms(model, weight_decay=0.0, l1=0.0) -> list:
    """``(param, regularizer)`` pairs, each regularizer bound to ``model.M`` models."""
    wd = per_model(weight_decay, model.M, "weight_decay", dtype=model.dtype, low=0)
    l1v = per_model(l1, model.M, "l1", dtype=model.dtype, low=0)
    glob = []
    if np.any(wd != 0):
        glob.append(L2(wd))
    if np.any(l1v != 0):
        glob.append(L1(l1v))
    terms = []
    for p in model.param_list:
        if p.regularize:
            terms += [(p, r) for r in glob]
        if p.regularizer is not None:
            terms.append((p, p.regularizer))
    for _, r in terms:
        r.bind(model.M, model.dtype)
    return terms
