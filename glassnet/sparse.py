"""Sparse models, three ways (seed 000, question 6).

1. **L1 regularization** (``fit(l1=...)``): the penalty lambda*sum|w| pulls every weight towards
   zero at a constant rate lambda; with (sub)gradient descent weights hover *around* zero rather
   than landing on it, so :func:`near_zero_share` counts how many got within a tolerance.
2. **Magnitude pruning** (:func:`prune_magnitude`): zero the smallest |w| to a target sparsity,
   exactly, then optionally :func:`fine_tune` with the pruned weights held at zero.
3. **A proximal optimizer** (:class:`ProximalSGD`, :class:`FTRLProximal`): the L1 step is a
   soft-threshold that sets small weights to *exactly* zero.

:func:`sparsity_report` measures sparsity against accuracy. Everything is per model: an ensemble
of M networks gets M sparsities, M masks, M accuracies.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from . import losses as losses_mod
from .backend import per_model
from .callbacks import Callback
from .diagnostics.weights import layer_sparsity, near_zero_share, sparsity, weight_params
from .errors import GlassnetError
from .optimizers import Optimizer, _check_scalar_or_list, optimizers

__all__ = ["FTRLProximal", "MaskCallback", "ProximalSGD", "SparsityReport", "fine_tune",
           "layer_sparsity", "near_zero_share", "prune_magnitude", "soft_threshold",
           "sparsity", "sparsity_report"]


def soft_threshold(w: np.ndarray, t) -> np.ndarray:
    """The L1 proximal operator: sign(w) * max(|w| - t, 0). Entries with |w| <= t become exactly 0."""
    return np.sign(w) * np.maximum(np.abs(w) - t, 0)


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


# -- 3. optimizers that produce exact zeros ------------------------------------------------------

@optimizers.register("proximal_sgd", "prox_sgd", "ista")
class ProximalSGD(Optimizer):
    """SGD followed by the L1 proximal step (ISTA; Parikh & Boyd, *Proximal Algorithms*, 2014,
    https://web.stanford.edu/~boyd/papers/prox_algs.html):

        w <- w - lr * g
        w <- sign(w) * max(|w| - lr * l1, 0)      (weights only; biases take the plain step)

    This minimizes loss + l1 * sum|w| like ``fit(l1=...)`` does, but a weight whose update lands
    within lr*l1 of zero becomes exactly 0 instead of oscillating around it. Give the L1 rate
    here, not also to ``fit``. ``l1`` may differ per model.
    """

    name = "proximal_sgd"
    hyper = ("lr", "l1")

    def __init__(self, lr=0.01, l1=1e-4):
        super().__init__(lr)
        self.l1_init = _check_scalar_or_list(l1, "l1", low=0)

    def _new_value(self, p):
        w = p.value - self.view(self.lr, p) * p.grad
        if p.regularize:
            w = soft_threshold(w, self.view(self.lr * self.l1, p))
        return w

    def update(self, p, state):
        return self._new_value(p) - p.value

    def step(self):
        # assign rather than add a delta, so thresholded weights are exactly 0 (no rounding);
        # a frozen model has lr 0, and lr 0 leaves the value as it is
        self.t += 1
        for p in self.params:
            p.value[...] = self._new_value(p)


@optimizers.register("ftrl", "ftrl_proximal")
class FTRLProximal(Optimizer):
    """FTRL-Proximal with per-coordinate learning rates (McMahan et al. 2013, "Ad Click
    Prediction: a View from the Trenches", https://research.google/pubs/pub41159/), Algorithm 1:

        sigma = (sqrt(n + g^2) - sqrt(n)) / lr;   zeta <- zeta + g - sigma * w;   n <- n + g^2
        w = 0                                                  if |zeta| <= l1
        w = -(zeta - sign(zeta) * l1) / ((beta + sqrt(n)) / lr + l2)   otherwise

    (``lr`` is the paper's alpha.) Weights whose accumulated gradient stays below l1 are exactly
    zero. Biases use l1 = l2 = 0. State starts at zeta = n = 0, so the first step lands at the
    unregularized FTRL solution regardless of the initial weights.
    """

    name = "ftrl"
    hyper = ("lr", "l1", "l2")

    def __init__(self, lr=0.1, l1=1e-3, l2=0.0, beta=1.0):
        super().__init__(lr)
        self.l1_init = _check_scalar_or_list(l1, "l1", low=0)
        self.l2_init = _check_scalar_or_list(l2, "l2", low=0)
        self.beta = float(_check_scalar_or_list(beta, "beta", low=0))

    def init_state(self, value):
        return {"zeta": np.zeros_like(value), "n": np.zeros_like(value)}

    def _new_value(self, p, state):
        g, zeta, n = p.grad, state["zeta"], state["n"]
        lr = self.view(self.lr, p)
        safe_lr = np.where(lr > 0, lr, 1.0)
        sigma = (np.sqrt(n + g * g) - np.sqrt(n)) / safe_lr
        zeta += g - sigma * p.value
        n += g * g
        l1 = self.view(self.l1, p) if p.regularize else 0.0
        l2 = self.view(self.l2, p) if p.regularize else 0.0
        w = -(zeta - np.sign(zeta) * l1) / ((self.beta + np.sqrt(n)) / safe_lr + l2)
        w = np.where(np.abs(zeta) <= l1, 0.0, w)
        return np.where(lr > 0, w, p.value)  # a frozen model (lr 0) keeps its weights

    def update(self, p, state):
        return self._new_value(p, state) - p.value

    def step(self):
        self.t += 1
        for p in self.params:
            p.value[...] = self._new_value(p, self.state[p])

    def config(self):
        return {**super().config(), "beta": self.beta}


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
    from .layers import Activation  # noqa: PLC0415

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
        return sparsity(m), loss.value(pred, ys), losses_mod.accuracy(pred, ys, loss)

    rows = [(np.nan,) + measure(model)]
    for level in levels:
        pruned = copy.deepcopy(model)
        prune_magnitude(pruned, level, per_layer=per_layer)
        rows.append((float(level),) + measure(pruned))
    t, s, l, a = zip(*rows)
    return SparsityReport(np.array(t), np.stack(s), np.stack(l), np.stack(a), loss.name)
