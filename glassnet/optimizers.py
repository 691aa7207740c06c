"""Optimizers with per-model hyperparameters.

Each hyperparameter is a number (shared) or a list with one value per model; inside it is an
``(M,)`` array viewed as ``(M, 1, ..., 1)`` against each parameter. State (momentum buffers,
moment estimates) lives in the optimizer, one array per parameter.

"Compute the step" and "apply it" are separate (:meth:`Optimizer.compute_updates` returns the
deltas, :meth:`Optimizer.apply_updates` adds them) so the glass box can show a step before taking
it; :meth:`Optimizer.step` does both.

State lives in ``optimizer.state``, a dict keyed by the :class:`~glassnet.layers.Param` it
belongs to (``optimizer.state[model.layers[0].W]["v"]``).

Freezing: a model whose training stops (diverged, early-stopped) gets learning rate 0, its
state (velocities, moments) is zeroed, and every later step masks its delta to exactly 0, so a
frozen model stays put under every optimizer and form (Keras-form momentum would otherwise keep
applying its velocity).
"""

from __future__ import annotations

import math

import numpy as np

from . import fast
from .backend import broadcast_to_param, per_model
from .errors import GlassnetError
from .registry import Registry

optimizers: Registry[type["Optimizer"]] = Registry("optimizer")


def _check_scalar_or_list(value, name: str, low=None, high=None, low_inclusive=True, high_inclusive=True):
    """Validate early (at construction, before the number of models is known)."""
    values = value if isinstance(value, (list, tuple)) else np.ravel(value).tolist() if isinstance(
        value, np.ndarray) else [value]
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)) or not math.isfinite(v):
            raise GlassnetError(f"{name} must be a finite number or a list of them, got {value!r}",
                                field=name, value=value)
        if low is not None and (v < low or (v == low and not low_inclusive)):
            raise GlassnetError(f"{name} must be {'>=' if low_inclusive else '>'} {low}, got {value!r}",
                                field=name, value=value)
        if high is not None and (v > high or (v == high and not high_inclusive)):
            raise GlassnetError(f"{name} must be {'<=' if high_inclusive else '<'} {high}, got {value!r}",
                                field=name, value=value)
    return value


class Optimizer:
    """Base class: subclasses define ``hyper`` (names of per-model hyperparameters),
    ``init_state`` and ``update``."""

    name = "optimizer"
    hyper: tuple[str, ...] = ("lr",)

    def __init__(self, lr=0.01):
        self.lr_init = _check_scalar_or_list(lr, "lr", low=0)
        self.params: list = []
        self.t = 0

    # -- binding ------------------------------------------------------------------------------
    def bind(self, params, M: int, dtype) -> "Optimizer":
        """Attach to a model's parameter list; hyperparameters become ``(M,)`` arrays.

        Binding again to the same parameters (a second ``fit`` with the same optimizer) keeps the
        state (momentum buffers, moments, step count), as Keras does, so ``fit(steps=5)`` twice
        equals ``fit(steps=10)``; learning rates and frozen models start afresh.
        """
        params = list(params)
        same = (len(params) == len(self.params) and all(a is b for a, b in zip(params, self.params))
                and getattr(self, "M", None) == M and getattr(self, "dtype", None) == dtype)
        self.params = params
        self.M, self.dtype = M, dtype
        self.lr = per_model(self.lr_init, M, "lr", dtype=dtype, low=0)
        self.base_lr = self.lr.copy()
        self.active = np.ones(M, dtype=dtype)
        self.any_frozen = False
        for h in self.hyper:
            if h != "lr":
                setattr(self, h, per_model(getattr(self, f"{h}_init"), M, h, dtype=dtype))
        if not same:
            self.state = {p: self.init_state(p.value) for p in self.params}
            self.t = 0
        return self

    def set_lr(self, values) -> None:
        """Set the per-model learning rate (schedules call this); frozen models stay at 0."""
        self.lr[...] = np.asarray(values, dtype=self.lr.dtype) * self.active

    def freeze(self, mask) -> None:
        """Stop updating the models where ``mask`` is True: learning rate 0, state zeroed, and
        their deltas masked to 0 from now on (see the module docstring)."""
        mask = np.asarray(mask, bool)
        self.active[mask] = 0
        self.lr *= self.active
        self.any_frozen = not self.active.all()
        for arrays in self.state.values():
            for a in arrays.values():
                a[mask] = 0

    def view(self, values: np.ndarray, p) -> np.ndarray:
        return broadcast_to_param(values, p.value.ndim)

    def init_state(self, value) -> dict:
        return {}

    # -- stepping -----------------------------------------------------------------------------
    def compute_updates(self) -> list[np.ndarray]:
        """The delta each parameter of ``self.params`` would receive, in that order (state is
        advanced: call once per step). Frozen models get exactly 0."""
        self.t += 1
        deltas = [self.update(p, self.state[p]) for p in self.params]
        if self.any_frozen:
            deltas = [d * self.view(self.active, p) for p, d in zip(self.params, deltas)]
        return deltas

    def apply_updates(self, deltas) -> None:
        for p, d in zip(self.params, deltas):
            p.value += d

    def step(self) -> None:
        """One update: :meth:`compute_updates`, then :meth:`apply_updates`."""
        self.apply_updates(self.compute_updates())

    def update(self, p, state) -> np.ndarray:
        raise NotImplementedError

    def config(self) -> dict:
        out = {"name": self.name, "lr": _jsonable(self.lr_init)}
        for h in self.hyper:
            if h != "lr":
                out[h] = _jsonable(getattr(self, f"{h}_init"))
        return out

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.config().items() if k != 'name')})"


