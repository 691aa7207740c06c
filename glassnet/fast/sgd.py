"""One pass over a parameter for :class:`glassnet.optimizers.SGD`'s update (every form).

The reference (:meth:`glassnet.optimizers.SGD.step`) makes the update with NumPy, one whole-array
operation at a time: with momentum, ``v *= mu``, ``v += g``, ``-lr * v`` into a temporary and
``p += delta``, four passes over memory and an allocation. For a large layer those passes are
the update's cost: here each element is read once and written once, with the same operations in
the same order, so the numbers are bit for bit the reference's (``tests/fast/test_sgd_update.py``):

    plain:                 p <- p + (-lr) g                 (the reference's p -= lr g: the same number)
    pytorch:               v <- v mu + g;   p <- p + (-lr) v          (Nesterov: p + (-lr)(g + mu v))
    keras:                 v <- v mu - lr g;  p <- p + v              (Nesterov: p + (mu v - lr g))

Measured (MLP 784-256-256-10's six parameters, float32, PyTorch-form momentum, one thread, load
~2): 67-72 us per update against 160-165 us for the reference's NumPy operations (and 147-164 us for
the benchmark's hand-written NumPy floor, which reuses its buffers).

Arrays are ``(M, n)``: each model's entries in a row, ``lr``/``mu`` one value per model.
"""

from __future__ import annotations

from . import jit

PLAIN, PYTORCH, KERAS = 0, 1, 2


@jit(nogil=True, error_model="numpy")
def sgd_update(p, g, v, lr, mu, form, nesterov):  # pragma: no cover - compiled by Numba
    """Update ``p`` (and the velocity ``v``, unused by the plain form) in place; see the module."""
    M, n = p.shape
    for m in range(M):
        neg_lr, rate, decay = -lr[m], lr[m], mu[m]
        if form == PLAIN:
            for e in range(n):
                p[m, e] = p[m, e] - rate * g[m, e]
        elif form == PYTORCH:
            if nesterov:
                for e in range(n):
                    ge = g[m, e]
                    ve = v[m, e] * decay + ge
                    v[m, e] = ve
                    p[m, e] = p[m, e] + neg_lr * (ge + decay * ve)
            else:
                for e in range(n):
                    ve = v[m, e] * decay + g[m, e]
                    v[m, e] = ve
                    p[m, e] = p[m, e] + neg_lr * ve
        else:
            if nesterov:
                for e in range(n):
                    ge = g[m, e]
                    ve = v[m, e] * decay - rate * ge
                    v[m, e] = ve
                    p[m, e] = p[m, e] + (decay * ve - rate * ge)
            else:
                for e in range(n):
                    ve = v[m, e] * decay - rate * g[m, e]
                    v[m, e] = ve
                    p[m, e] = p[m, e] + ve
