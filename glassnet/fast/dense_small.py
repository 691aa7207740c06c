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

Arguments as :func:`~glassnet.fast.dense_steps.dense_steps_blas` (parameters model-major
``(M, P)``, rates ``(M, 4, L)``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from glassnet.fast.dense_steps import HALF_SSE, IDENTITY, MSE, RELU, SIGMOID, SOFTMAX_LABELS, TANH
from glassnet.fast.elementwise import sigmoid, tanh, vexp


@njit(cache=True, nogil=True, error_model="numpy")
def dense_steps_small(x, yf, yi, idx, W, b, vW, vb, widths, has_bias, acts, lr, mu, active, any_frozen, rates,
                      loss_code, opt_code, nesterov, steps, sizes):  # pragma: no cover - compiled by Numba
    """``steps`` updates of every model, one model after another (see the module docstring)."""
    L = widths.shape[0] - 1
    rows = idx.shape[2]
    dt = W.dtype
    zero = np.zeros(1, dt)[0]
    woff = np.zeros(L + 1, np.int64)
    boff = np.zeros(L + 1, np.int64)
    aoff = np.zeros(L + 2, np.int64)   # block l: the input of layer l, (rows, widths[l]); A: a_l, Z: z_l
    for l in range(L):
        woff[l + 1] = woff[l] + widths[l] * widths[l + 1]
        boff[l + 1] = boff[l] + (widths[l + 1] if has_bias[l] else 0)
    for l in range(L + 1):
        aoff[l + 1] = aoff[l] + rows * widths[l]
    M = W.shape[0]
    K, n0 = widths[L], widths[0]
    A = np.empty(aoff[L + 1], dt)
    Z = np.empty(aoff[L + 1], dt)
    G = np.empty(rows * widths.max(), dt)     # dL/da, then dL/dz, of the layer in hand
    G2 = np.empty(rows * widths.max(), dt)
    nx, nyf, nyi, ni = x.shape[0] - 1, yf.shape[0] - 1, yi.shape[0] - 1, idx.shape[0] - 1
    ss = idx.shape[1] > 1
    for m in range(M):
        mx, myf, myi, mi = min(m, nx), min(m, nyf), min(m, nyi), min(m, ni)
        for s in range(steps):
            nr = sizes[s if ss else 0]
            si = s if ss else 0
            if s == 0 or ss:                   # gather the batch's inputs
                for i in range(nr):
                    r = idx[mi, si, i]
                    for q in range(n0):
                        A[i * n0 + q] = x[mx, r, q]
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
                if c == IDENTITY:
                    for r in range(ao, ao + nr * n_out):
                        A[r] = Z[r]
                elif c == SIGMOID:
                    for r in range(ao, ao + nr * n_out):
                        A[r] = sigmoid(Z[r])
                elif c == TANH:
                    for r in range(ao, ao + nr * n_out):
                        A[r] = tanh(Z[r])
                else:
                    for r in range(ao, ao + nr * n_out):
                        v = Z[r]
                        A[r] = zero if v <= 0 else v  # NaN stays NaN, as np.maximum
            # -- dL/da_L of the batch-mean loss
            oL = aoff[L]
            if loss_code == HALF_SSE or loss_code == MSE:
                scale = 1.0 / nr if loss_code == HALF_SSE else 2.0 / (nr * K)
                for i in range(nr):
                    r = idx[mi, si, i]
                    for j in range(K):
                        G[i * K + j] = (A[oL + i * K + j] - yf[myf, r, j]) * scale
            else:
                scale = 1.0 / nr
                for i in range(nr):           # softmax(z) - onehot(y) or - y
                    o, g = oL + i * K, i * K
                    zmax = Z[o]
                    for j in range(1, K):
                        zmax = max(zmax, Z[o + j])
                    tot = zero
                    for j in range(K):
                        e = vexp(Z[o + j] - zmax)
                        G[g + j] = e
                        tot += e
                    for j in range(K):
                        G[g + j] = G[g + j] / tot
                    r = idx[mi, si, i]
                    if loss_code == SOFTMAX_LABELS:
                        G[g + yi[myi, r]] -= 1
                    else:
                        for j in range(K):
                            G[g + j] = G[g + j] - yf[myf, r, j]
                    for j in range(K):
                        G[g + j] *= scale
            # -- backward; a layer's parameters are updated once its dz and the gradient below it
            #    (which needs W before the update) are computed
            for l in range(L - 1, -1, -1):
                n_in, n_out, c = widths[l], widths[l + 1], acts[l]
                ai, ao, wo, bo = aoff[l], aoff[l + 1], woff[l], boff[l]
                for r in range(nr * n_out):   # dz = g * f'(z)
                    if c == SIGMOID:
                        a = A[ao + r]
                        G[r] = G[r] * a * (1 - a)
                    elif c == TANH:
                        a = A[ao + r]
                        G[r] = G[r] * (1 - a * a)
                    elif c == RELU:
                        if not Z[ao + r] > 0:
                            G[r] = G[r] * 0
                if l > 0:                     # g_{l-1} = dz W^T
                    for i in range(nr):
                        for q in range(n_in):
                            g = zero
                            for j in range(n_out):
                                g += G[i * n_out + j] * W[m, wo + q * n_out + j]
                            G2[i * n_in + q] = g
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
