"""Gradient check: analytic gradients from backprop against central finite differences.

For every parameter entry theta_i:  numeric_i = (L(theta + h e_i) - L(theta - h e_i)) / (2h),
relative error = |analytic - numeric| / max(|analytic| + |numeric|, tiny). Run in float64:
with h = 1e-6 a correct gradient gives relative errors around 1e-8 or below, a wrong one ~1.
The loss includes the weight penalties when rates are given, and randomness (dropout) is
replayed identically for every evaluation.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from .. import losses as losses_mod
from ..errors import GlassnetError
from ..regularizers import L1, L2


@dataclass
class ParamCheck:
    name: str
    max_rel_error: float
    max_abs_error: float
    analytic: np.ndarray
    numeric: np.ndarray


@dataclass
class GradCheckReport:
    params: list[ParamCheck]
    input: ParamCheck | None

    @property
    def checks(self) -> list[ParamCheck]:
        """Every parameter's check, then the input's (if it was checked)."""
        return self.params + ([self.input] if self.input is not None else [])

    @property
    def max_rel_error(self) -> float:
        return max(c.max_rel_error for c in self.checks)

    def ok(self, tol: float = 1e-6) -> bool:
        return self.max_rel_error < tol

    def assert_close(self, rtol: float = 1e-5, atol: float = 1e-7) -> None:
        """Raise AssertionError unless every analytic entry matches its central difference.

        Entry by entry with an absolute floor: the numeric derivative carries noise of about
        eps*|L|/h ~ 1e-10, so a plain relative error means nothing for entries near 0.
        """
        if not self.checks or any(c.analytic.size == 0 for c in self.checks):
            raise AssertionError("gradcheck compared nothing")
        for c in self.checks:
            np.testing.assert_allclose(c.analytic, c.numeric, rtol=rtol, atol=atol,
                                       err_msg=f"{c.name}: max rel error {c.max_rel_error:.3g}")

    def __str__(self):
        rows = [f"{'parameter':<28}{'max rel error':>16}{'max abs error':>16}"]
        for c in self.checks:
            rows.append(f"{c.name:<28}{c.max_rel_error:>16.3e}{c.max_abs_error:>16.3e}")
        return "\n".join(rows)


def _rel(a, n):
    denom = np.maximum(np.abs(a) + np.abs(n), 1e-12)
    err = np.abs(a - n)
    # where both are ~0 the relative error is meaningless: use the absolute one
    return np.where(np.abs(a) + np.abs(n) < 1e-10, err, err / denom)


def gradcheck(model, x, y, loss, *, weight_decay=0.0, l1=0.0, h: float = 1e-6, train: bool = True,
              check_input: bool = True, max_entries: int | None = None, seed: int = 0) -> GradCheckReport:
    """Compare backprop with central differences for every parameter of ``model`` (and the input).

    The model is checked as a float64 copy (the original is untouched). ``max_entries`` samples at
    most that many entries per parameter (chosen with ``seed``) for large models.
    """
    loss = losses_mod.get(loss)
    m = copy.deepcopy(model)
    if m.dtype != np.float64:
        _to_float64(m)
    x = np.asarray(x, dtype=np.float64)
    y = loss.prepare_targets(y, m.output_shape)
    if np.issubdtype(y.dtype, np.floating):
        y = y.astype(np.float64)
    regs = []
    if np.any(np.asarray(weight_decay) != 0):
        regs.append(L2(weight_decay))
    if np.any(np.asarray(l1) != 0):
        regs.append(L1(l1))
    noise_states = [s.noise.bit_generator.state for s in m.streams]
    buffers = [{k: v.copy() for k, v in l.buffers.items()} for l in m.layers]

    def replay():
        """Same dropout masks and batch-norm statistics for every evaluation."""
        for s, st in zip(m.streams, noise_states):
            s.noise.bit_generator.state = st
        for layer, saved in zip(m.layers, buffers):
            for k, v in saved.items():
                layer.buffers[k][...] = v

    def total_loss(xin):
        replay()
        value = loss.value(m.forward(xin, train), y)
        for p in m.param_list:
            if p.regularize:
                value = value + sum(r.penalty(p.value) for r in regs)
            if p.regularizer is not None:
                value = value + p.regularizer.penalty(p.value)
        return float(np.sum(value))  # models are independent: the sum separates

    m.layers[0].need_input_grad = check_input
    replay()
    pred = m.forward(x, train)
    dx = m.backward(loss.grad(pred, y))
    for p in m.param_list:
        if p.regularize:
            for r in regs:
                p.grad = p.grad + r.grad(p.value)
        if p.regularizer is not None:
            p.grad = p.grad + p.regularizer.grad(p.value)

    rng = np.random.default_rng(seed)
    checks = [_check_array(p.name, p.value, p.grad, lambda: total_loss(x), h, max_entries, rng)
              for p in m.param_list]
    input_check = None
    if check_input:
        if dx is None or dx.shape[-x.ndim:] != x.shape:
            raise GlassnetError("the first layer returned no input gradient to check")
        dx_total = dx.reshape((-1,) + x.shape).sum(axis=0) if dx.ndim > x.ndim else dx
        xv = x.copy()
        input_check = _check_array("input", xv, dx_total, lambda: total_loss(xv), h, max_entries, rng)
    return GradCheckReport(checks, input_check)


def _check_array(name, value, analytic, f, h, max_entries, rng) -> ParamCheck:
    flat = value.reshape(-1)
    idx = np.arange(flat.size)
    if max_entries is not None and flat.size > max_entries:
        idx = rng.choice(flat.size, max_entries, replace=False)
    numeric = np.zeros(idx.size)
    for j, i in enumerate(idx):
        old = flat[i]
        flat[i] = old + h
        lp = f()
        flat[i] = old - h
        lm = f()
        flat[i] = old
        numeric[j] = (lp - lm) / (2 * h)
    a = np.asarray(analytic).reshape(-1)[idx]
    rel = _rel(a, numeric)
    return ParamCheck(name, float(rel.max(initial=0)), float(np.abs(a - numeric).max(initial=0)), a, numeric)


def _to_float64(model) -> None:
    model.dtype = np.dtype(np.float64)
    for layer in model.layers:
        for p in layer.params.values():
            p.value = p.value.astype(np.float64)
            p.grad = p.grad.astype(np.float64)
        for k, b in list(layer.buffers.items()):
            layer.buffers[k] = b.astype(np.float64)
