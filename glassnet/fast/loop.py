"""Compiled training segments: many full-batch steps of small dense networks in one call.

The Trainer's loop (:mod:`glassnet.training.trainer`) stays the one training loop. Between two
*logged* steps nothing is observed: no callback runs, no loss is recorded. For a run that fits the
plan below, the Trainer hands such a stretch of ``k`` unlogged steps to :func:`Plan.run`, which
makes the same ``k`` updates in one compiled call, model by model (``prange`` over the model axis:
models are independent between logged steps). Logged steps, and the last step of every
:meth:`~glassnet.training.Trainer.run` call, still run on the readable reference code, so the
history, callbacks, the NaN guard and the layers' caches are exactly the reference's.

What one compiled step computes, per model (the reference's maths, in its order):

    a_0 = x;   z_l = a_{l-1} W_l + b_l;   a_l = f_l(z_l)                      (forward)
    g_L = dL/da_L  (half_sse: (a_L - y)/B;  mse: 2 (a_L - y)/(B K);
                    softmax_cross_entropy on integer labels: (softmax(z_L) - onehot(y))/B)
    dz_l = g_l * f_l'(z_l);   dW_l = a_{l-1}^T dz_l;   db_l = sum_b dz_l;   g_{l-1} = dz_l W_l^T
    dW_l += lambda_2 W_l + lambda_1 sign(W_l)                                  (penalties)
    SGD:  W <- W - lr dW   (momentum, Nesterov, both forms: see :class:`glassnet.optimizers.SGD`)
    frozen models: delta * 0 (the reference's mask, NaN included)

The plan covers: :class:`~glassnet.Sequential` of :class:`~glassnet.Dense` layers with identity,
sigmoid, tanh or relu; losses half_sse, mse, softmax_cross_entropy (integer labels); SGD in every
form; global and per-layer L1/L2; shared or per-model data; float32 and float64; full batch; no
sample weights, clipping, or callbacks that act at each step or epoch (learning-rate schedules);
layers small enough that plain loops beat BLAS calls (see ``MAX_LAYER_WORK``). Anything else runs
on the reference path. ``tests/fast/test_loop.py`` holds the plan to the reference (float64 to
1e-12).
"""

from __future__ import annotations

import numpy as np
from numba import njit  # this module is imported only once fast.available() found Numba

from .. import fast
from ..activations import Identity, ReLU, Sigmoid, Tanh
from ..callbacks import Callback
from ..layers.dense import Dense
from ..losses import MSE, HalfSSE, SoftmaxCrossEntropy
from ..optimizers import SGD
from ..regularizers import L1, L2

KERNEL = "loop"

#: multiply-adds of one layer's forward pass (batch x inputs x units) above which BLAS beats the
#: compiled loops; the plan is for small networks (the seed-003 autoencoder: 8 x 8 x 3 = 192)
MAX_LAYER_WORK = 1 << 16
#: fewer unlogged steps than this are not worth a compiled call
MIN_SEGMENT = 3

_ACTIVATIONS = {Identity: 0, Sigmoid: 1, Tanh: 2, ReLU: 3}
_LOSSES = {HalfSSE: 0, MSE: 1, SoftmaxCrossEntropy: 2}
#: optimizer codes: 0 plain SGD, 1 PyTorch-form momentum, 2 Keras-form momentum
_PLAIN, _TORCH, _KERAS = 0, 1, 2


