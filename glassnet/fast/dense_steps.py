"""The compiled kernel behind :mod:`glassnet.fast.loop`: training steps of small dense networks,
vectorized across the model axis.

Every array is model-minor: parameters ``(P, M)``, activations ``(rows, M)``. Each scalar line of
the textbook algorithm (below) becomes a loop over models ``m0 .. m1-1`` on contiguous memory,
which the compiler turns into SIMD instructions, so 1,000 tiny networks cost about what 125 cost
one at a time. Imported only once :func:`glassnet.fast.available` found Numba.

One step, per model (the reference's maths; ``b`` rows of the batch, ``b = sizes[s]``: an
epoch's last batch may be shorter)::

    a_0 = x[batch];   z_l = a_{l-1} W_l + b_l;   a_l = f_l(z_l)
    g_L = dL/da_L     (half_sse: (a_L - y)/b;  mse: 2 (a_L - y)/(b K);
                       softmax cross-entropy on labels: (softmax(z_L) - onehot(y))/b;
                       on one-hot or probability rows y: (softmax(z_L) - y)/b)
    dz_l = g_l * f_l'(z_l);  g_{l-1} = dz_l W_l^T;  dW_l = a_{l-1}^T dz_l (+ lambda_2 W + lambda_1 sign W)
    db_l = sum_rows dz_l (+ penalties);  then the SGD step of every entry

A residual layer (``skips[l]``: a graph model's ``Add()([h, Dense(h)])``) adds its input to its
output, and the gradient of the sum reaches both branches (a sum of two commutes exactly, so the
order of the Add's inputs does not matter)::

    a_l = f_l(z_l) + a_{l-1};   g_{l-1} = dz_l W_l^T + g_l

(its sigmoid or tanh derivative is then taken from ``z_l``: :func:`times_derivative_at`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from glassnet.fast.elementwise import sigmoid, tanh, vexp

# activation codes (glassnet.fast.loop maps the registry's classes to these)
IDENTITY, SIGMOID, TANH, RELU = 0, 1, 2, 3
# loss codes: half_sse, mse, softmax cross-entropy on integer labels / on float target rows
HALF_SSE, MSE, SOFTMAX_LABELS, SOFTMAX_ROWS = 0, 1, 2, 3


# error_model="numpy": a division does not test for zero (that test is a branch that keeps the
# model loops from vectorizing); the reference's NumPy divisions behave the same way
@njit(cache=True, nogil=True, error_model="numpy")
def dense_steps(x, yf, yi, idx, W, b, vW, vb, widths, has_bias, acts, lr, mu, active, any_frozen, rates,
                loss_code, opt_code, nesterov, steps, sizes, skips):  # pragma: no cover - compiled by Numba
    """``steps`` updates of every model (a thread's share: :mod:`glassnet.fast.loop` splits the
    models into contiguous chunks, so every inner loop starts at 0 and vectorizes).

    x: ``(1 or M, N, n_0)``; yf: float targets ``(1 or M, N, K)``; yi: integer labels ``(1 or M, N)``
    (softmax cross-entropy on labels); idx: each step's sample indices ``(1 or M, 1 or steps, rows)``,
    of which step ``s`` uses the first ``sizes[s]`` (``sizes``: ``(1 or steps,)``, as idx's axis 1);
    W/b and their velocities vW/vb: packed ``(P, M)``, layer after layer, weights row-major
    ``(n_in, n_out)`` (vW/vb ``(1, 1)`` without momentum); widths ``(L+1,)``; rates ``(4, L, M)``:
    L2 and L1 rates on W, then on b; lr/mu/active ``(M,)``; skips ``(L,)``: layer l is residual,
    ``a_l = f(z_l) + a_{l-1}`` (see the module docstring).
    """
    L = widths.shape[0] - 1
    rows = idx.shape[2]
    dt = W.dtype
    zero = np.zeros(1, dt)[0]
    woff, boff, aoff = offsets(widths, has_bias, rows)
    M = W.shape[1]
    A = np.empty((aoff[L + 1], M), dt)   # the batch, then every layer's output a_l
    Z = np.empty((aoff[L + 1], M), dt)   # pre-activations z_l (block l+1, like a_l)
    K = widths[L]
    G = np.empty((rows * widths.max(), M), dt)   # dL/da, then dL/dz, of the layer in hand
    G2 = np.empty((rows * widths.max(), M), dt)
    kept = np.empty((rows * widths.max(), M), dt)  # a residual layer's dL/da_l, for the layer below
    Y = np.empty((rows * K, M), dt)             # the batch's targets, float
    Yi = np.empty((rows, M), np.int64)          # or labels
    dW = np.empty((1, M), dt)                   # one entry's gradient, every model
    zmax = np.empty(M, dt)                      # softmax: each model's row maximum and sum
    tot = np.empty(M, dt)
    n0 = widths[0]
    # per-model inputs have one row per real model; the padding columns (see
    # glassnet.fast.loop._pack) reuse the last model's rows: they train nothing (lr 0)
    nx, nyf, nyi, ni = x.shape[0] - 1, yf.shape[0] - 1, yi.shape[0] - 1, idx.shape[0] - 1
    ss = idx.shape[1] > 1
    for s in range(steps):
        nr = sizes[s if ss else 0]       # rows of this step's batch (<= rows)
        if s == 0 or ss:                 # gather the batch (once for a fixed batch)
            for i in range(nr):
                for m in range(M):
                    r = idx[min(m, ni), s if ss else 0, i]
                    for q in range(n0):
                        A[i * n0 + q, m] = x[min(m, nx), r, q]
                    if loss_code == SOFTMAX_LABELS:
                        Yi[i, m] = yi[min(m, nyi), r]
                    else:
                        for j in range(K):
                            Y[i * K + j, m] = yf[min(m, nyf), r, j]
        # -- forward
        for l in range(L):
            n_in, n_out, c = widths[l], widths[l + 1], acts[l]
            ai, ao, wo = aoff[l], aoff[l + 1], woff[l]
            for i in range(nr):
                for j in range(n_out):
                    zr = ao + i * n_out + j
                    dot_rows(Z, zr, A, ai + i * n_in, 1, W, wo + j, n_out, n_in, zero)
                    if has_bias[l]:
                        br = boff[l] + j
                        for m in range(M):
                            Z[zr, m] += b[br, m]
            for r in range(ao, ao + nr * n_out):
                if c == IDENTITY:
                    for m in range(M):
                        A[r, m] = Z[r, m]
                elif c == SIGMOID:
                    for m in range(M):
                        A[r, m] = sigmoid(Z[r, m])
                elif c == TANH:
                    for m in range(M):
                        A[r, m] = tanh(Z[r, m])
                else:
                    for m in range(M):
                        z = Z[r, m]
                        A[r, m] = zero if z <= 0 else z  # NaN stays NaN, as np.maximum
            if skips[l]:                     # a_l = f(z_l) + a_{l-1}
                for r in range(nr * n_out):
                    for m in range(M):
                        A[ao + r, m] = A[ao + r, m] + A[ai + r, m]
        # -- dL/da_L of the batch-mean loss
        oL = aoff[L]
        if loss_code == HALF_SSE or loss_code == MSE:
            scale = 1.0 / nr if loss_code == HALF_SSE else 2.0 / (nr * K)
            for r in range(nr * K):
                for m in range(M):
                    G[r, m] = (A[oL + r, m] - Y[r, m]) * scale
        else:
            scale = 1.0 / nr
            for i in range(nr):               # softmax(z) - onehot(y) or - y, every loop over models
                o = oL + i * K
                for m in range(M):
                    zmax[m] = Z[o, m]
                for j in range(1, K):
                    for m in range(M):
                        zmax[m] = max(zmax[m], Z[o + j, m])
                for m in range(M):
                    tot[m] = zero
                for j in range(K):
                    for m in range(M):
                        G[i * K + j, m] = vexp(Z[o + j, m] - zmax[m])
                        tot[m] += G[i * K + j, m]  # e in the arrays' precision, as the twin sums it
                for j in range(K):
                    for m in range(M):
                        G[i * K + j, m] = G[i * K + j, m] / tot[m]
                if loss_code == SOFTMAX_LABELS:
                    for m in range(M):
                        G[i * K + Yi[i, m], m] -= 1
                else:
                    for j in range(K):
                        for m in range(M):
                            G[i * K + j, m] = G[i * K + j, m] - Y[i * K + j, m]
                for j in range(K):
                    for m in range(M):
                        G[i * K + j, m] *= scale
        # -- backward; a layer's parameters are updated once its dz and the gradient below it
        #    (which needs W before the update) are computed
        for l in range(L - 1, -1, -1):
            n_in, n_out, c = widths[l], widths[l + 1], acts[l]
            ai, ao, wo, bo = aoff[l], aoff[l + 1], woff[l], boff[l]
            skip = skips[l]
            if skip and l > 0:                # dL/da_l also reaches a_{l-1} through the skip
                for r in range(nr * n_out):
                    for m in range(M):
                        kept[r, m] = G[r, m]
            if skip and (c == SIGMOID or c == TANH):   # a_l is f(z_l) + a_{l-1}: f(z_l) again
                for r in range(nr * n_out):
                    for m in range(M):
                        G[r, m] = times_derivative_at(G[r, m], Z[ao + r, m], c)
            for r in range(nr * n_out):       # dz = g * f'(z)
                if c == SIGMOID and not skip:
                    for m in range(M):
                        a = A[ao + r, m]
                        G[r, m] = G[r, m] * a * (1 - a)
                elif c == TANH and not skip:
                    for m in range(M):
                        a = A[ao + r, m]
                        G[r, m] = G[r, m] * (1 - a * a)
                elif c == RELU:
                    for m in range(M):
                        if not Z[ao + r, m] > 0:
                            G[r, m] = G[r, m] * 0
            if l > 0:                         # g_{l-1} = dz W^T (+ g_l through a skip)
                for i in range(nr):
                    for q in range(n_in):
                        dot_rows(G2, i * n_in + q, G, i * n_out, 1, W, wo + q * n_out, 1, n_out, zero)
                if skip:
                    for r in range(nr * n_in):
                        for m in range(M):
                            G2[r, m] = G2[r, m] + kept[r, m]
            for q in range(n_in):             # dW = a^T dz + penalties, then the step
                for j in range(n_out):
                    dot_rows(dW, 0, A, ai + q, n_in, G, j, n_out, nr, zero)
                    _step(W, vW, wo + q * n_out + j, dW[0], rates[0, l], rates[1, l], lr, mu, active, any_frozen,
                          opt_code, nesterov)
            if has_bias[l]:
                for j in range(n_out):
                    for m in range(M):
                        dW[0, m] = zero
                    for i in range(nr):
                        for m in range(M):
                            dW[0, m] += G[i * n_out + j, m]
                    _step(b, vb, bo + j, dW[0], rates[2, l], rates[3, l], lr, mu, active, any_frozen,
                          opt_code, nesterov)
            if l > 0:
                G, G2 = G2, G


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def times_derivative_at(g, z, c):  # pragma: no cover - compiled
    """``g f'(z)`` of sigmoid (``c == SIGMOID``: ``g s (1 - s)``, s = sigmoid(z)) or tanh
    (``g (1 - t^2)``) from z, for a residual layer, whose output holds ``f(z) + a_{l-1}``, not
    ``f(z)``: the same s and t as the forward's and the same expressions as the derivative taken
    from the output, so the same numbers."""
    if c == SIGMOID:
        a = sigmoid(z)
        return g * a * (1 - a)
    a = tanh(z)
    return g * (1 - a * a)


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def dot_rows(D, d, X, x0, xs, Y, y0, ys, n, zero):  # pragma: no cover - compiled
    """``D[d] = sum_k X[x0 + k xs] * Y[y0 + k ys]`` for ``k`` in ``0 .. n-1``, row by row of models:
    summed from ``zero`` in ascending ``k``, as a scalar loop sums (so the scalar kernel agrees
    bit for bit), four terms a pass over the models. Four terms a pass instead of one: the
    kernel's inner loops are short (a row of models), so each pass's fixed cost (bounds, the
    compiler's overlap checks, the loop's entry and exit) weighed as much as its arithmetic;
    measured (8-3-8 autoencoder, float64, one thread, CPU per step, min of 5): 50 models
    48.2 -> 44.6 us, 5 models 14.2 -> 12.9 us with the forward products alone."""
    M = D.shape[1]
    k = 0
    if n >= 4:
        for m in range(M):
            D[d, m] = (((zero + X[x0, m] * Y[y0, m]) + X[x0 + xs, m] * Y[y0 + ys, m])
                       + X[x0 + 2 * xs, m] * Y[y0 + 2 * ys, m]) + X[x0 + 3 * xs, m] * Y[y0 + 3 * ys, m]
        k = 4
    else:
        for m in range(M):
            D[d, m] = zero
    while k + 4 <= n:
        a, c = x0 + k * xs, y0 + k * ys
        for m in range(M):
            D[d, m] = ((((D[d, m] + X[a, m] * Y[c, m]) + X[a + xs, m] * Y[c + ys, m])
                        + X[a + 2 * xs, m] * Y[c + 2 * ys, m]) + X[a + 3 * xs, m] * Y[c + 3 * ys, m])
        k += 4
    while k < n:
        a, c = x0 + k * xs, y0 + k * ys
        for m in range(M):
            D[d, m] += X[a, m] * Y[c, m]
        k += 1


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _step(P, V, r, g, l2, l1, lr, mu, active, any_frozen, opt_code, nesterov):  # pragma: no cover
    """Penalties (added to ``g`` in place), then one SGD update of packed row ``r`` for every model
    (the forms of :class:`glassnet.optimizers.SGD`; frozen models: the delta times 0, as the
    reference).

    Written so each loop over models vectorizes: a penalty term is computed for every model and
    kept where its rate is not 0 (a select, not a branch), ``sign(w)`` is spelled out (as Numba's
    ``np.sign``, -0 and NaN included), and the optimizer's form is chosen outside the loops.
    Measured in the 8-3-8 autoencoder's shape, 32 models: 29-33 vs 31-40 us per step."""
    M = P.shape[1]
    for m in range(M):
        w = P[r, m]
        gm = g[m]
        with_l2 = gm + l2[m] * w
        gm = with_l2 if l2[m] != 0 else gm
        sign = 1.0 if w > 0 else (-1.0 if w < 0 else w * 0.0)
        with_l1 = gm + l1[m] * sign
        g[m] = with_l1 if l1[m] != 0 else gm
    if opt_code == 0:
        if any_frozen:
            for m in range(M):
                P[r, m] = P[r, m] + (-lr[m] * g[m]) * active[m]
        else:
            for m in range(M):
                P[r, m] = P[r, m] + (-lr[m] * g[m])
        return
    for m in range(M):
        gm = g[m]
        if opt_code == 1:
            v = V[r, m] * mu[m] + gm
            V[r, m] = v
            d = -lr[m] * (gm + mu[m] * v) if nesterov else -lr[m] * v
        else:
            v = V[r, m] * mu[m] - lr[m] * gm
            V[r, m] = v
            d = mu[m] * v - lr[m] * gm if nesterov else v
        P[r, m] = P[r, m] + (d * active[m] if any_frozen else d)


# --------------------------------------------------------------------------- one model at a time
@njit(cache=True, nogil=True, inline="always")
def model_buffers(W, widths, has_bias, rows):  # pragma: no cover - compiled
    """What a one-model-at-a-time kernel works in: ``(woff, boff, aoff)`` (:func:`offsets`) and the
    buffers ``A`` (the batch, then every layer's output a_l), ``Z`` (pre-activations z_l, block
    l + 1 like a_l), ``G`` and ``G2`` (dL/da, then dL/dz, of the layer in hand and the one below)."""
    woff, boff, aoff = offsets(widths, has_bias, rows)
    L = widths.shape[0] - 1
    A = np.empty(aoff[L + 1], W.dtype)
    Z = np.empty(aoff[L + 1], W.dtype)
    G = np.empty(rows * widths.max(), W.dtype)
    G2 = np.empty(rows * widths.max(), W.dtype)
    return woff, boff, aoff, A, Z, G, G2


@njit(cache=True, nogil=True, inline="always")
def offsets(widths, has_bias, rows):  # pragma: no cover - compiled
    """``(woff, boff, aoff)``: where layer l's weights and biases start among a model's packed
    parameters, and block l of the activation buffers: the input of layer l, ``(rows, widths[l])``."""
    L = widths.shape[0] - 1
    woff = np.zeros(L + 1, np.int64)
    boff = np.zeros(L + 1, np.int64)
    aoff = np.zeros(L + 2, np.int64)
    for l in range(L):
        woff[l + 1] = woff[l] + widths[l] * widths[l + 1]
        boff[l + 1] = boff[l] + (widths[l + 1] if has_bias[l] else 0)
    for l in range(L + 1):
        aoff[l + 1] = aoff[l] + rows * widths[l]
    return woff, boff, aoff


@njit(cache=True, nogil=True, inline="always")
def gather_rows(A, x, idx, mx, mi, si, nr, n0):  # pragma: no cover - compiled
    """``A[i n0 + q] = x[mx, idx[mi, si, i], q]``: a model's batch, row-major."""
    for i in range(nr):
        r = idx[mi, si, i]
        for q in range(n0):
            A[i * n0 + q] = x[mx, r, q]


# --------------------------------------------------------------------------- one model's rows
# pieces of the one-model-at-a-time kernel glassnet.fast.dense_small, on a
# model's flat row-major blocks
@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def activate(A, Z, lo, hi, c):  # pragma: no cover - compiled
    """``A[r] = f(Z[r])`` for ``lo <= r < hi``: one flat loop per activation (no branch inside, so
    it vectorizes)."""
    if c == IDENTITY:
        for r in range(lo, hi):
            A[r] = Z[r]
    elif c == SIGMOID:
        for r in range(lo, hi):
            A[r] = sigmoid(Z[r])
    elif c == TANH:
        for r in range(lo, hi):
            A[r] = tanh(Z[r])
    else:
        zero = Z.dtype.type(0)
        for r in range(lo, hi):
            v = Z[r]
            A[r] = zero if v <= 0 else v  # NaN stays NaN, as np.maximum


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def output_gradient(G, A, Z, oL, nr, K, yf, yi, idx, myf, myi, mi, si, loss_code):  # pragma: no cover
    """``G[i K + j] = dL/da_L`` of the batch-mean loss for the ``nr`` rows of the batch (outputs
    ``A``/``Z`` from ``oL``; targets of model rows ``myf``/``myi``, batch ``idx[mi, si]``)."""
    if loss_code == HALF_SSE or loss_code == MSE:
        scale = 1.0 / nr if loss_code == HALF_SSE else 2.0 / (nr * K)
        for i in range(nr):
            r = idx[mi, si, i]
            for j in range(K):
                G[i * K + j] = (A[oL + i * K + j] - yf[myf, r, j]) * scale
        return
    scale = 1.0 / nr
    for i in range(nr):               # z - max(z) of each row
        o, g = oL + i * K, i * K
        zmax = Z[o]
        for j in range(1, K):
            zmax = max(zmax, Z[o + j])
        for j in range(K):
            G[g + j] = Z[o + j] - zmax
    for r in range(nr * K):           # exp alone in one long loop: it vectorizes
        G[r] = vexp(G[r])
    for i in range(nr):
        g = i * K
        tot = G.dtype.type(0)
        for j in range(K):
            tot += G[g + j]
        r = idx[mi, si, i]
        if loss_code == SOFTMAX_LABELS:
            for j in range(K):
                G[g + j] = G[g + j] / tot
            G[g + yi[myi, r]] -= 1
            for j in range(K):
                G[g + j] *= scale
        else:
            for j in range(K):
                G[g + j] = (G[g + j] / tot - yf[myf, r, j]) * scale


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def times_derivative(G, A, Z, o, n, c, skip):  # pragma: no cover - compiled
    """``G[r] *= f'(z_r)`` for ``r < n`` (a layer's ``dz = g * f'(z)``; its outputs from ``o``;
    a residual layer's sigmoid or tanh derivative from ``z``: :func:`times_derivative_at`)."""
    for r in range(n):
        if skip and (c == SIGMOID or c == TANH):
            G[r] = times_derivative_at(G[r], Z[o + r], c)
        elif c == SIGMOID:
            a = A[o + r]
            G[r] = G[r] * a * (1 - a)
        elif c == TANH:
            a = A[o + r]
            G[r] = G[r] * (1 - a * a)
        elif c == RELU:
            if not Z[o + r] > 0:
                G[r] = G[r] * 0
