"""The compiled steps of medium dense networks: one model at a time, BLAS for the products and
vectorized loops for everything between them.

A 64-16-10 MLP at batch 32 makes 38k multiply-adds per step in five products (forward 2, the
gradient below the last layer, dW of both). One BLAS call per product does them at 10-16 GMAC/s
(sgemm on 32 x 64 x 16: 2.3 us; the five: 7.1 us). Loops written in Numba with the contiguous
axis inner reached 1.2-6 GMAC/s at these widths (a row of 8-16 numbers is shorter than one pass of
the compiler's vectorized loop, which then runs its scalar remainder; without fast-math the
compiler will not vectorize a sum's reduction either) and 10-13 only on rows of 32-64. So the
products stay BLAS calls, and what made the kernel before this one (``dense_steps_blas``) slow is
rewritten: the loops between the products (gather, bias, activation, loss gradient, derivative,
update) indexed flat buffers at offsets (``A[o + r]``) that could be negative as far as the compiler
knew, so every access carried Python's wrap-around test and few loops vectorized; and one row
at a time, each a slice with its own loop set-up. Here every loop indexes a view from 0 (a row
``a[i, j]`` of a 2-D view, or one flat loop over a whole block), which vectorizes.

Measured 2026-11-30 09:46 UTC (load 2.0-2.3), 12 models, float32, batch 32, one thread, CPU us per
model-step, before -> after: 64-8-10 24.3 -> 17.7; 64-16-10 28.7 -> 16.7; 128-64-10 96 -> 68;
784-32-10 201 -> 182 (the products dominate there).

One step, per model (the reference's maths; ``b`` rows of the batch, ``b = sizes[s]``)::

    a_0 = x[batch];   z_l = a_{l-1} W_l + b_l;   a_l = f_l(z_l)
    g_L = dL/da_L     (half_sse: (a_L - y)/b;  mse: 2 (a_L - y)/(b K);
                       softmax cross-entropy: (softmax(z_L) - onehot(y) or y)/b)
    dz_l = g_l f_l'(z_l);  g_{l-1} = dz_l W_l^T;  dW_l = a_{l-1}^T dz_l (+ lambda_2 W + lambda_1 sign W)
    db_l = sum_rows dz_l (+ penalties);  then the SGD step of every entry (frozen: delta * 0)

A residual layer (``skips[l]``, a graph model's ``Add()([h, Dense(h)])``) adds its input to its
output, and the gradient of the sum reaches both branches::

    a_l = f(z_l) + a_{l-1};   g_{l-1} = dz_l W_l^T + g_l

(its sigmoid or tanh derivative is taken from ``z_l``, since the sum overwrote ``f(z_l)``).

A model's numbers depend only on its own arguments, never on the other models of the call, so a
network trains bit for bit the same alone and in an ensemble. Arguments as
:func:`~glassnet.fast.dense_steps.dense_steps`, except W/b and vW/vb: model-major ``(M, P)``
(each model's layers flattened one after another, weights row-major ``(n_in, n_out)``; vW/vb
``(1, 1)`` without momentum) and rates ``(M, 4, L)``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from glassnet.fast.dense_steps import (HALF_SSE, IDENTITY, MSE, RELU, SIGMOID, SOFTMAX_LABELS, TANH, model_buffers,
                                       times_derivative_at)
from glassnet.fast.elementwise import sigmoid, tanh, vexp


@njit(cache=True, nogil=True, error_model="numpy")
def dense_steps_medium(x, yf, yi, idx, W, b, vW, vb, widths, has_bias, acts, lr, mu, active, any_frozen, rates,
                       loss_code, opt_code, nesterov, steps, sizes, skips):  # pragma: no cover - compiled by Numba
    """``steps`` updates of every model, one model after another (see the module docstring;
    ``skips[l]``: layer l is residual, ``a_l = f(z_l) + a_{l-1}``)."""
    L = widths.shape[0] - 1
    rows = idx.shape[2]
    dt = W.dtype
    zero = np.zeros(1, dt)[0]
    one = zero + 1
    woff, boff, aoff, A, Z, G, G2 = model_buffers(W, widths, has_bias, rows)
    wmax = 1
    for l in range(L):
        wmax = max(wmax, widths[l] * widths[l + 1])
    M = W.shape[0]
    K, n0 = widths[L], widths[0]
    dW = np.empty(wmax, dt)
    kept = np.empty(rows * widths.max(), dt)  # a residual layer's dL/da_l, kept for the layer below
    nx, nyf, nyi, ni = x.shape[0] - 1, yf.shape[0] - 1, yi.shape[0] - 1, idx.shape[0] - 1
    ss = idx.shape[1] > 1
    momentum = opt_code != 0
    for m in range(M):
        xm, yfm, yim, im = x[min(m, nx)], yf[min(m, nyf)], yi[min(m, nyi)], idx[min(m, ni)]
        Wm, bm = W[m], b[m]
        vWm, vbm = (vW[m], vb[m]) if momentum else (vW[0], vb[0])
        keep = active[m] if any_frozen else one
        for s in range(steps):
            nr = sizes[s if ss else 0]
            batch = im[s if ss else 0]
            if s == 0 or ss:                   # gather the batch's inputs
                _gather(A[:nr * n0].reshape((nr, n0)), xm, batch, nr, n0)
            # -- forward: z = a W (one GEMM), + b, a = f(z)
            for l in range(L):
                n_in, n_out = widths[l], widths[l + 1]
                o, n = aoff[l + 1], nr * n_out
                z = Z[o:o + n]
                np.dot(A[aoff[l]:aoff[l] + nr * n_in].reshape((nr, n_in)),
                       Wm[woff[l]:woff[l + 1]].reshape((n_in, n_out)), z.reshape((nr, n_out)))
                if has_bias[l]:
                    _add_rows(z.reshape((nr, n_out)), bm[boff[l]:boff[l] + n_out], nr, n_out)
                _activate(A[o:o + n], z, n, acts[l])
                if skips[l]:                  # a_l = f(z_l) + a_{l-1} (a sum of two commutes exactly)
                    _add(A[o:o + n], A[aoff[l]:aoff[l] + n], n)
            # -- dL/da_L of the batch-mean loss
            o = aoff[L]
            _output_gradient(G[:nr * K].reshape((nr, K)), A[o:o + nr * K].reshape((nr, K)),
                             Z[o:o + nr * K].reshape((nr, K)), nr, K, yfm, yim, batch, loss_code)
            # -- backward, layer by layer: dz, the gradient below (with W before its update), dW, db
            for l in range(L - 1, -1, -1):
                n_in, n_out = widths[l], widths[l + 1]
                o, n = aoff[l + 1], nr * n_out
                g = G[:n]
                if skips[l] and l > 0:        # dL/da_l also reaches a_{l-1} through the skip
                    kept[:n] = g
                _times_derivative(g, A[o:o + n], Z[o:o + n], n, acts[l], skips[l])   # dz = g * f'(z)
                dz = g.reshape((nr, n_out))
                w = Wm[woff[l]:woff[l + 1]].reshape((n_in, n_out))
                if l > 0:                     # g_{l-1} = dz W^T (+ g_l through a skip)
                    np.dot(dz, w.T, G2[:nr * n_in].reshape((nr, n_in)))
                    if skips[l]:
                        _add(G2[:n], kept[:n], n)
                a = A[aoff[l]:aoff[l] + nr * n_in].reshape((nr, n_in))
                nw = n_in * n_out
                np.dot(a.T, dz, dW[:nw].reshape((n_in, n_out)))
                _update(Wm[woff[l]:woff[l + 1]], vWm[woff[l]:woff[l + 1]] if momentum else vWm, dW, nw,
                        rates[m, 0, l], rates[m, 1, l], lr[m], mu[m], keep, opt_code, nesterov)
                if has_bias[l]:
                    db = dW[:n_out]
                    _column_sums(db, dz, nr, n_out)
                    bo = boff[l]
                    _update(bm[bo:bo + n_out], vbm[bo:bo + n_out] if momentum else vbm, db, n_out,
                            rates[m, 2, l], rates[m, 3, l], lr[m], mu[m], keep, opt_code, nesterov)
                if l > 0:
                    G, G2 = G2, G


# Every helper below takes views and loops from 0 (see the module docstring: that is what lets
# the compiler drop the wrap-around test and vectorize). The gather, exp and update are compiled
# as functions of their own, not inlined: inside the large kernel their loops ran 2-3x slower
# (timed per piece with clock_gettime, 64-16-10: the update 1.44 -> 0.59 us a step), and as a
# whole 12 models at 64-16-10 went 22.2 -> 21.0 us, 128-64-10 48 -> 41 (09:53 UTC, load 2.2-2.6).
@njit(cache=True, nogil=True)
def _gather(a, x, batch, nr, n0):  # pragma: no cover - compiled
    """``a[i] = x[batch[i]]`` for the ``nr`` rows of the batch (``a`` ``(nr, n0)``)."""
    for i in range(nr):
        r = batch[i]
        for q in range(n0):
            a[i, q] = x[r, q]


@njit(cache=True, nogil=True, inline="always")
def _add_rows(z, b, nr, n):  # pragma: no cover - compiled
    """``z[i] += b`` for every row ``i < nr`` of ``z`` ``(nr, n)``."""
    for i in range(nr):
        for j in range(n):
            z[i, j] = z[i, j] + b[j]


@njit(cache=True, nogil=True, inline="always")
def _add(a, b, n):  # pragma: no cover - compiled
    """``a[r] = a[r] + b[r]`` for ``r < n``."""
    for r in range(n):
        a[r] = a[r] + b[r]


@njit(cache=True, nogil=True, inline="always")
def _column_sums(out, d, nr, n):  # pragma: no cover - compiled
    """``out[j] = sum_i d[i, j]`` (from 0, ``i`` ascending)."""
    for j in range(n):
        out[j] = d.dtype.type(0)
    for i in range(nr):
        for j in range(n):
            out[j] = out[j] + d[i, j]


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _activate(a, z, n, c):  # pragma: no cover - compiled
    """``a[r] = f(z[r])`` for ``r < n``, one branch-free loop per activation."""
    if c == IDENTITY:
        for r in range(n):
            a[r] = z[r]
    elif c == SIGMOID:
        for r in range(n):
            a[r] = sigmoid(z[r])
    elif c == TANH:
        for r in range(n):
            a[r] = tanh(z[r])
    else:
        zero = z.dtype.type(0)
        for r in range(n):
            v = z[r]
            a[r] = zero if v <= 0 else v  # NaN stays NaN, as np.maximum


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _times_derivative(g, a, z, n, c, skip):  # pragma: no cover - compiled
    """``g[r] *= f'(z_r)`` for ``r < n``: sigmoid ``a (1 - a)`` and tanh ``1 - a^2`` from the
    outputs (a residual layer's from z: :func:`~glassnet.fast.dense_steps.times_derivative_at`),
    relu ``[z > 0]`` (a select: ``g * 0`` keeps NaN as the reference's mask does)."""
    if skip and (c == SIGMOID or c == TANH):
        for r in range(n):
            g[r] = times_derivative_at(g[r], z[r], c)
    elif c == SIGMOID:
        for r in range(n):
            v = a[r]
            g[r] = g[r] * v * (1 - v)
    elif c == TANH:
        for r in range(n):
            v = a[r]
            g[r] = g[r] * (1 - v * v)
    elif c == RELU:
        for r in range(n):
            v = g[r]
            g[r] = v if z[r] > 0 else v * 0


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _output_gradient(g, a, z, nr, K, yf, yi, batch, loss_code):  # pragma: no cover - compiled
    """``g[i, j] = dL/da_L`` of the batch-mean loss for the ``nr`` rows of the batch (outputs
    ``a``/``z`` and ``g``: ``(nr, K)``; targets ``yf``/``yi`` rows ``batch[i]``). Softmax: the row
    maxima subtracted, then ``exp`` alone in one loop (it vectorizes), then each row divided by
    its sum."""
    if loss_code == HALF_SSE or loss_code == MSE:
        scale = 1.0 / nr if loss_code == HALF_SSE else 2.0 / (nr * K)
        for i in range(nr):
            r = batch[i]
            for j in range(K):
                g[i, j] = (a[i, j] - yf[r, j]) * scale
        return
    scale = 1.0 / nr
    for i in range(nr):
        zmax = z[i, 0]
        for j in range(1, K):
            zmax = max(zmax, z[i, j])
        for j in range(K):
            g[i, j] = z[i, j] - zmax
    _exp(g.reshape(nr * K), nr * K)          # one long loop: a row of K is too short to vectorize
    for i in range(nr):
        tot = g.dtype.type(0)
        for j in range(K):
            tot += g[i, j]
        r = batch[i]
        if loss_code == SOFTMAX_LABELS:
            for j in range(K):
                g[i, j] = g[i, j] / tot
            g[i, yi[r]] -= 1
            for j in range(K):
                g[i, j] *= scale
        else:
            for j in range(K):
                g[i, j] = (g[i, j] / tot - yf[r, j]) * scale


@njit(cache=True, nogil=True)
def _exp(a, n):  # pragma: no cover - compiled
    """``a[r] = e^a[r]`` for ``r < n``."""
    for r in range(n):
        a[r] = vexp(a[r])


@njit(cache=True, nogil=True, error_model="numpy")
def _update(p, v, g, n, l2, l1, lr, mu, keep, opt_code, nesterov):  # pragma: no cover - compiled
    """Penalties (added to ``g`` in place), then the SGD step of ``p[:n]`` (velocities ``v``), in
    the forms of :class:`glassnet.optimizers.SGD`; one branch-free loop per form so each
    vectorizes. ``keep`` is 1, or the model's active mask when any model is frozen (``d * 1 == d``
    exactly, NaN included)."""
    if l2 != 0:
        for e in range(n):
            g[e] = g[e] + l2 * p[e]
    if l1 != 0:
        for e in range(n):
            g[e] = g[e] + l1 * np.sign(p[e])
    if opt_code == 0:
        for e in range(n):
            p[e] = p[e] + (-lr * g[e]) * keep
    elif opt_code == 1 and nesterov:
        for e in range(n):
            u = v[e] * mu + g[e]
            v[e] = u
            p[e] = p[e] + (-lr * (g[e] + mu * u)) * keep
    elif opt_code == 1:
        for e in range(n):
            u = v[e] * mu + g[e]
            v[e] = u
            p[e] = p[e] + (-lr * u) * keep
    elif nesterov:
        for e in range(n):
            u = v[e] * mu - lr * g[e]
            v[e] = u
            p[e] = p[e] + (mu * u - lr * g[e]) * keep
    else:
        for e in range(n):
            u = v[e] * mu - lr * g[e]
            v[e] = u
            p[e] = p[e] + u * keep
