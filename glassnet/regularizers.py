"""Weight penalties added to the data loss, per model.

``penalty(W)`` returns one value per model, shape ``(M,)``; ``grad(W)`` returns dPenalty/dW.
Rates may differ per model (``L2([0, 1e-3, 1e-2])`` for a 3-model ensemble).

* L2: ``lambda/2 * sum(W^2)``, gradient ``lambda*W`` — seed 003's weight decay, biases excluded
  by default (a layer's biases are never regularized unless asked).
* L1: ``lambda * sum(|W|)``, gradient ``lambda*sign(W)`` (subgradient 0 at 0).

Regularization enters the gradient (coupled L2, like PyTorch's ``SGD(weight_decay=...)``);
decoupled decay is AdamW's own argument.
"""

from __future__ import annotations

import numpy as np

from .backend import broadcast_to_param, per_model
from .errors import GlassnetError
from .registry import Registry

regularizers: Registry[type["Regularizer"]] = Registry("regularizer")


class Regularizer:
    name = "regularizer"

    def __init__(self, rate=0.0):
        self.rate = rate
        self._rates: np.ndarray | None = None

    def bind(self, M: int, dtype) -> None:
        """Fix the number of models; the rate becomes an ``(M,)`` array."""
        self._rates = per_model(self.rate, M, f"{self.name} rate", dtype=dtype, low=0)

    def rates(self, W) -> np.ndarray:
        if self._rates is None or self._rates.shape[0] != W.shape[0]:
            self.bind(W.shape[0], W.dtype)
        return self._rates

    def config(self) -> dict:
        rate = self.rate.tolist() if isinstance(self.rate, np.ndarray) else self.rate
        return {"name": self.name, "rate": rate}

    def __repr__(self):
        return f"{type(self).__name__}({self.rate!r})"


@regularizers.register("l2")
class L2(Regularizer):
    """lambda/2 * sum(W^2); gradient lambda*W."""

    name = "l2"

    def penalty(self, W):
        r = self.rates(W)
        return 0.5 * r * (W * W).reshape(W.shape[0], -1).sum(axis=1)

    def grad(self, W):
        return broadcast_to_param(self.rates(W), W.ndim) * W


@regularizers.register("l1")
class L1(Regularizer):
    """lambda * sum(|W|); gradient lambda*sign(W)."""

    name = "l1"

    def penalty(self, W):
        return self.rates(W) * np.abs(W).reshape(W.shape[0], -1).sum(axis=1)

    def grad(self, W):
        return broadcast_to_param(self.rates(W), W.ndim) * np.sign(W)


@regularizers.register("l1l2", "l1_l2")
class L1L2(Regularizer):
    """l1*sum(|W|) + l2/2*sum(W^2)."""

    name = "l1l2"

    def __init__(self, l1=0.0, l2=0.0):
        super().__init__(0.0)
        self.l1, self.l2 = L1(l1), L2(l2)

    def penalty(self, W):
        return self.l1.penalty(W) + self.l2.penalty(W)

    def grad(self, W):
        return self.l1.grad(W) + self.l2.grad(W)

    def config(self):
        return {"name": self.name, "l1": self.l1.config()["rate"], "l2": self.l2.config()["rate"]}

    def __repr__(self):
        return f"L1L2(l1={self.l1.rate!r}, l2={self.l2.rate!r})"


def config_of(reg: Regularizer | None) -> dict | None:
    """A regularizer's config for a layer config (``None`` for none); :func:`get` reads it back."""
    return None if reg is None else reg.config()


def get(spec) -> Regularizer | None:
    """``None``, a :class:`Regularizer`, a name (``"l2"``: rate 0) or a config dict
    ``{"name": "l2", "rate": 1e-3}`` from the ``regularizers`` registry."""
    if spec is None or isinstance(spec, Regularizer):
        return spec
    if isinstance(spec, (dict, str)):
        return regularizers.create(spec)
    raise GlassnetError(f"regularizer must be L1(rate), L2(rate), L1L2(l1, l2) or None, got {spec!r}")