class Plan:
    """A Trainer's run that the compiled segments can carry; :meth:`run` makes ``k`` updates."""

    min_segment = MIN_SEGMENT

    def __init__(self, trainer, dense: list, acts: np.ndarray, loss_code: int):
        self.trainer = trainer
        self.dense = dense
        self.acts = acts
        self.loss_code = loss_code
        self.widths = np.array([dense[0].input_shape[0]] + [l.units for l in dense], np.int64)
        self.has_bias = np.array([l.use_bias for l in dense], np.bool_)
        #: multiply-adds per sample and step (forward + two backward products)
        self.work_per_sample = 3 * int(np.sum(self.widths[:-1] * self.widths[1:]))

    def run(self, k: int) -> None:
        """Make ``k`` training updates in one compiled call (state is advanced as the reference
        would: parameters, momentum buffers, ``optimizer.t``).

        The parameters are packed into flat ``(M, P)`` buffers for the call and unpacked after
        (a copy of a small network's parameters costs microseconds), so one compiled signature
        per dtype serves every depth and width: compiling is paid once, not once per shape.
        """
        t = self.trainer
        opt, model = t.optimizer, t.model
        M = model.M
        W = _pack([l.W.value for l in self.dense], M, model.dtype)
        b = _pack([l.b.value for l in self.dense if l.use_bias], M, model.dtype)
        momentum = opt._use_momentum
        if momentum:
            vW = _pack([opt.state[l.W]["v"] for l in self.dense], M, model.dtype)
            vb = _pack([opt.state[l.b]["v"] for l in self.dense if l.use_bias], M, model.dtype)
            code = _TORCH if opt.form == "pytorch" else _KERAS
        else:
            vW = vb = np.zeros((1, 1), model.dtype)  # unused by the kernel
            code = _PLAIN
        rates = _penalty_rates(t, self.dense, M)
        x = t.x if t.per_model_data else t.x[None]
        y = t.y
        if not (y.ndim >= 2 and t.per_model_data and y.shape[0] == M and y.shape[1] == t.n):
            y = y[None]
        if self.loss_code == 2:
            yf, yi = np.zeros((1, 1, 1), model.dtype), y.reshape(y.shape[0], y.shape[1]).astype(np.int64, copy=False)
        else:
            yf, yi = y.reshape(y.shape[0], y.shape[1], -1), np.zeros((1, 1), np.int64)
        args = (x, yf, yi, W, b, vW, vb, self.widths, self.has_bias, self.acts, opt.lr, opt.momentum,
                opt.active, bool(opt.any_frozen), rates, self.loss_code, code, bool(opt.nesterov), k)
        _in_chunks(args, M, t.n * self.work_per_sample * k)
        _unpack(W, [l.W.value for l in self.dense])
        _unpack(b, [l.b.value for l in self.dense if l.use_bias])
        if momentum:
            _unpack(vW, [opt.state[l.W]["v"] for l in self.dense])
            _unpack(vb, [opt.state[l.b]["v"] for l in self.dense if l.use_bias])
        opt.t += k


#: below this many multiply-adds per call, a second thread costs more than it saves
THREAD_MIN_WORK = 1 << 17


def _in_chunks(args, M: int, work: int) -> None:
    """Run the kernel over the models, split in two halves on two threads when there is enough
    work (the kernel releases the GIL; each model writes only its own rows)."""
    if M < 2 or work * M < THREAD_MIN_WORK:
        _train_steps(*args, 0, M)
        return
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415 - only for large calls

    half = M // 2
    with ThreadPoolExecutor(2) as pool:
        done = [pool.submit(_train_steps, *args, 0, half), pool.submit(_train_steps, *args, half, M)]
        for f in done:
            f.result()


def _pack(arrays: list, M: int, dtype) -> np.ndarray:
    """``(M, P)``: each ``(M, ...)`` array flattened per model, side by side (P >= 1)."""
    if not arrays:
        return np.zeros((M, 1), dtype)
    return np.concatenate([a.reshape(M, -1) for a in arrays], axis=1)


def _unpack(flat: np.ndarray, arrays: list) -> None:
    """Write the columns of ``flat`` back into ``arrays`` (inverse of :func:`_pack`)."""
    o = 0
    for a in arrays:
        n = a[0].size
        a[...] = flat[:, o:o + n].reshape(a.shape)
        o += n


def plan_for(trainer) -> Plan | None:
    """A :class:`Plan` if ``trainer``'s run is one the compiled segments reproduce, else None."""
    if not fast.available(KERNEL):
        return None
    model, opt, loss = trainer.model, trainer.optimizer, trainer.loss
    if type(model).__name__ != "Sequential" or not trainer.batcher.full or trainer.weights is not None:
        return None
    if trainer.clip_value is not None or trainer.clip_norm is not None:
        return None
    if type(opt) is not SGD or type(loss) not in _LOSSES:
        return None
    if any(type(cb).on_step_begin is not Callback.on_step_begin or type(cb).on_epoch_end is not Callback.on_epoch_end
           for cb in trainer.callbacks):
        return None
    if model.dtype not in (np.float32, np.float64) or isinstance(trainer.x, list) or isinstance(trainer.y, list):
        return None
    if trainer.x.dtype != model.dtype or trainer.x.ndim != (3 if trainer.per_model_data else 2):
        return None
    acts = []
    for layer in model.layers:
        if type(layer) is not Dense or type(getattr(layer.act, "fn", None)) not in _ACTIVATIONS:
            return None
        if trainer.n * layer.input_shape[0] * layer.units > MAX_LAYER_WORK:
            return None
        if not layer.W.value.flags.c_contiguous or (layer.use_bias and not layer.b.value.flags.c_contiguous):
            return None
        acts.append(_ACTIVATIONS[type(layer.act.fn)])
    loss_code = _LOSSES[type(loss)]
    y = trainer.y
    if loss_code == 2:
        if acts[-1] != 0 or not np.issubdtype(y.dtype, np.integer):
            return None
    elif y.dtype != model.dtype:
        return None
    for p, reg in trainer.terms:
        if type(reg) not in (L1, L2):
            return None
    if opt._use_momentum and not all(opt.state[p]["v"].flags.c_contiguous for p in model.param_list):
        return None
    return Plan(trainer, list(model.layers), np.array(acts, np.int64), loss_code)


