"""The compiled steps of a few small dense networks: one model at a time, scalar loops.

:func:`glassnet.fast.dense_steps.dense_steps` vectorizes across the model axis, so with fewer
models than a SIMD register holds its ~1,600 inner loops per step (8-3-8 autoencoder, batch 8)
each run a single iteration, and the loop bookkeeping is the step: 7-10 us for one model
(2-core machine, float64, load 2.5). Here each model's step is plain nested loops over rows and
units with the sum of a product in a register: 2.4-4.4 us for that model, but each further model
costs as much again, so from 4 models on the vectorized loops win (:data:`glassnet.fast.loop.SMALL_MODELS`).

Every number is computed in the same order as :func:`~glassnet.fast.dense_steps.dense_steps`
(each sum from 0 in ascending index, the bias added after it, the same activation, loss and
update expressions; no fast-math, so no fused multiply-adds either), so the two kernels agree
bit for bit: which one runs may depend on the number of models without a network training any
differently alone than in an ensemble (``tests/fast/test_loop.py`` checks the equality).

Arguments as :func:`~glassnet.fast.dense_medium.dense_steps_medium` (parameters model-major
``(M, P)``, rates ``(M, 4, L)``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from glassnet.fast.dense_steps import activate, gather_rows, model_buffers, output_gradient, times_derivative


@njit(cache=True, nogil=True, error_model="numpy")
def dense_steps_small(x, yf, yi, idx, W, b, vW, vb, widths, has_bias, acts, lr, mu, active, any_frozen, rates,
                      loss_code, opt_code, nesterov, steps, sizes, skips):  # pragma: no cover - compiled by Numba
    """``steps`` updates of every model, one model after another (see the module docstring;
    ``skips[l]``: layer l is residual, as in :func:`~glassnet.fast.dense_steps.dense_steps`)."""
    L = widths.shape[0] - 1
    rows = idx.shape[2]
    dt = W.dtype
    zero = np.zeros(1, dt)[0]
    woff, boff, aoff, A, Z, G, G2 = model_buffers(W, widths, has_bias, rows)
    kept = np.empty(G.shape[0], dt)  # a residual layer's dL/da_l, for the layer below
    M = W.shape[0]
    K, n0 = widths[L], widths[0]
    nx, nyf, nyi, ni = x.shape[0] - 1, yf.shape[0] - 1, yi.shape[0] - 1, idx.shape[0] - 1
    ss = idx.shape[1] > 1
    for m in range(M):
        mx, myf, myi, mi = min(m, nx), min(m, nyf), min(m, nyi), min(m, ni)
        for s in range(steps):
            nr = sizes[s if ss else 0]
            si = s if ss else 0
            if s == 0 or ss:                   # gather the batch's inputs
                gather_rows(A, x, idx, mx, mi, si, nr, n0)
            # -- forward: z = sum_q a_q W_qj (from 0, q ascending), then + b_j; a = f(z)
            for l in range(L):
                n_in, n_out, c = widths[l], widths[l + 1], acts[l]
                ai, ao, wo, bo = aoff[l], aoff[l + 1], woff[l], boff[l]
                for i in range(nr):
                    for j in range(n_out):
                        z = zero
                        for q in range(n_in):
                            z += A[ai + i * n_in + q] * W[m, wo + q * n_out + j]
                        if has_bias[l]:
                            z += b[m, bo + j]
                        Z[ao + i * n_out + j] = z
                activate(A, Z, ao, ao + nr * n_out, c)
                if skips[l]:                  # a_l = f(z_l) + a_{l-1}
                    for r in range(nr * n_out):
                        A[ao + r] = A[ao + r] + A[ai + r]
            # -- dL/da_L of the batch-mean loss
            output_gradient(G, A, Z, aoff[L], nr, K, yf, yi, idx, myf, myi, mi, si, loss_code)
            # -- backward; a layer's parameters are updated once its dz and the gradient below it
            #    (which needs W before the update) are computed
            for l in range(L - 1, -1, -1):
                n_in, n_out, c = widths[l], widths[l + 1], acts[l]
                ai, ao, wo, bo = aoff[l], aoff[l + 1], woff[l], boff[l]
                skip = skips[l]
                if skip and l > 0:            # dL/da_l also reaches a_{l-1} through the skip
                    kept[:nr * n_out] = G[:nr * n_out]
                times_derivative(G, A, Z, ao, nr * n_out, c, skip)   # dz = g * f'(z)
                if l > 0:                     # g_{l-1} = dz W^T (+ g_l through a skip)
                    for i in range(nr):
                        for q in range(n_in):
                            g = zero
                            for j in range(n_out):
                                g += G[i * n_out + j] * W[m, wo + q * n_out + j]
                            G2[i * n_in + q] = g
                    if skip:
                        for r in range(nr * n_in):
                            G2[r] = G2[r] + kept[r]
                for q in range(n_in):         # dW = a^T dz + penalties, then the step
                    for j in range(n_out):
                        g = zero
                        for i in range(nr):
                            g += A[ai + i * n_in + q] * G[i * n_out + j]
                        _step1(W, vW, m, wo + q * n_out + j, g, rates[m, 0, l], rates[m, 1, l], lr[m], mu[m],
                               active[m], any_frozen, opt_code, nesterov)
                if has_bias[l]:
                    for j in range(n_out):
                        g = zero
                        for i in range(nr):
                            g += G[i * n_out + j]
                        _step1(b, vb, m, bo + j, g, rates[m, 2, l], rates[m, 3, l], lr[m], mu[m], active[m],
                               any_frozen, opt_code, nesterov)
                if l > 0:
                    G, G2 = G2, G


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _step1(P, V, m, r, g, l2, l1, lr, mu, active, any_frozen, opt_code, nesterov):  # pragma: no cover
    """Penalties, then one SGD update of entry ``r`` of model ``m``: the expressions of
    :func:`glassnet.fast.dense_steps._step`, one number at a time."""
    w = P[m, r]
    if l2 != 0:
        g = g + l2 * w
    if l1 != 0:
        g = g + l1 * np.sign(w)
    if opt_code == 0:
        d = -lr * g
    elif opt_code == 1:
        v = V[m, r] * mu + g
        V[m, r] = v
        d = -lr * (g + mu * v) if nesterov else -lr * v
    else:
        v = V[m, r] * mu - lr * g
        V[m, r] = v
        d = mu * v - lr * g if nesterov else v
    P[m, r] = w + (d * active if any_frozen else d)
