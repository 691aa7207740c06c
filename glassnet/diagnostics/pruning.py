"""Sparse networks by pruning, and sparsity against accuracy (seed 000, question 6).

Three ways to a sparse model, side by side in glassnet:

1. **L1 regularization** (``fit(l1=...)``): the penalty lambda*sum|w| pulls every weight towards
   zero at a constant rate lambda; with (sub)gradient descent weights hover *around* zero rather
   than landing on it, so :func:`~glassnet.diagnostics.near_zero_share` counts how many got within
   a tolerance.
2. **Magnitude pruning** (:func:`prune_magnitude`, here): zero the smallest |w| to a target
   sparsity, exactly, then optionally :func:`fine_tune` with the pruned weights held at zero.
3. **A proximal optimizer** (:class:`glassnet.optimizers.ProximalSGD`,
   :class:`glassnet.optimizers.FTRLProximal`): the L1 step is a soft-threshold that sets small
   weights to *exactly* zero.

:func:`sparsity_report` measures sparsity against accuracy. Everything is per model: an ensemble
of M networks gets M sparsities, M masks, M accuracies.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from .. import losses as losses_mod
from .. import metrics as metrics_mod
from ..backend import per_model
from ..callbacks import Callback
from ..errors import GlassnetError
from .weights import sparsity, weight_params


# -- 2. magnitude pruning ------------------------------------------------------------------------

def prune_magnitude(model, sparsity, per_layer: bool = False) -> dict:
    """Zero the smallest-magnitude weights of each model to a target sparsity, in place.

    Parameters
    ----------
    sparsity : the share of weights to zero, in [0, 1): one number or one per model.
    per_layer : prune each weight parameter to the target separately (every layer ends at the
        same sparsity) instead of ranking all weights of a network together (global pruning).

    Returns
    -------
    masks : ``{param_name: bool (M, ...)}``, True where a weight is kept. Exactly
        ``round(sparsity * n)`` weights are zeroed per model (per parameter with ``per_layer``);
        ties in |w| are broken by position. Biases are never pruned.
    """
    params = weight_params(model)
    if not params:
        raise GlassnetError("prune_magnitude: the model has no weights")
    target = per_model(sparsity, model.M, "sparsity", low=0, high=1)
    if np.any(target >= 1):
        raise GlassnetError(f"sparsity must be in [0, 1), got {sparsity!r}")
    masks = {p.name: np.ones(p.value.shape, dtype=bool) for p in params}
    groups = [[p] for p in params] if per_layer else [params]
    for group in groups:
        for m in range(model.M):
            flat = np.concatenate([np.abs(p.value[m]).ravel() for p in group])
            k = int(round(target[m] * flat.size))
            if k == 0:
                continue
            drop = np.argsort(flat, kind="stable")[:k]
            keep = np.ones(flat.size, dtype=bool)
            keep[drop] = False
            offset = 0
            for p in group:
                n = p.value[m].size
                masks[p.name][m] = keep[offset:offset + n].reshape(p.value.shape[1:])
                offset += n
    apply_masks(model, masks)
    return masks


def apply_masks(model, masks: dict) -> None:
    """Set every masked-out weight (mask False) to exactly zero."""
    for p in model.param_list:
        if p.name in masks:
            p.value *= masks[p.name]


class MaskCallback(Callback):
    """Keep pruned weights at exactly zero while training (projected gradient descent).

    Before every step (and after the last) each masked weight is set to 0, together with the
    optimizer's state for it (momentum, Adam moments), so every forward pass — the logged losses
    included — and the final model use the pruned network. The gradient itself is not masked:
    the step may move a pruned weight, and the projection puts it back before it is ever used.
    """

    def __init__(self, masks: dict):
        self.masks = masks

    def _project(self, state):
        apply_masks(state.model, self.masks)
        opt = state.optimizer
        for p in opt.params:
            if p.name in self.masks:
                for v in opt.state[p].values():
                    if isinstance(v, np.ndarray) and v.shape == p.value.shape:
                        v *= self.masks[p.name]

    def on_train_begin(self, state):
        unknown = set(self.masks) - {p.name for p in state.model.param_list}
        if unknown:
            raise GlassnetError(f"masks name parameters the model does not have: {sorted(unknown)}")
        self._project(state)

    def on_step_begin(self, state):
        self._project(state)

    def on_train_end(self, state):
        self._project(state)


def fine_tune(model, x, y, masks: dict, **fit_kwargs):
    """Train a pruned model with its pruned weights held at zero (see :class:`MaskCallback`).
    Takes every argument of ``fit``; returns the History."""
    callbacks = list(fit_kwargs.pop("callbacks", ())) + [MaskCallback(masks)]
    return model.fit(x, y, callbacks=callbacks, **fit_kwargs)


# -- sparsity against accuracy -------------------------------------------------------------------

@dataclass
class SparsityReport:
    """Rows of (target, measured sparsity (M,), loss (M,), accuracy (M,)); ``str()`` is a table
    of the means over models."""

    targets: np.ndarray
    sparsity: np.ndarray
    loss: np.ndarray
    accuracy: np.ndarray
    loss_name: str

    def __str__(self):
        rows = [f"{'target':>8}  {'sparsity':>9}  {'loss':>10}  {'accuracy':>9}"]
        for t, s, l, a in zip(self.targets, self.sparsity, self.loss, self.accuracy):
            tt = "model" if np.isnan(t) else f"{t:.0%}"
            rows.append(f"{tt:>8}  {np.mean(s):>9.1%}  {np.mean(l):>10.4g}  {np.mean(a):>9.1%}")
        return "\n".join(rows)


def _guess_loss(model, y):
    from ..layers import Activation  # noqa: PLC0415

    last = getattr(model.layers[-1], "act", model.layers[-1])
    kind = last.fn.name if isinstance(last, Activation) else None
    if kind == "softmax":
        return "cross_entropy"
    if kind == "sigmoid":
        return "binary_cross_entropy"
    return "softmax_cross_entropy" if model.output_shape[-1] > 1 else "binary_cross_entropy_logits"


def sparsity_report(model, x, y, *, loss=None, levels=(0.5, 0.8, 0.9, 0.95, 0.99),
                    per_layer: bool = False) -> SparsityReport:
    """Sparsity and accuracy of the model as it is (first row, target NaN), then of copies pruned
    by magnitude to each level in ``levels`` (no fine-tuning). The model is not changed.

    ``loss`` (for the loss column and how accuracy reads outputs) defaults from the last layer:
    softmax -> cross_entropy, sigmoid -> binary_cross_entropy, otherwise logits
    (softmax_cross_entropy for several outputs, binary_cross_entropy_logits for one).
    """
    loss = losses_mod.get(loss or _guess_loss(model, y))
    xs = model.prepare_inputs(x)
    ys = loss.prepare_targets(y, model.output_shape)

    def measure(m):
        pred = m.forward(xs, train=False)
        return sparsity(m), loss.value(pred, ys), metrics_mod.get("accuracy")(pred, ys, loss)

    rows = [(np.nan,) + measure(model)]
    for level in levels:
        pruned = copy.deepcopy(model)
        prune_magnitude(pruned, level, per_layer=per_layer)
        rows.append((float(level),) + measure(pruned))
    t, s, l, a = zip(*rows)
    return SparsityReport(np.array(t), np.stack(s), np.stack(l), np.stack(a), loss.name)