def _penalty_rates(trainer, dense: list, M: int) -> np.ndarray:
    """``(4, L, M)``: per layer and model, the L2 and L1 rates on W, then on b (0 where none)."""
    rates = np.zeros((4, len(dense), M), np.float64)
    where = {}
    for i, l in enumerate(dense):
        where[id(l.W)] = (0, i)
        if l.use_bias:
            where[id(l.b)] = (2, i)
    for p, reg in trainer.terms:
        row, i = where[id(p)]
        rates[row + (type(reg) is L1), i] += reg.rates(p.value)
    return rates.astype(trainer.model.dtype)


@njit(cache=True, nogil=True)
def _train_steps(x, yf, yi, W, b, vW, vb, widths, has_bias, acts, lr, mu, active, any_frozen, rates,
                 loss_code, opt_code, nesterov, steps, m0, m1):  # pragma: no cover - compiled by Numba
    """``steps`` updates of models ``m0 .. m1-1`` (see the module docstring).

    ``W``/``b`` (and velocities ``vW``/``vb``): ``(M, P)`` packed, layer after layer, each weight
    row-major ``(n_in, n_out)``; ``widths``: ``(L+1,)`` layer sizes; ``rates``: ``(4, L, M)`` L2/L1
    on W then b. ``x``: ``(1 or M, N, n_0)``; ``yf``: float targets ``(1 or M, N, K)``; ``yi``:
    integer labels ``(1 or M, N)`` for softmax cross-entropy. Inner loops run along contiguous
    rows so the compiler can vectorize them.
    """
    L = widths.shape[0] - 1
    N = x.shape[1]
    woff = np.zeros(L + 1, np.int64)   # where layer l's W starts in a packed row
    boff = np.zeros(L + 1, np.int64)
    aoff = np.zeros(L + 2, np.int64)   # block l of A: the input of layer l, (N, widths[l])
    for l in range(L):
        woff[l + 1] = woff[l] + widths[l] * widths[l + 1]
        boff[l + 1] = boff[l] + (widths[l + 1] if has_bias[l] else 0)
    for l in range(L + 1):
        aoff[l + 1] = aoff[l] + N * widths[l]
    wmax = widths.max()
    sx, syf, syi = int(x.shape[0] > 1), int(yf.shape[0] > 1), int(yi.shape[0] > 1)
    zero = np.zeros(1, W.dtype)[0]
    A = np.empty(aoff[L + 1], W.dtype)  # x, then every layer's output a_l
    Z = np.empty(aoff[L + 1], W.dtype)  # the pre-activations z_l (same blocks as A, shifted by one)
    G = np.empty(N * wmax, W.dtype)     # dL/da, then dL/dz, of the layer being backpropagated
    G2 = np.empty(N * wmax, W.dtype)
    dW = np.empty(W.shape[1], W.dtype)
    for m in range(m0, m1):
        xm, yfm, yim = x[m * sx], yf[m * syf], yi[m * syi]
        Wm, bm = W[m], b[m]
        vWm, vbm = vW[m * (vW.shape[0] > 1)], vb[m * (vb.shape[0] > 1)]
        lr_m, mu_m, act_m = lr[m], mu[m], active[m]
        for i in range(N):
            for q in range(widths[0]):
                A[i * widths[0] + q] = xm[i, q]
        for _ in range(steps):
            # -- forward: z = a W + b, a = f(z)
            for l in range(L):
                n_in, n_out, wo, c = widths[l], widths[l + 1], woff[l], acts[l]
                ai, ao = aoff[l], aoff[l + 1]
                for i in range(N):
                    zi = ao + i * n_out
                    for j in range(n_out):
                        Z[zi + j] = zero
                    for q in range(n_in):
                        a_in = A[ai + i * n_in + q]
                        wq = wo + q * n_out
                        for j in range(n_out):
                            Z[zi + j] += a_in * Wm[wq + j]
                    if has_bias[l]:
                        for j in range(n_out):
                            Z[zi + j] += bm[boff[l] + j]
                for k in range(ao, ao + N * n_out):
                    z = Z[k]
                    if c == 0:
                        A[k] = z
                    elif c == 1:
                        A[k] = 1.0 / (1.0 + np.exp(-z)) if z >= 0 else np.exp(z) / (1.0 + np.exp(z))
                    elif c == 2:
                        A[k] = np.tanh(z)
                    else:
                        A[k] = zero if z <= 0 else z  # NaN stays NaN, as np.maximum
            # -- dL/da_L of the batch-mean loss
            K, oL = widths[L], aoff[L]
            if loss_code == 0 or loss_code == 1:
                s = 1.0 / N if loss_code == 0 else 2.0 / (N * K)
                for i in range(N):
                    for j in range(K):
                        G[i * K + j] = (A[oL + i * K + j] - yfm[i, j]) * s
            else:
                s = 1.0 / N
                for i in range(N):
                    zmax = Z[oL + i * K]
                    for j in range(1, K):
                        zmax = max(zmax, Z[oL + i * K + j])
                    tot = zero
                    for j in range(K):
                        e = np.exp(Z[oL + i * K + j] - zmax)
                        G[i * K + j] = e
                        tot += e
                    for j in range(K):
                        G[i * K + j] = G[i * K + j] / tot
                    G[i * K + yim[i]] -= 1
                    for j in range(K):
                        G[i * K + j] *= s
            # -- backward, layer by layer; a layer's parameters are updated once its dz and the
            #    gradient below it (which needs W before the update) are computed
            for l in range(L - 1, -1, -1):
                n_in, n_out, wo, bo, c = widths[l], widths[l + 1], woff[l], boff[l], acts[l]
                ai, ao = aoff[l], aoff[l + 1]
                if c != 0:                   # dz = g * f'(z)
                    for k in range(N * n_out):
                        if c == 1:
                            a = A[ao + k]
                            G[k] = G[k] * a * (1 - a)
                        elif c == 2:
                            a = A[ao + k]
                            G[k] = G[k] * (1 - a * a)
                        elif not Z[ao + k] > 0:
                            G[k] = G[k] * 0
                if l > 0:                    # g_{l-1} = dz W^T
                    for i in range(N):
                        for q in range(n_in):
                            acc = zero
                            wq = wo + q * n_out
                            for j in range(n_out):
                                acc += G[i * n_out + j] * Wm[wq + j]
                            G2[i * n_in + q] = acc
                for k in range(n_in * n_out):  # dW = a^T dz
                    dW[k] = zero
                for i in range(N):
                    for q in range(n_in):
                        a_in = A[ai + i * n_in + q]
                        wq = q * n_out
                        for j in range(n_out):
                            dW[wq + j] += a_in * G[i * n_out + j]
                r2, r1 = rates[0, l, m], rates[1, l, m]
                for k in range(n_in * n_out):  # + penalties, then the SGD step
                    w = Wm[wo + k]
                    g = dW[k]
                    if r2 != 0:
                        g = g + r2 * w
                    if r1 != 0:
                        g = g + r1 * np.sign(w)
                    Wm[wo + k] = w + _delta(g, vWm, wo + k, lr_m, mu_m, act_m, any_frozen, opt_code, nesterov)
                if has_bias[l]:
                    r2, r1 = rates[2, l, m], rates[3, l, m]
                    for j in range(n_out):
                        dW[j] = zero
                    for i in range(N):
                        for j in range(n_out):
                            dW[j] += G[i * n_out + j]
                    for j in range(n_out):
                        w = bm[bo + j]
                        g = dW[j]
                        if r2 != 0:
                            g = g + r2 * w
                        if r1 != 0:
                            g = g + r1 * np.sign(w)
                        bm[bo + j] = w + _delta(g, vbm, bo + j, lr_m, mu_m, act_m, any_frozen, opt_code, nesterov)
                if l > 0:
                    G, G2 = G2, G


@njit(cache=True, nogil=True)
def _delta(g, v, k, lr, mu, active, any_frozen, opt_code, nesterov):  # pragma: no cover - compiled
    """One SGD delta for packed entry ``k``, advancing its velocity (see :class:`~glassnet.optimizers.SGD`)."""
    if opt_code == 0:
        d = -lr * g
    elif opt_code == 1:
        vv = v[k] * mu + g
        v[k] = vv
        d = -lr * (g + mu * vv) if nesterov else -lr * vv
    else:
        vv = v[k] * mu - lr * g
        v[k] = vv
        d = mu * vv - lr * g if nesterov else vv
    return d * active if any_frozen else d
