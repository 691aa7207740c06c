"""The LSTM's time loop compiled: the input and recurrent products, the gates and the cell update
of every step in one kernel, forward and backward (the fast path of :class:`glassnet.layers.LSTM`).

The reference (:class:`glassnet.layers.recurrent.Recurrent` with ``LSTM.cell`` /
``LSTM.cell_backward``) runs about twenty NumPy calls per step: a stacked ``W_hh @ h``, four gate
activations, the cell update and, backward, as many again. With small blocks (the ``lstm16``
benchmark: 16 models, H = 16, B = 32) each call costs more in dispatch than in arithmetic, and a
``(4H, H) @ (H, B)`` product is just big enough for OpenBLAS to start its threads, which on a
busy 2-core machine cost 60x the product itself (measured: 1.4 ms instead of 25 us for
``(256, 64) @ (64, 32)`` float32 with 2 threads under load). Here each model's whole sequence is
one loop nest, and its products are register-tiled vector code (:mod:`glassnet.fast.lstm_products`,
built on :mod:`glassnet.fast.simd`), so they never wake BLAS threads. The input projection
``W_ih x_t + b`` is computed step by step inside the loop too, in the same product as the
recurrent one (``[W_hh W_ih] [h; x_t] + b``, one pass over the pre-activations instead of three:
the forward 7.5 -> 6.6 ms in lstm16's shape), so the ``(M, 4H, T, B)`` array of all steps' projections is never written and read back (memory
traffic, not arithmetic, was most of the forward's time). The parameter gradients are one
product per model over all steps, ``dax @ [h_{t-1}; x_t; 1]^T`` (:func:`backward`), made inside
the backward kernel right after the model's time loop, while its ``dax`` is still in cache (when
a model's batch is split over threads: after the loops, in fixed blocks of rows); dL/dx stays in
the layer.

Per model m and step t (the reference's maths and its order of operations)::

    a   = W_hh h_{t-1} + (W_ih x_t + b),   b = b_ih + b_hh
    i, f, g, o = sig(a_i), sig(a_f), tanh(a_g), sig(a_o)
    c_t = f * c_{t-1} + i * g,   h_t = o * tanh(c_t)
    (masked step, keep k in {0, 1}:  s_t = k * s_t + (1 - k) * s_{t-1} for s = h, c)

    backward, from dh (dL/dh_t, + dL/dy_t) and dc (dL/dc_t):
    carried = (1 - k) * (dh, dc);   dh, dc = k * dh, k * dc
    do = dh * tanh(c_t);   dc = dc + dh * o * (1 - tanh(c_t)^2)
    da = (dc * g * i (1 - i),  dc * c_{t-1} * f (1 - f),  dc * i * (1 - g^2),  do * o (1 - o))
    dh_{t-1} = W_hh^T da (+ carried dh),   dc_{t-1} = dc * f (+ carried dc)

Sigmoid and tanh: :mod:`glassnet.fast.elementwise`'s, in the arrays' precision (arithmetic only,
so the loops vectorize; the float32 ones written for a gate loop's register budget). Both are a few
ulps from NumPy's. Everything else is computed in the arrays' dtype in the reference's order, so
float64 results match the reference to the rounding of the products' sums (not summed in BLAS's
order) and float32 results within float32 rounding (``tests/fast/test_lstm.py``).

Layout: the layer's arrays are feature-major, ``(L, C, T, B)`` for x and ``(M, 4H, T, B)`` for
dL/da, so that the weight gradients are one product over all steps; the kernel's own caches are
time-major, gates ``(M, T, 4H, B)``, so a step's block is contiguous. States ``(M, H, B)``.

Threads (:func:`_split`): with BLAS allowed n > 1 threads, as in ``benchmarks/sequence.py``, the
models are split over them (each thread its models' loops and weight-gradient products), or,
with fewer models than threads and at least 64 batch columns a thread, the batch columns, then
fixed blocks of gate rows of the products (``lstm``, one model and B = 32, runs on one thread:
see :func:`_split`); no BLAS thread pool runs in the step (its fork-join per small product is
what made the 2-thread steps slow on the shared cores).

Measured before the time-major backward (``benchmarks/sequence.py --rounds 3``, 2 threads,
2026-11-30 12:53 and 13:00 UTC, quiet): lstm16 7.2-9.1 ms a step against the torch loop's
40.3-47.6 (medians 5.42x and 5.59x; one round in each run under 5x); lstm 4.3-6.2 ms against
torch's 5.6-6.0 (median 0.91x its time). The earlier kernels (10:06): lstm16 10.9-15.5 ms.

Since then (15:20-16:10 UTC) the backward writes a model's dL/da time-major into each thread's
reused block, and the weight gradients read it there; the feature-major dax (6.5 MB of fresh
memory a step in lstm16) is written only when the layer's dL/dx needs it (:func:`backward`).
Measured, base 967c2c9 against 76d9ee4, ``benchmarks/sequence.py --rounds 2`` from two clean
checkouts run alternately, 2 threads, 16:04-16:09 UTC, load 0.9-1.0, "other processes"
0.00-0.13 cores: lstm16 glassnet 8.59, 8.53, 8.58, 8.26, 9.26, 8.19 ms (median 8.56, CPU 14.0)
-> 7.42, 8.91, 8.13, 7.32, 7.66, 7.76 (median 7.71, CPU 12.9); its ratio to the torch loop
depends as much on the loop's own spread (33-53 ms). Run before, 15:56-15:58 (load 1.1-1.3):
8.76, 9.94, 7.98, 8.93, 8.55, 9.35 -> 7.79, 9.04, 7.84, 7.56, 7.13, 7.05. lstm (16:07-16:09):
4.86, 4.74, 5.95, 6.08, 4.47, 6.48 -> 6.30, 6.19, 6.25, 4.84, 6.58, 6.04: a whole process runs
either at ~4.5-4.9 or at ~6.0-6.5 ms (both versions, the unchanged forward kernel with them:
1.5 or 1.85 ms); kernels timed alternately in one process, the lstm backward is unchanged
(1.95-2.38 against 2.01-2.38 ms, min of 30 x 10 calls). Where an lstm16 step goes now (fit on 2
threads, quiet, wall): the forward kernel ~2.8-3.3 ms, the backward ~3.2-3.9, the rest ~1.3;
one thread: forward ~3.8-4.0 (of it the gates' sigmoid and tanh ~2: 0.9 ns an element,
measured alone), backward ~4.5-5. The two threads scale 1.6x on the forward, less on the
backward: the machine's memory bandwidth (~25 GB/s, shared: two 6.5 MB fill-and-copy loops side
by side take 1.3-1.6 ms each against 1.0 alone) is spent on the caches over time (~12 MB
written a step by the forward, read back by the backward). The full benchmark afterwards
(16:17-16:27 UTC, quiet, 8 rounds): lstm16 5.5-8.7 ms against the loop's 28.6-44.0, median 5.17x,
5 of the 8 rounds at 5x or more; lstm 0.87x torch's time.

Tried in this round and not kept (lstm16, one thread, kernels alternated in one process):
the gates and the cell update fused into one loop over the step (9 arrays: LLVM gives up its
run-time alias checks and does not vectorize it; forward 3.8 -> 15.5 ms); the step's dL/da
written straight into the feature-major dax (a strided 'A' view: not vectorized, backward 5 ->
10 ms); the forward's product reading h and x_t where they lie instead of a copied [h; x_t]
(slower: forward 4.9 -> 5.3 ms); the input rows kept once for all models instead of in every
model's z_in, the weight gradients from [h_in; x; 1] in two arrays (forward -4%, but lstm's
backward +4-7%: each tile picks its source at run time); 2, 4 or 8 chunks of models per thread
instead of one (chunks.run's counter balances them; no gain, 8.6 against 8.6-9.9 ms); arrays
aligned to a cache line (no change, the bimodal runs remain). Imported only after
:func:`glassnet.fast.available` found Numba (``import glassnet`` never loads it).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numba import njit

from glassnet.fast.elementwise import sigmoid, tanh
from glassnet.fast.lstm_products import matvec_bias, weight_grads, weight_grads_model, weight_grads_steps

KERNEL = "lstm"  # the name in glassnet.fast.available() / mark_broken()


def layer_forward(layer, x_steps, state, keep):
    """``LSTM._forward_steps`` on the fast path: ``(final state, hs)``, and the layer's caches --
    the kernel's arrays (``_fast_cache``, ``_h_in``) and, as views of them, the reference's
    per-step ``_caches`` and ``_prev``, which the glass box reads and a reference backward uses."""
    bias = layer._input_bias() if layer.use_bias else None
    h, c, gates, tanh_c, z_in, c_in, hs = forward(x_steps, layer.weight_ih.value, bias, layer.weight_hh.value,
                                                  state[0], state[1], keep, layer.return_sequences)
    H, T = layer.units, x_steps.shape[2]
    layer._fast_cache = (gates, tanh_c, c_in, z_in)
    layer._h_in = h_in = z_in[:, :H]
    layer._caches = StepViews(lambda t: (gates[:, t, :H], gates[:, t, H:2 * H], gates[:, t, 2 * H:3 * H],
                                         gates[:, t, 3 * H:], tanh_c[:, t]), T)
    layer._prev = StepViews(lambda t: (h_in[:, :, t], c_in[:, t]), T)
    return (h, c), hs


def layer_backward(layer, dstate, dy_steps, keep):
    """``LSTM._backward_steps`` on the fast path: ``(dax, None, dh, dstate)`` (the input and hidden
    sides' gradients are one array for the LSTM); the parameter gradients, computed beside the loop,
    are left in ``layer._fast_grads`` for ``LSTM._param_grads``."""
    dax, dh, dh0, dc0, grads = backward(*layer._fast_cache, layer.weight_hh.value, keep, dy_steps, *dstate,
                                        want_dax=layer.need_input_grad)
    layer._fast_grads = grads
    return dax, None, dh, [dh0, dc0]


class StepViews(Sequence):
    """``views(t)`` for t = 0..T-1, made on access: the per-step caches the reference loop keeps as
    lists (``_caches``, ``_prev``), read from the kernel's arrays over time."""

    def __init__(self, views, T):
        self._views, self._T = views, T

    def __len__(self):
        return self._T

    def __getitem__(self, t):
        if isinstance(t, slice):
            return [self._views(k) for k in range(*t.indices(self._T))]
        if not -self._T <= t < self._T:
            raise IndexError(t)
        return self._views(t % self._T)


def forward(x, W_ih, bias, W_hh, h0, c0, keep, want_hs):
    """The forward time loop. ``x`` ``(L, C, T, B)`` (L = M, or 1 for an input shared by the
    models), ``W_ih`` ``(M, 4H, C)``, ``bias`` ``(M, 4H)`` (b_ih + b_hh) or None, ``W_hh``
    ``(M, 4H, H)``, ``h0``/``c0`` ``(M, H, B)`` (any strides), ``keep`` ``(L, B, T)`` or None.

    Returns ``(h, c, gates, tanh_c, z_in, c_in, hs)``: the final state ``(M, H, B)``; per step the
    gates i, f, g, o ``(M, T, 4H, B)``, tanh(c_t) and the c entering it ``(M, T, H, B)`` (time-major:
    a step's block is contiguous), and what entered the step's product and a one,
    ``[h_{t-1}; x_t; 1]`` ``(M, H + C + 1, T, B)`` (the layer's layout; ``z_in[:, :H]`` is the
    reference's ``_h_in``, and the weight and bias gradients are one product with it); the output h_t of every step ``(M, H, T, B)``
    if ``want_hs`` else None."""
    M, G4, H = W_hh.shape
    L, C, T, B = x.shape
    dt = W_hh.dtype
    h = np.array(h0, dt, order="C")  # the kernel's running state, updated in place
    c = np.array(c0, dt, order="C")
    gates = np.empty((M, T, G4, B), dt)
    tanh_c, c_in = np.empty((M, T, H, B), dt), np.empty((M, T, H, B), dt)
    z_in = np.empty((M, H + C + 1, T, B), dt)
    z_in[:, H + C] = 1  # a row of ones: the weight-gradient product sums dax for the bias too
    hs = np.empty((M, H, T, B), dt) if want_hs else np.empty((1, 1, 1, 1), dt)
    bias = np.zeros((M, G4), dt) if bias is None else np.ascontiguousarray(bias, dt)
    x, k = np.ascontiguousarray(x, dt), _keep_steps(keep, dt)
    Wz = np.concatenate((W_hh, W_ih), axis=-1).astype(dt, copy=False)  # [W_hh W_ih]: (M, 4H, H + C)

    def part(s, b0, b1):  # models s (a slice), columns b0:b1; shared inputs (leading axis 1) whole
        _forward(_models(x, s), Wz[s], bias[s], h[s], c[s], _models(k, s), keep is not None, gates[s],
                 tanh_c[s], z_in[s], c_in[s], _models(hs, s), want_hs, b0, b1)

    _split(part, None, M, B)
    return h, c, gates, tanh_c, z_in, c_in, hs if want_hs else None


def backward(gates, tanh_c, c_in, z_in, W_hh, keep, dy, dh, dc, want_dax=True):
    """The backward time loop, from the forward's caches (``z_in``: ``[h_{t-1}; x_t; 1]`` of
    every step, for the parameter gradients), and the parameter gradients. ``dy`` ``(M, H, T, B)``: dL/dh_t
    of every step's output (None: only the last state has a gradient); ``dh``/``dc`` ``(M, H, B)``:
    what reaches the final state.

    Returns ``(dax, dh_steps, dh0, dc0, (dW_ih, dW_hh, db))``: the pre-activation gradients
    ``(M, 4H, T, B)`` (the input and hidden sides are equal for the LSTM), dL/dh_t of every step
    ``(M, T, H, B)`` (for the per-step norms), the gradients reaching the initial state
    ``(M, H, B)``, and the parameter gradients -- [dW_hh dW_ih db] = dax @ z_in^T over all T*B
    columns, one product per model (:func:`glassnet.fast.lstm_products.weight_grads_model`;
    summing db in the loop cost ~0.9 ms), made by the kernel right after the model's time loop
    (its dax, 400 KB in lstm16, mostly still in cache: the backward with the products 6.93 ->
    6.41 ms, lstm16 one thread, min of 30 interleaved at load 1.7), or, when the batch columns are split over
    threads, after all loops in fixed blocks of rows. Either way each entry is the same sum in
    the same order, so the numbers do not depend on the split.

    Where a model's steps of dL/da fit in a core's L2 (``STEPS_BYTES``; lstm16: 400 KB, ``lstm``'s
    1.6 MB do not), each thread writes them time-major into its own ``(T, 4H, B)`` block, reused
    model after model, and the products read that
    (:func:`glassnet.fast.lstm_products.weight_grads_steps`, the same sums in the same order):
    the feature-major dax, 6.5 MB of fresh memory a step in lstm16, is then written only if
    ``want_dax`` (the layer's dL/dx needs it), else the returned dax is a read-only NaN view
    (``np.broadcast_to``: its reshape is free, and a reader would see NaN, not stale numbers).
    Measured (lstm16, one thread, forward and backward of both versions alternated in one
    process, 30 x 10 calls, load ~1.9): the backward 6.64 -> 5.65 and 6.66 -> 5.57 ms (median)."""
    M, T, G4, B = gates.shape
    H = G4 // 4
    K = z_in.shape[1]
    dt = gates.dtype
    dh = np.array(dh, dt, order="C")
    dc = np.array(dc, dt, order="C")
    # the weight gradients from each thread's own time-major steps (see the docstring) when those
    # fit in a core's L2 (STEPS_BYTES) -- unless the columns are split over threads (products after
    # the loops, from dax) or the batch is not whole vectors (a vector would straddle two steps:
    # another order of the sums)
    from_steps = (T * G4 * B * dt.itemsize <= STEPS_BYTES and not _splits_columns(M, B)
                  and B % (8 if dt == np.float32 else 4) == 0)
    want_dax = want_dax or not from_steps
    dax = np.empty((M, G4, T, B), dt) if want_dax else np.empty((1, 1, 1, 1), dt)
    dh_steps = np.empty((M, T, H, B), dt)
    dWz = np.empty((M, G4, K), dt)
    dys = np.empty((1, 1, 1, 1), dt) if dy is None else np.ascontiguousarray(dy, dt)
    k, W_hh = _keep_steps(keep, dt), np.ascontiguousarray(W_hh)
    d_all, z_all = dax.reshape(dax.shape[0], dax.shape[1], -1), z_in.reshape(M, K, T * B)

    def part(s, b0, b1):
        da_steps = np.empty((T if from_steps else 0, G4, B), dt)  # this thread's, reused model after model
        _backward(gates[s], tanh_c[s], c_in[s], W_hh[s], _models(k, s), keep is not None, _models(dys, s),
                  dy is not None, dh[s], dc[s], da_steps, _models(dax, s), want_dax, dh_steps[s], b0, b1,
                  from_steps, _models(d_all, s), z_all[s], dWz[s], True)

    def weights(s, r):  # models s, gate rows r
        weight_grads(d_all[s], z_all[s], dWz[s], r.start, r.stop)

    _split(part, weights, M, B, G4)
    if not want_dax:  # nothing reads it (the layer's dx is not asked for): a NaN view, no memory
        dax = np.broadcast_to(np.array(np.nan, dt), (M, G4, T, B))
    return dax, dh_steps, dh, dc, (np.ascontiguousarray(dWz[..., H:K - 1]), np.ascontiguousarray(dWz[..., :H]),
                                   np.ascontiguousarray(dWz[..., K - 1]))


STEPS_BYTES = 512 << 10  # a model's time-major dL/da at most this big: the products read it from L2 (see backward)
ROW_BLOCK = 64  # gate rows per weight-gradient product (fixed, so a thread count changes no number)
SPLIT_COLUMNS = 64  # batch columns a thread needs before one model's batch is split (see _split)


def _split(part, after, M, B, rows=0):
    """``part(models, b0, b1)`` over all models and batch columns. One call on one thread; with
    BLAS allowed n > 1 threads (:func:`glassnet.fast.chunks.run`; the kernels release the GIL, BLAS
    runs one-threaded), each thread takes a contiguous share of the models -- or, with fewer models
    than threads and at least 64 batch columns a thread (``SPLIT_COLUMNS``), a share of the batch
    columns (a multiple of 16), and then ``after(all models, rows)`` (if given) runs over the gate
    rows in fixed blocks of ``ROW_BLOCK``, the blocks shared by the threads: what a part with
    every column does itself (the backward's weight-gradient products). Models, columns and row
    blocks are independent and the blocks fixed, so a split
    changes no number. Fewer columns are not split: at B = 32 (``lstm``, one model) two 16-column
    shares took twice the CPU time of one thread (lstm fit steps, 12.4 against 6.5 ms, load 1.8;
    wall 12.3 against 6.3) -- likely the rows' shared cache lines, which both threads write.
    Measured (lstm16 fit steps, 2 threads, wall ms, 3 interleaved rounds at
    load 3.5-4.4): split by models 92, 74, 120; one call 101, 99, 135; the reference 200, 183, 149
    (before the weight gradients moved here, and with them BLAS's threads out of the step)."""
    from . import chunks  # noqa: PLC0415

    every = slice(None)
    blocks = [slice(r, min(r + ROW_BLOCK, rows)) for r in range(0, rows, ROW_BLOCK)]
    n = _threads(M, B)
    if n <= 1:
        part(slice(0, M), 0, B)
        return
    if M >= n:
        bounds = [M * i // n for i in range(n + 1)]
        chunks.run(lambda i: part(slice(bounds[i], bounds[i + 1]), 0, B), n)
        return
    cols = [min(B, 16 * round(B * i / (16 * n))) for i in range(n)] + [B]
    chunks.run(lambda i: part(slice(0, M), cols[i], cols[i + 1]), n)
    if after is not None:
        chunks.run(lambda i: after(every, blocks[i]), len(blocks))


def _threads(M, B):
    """How many threads :func:`_split` runs ``M`` models of ``B`` columns on."""
    from . import chunks  # noqa: PLC0415

    return min(max(M, B // SPLIT_COLUMNS), chunks.threads())


def _splits_columns(M, B):
    """Whether :func:`_split` shares the batch columns (not the models) among its threads."""
    n = _threads(M, B)
    return 1 < n and M < n


def _models(a, s):
    """``a[s]``, or all of ``a`` when its leading axis is 1 (shared by the models, or a dummy)."""
    return a if a.shape[0] == 1 else a[s]


def _keep_steps(keep, dt):
    """``(L, T, B)`` contiguous (step t of model m is a contiguous row), or a dummy."""
    if keep is None:
        return np.ones((1, 1, 1), dt)
    return np.ascontiguousarray(np.asarray(keep, dt).transpose(0, 2, 1))


# -- float32 sigmoid and tanh for the gates ---------------------------------------------------
# -- kernels ----------------------------------------------------------------------------------
# error_model="numpy": a division does not test for zero (Python's check is a branch that keeps
# the batch loops from vectorizing). fastmath={"contract"} only: a * b + c may be one fused
# multiply-add (one rounding instead of two; the order of operations is unchanged), the kernels
# 5-10% faster (lstm16's shape, interleaved at load 4.3). A thread's batch columns b0:b1 are
# looped as ``for bb in range(b1 - b0): b = b0 + bb`` with ``b0 = max(b0, 0)``: the plain
# ``range(b0, b1)`` (b possibly negative, so every index wraps) did not vectorize, 3x slower. Models are independent: each model's sequence is run whole
# (its state and weights stay in cache), with every innermost loop over the batch. The kernel's
# own arrays over time are time-major, so a step's gates are one contiguous block (measured: the
# backward 1.45x faster than with the layer's (M, 4H, T, B); flat loops over a step's whole block
# instead of batch rows were slower, the products above all). Serial: the models could be
# threads (prange), but on the 2 shared cores Numba's threads fight OpenBLAS' (see fast/conv.py).
@njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
def _forward(x, Wz, bias, h, c, keep, has_keep, gates, tanh_c, z_in, c_in, hs, want_hs, b0, b1):  # pragma: no cover
    """Steps t = 0..T-1 of every model; ``h``, ``c`` hold the initial state on entry, the final
    one on return."""
    b0 = max(b0, 0)  # columns b0:b1 (see the note above)
    M, T, G4, B = gates.shape
    H = G4 // 4
    C = Wz.shape[2] - H    # z_in's last row (ones) is not written here
    one = np.ones(1, gates.dtype)[0]
    a = np.empty((G4, B), gates.dtype)          # the step's pre-activations
    z = np.empty((H + C, B), gates.dtype)       # the step's [h; x_t]
    # every column (no thread split of the batch): a step's gate blocks are contiguous runs, looped
    # over as such -- three loops a step instead of one per gate row, each row's loop being 4
    # vector passes (B = 32) behind its own set-up; offsets >= 0 as max() says (see the note above)
    whole = b0 == 0 and b1 == B
    HB = max(H * B, 0)
    HB2, HB3 = 2 * HB, 3 * HB
    af = a.reshape(G4 * B)
    # flat views made once: a reshape inside the loops is a runtime call (and reference counts)
    # each time, 9 of them a step in the forward, 6 in the backward (measured, lstm16 one thread,
    # interleaved at load ~6: forward 5.48 -> 5.10 ms, backward 6.58 -> 6.26)
    zf = z.reshape((H + C) * B)
    gates_f, tanh_f = gates.reshape(M, T, G4 * B), tanh_c.reshape(M, T, HB)
    c_in_f, h_f, c_f = c_in.reshape(M, T, HB), h.reshape(M, HB), c.reshape(M, HB)
    for m in range(M):
        km = min(m, keep.shape[0] - 1)
        xm = x[min(m, x.shape[0] - 1)]
        for t in range(T):
            if whole:
                cm, ct, hm = c_f[m], c_in_f[m, t], h_f[m]
                for n in range(HB):
                    ct[n] = cm[n]
                for n in range(HB):
                    zf[n] = hm[n]
                for r in range(H):
                    for b in range(B):
                        z_in[m, r, t, b] = z[r, b]
            else:
                for r in range(H):
                    for bb in range(b1 - b0):
                        b = b0 + bb
                        z[r, b] = h[m, r, b]
                        z_in[m, r, t, b] = h[m, r, b]
                        c_in[m, t, r, b] = c[m, r, b]
            for q in range(C):
                for bb in range(b1 - b0):
                    b = b0 + bb
                    z[H + q, b] = xm[q, t, b]
                    z_in[m, H + q, t, b] = xm[q, t, b]
            matvec_bias(Wz[m], z, bias[m], a, b0, b1)   # a = [W_hh W_ih] [h; x_t] + b
            if whole:  # the step's i and f rows, its g rows and its o rows: three runs of memory
                gt = gates_f[m, t]
                for n in range(HB2):
                    gt[n] = sigmoid(af[n])
                for nn in range(HB):
                    gt[HB2 + nn] = tanh(af[HB2 + nn])
                for nn in range(HB):
                    gt[HB3 + nn] = sigmoid(af[HB3 + nn])
            else:
                for j in range(G4):
                    if 2 * H <= j < 3 * H:
                        for bb in range(b1 - b0):
                            b = b0 + bb
                            gates[m, t, j, b] = tanh(a[j, b])
                    else:
                        for bb in range(b1 - b0):
                            b = b0 + bb
                            gates[m, t, j, b] = sigmoid(a[j, b])
            if whole and not has_keep and not want_hs:  # the cell update as one run too
                gt, tt, hm, cm = gates_f[m, t], tanh_f[m, t], h_f[m], c_f[m]
                for n in range(HB):
                    i = gt[n]
                    f = gt[HB + n]
                    g = gt[HB2 + n]
                    o = gt[HB3 + n]
                    cn = f * cm[n] + i * g
                    tt[n] = tanh(cn)
                    hm[n] = o * tt[n]
                    cm[n] = cn
                continue
            for r in range(H):
                for bb in range(b1 - b0):
                    b = b0 + bb
                    i = gates[m, t, r, b]
                    f = gates[m, t, H + r, b]
                    g = gates[m, t, 2 * H + r, b]
                    o = gates[m, t, 3 * H + r, b]
                    cn = f * c[m, r, b] + i * g
                    tanh_c[m, t, r, b] = tanh(cn)
                    hn = o * tanh_c[m, t, r, b]
                    if has_keep:
                        k = keep[km, t, b]
                        hn = k * hn + (one - k) * h[m, r, b]
                        cn = k * cn + (one - k) * c[m, r, b]
                    h[m, r, b] = hn
                    c[m, r, b] = cn
                    if want_hs:
                        hs[m, r, t, b] = hn


@njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
def _backward(gates, tanh_c, c_in, W, keep, has_keep, dy, has_dy, dh, dc, da_steps, dax, want_dax,
              dh_steps, b0, b1, from_steps, d_all, z_all, dWz, keep_dh):  # pragma: no cover - compiled
    """Steps t = T-1..0 of every model; ``dh``, ``dc`` hold the gradient at the final state on
    entry, at the initial state on return; dL/dh_t of every step into ``dh_steps`` if ``keep_dh``
    (the compiled segments of :mod:`glassnet.fast.lstm_loop` do without: their working set then
    stays nearer a core's L2, ~2% of their time). With every column (b0 = 0, b1 = B), each model's
    parameter gradients too, right after its loop: ``dWz[m] = d_all[m] @ z_all[m]^T`` (``d_all``,
    ``z_all``: dax and the forward's ``[h_{t-1}; x_t; 1]`` as ``(M, rows, T*B)``)."""
    b0 = max(b0, 0)
    M, T, G4, B = gates.shape
    H = G4 // 4
    dt = gates.dtype
    one = np.ones(1, dt)[0]
    dhp = np.empty((H, B), dt)        # W_hh^T da
    zero = np.zeros(H, dt)            # its (absent) bias
    ch = np.zeros((H, B), dt)         # the carried parts at a masked step
    cc = np.zeros((H, B), dt)
    # every column, no mask, no per-step output gradient: the step's loops as runs over (unit,
    # column) pairs, as in _forward (one loop instead of one per unit)
    flat = b0 == 0 and b1 == B and not has_keep and not has_dy
    HB = max(H * B, 0)
    HB2, HB3 = 2 * HB, 3 * HB
    da_f = da_steps.reshape(da_steps.shape[0], G4 * B)
    da0 = np.empty((G4, B), dt)
    da0_f = da0.reshape(G4 * B)
    gates_f, tanh_f, c_in_f = gates.reshape(M, T, G4 * B), tanh_c.reshape(M, T, HB), c_in.reshape(M, T, HB)
    dh_f, dc_f = dh.reshape(M, HB), dc.reshape(M, HB)
    dh_steps_f = dh_steps.reshape(M, T, HB) if keep_dh else dh_steps.reshape(1, 1, 1)
    for m in range(M):
        km = min(m, keep.shape[0] - 1)
        for t in range(T - 1, -1, -1):
            # the step's pre-activation gradients, (4H, B) contiguous: step t's block, else one
            # block for every step, the kernel's own (lstm's shape: a view of da_steps made at
            # every step cost its backward ~4%, a view made once ~6%; min of 30 x 10, in one process)
            da, daf = (da_steps[t], da_f[t]) if from_steps else (da0, da0_f)
            if flat:
                gt, tt, ct = gates_f[m, t], tanh_f[m, t], c_in_f[m, t]
                hm, cm = dh_f[m], dc_f[m]
                if keep_dh:
                    hst = dh_steps_f[m, t]
                    for n in range(HB):
                        hst[n] = hm[n]
                for n in range(HB):
                    d = hm[n]
                    i = gt[n]
                    f = gt[HB + n]
                    g = gt[HB2 + n]
                    o = gt[HB3 + n]
                    tc = tt[n]
                    do = d * tc
                    dcell = cm[n] + d * o * (one - tc * tc)
                    daf[n] = dcell * g * i * (one - i)
                    daf[HB + n] = dcell * ct[n] * f * (one - f)
                    daf[HB2 + n] = dcell * i * (one - g * g)
                    daf[HB3 + n] = do * o * (one - o)
                    cm[n] = dcell * f
                if want_dax:
                    for j in range(G4):
                        for b in range(B):
                            dax[m, j, t, b] = da[j, b]
                matvec_bias(W[m].T, da, zero, dh[m], 0, B)   # dh_{t-1} = W_hh^T da
                continue
            for r in range(H):
                for bb in range(b1 - b0):
                    b = b0 + bb
                    d = dh[m, r, b] + dy[m, r, t, b] if has_dy else dh[m, r, b]
                    if keep_dh:
                        dh_steps[m, t, r, b] = d
                    e = dc[m, r, b]
                    if has_keep:
                        k = keep[km, t, b]
                        ch[r, b] = (one - k) * d
                        cc[r, b] = (one - k) * e
                        d = k * d
                        e = k * e
                    i = gates[m, t, r, b]
                    f = gates[m, t, H + r, b]
                    g = gates[m, t, 2 * H + r, b]
                    o = gates[m, t, 3 * H + r, b]
                    tc = tanh_c[m, t, r, b]
                    do = d * tc
                    dcell = e + d * o * (one - tc * tc)
                    da[r, b] = dcell * g * i * (one - i)
                    da[H + r, b] = dcell * c_in[m, t, r, b] * f * (one - f)
                    da[2 * H + r, b] = dcell * i * (one - g * g)
                    da[3 * H + r, b] = do * o * (one - o)
                    dc[m, r, b] = dcell * f
            if want_dax:
                for j in range(G4):
                    for bb in range(b1 - b0):
                        b = b0 + bb
                        dax[m, j, t, b] = da[j, b]
            matvec_bias(W[m].T, da, zero, dhp, b0, b1)   # dhp = W_hh^T da
            for r in range(H):
                for bb in range(b1 - b0):
                    b = b0 + bb
                    if has_keep:
                        dh[m, r, b] = dhp[r, b] + ch[r, b]
                        dc[m, r, b] = dc[m, r, b] + cc[r, b]
                    else:
                        dh[m, r, b] = dhp[r, b]
        if from_steps:  # the model's weight gradients while its steps' gradients are in cache
            weight_grads_steps(da_steps, z_all[m], dWz[m])
        elif b0 == 0 and b1 == B:
            weight_grads_model(d_all[m], z_all[m], dWz[m], 0, G4)
