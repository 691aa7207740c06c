"""The compiled kernel behind :mod:`glassnet.fast.lstm_loop`: training steps of an LSTM with a
Dense head, one model at a time, every step of a segment.

One step of one model (the reference's maths, :class:`glassnet.layers.LSTM` and
:class:`glassnet.layers.Dense`; ``b = sizes[s]`` rows of the batch)::

    x_t of the batch's rows, h_0 = c_0 = 0
    h_T = LSTM(x)                               :func:`glassnet.fast.lstm._forward` (its docstring)
    z = h_T W + b_d;   a = f(z)                 the head (W: (H, K))
    g = dL/da  (the batch-mean loss: :func:`glassnet.fast.dense_steps.output_gradient`)
    dz = g * f'(z);   dW = h_T^T dz;   db_d = sum_rows dz;   dh_T = dz W^T
    dW_hh, dW_ih, db = BPTT from dh_T, dc_T = 0 :func:`glassnet.fast.lstm._backward`
    then the SGD update of every entry (b_ih and b_hh each get db), every form of
    :class:`glassnet.optimizers.SGD` (:func:`update_run`)

Everything a step reads is computed before anything it updates, as in the reference (a Trainer
step's backward completes before the optimizer's step).

Why one model at a time, every step of it before the next model: a model's arrays over time
(gates, cell states, ``[h; x; 1]`` of every step: 1.2 MB a step in ``lstm16``'s float32 shape,
50 steps, batch 32, hidden 16) are written by the forward and read back by the backward. In the
per-step path all models' arrays of a step (16 x 1.2 MB) pass through memory between the two
loops; here one model's stay in the core's L2 from its forward to its backward, and from one
step to the next, and nothing between two steps is Python (no loss or optimizer call, no thread
handing over the other half of the models). Models are independent between logged steps, so
the order changes no number: a model's steps are the same sums in the same order whichever
models share a call (an ensemble trains bit for bit as its members alone).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from glassnet.fast.dense_steps import activate, output_gradient, times_derivative
from glassnet.fast.lstm import _backward, _forward


@njit(cache=True, nogil=True, error_model="numpy")
def lstm_head_steps(x, yf, yi, idx, sizes, steps, W_ih, W_hh, b_ih, b_hh, has_bias, Wd, bd, has_head_bias, act,
                    V_ih, V_hh, Vb_ih, Vb_hh, VWd, Vbd, lr, mu, active, any_frozen, opt_code, nesterov, loss_code,
                    lanes, steps_bytes):  # pragma: no cover - compiled by Numba
    """``steps`` updates of every model (see the module docstring).

    ``x`` ``(1 or M, N, T, C)`` (the Trainer's data, shared or one set per model); targets ``yf``
    ``(1 or M, N, K)`` / labels ``yi`` ``(1 or M, N)``; ``idx`` ``(1 or M, k or 1, b)`` and
    ``sizes`` the batches (:meth:`glassnet.training.batching.Batcher.take_batches`). Parameters as
    the layers keep them: ``W_ih`` ``(M, 4H, C)``, ``W_hh`` ``(M, 4H, H)``, ``b_ih``/``b_hh``
    ``(M, 4H)``, ``Wd`` ``(M, H, K)``, ``bd`` ``(M, K)``, updated in place, with their velocities
    ``V_*`` (``(1, 1)`` dummies without momentum). ``lanes``: values per SIMD vector of the dtype;
    ``steps_bytes``: :data:`glassnet.fast.lstm.STEPS_BYTES`."""
    M, G4, C = W_ih.shape
    H = G4 // 4
    T = x.shape[2]
    K = Wd.shape[2]
    dt = W_ih.dtype
    zero = np.zeros(1, dt)[0]
    ss = idx.shape[1] > 1          # a batch per step (else the same one every step: full batch)
    nx, nyf, nyi, ni = x.shape[0] - 1, yf.shape[0] - 1, yi.shape[0] - 1, idx.shape[0] - 1
    W_ih2, W_hh2, Wd2 = W_ih.reshape(M, G4 * C), W_hh.reshape(M, G4 * H), Wd.reshape(M, H * K)
    V_ih2, V_hh2, VWd2 = V_ih.reshape(V_ih.shape[0], -1), V_hh.reshape(V_hh.shape[0], -1), VWd.reshape(VWd.shape[0], -1)
    keep = np.ones((1, 1, 1), dt)  # no mask (the plan's condition)
    # flags and the first column as run-time values, not constants: the per-step path calls
    # _forward/_backward with these types, so both share one compiled version of each (with
    # literal False and 0, Numba compiled them again for this kernel: 29 s instead of ~8)
    false, col0 = idx.shape[0] < 0, idx.shape[0] * 0
    dy = np.empty((1, 1, 1, 1), dt)
    hs = np.empty((1, 1, 1, 1), dt)
    Wz = np.empty((1, G4, H + C), dt)   # [W_hh W_ih] of the model in hand, made before each step
    bias = np.zeros((1, G4), dt)
    rows = idx.shape[2]
    # the step's arrays, for a batch of nb rows (made again when a batch's size differs: an
    # epoch's ragged last batch)
    nb = rows
    from_steps, xb, gates, tanh_c, c_in, z_in, h, c, dh, dc, da_steps, dax = step_arrays(W_ih, T, H, C, nb, lanes,
                                                                                       steps_bytes)
    dh_steps = np.empty((1, 1, 1, 1), dt)  # not kept (see _backward's keep_dh)
    dWz = np.empty((1, G4, H + C + 1), dt)
    Z = np.empty(rows * K, dt)
    gd = np.empty(H * K + K, dt)   # the head's gradients, a run at a time
    db = np.empty(G4, dt)
    A = np.empty(rows * K, dt)
    G = np.empty(rows * K, dt)
    for m in range(M):
        mx, myf, myi, mi = min(m, nx), min(m, nyf), min(m, nyi), min(m, ni)
        for s in range(steps):
            si = s if ss else 0
            nr = sizes[si]
            if nr != nb:
                nb = nr
                from_steps, xb, gates, tanh_c, c_in, z_in, h, c, dh, dc, da_steps, dax = step_arrays(
                    W_ih, T, H, C, nb, lanes, steps_bytes)
            if s == 0 or ss:           # the batch's inputs, feature-major (C, T, b) as the layer's
                for i in range(nr):
                    r = idx[mi, si, i]
                    for t in range(T):
                        for q in range(C):
                            xb[0, q, t, i] = x[mx, r, t, q]
            # -- forward: the LSTM from a zero state, then the head on its last h
            for j in range(G4):
                for q in range(H):
                    Wz[0, j, q] = W_hh[m, j, q]
                for q in range(C):
                    Wz[0, j, H + q] = W_ih[m, j, q]
                if has_bias:
                    bias[0, j] = b_ih[m, j] + b_hh[m, j]
            h[:] = 0
            c[:] = 0
            _forward(xb, Wz, bias, h, c, keep, false, gates, tanh_c, z_in, c_in, hs, false, col0, nr)
            for i in range(nr):        # z = h_T^T W (from 0, q ascending) + b_d
                for j in range(K):
                    zz = zero
                    for q in range(H):
                        zz += h[0, q, i] * Wd[m, q, j]
                    if has_head_bias:
                        zz += bd[m, j]
                    Z[i * K + j] = zz
            activate(A, Z, 0, nr * K, act)
            # -- backward: the head (dz, then dh_T with W before its update), then through time
            output_gradient(G, A, Z, 0, nr, K, yf, yi, idx, myf, myi, mi, si, loss_code)
            times_derivative(G, A, Z, 0, nr * K, act, False)
            for q in range(H):
                for i in range(nr):
                    g = zero
                    for j in range(K):
                        g += G[i * K + j] * Wd[m, q, j]
                    dh[0, q, i] = g
            dc[:] = 0
            _backward(gates, tanh_c, c_in, W_hh[m:m + 1], keep, false, dy, false, dh, dc, da_steps, dax,
                      not from_steps, dh_steps, col0, nr, from_steps, dax.reshape(1, dax.shape[1], -1),
                      z_in.reshape(1, H + C + 1, T * nr), dWz, false)
            # -- the updates: the head's, then the LSTM's (each a run of contiguous entries)
            for q in range(H):
                for j in range(K):
                    g = zero
                    for i in range(nr):
                        g += h[0, q, i] * G[i * K + j]
                    gd[q * K + j] = g
            update_run(Wd2, VWd2, m, 0, gd, H * K, lr[m], mu[m], active[m], any_frozen, opt_code, nesterov)
            if has_head_bias:
                for j in range(K):
                    g = zero
                    for i in range(nr):
                        g += G[i * K + j]
                    gd[j] = g
                update_run(bd, Vbd, m, 0, gd, K, lr[m], mu[m], active[m], any_frozen, opt_code, nesterov)
            for j in range(G4):
                update_run(W_hh2, V_hh2, m, j * H, dWz[0, j], H, lr[m], mu[m], active[m], any_frozen, opt_code,
                           nesterov)
                update_run(W_ih2, V_ih2, m, j * C, dWz[0, j, H:], C, lr[m], mu[m], active[m], any_frozen, opt_code,
                           nesterov)
                db[j] = dWz[0, j, H + C]
            if has_bias:
                update_run(b_ih, Vb_ih, m, 0, db, G4, lr[m], mu[m], active[m], any_frozen, opt_code, nesterov)
                update_run(b_hh, Vb_hh, m, 0, db, G4, lr[m], mu[m], active[m], any_frozen, opt_code, nesterov)


@njit(cache=True, nogil=True)
def step_arrays(like, T, H, C, nb, lanes, steps_bytes):  # pragma: no cover - compiled by Numba
    """A step's arrays for a batch of ``nb`` rows, of ``like``'s dtype, made once and reused step
    after step: ``from_steps`` (whether the weight gradients read dL/da time-major, as in
    :func:`glassnet.fast.lstm.backward`), the inputs ``(1, C, T, nb)``, the forward's caches (gates,
    tanh(c_t), c_{t-1}, ``[h_{t-1}; x_t; 1]`` with its row of ones), the states h, c and their
    gradients ``(1, H, nb)``, and the backward's dL/da: time-major ``(T, 4H, nb)`` if ``from_steps``,
    else feature-major ``(1, 4H, T, nb)`` (the other one a dummy)."""
    dt = like.dtype
    G4 = 4 * H
    from_steps = T * G4 * nb * like.itemsize <= steps_bytes and nb % lanes == 0
    z_in = np.empty((1, H + C + 1, T, nb), dt)
    z_in[0, H + C] = 1
    da_steps = np.empty((T if from_steps else 0, G4, nb), dt)
    dax = np.empty((1, G4, T, nb) if not from_steps else (1, 1, 1, 1), dt)
    return (from_steps, np.empty((1, C, T, nb), dt), np.empty((1, T, G4, nb), dt), np.empty((1, T, H, nb), dt),
            np.empty((1, T, H, nb), dt), z_in, np.empty((1, H, nb), dt), np.empty((1, H, nb), dt),
            np.empty((1, H, nb), dt), np.empty((1, H, nb), dt), da_steps, dax)


@njit(cache=True, nogil=True, error_model="numpy")  # called, not inlined: 7 copies cost compile time
def update_run(P, V, m, o, g, n, lr, mu, active, any_frozen, opt_code, nesterov):  # pragma: no cover
    """``P[m, o:o + n]`` (and its velocities ``V``) updated with the gradients ``g[:n]``:
    the expressions of :mod:`glassnet.fast.dense_small`'s ``_step1`` (no penalties), the form chosen
    once for the run, so that each loop vectorizes (one entry at a time with the choice inside
    was ~6% of a segment's time in ``lstm16``'s shape)."""
    if opt_code == 0:
        if any_frozen:
            for e in range(n):
                P[m, o + e] = P[m, o + e] + (-lr * g[e]) * active
        else:
            for e in range(n):
                P[m, o + e] = P[m, o + e] + (-lr * g[e])
        return
    for e in range(n):
        ge = g[e]
        if opt_code == 1:
            v = V[m, o + e] * mu + ge
            V[m, o + e] = v
            d = -lr * (ge + mu * v) if nesterov else -lr * v
        else:
            v = V[m, o + e] * mu - lr * ge
            V[m, o + e] = v
            d = mu * v - lr * ge if nesterov else v
        P[m, o + e] = P[m, o + e] + (d * active if any_frozen else d)