def _jsonable(v):
    return v.tolist() if isinstance(v, np.ndarray) else v


#: parameters with fewer entries (all models together) are updated by NumPy even on the fast path:
#: there the compiled call's fixed cost (~5 us) is more than the passes over memory it saves.
#: Measured, float64, SGD momentum, 4 parameters: 2-8-1 net, 1 model 29 vs 27 us a step, 100 models
#: (3,300 entries) 20-27 vs 24-25; the MLP 784's 200k-entry weight: 67-72 vs 160-165 us for all six
FUSED_MIN_SIZE = 4096


@optimizers.register("sgd", "momentum", "nesterov")
class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum.

    Plain:            p <- p - lr * g
    form="pytorch":   v <- mu * v + g;           p <- p - lr * v
                      (Nesterov: p <- p - lr * (g + mu * v))
    form="keras":     v <- mu * v - lr * g;      p <- p + v
                      (TF's MomentumOptimizer/Keras SGD; Nesterov: p <- p + mu * v - lr * g)

    With a constant learning rate the two forms give the same trajectory (v_keras = -lr * v_torch);
    they differ when the learning rate changes during training. PyTorch's form is the default.
    """

    name = "sgd"
    hyper = ("lr", "momentum")

    def __init__(self, lr=0.01, momentum=0.0, nesterov: bool = False, form: str = "pytorch"):
        super().__init__(lr)
        self.momentum_init = _check_scalar_or_list(momentum, "momentum", low=0, high=1, high_inclusive=False)
        if form not in ("pytorch", "keras"):
            raise GlassnetError(f"SGD form must be 'pytorch' or 'keras', got {form!r}", field="form", value=form)
        self.nesterov, self.form = bool(nesterov), form
        self._use_momentum = bool(np.any(np.asarray(momentum) != 0)) or self.nesterov

    def init_state(self, value):
        return {"v": np.zeros_like(value)} if self._use_momentum else {}

    def bind(self, params, M, dtype):
        super().bind(params, M, dtype)
        # views computed once: the (M,) arrays are updated in place by schedules
        self._views = [(self.view(self.lr, p), self.view(self.momentum, p)) for p in self.params]
        self._view_of = dict(zip(self.params, self._views))
        return self

    def update(self, p, state):
        return self._delta(p, state, self._view_of[p])

    def _delta(self, p, state, views):
        lr, mu = views
        g = p.grad
        if not self._use_momentum:
            return -lr * g
        v = state["v"]
        if self.form == "pytorch":
            v *= mu
            v += g
            return -lr * (g + mu * v) if self.nesterov else -lr * v
        v *= mu
        v -= lr * g
        return mu * v - lr * g if self.nesterov else v.copy()

    def step(self):
        # the hot path: compute/apply fused without the temporary list (the same maths, tested
        # equal); frozen models take the general, masked path
        if self.any_frozen:
            return super().step()
        self.t += 1
        fused = self._fused_kernel()
        state = self.state
        for p, views in zip(self.params, self._views):
            if fused is not None and p.value.size >= FUSED_MIN_SIZE and self._fused(*fused, p):
                continue
            if not self._use_momentum:
                p.value -= views[0] * p.grad
            else:
                p.value += self._delta(p, state[p], views)

    def _fused_kernel(self):
        """``(kernel, form)``: the compiled one-pass update (:mod:`glassnet.fast.sgd`, bit for bit the
        code above) and this optimizer's form code for it; None when the fast path is off."""
        if not fast.available("sgd"):
            return None
        from .fast import sgd  # noqa: PLC0415 - Numba only when the fast path runs

        form = sgd.PLAIN if not self._use_momentum else sgd.PYTORCH if self.form == "pytorch" else sgd.KERAS
        return sgd.sgd_update, form

    def _fused(self, kernel, form: int, p) -> bool:
        """Update ``p`` by ``kernel``; False, having changed nothing, when an array is not a writable
        contiguous array of the parameter's dtype, or the kernel fails (to compile: before it
        writes anything), which turns it off with one warning."""
        v = self.state[p]["v"] if self._use_momentum else p.value
        arrays = (p.value, p.grad, v)
        dt = self.lr.dtype
        if not (all(isinstance(a, np.ndarray) and a.dtype == dt and a.flags.c_contiguous for a in arrays)
                and p.value.flags.writeable and v.flags.writeable):
            return False
        try:
            kernel(*(a.reshape(self.M, -1) for a in arrays), self.lr, self.momentum, form, self.nesterov)
        except Exception as exc:  # noqa: BLE001 - any failure: warn once, reference from now on
            fast.mark_broken("sgd", exc)
            return False
        return True

    def config(self):
        return {**super().config(), "nesterov": self.nesterov, "form": self.form}


def Momentum(lr=0.01, momentum=0.9, nesterov=False, form="pytorch") -> SGD:
    """SGD with momentum (see :class:`SGD` for the two forms)."""
    return SGD(lr, momentum=momentum, nesterov=nesterov, form=form)


def Nesterov(lr=0.01, momentum=0.9, form="pytorch") -> SGD:
    """SGD with Nesterov momentum (see :class:`SGD`)."""
    return SGD(lr, momentum=momentum, nesterov=True, form=form)


@optimizers.register("adagrad")
class AdaGrad(Optimizer):
    """s <- s + g^2;  p <- p - lr * g / (sqrt(s) + eps)   (PyTorch: s0 = 0, eps 1e-10;
    Duchi et al. 2011, https://jmlr.org/papers/v12/duchi11a.html)."""

    name = "adagrad"
    hyper = ("lr",)

    def __init__(self, lr=0.01, eps=1e-10, initial_accumulator=0.0):
        super().__init__(lr)
        self.eps = float(_check_scalar_or_list(eps, "eps", low=0))
        self.initial_accumulator = float(_check_scalar_or_list(initial_accumulator, "initial_accumulator", low=0))

    def init_state(self, value):
        return {"s": np.full_like(value, self.initial_accumulator)}

    def update(self, p, state):
        g, s = p.grad, state["s"]
        s += g * g
        return -self.view(self.lr, p) * g / (np.sqrt(s) + self.eps)

    def config(self):
        return {**super().config(), "eps": self.eps, "initial_accumulator": self.initial_accumulator}


@optimizers.register("rmsprop")
class RMSProp(Optimizer):
    """s <- rho * s + (1 - rho) * g^2;  p <- p - lr * g / (sqrt(s) + eps)
    (PyTorch's form: eps outside the root; PyTorch calls rho ``alpha``, default 0.99;
    Hinton's lecture 6e)."""

    name = "rmsprop"
    hyper = ("lr", "rho")

    def __init__(self, lr=0.01, rho=0.99, eps=1e-8):
        super().__init__(lr)
        self.rho_init = _check_scalar_or_list(rho, "rho", low=0, high=1, high_inclusive=False)
        self.eps = float(_check_scalar_or_list(eps, "eps", low=0))

    def init_state(self, value):
        return {"s": np.zeros_like(value)}

    def update(self, p, state):
        g, s = p.grad, state["s"]
        rho = self.view(self.rho, p)
        s *= rho
        s += (1 - rho) * g * g
        return -self.view(self.lr, p) * g / (np.sqrt(s) + self.eps)

    def config(self):
        return {**super().config(), "eps": self.eps}


@optimizers.register("adam")
class Adam(Optimizer):
    """m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;
    p <- p - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
    (Kingma & Ba 2015, https://arxiv.org/abs/1412.6980; PyTorch's placement of eps).
    Weight penalties from ``fit`` enter the gradient (coupled L2, like ``torch.optim.Adam``'s
    ``weight_decay``); for decoupled decay use :class:`AdamW`."""

    name = "adam"
    hyper = ("lr", "beta1", "beta2")

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__(lr)
        self.beta1_init = _check_scalar_or_list(beta1, "beta1", low=0, high=1, high_inclusive=False)
        self.beta2_init = _check_scalar_or_list(beta2, "beta2", low=0, high=1, high_inclusive=False)
        self.eps = float(_check_scalar_or_list(eps, "eps", low=0))

    def init_state(self, value):
        return {"m": np.zeros_like(value), "v": np.zeros_like(value)}

    def update(self, p, state):
        g, m, v = p.grad, state["m"], state["v"]
        b1, b2 = self.view(self.beta1, p), self.view(self.beta2, p)
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * g * g
        c1 = 1 - b1 ** self.t
        c2 = 1 - b2 ** self.t
        return -self.view(self.lr, p) * (m / c1) / (np.sqrt(v / c2) + self.eps)

    def config(self):
        return {**super().config(), "eps": self.eps}


@optimizers.register("adamw")
class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019, https://arxiv.org/abs/1711.05101):
    p <- p - lr * wd * p, then the Adam step. As ``torch.optim.AdamW`` (default wd 0.01), except
    that the decay applies to weights only (biases and norm scales excluded) unless
    ``decay_all=True``."""

    name = "adamw"
    hyper = ("lr", "beta1", "beta2", "weight_decay")

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01, decay_all: bool = False):
        super().__init__(lr, beta1, beta2, eps)
        self.weight_decay_init = _check_scalar_or_list(weight_decay, "weight_decay", low=0)
        self.decay_all = bool(decay_all)

    def update(self, p, state):
        delta = super().update(p, state)
        if p.regularize or self.decay_all:
            delta -= self.view(self.lr * self.weight_decay, p) * p.value
        return delta

    def config(self):
        return {**super().config(), "decay_all": self.decay_all}


# -- optimizers that produce exact zeros (seed 000, question 6: sparse models) -------------------

def soft_threshold(w: np.ndarray, t) -> np.ndarray:
    """The L1 proximal operator: sign(w) * max(|w| - t, 0). Entries with |w| <= t become exactly 0."""
    return np.sign(w) * np.maximum(np.abs(w) - t, 0)


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



def get(spec) -> Optimizer:
    """An optimizer from a name (defaults), a ``{"name": ..., **options}`` dict, or an instance."""
    if isinstance(spec, Optimizer):
        return spec
    if isinstance(spec, (str, dict)):
        name = spec.get("name") if isinstance(spec, dict) else spec
        # "momentum" and "nesterov" are SGD under other names, with their usual defaults
        defaults = {"momentum": 0.9} if isinstance(name, str) and name.lower() in ("momentum", "nesterov") else {}
        if isinstance(name, str) and name.lower() == "nesterov":
            defaults["nesterov"] = True
        return optimizers.create(spec, **defaults)
    raise GlassnetError(f"optimizer must be a name ({', '.join(optimizers.names())}) or an Optimizer, got {spec!r}")
