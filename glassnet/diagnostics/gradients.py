"""Gradient norms per parameter and per layer: the numbers behind "vanishing" and "exploding".

After a backward pass every parameter holds ``.grad`` of shape ``(M, ...)``; the norms here are
the Euclidean (Frobenius) norm per model, ``||g||_2 = sqrt(sum g^2)``, shape ``(M,)``. Early
layers with norms orders of magnitude below the last layer's are the vanishing-gradient picture
(sigmoid stacks); growing norms, the exploding one.
"""

from __future__ import annotations

import numpy as np

from .. import losses as losses_mod


def compute_gradients(model, x, y, loss, *, train: bool = False) -> np.ndarray:
    """One forward and backward pass on ``(x, y)``, filling every ``param.grad`` (data loss only,
    no penalties, nothing updated). Returns the loss per model, ``(M,)``."""
    loss = losses_mod.get(loss)
    x = model.prepare_inputs(x)
    y = loss.prepare_targets(y, model.output_shape)
    if np.issubdtype(y.dtype, np.floating):
        y = y.astype(model.dtype, copy=False)
    pred = model.forward(x, train)
    value, grad = loss.value_and_grad(pred, y)
    model.backward(grad)
    return np.asarray(value)


def _norm(g: np.ndarray) -> np.ndarray:
    g = g.reshape(g.shape[0], -1).astype(np.float64)
    return np.sqrt(np.einsum("mi,mi->m", g, g))


def gradient_norms(model) -> dict:
    """``{param_name: (M,)}``: the L2 norm of each parameter's gradient from the last backward."""
    return {p.name: _norm(p.grad) for p in model.param_list}


def layer_gradient_norms(model) -> dict:
    """``{layer_name: (M,)}``: the L2 norm of all of a layer's parameter gradients together
    (layers without parameters are left out)."""
    out = {}
    for layer in model.layers:
        if layer.params:
            out[layer.name] = np.sqrt(sum(_norm(p.grad) ** 2 for p in layer.params.values()))
    return out
