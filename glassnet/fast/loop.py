"""Compiled training segments: many steps of small dense networks in one call.

The Trainer's loop (:mod:`glassnet.training.trainer`) stays the one training loop. Between two
*logged* steps nothing is observed: no callback runs, no loss is recorded. For a run that fits the
plan below, the Trainer hands such a stretch of ``k`` unlogged steps to :func:`Plan.run`, which
makes the same ``k`` updates in one compiled call (models are independent between logged steps).
Two kernels, chosen by the multiply-adds of one model's step (``MAX_STEP_WORK``), never by the
number of models, so a network trains the same alone and in an ensemble:

* :func:`~glassnet.fast.dense_steps.dense_steps`, small networks: plain loops over the model axis
  innermost (model-minor arrays), which the compiler vectorizes across models; for a few models
  (below :data:`SMALL_MODELS`), its twin :func:`~glassnet.fast.dense_small.dense_steps_small`
  runs them one at a time with the same arithmetic in the same order (bit for bit the same
  numbers);
* :func:`~glassnet.fast.dense_medium.dense_steps_medium`, wider layers (up to ``MAX_BLAS_WORK``):
  one model at a time, one BLAS call per product and vectorized loops for everything between
  the products; what it saves is NumPy's per-call costs, which at a 64-16-10 MLP and batch 32
  were most of a reference step.

Large calls split the models between two threads (:func:`glassnet.fast.run_pair`). Logged steps, and the last step of every
:meth:`~glassnet.training.Trainer.run` call, still run on the readable reference code, so the
history, callbacks, the NaN guard and the layers' caches are exactly the reference's.

What one compiled step computes, per model (the reference's maths, in its order):

    a_0 = x;   z_l = a_{l-1} W_l + b_l;   a_l = f_l(z_l)                      (forward)
    g_L = dL/da_L  (half_sse: (a_L - y)/B;  mse: 2 (a_L - y)/(B K);
                    softmax_cross_entropy: (softmax(z_L) - onehot(y))/B on integer labels,
                    (softmax(z_L) - y)/B on one-hot or probability rows; B: this batch's rows)
    dz_l = g_l * f_l'(z_l);   dW_l = a_{l-1}^T dz_l;   db_l = sum_b dz_l;   g_{l-1} = dz_l W_l^T
    (residual layer l:  a_l = f_l(z_l) + a_{l-1};   g_{l-1} = dz_l W_l^T + g_l)
    dW_l += lambda_2 W_l + lambda_1 sign(W_l)                                  (penalties)
    SGD:  W <- W - lr dW   (momentum, Nesterov, both forms: see :class:`glassnet.optimizers.SGD`)
    frozen models: delta * 0 (the reference's mask, NaN included)

The plan covers: :class:`~glassnet.Sequential` of :class:`~glassnet.Dense` layers with identity,
sigmoid, tanh or relu, and graph :class:`~glassnet.Model` chains of them (one input, one output,
each layer reading the one before), with residual connections ``Add()([h, Dense(h)])``
(:func:`_dense_chain`; a skip over two layers, or into a branch, trains on the reference);
losses half_sse, mse, softmax_cross_entropy (integer labels or float rows);
SGD in every form; global and per-layer L1/L2; shared or per-model data; float32 and float64; full
batch or mini-batches (shuffled or not, an epoch's ragged last batch included: each step carries
its own row count); no sample weights, clipping, or callbacks that act at each step or epoch
(learning-rate schedules); at most ``MAX_BLAS_WORK`` multiply-adds per model-step. Anything else
runs on the reference path. ``tests/fast/test_loop.py`` holds the plan to the reference (float64 to
1e-12). An LSTM with a Dense head has its own plan and kernel (:mod:`glassnet.fast.lstm_loop`),
chosen by :func:`plan_for` with the same conditions on the run (:func:`trainer_supported`).
"""

from __future__ import annotations

import numpy as np

from .. import fast
from ..activations import Identity, ReLU, Sigmoid, Tanh
from ..callbacks import Callback
from ..layers.dense import Dense
from ..layers.merge import Add
from ..layers.recurrent import LSTM
from ..losses import MSE, HalfSSE, SoftmaxCrossEntropy
from ..optimizers import SGD
from ..regularizers import L1, L2

KERNEL = "loop"

#: multiply-adds of one model's step above which the one-model-at-a-time kernel
#: (:func:`~glassnet.fast.dense_medium.dense_steps_medium`: a BLAS call per product, vectorized
#: loops between them) beats the model-minor loops (:func:`~glassnet.fast.dense_steps.dense_steps`,
#: for small networks: the seed-003 autoencoder, full batch, 3 x 8 x (8x3 + 3x8) = 1,152).
#: Measured 2026-11-30 09:48 UTC (load 1.5-1.9), 16 models, float32, CPU us per model-step, loops vs
#: one at a time: 8-3-8 full batch of 8 (1.2k) 2.7 vs 4.8; 16-8-4 at batch 16 (7.7k) 8.5 vs 7.7;
#: 24-16-5 at batch 8 (11k) 10.7 vs 7.9; 32-16-8 at 16 (31k) 24.7 vs 11.2; 64-8-10 at 32 (57k) 42 vs
#: 15.5. The choice does not depend on the number of models, so a network trains with the same
#: kernel, bit for bit, alone and in an ensemble (GlassnetSearchCV equals GridSearchCV exactly).
MAX_STEP_WORK = 1 << 13
#: beyond this (the 784-256-256-10 MLP at batch 32: 26M) the products dominate and NumPy's
#: per-call costs don't matter: the reference runs. Below it the products are BLAS calls either
#: way; loops written in Numba instead reached 1.2-6 GMAC/s on rows of 8-16 and 10-13 on rows of
#: 32-64, against sgemm's 10-16 at 32 x 64 x 16 and 22-26 at 32 x 784 x 32 (one thread), so
#: no threshold of its own: dense_medium's module docstring has the numbers.
MAX_BLAS_WORK = 1 << 22
#: below this many models the model-minor loops' inner loops over models run a single iteration
#: each and their bookkeeping is the step: the scalar twin (bit for bit the same numbers) runs the
#: models one at a time. Measured, 8-3-8 autoencoder at batch 8, float64, us per step of all models
#: (vectorized vs scalar, load 2.5): 1 model 6.7-10 vs 2.4-4.4; 2: 11-13 vs 7.6-8.5; 3: 15-16 vs
#: 10-12; 4: 9.5-14 vs 11-14; 5: 16-19 vs 18-22.
SMALL_MODELS = 4
#: fewer unlogged steps than this are not worth a compiled call
MIN_SEGMENT = 3

_ACTIVATIONS = {Identity: 0, Sigmoid: 1, Tanh: 2, ReLU: 3}
_LOSSES = {HalfSSE: 0, MSE: 1, SoftmaxCrossEntropy: 2}
#: softmax cross-entropy on float target rows (one-hot or probabilities: the sklearn classifier's)
_SOFTMAX_ROWS = 3
#: optimizer codes: 0 plain SGD, 1 PyTorch-form momentum, 2 Keras-form momentum
_PLAIN, _TORCH, _KERAS = 0, 1, 2


class Plan:
    """A Trainer's run that the compiled segments can carry; :meth:`run` makes ``k`` updates."""

    min_segment = MIN_SEGMENT

    def __init__(self, trainer, dense: list, acts: np.ndarray, loss_code: int, skips: np.ndarray):
        self.trainer = trainer
        self.dense = dense
        self.acts = acts
        #: per layer: residual, ``a_l = f(z_l) + a_{l-1}``
        self.skips = skips
        self.loss_code = loss_code
        self.widths = np.array([dense[0].input_shape[0]] + [l.units for l in dense], np.int64)
        self.has_bias = np.array([l.use_bias for l in dense], np.bool_)
        batcher = trainer.batcher
        rows = batcher.n if batcher.full else batcher.b
        #: multiply-adds of one model's step (forward and the two backward products)
        self.work = 3 * rows * int(np.sum(self.widths[:-1] * self.widths[1:]))
        # a segment's batch indices are (models or 1, k, b) int64: keep them under ~8 MB
        per_step = 0 if batcher.full else rows * (trainer.model.M if batcher.shuffle else 1)
        self.max_segment = max(MIN_SEGMENT, (1 << 20) // per_step) if per_step else 1 << 62
        #: one model at a time (wide layers: dense_medium), or the model-minor loops
        self.major = self.work > MAX_STEP_WORK

    def run(self, k: int) -> None:
        """Make ``k`` training updates in one compiled call, advancing everything the reference
        would: parameters, momentum buffers, ``optimizer.t`` and the batcher (its epochs,
        shuffles and position).

        The parameters are packed model-minor, ``(P, M)``: every inner loop of the kernel runs
        over the models, which the compiler vectorizes (8 float32 models per instruction), and one
        compiled signature per dtype serves every depth and width. Packing copies a small
        network's parameters (microseconds).
        """
        if self.major:
            self._run_major(k, _kernel_major())
            return
        if self.trainer.model.M < SMALL_MODELS:  # too few models for the vectorized loops
            self._run_major(k, _kernel_small())
            return
        t = self.trainer
        opt, model = t.optimizer, t.model
        M, dtype = model.M, model.dtype
        Mp = M if M < LANES else -(-M // LANES) * LANES  # whole SIMD widths (see LANES)
        dense = self.dense
        W, b, vW, vb, code = self._packed(lambda arrays: _pack(arrays, M, dtype, Mp))
        rates = _pad(_penalty_rates(t, dense, M), Mp)
        x, yf, yi = self._data()
        idx, sizes = t.batcher.take_batches(k)
        args = (x, yf, yi, idx, W, b, vW, vb, self.widths, self.has_bias, self.acts,
                _pad(opt.lr, Mp), _pad(opt.momentum, Mp), _pad(opt.active, Mp), bool(opt.any_frozen or Mp > M),
                rates, self.loss_code, code, bool(opt.nesterov), k, sizes, self.skips)
        _in_chunks(args, Mp, self.work * k)
        self._write_back(_unpack, W, b, vW, vb)
        opt.t += k

    def _packed(self, pack):
        """``(W, b, vW, vb, code)``: the layers' weights, biases and (with momentum) velocities
        packed by ``pack``, and the kernel's optimizer code (velocities ``(1, 1)`` without)."""
        opt, dense = self.trainer.optimizer, self.dense
        W = pack([l.W.value for l in dense])
        b = pack([l.b.value for l in dense if l.use_bias])
        if not opt._use_momentum:
            vW = vb = np.zeros((1, 1), W.dtype)  # unused by the kernel
            return W, b, vW, vb, _PLAIN
        vW = pack([opt.state[l.W]["v"] for l in dense])
        vb = pack([opt.state[l.b]["v"] for l in dense if l.use_bias])
        return W, b, vW, vb, (_TORCH if opt.form == "pytorch" else _KERAS)

    def _write_back(self, unpack, W, b, vW, vb) -> None:
        """Copy the kernel's packed results back into the layers (and velocities) with ``unpack``."""
        opt, dense = self.trainer.optimizer, self.dense
        unpack(W, [l.W.value for l in dense])
        unpack(b, [l.b.value for l in dense if l.use_bias])
        if opt._use_momentum:
            unpack(vW, [opt.state[l.W]["v"] for l in dense])
            unpack(vb, [opt.state[l.b]["v"] for l in dense if l.use_bias])

    def _run_major(self, k: int, kernel) -> None:
        """:meth:`run` with a one-model-at-a-time ``kernel`` (:func:`_kernel_major`,
        :func:`_kernel_small`): parameters packed model-major ``(M, P)``, models split between
        two threads when there is enough work."""
        t = self.trainer
        opt, model = t.optimizer, t.model
        M, dtype = model.M, model.dtype
        dense = self.dense
        W, b, vW, vb, code = self._packed(lambda arrays: _pack_major(arrays, M, dtype))
        rates = np.ascontiguousarray(_penalty_rates(t, dense, M).transpose(2, 0, 1))
        x, yf, yi = self._data()
        idx, sizes = t.batcher.take_batches(k)
        lr, mu, active = (np.broadcast_to(np.asarray(a), (M,)) for a in (opt.lr, opt.momentum, opt.active))
        args = [x, yf, yi, idx, W, b, vW, vb, self.widths, self.has_bias, self.acts, np.ascontiguousarray(lr),
                np.ascontiguousarray(mu), np.ascontiguousarray(active), bool(opt.any_frozen), rates, self.loss_code,
                code, bool(opt.nesterov), k, sizes, self.skips]
        _major_in_halves(kernel, args, M, self.work * k)
        self._write_back(_unpack_major, W, b, vW, vb)
        opt.t += k

    def _data(self):
        return segment_data(self.trainer, self.loss_code)


def segment_data(trainer, loss_code: int):
    """A compiled segment's ``x`` ``(1 or M, N, ...)``, float targets ``yf`` ``(1 or M, N, K)`` and
    integer labels ``yi`` ``(1 or M, N)`` (a dummy for the loss that does not use it)."""
    t = trainer
    dtype = t.model.dtype
    x = t.x if t.per_model_data else t.x[None]
    y = t.y
    if not (y.ndim >= 2 and t.per_model_data and y.shape[0] == t.model.M and y.shape[1] == t.n):
        y = y[None]
    if loss_code == 2:  # integer labels; code 3 (float rows) reads yf, as the regressions
        yf, yi = np.zeros((1, 1, 1), dtype), np.ascontiguousarray(y.reshape(y.shape[:2]), np.int64)
    else:
        yf, yi = np.ascontiguousarray(y.reshape(y.shape[0], y.shape[1], -1)), np.zeros((1, 1), np.int64)
    return np.ascontiguousarray(x), yf, yi


#: multiply-adds per thread below which a second thread costs more than it saves
THREAD_MIN_WORK = 1 << 18


def _kernel():
    """The compiled step kernel, :func:`glassnet.fast.dense_steps.dense_steps` (imports Numba)."""
    from .dense_steps import dense_steps  # noqa: PLC0415 - Numba only once a plan runs

    return dense_steps


def _in_chunks(args, M: int, work: int) -> None:
    """Run the kernel on all models, or on two halves on two threads when there is enough work
    (the kernel releases the GIL). Each half gets contiguous copies of its models' columns, so
    the kernel's inner loops start at 0 and vectorize; the results are copied back."""
    kernel = _kernel()
    if M < 16 or work * M < 2 * THREAD_MIN_WORK or not fast.may_split():
        kernel(*args)
        return
    half = (M // 2 + 7) // 8 * 8  # whole SIMD widths per thread
    parts = [_models(args, slice(0, half), M), _models(args, slice(half, M), M)]
    fast.run_pair(kernel, parts[0], parts[1])
    for i in _PACKED:  # parameters and velocities: (P, M) in the arguments
        if args[i].shape[1] == M:
            args[i][:, :half], args[i][:, half:] = parts[0][i], parts[1][i]


def _kernel_major():
    """The one-model-at-a-time kernel, :func:`glassnet.fast.dense_medium.dense_steps_medium`."""
    from .dense_medium import dense_steps_medium  # noqa: PLC0415 - Numba only once a plan runs

    return dense_steps_medium


def _kernel_small():
    """The scalar one-model-at-a-time kernel for fewer than :data:`SMALL_MODELS` models,
    :func:`glassnet.fast.dense_small.dense_steps_small` (bit for bit :func:`_kernel`'s numbers)."""
    from .dense_small import dense_steps_small  # noqa: PLC0415 - Numba only once a plan runs

    return dense_steps_small


def _major_in_halves(kernel, args: list, M: int, work: int) -> None:
    """Run a model-major kernel on all models, or on two halves on two threads: model-major
    arrays split into contiguous views along axis 0, so the halves write in place."""
    if M < 2 or work * M < 2 * THREAD_MIN_WORK or not fast.may_split():
        kernel(*args)
        return
    half = M // 2
    parts = []
    for cut in (slice(0, half), slice(half, M)):
        part = list(args)
        for i in (0, 1, 2, 3):  # x, yf, yi, idx: one row per model, or one shared row
            if args[i].shape[0] > 1:
                part[i] = args[i][cut]
        for i in (4, 5, 6, 7, 11, 12, 13, 15):  # W, b, vW, vb, lr, mu, active, rates
            if args[i].shape[0] == M:
                part[i] = args[i][cut]
        parts.append(part)
    fast.run_pair(kernel, parts[0], parts[1])


def _pack_major(arrays: list, M: int, dtype) -> np.ndarray:
    """``(M, P)``: each ``(M, ...)`` array flattened per model, side by side (at least one column)."""
    if not arrays:
        return np.zeros((M, 1), dtype)
    return np.ascontiguousarray(np.concatenate([a.reshape(M, -1) for a in arrays], axis=1), dtype)


def _unpack_major(flat: np.ndarray, arrays: list) -> None:
    """Write the columns of ``flat`` back into ``arrays`` (the inverse of :func:`_pack_major`)."""
    o = 0
    for a in arrays:
        n = a[0].size
        a[...] = flat[:, o:o + n].reshape(a.shape)
        o += n


#: positions in the kernel's arguments of x, yf, yi, idx (model-major: axis 0), W, b, vW, vb
#: (packed: axis 1), lr, mu, active (axis 0) and rates (axis 2)
_MAJOR, _PACKED, _PER_MODEL, _RATES = (0, 1, 2, 3), (4, 5, 6, 7), (11, 12, 13), 15


def _models(args, cut: slice, M: int) -> list:
    """The kernel's arguments for the models in ``cut`` (contiguous copies)."""
    out = list(args)
    for i in _PER_MODEL:
        out[i] = np.ascontiguousarray(args[i][cut])
    for i in _MAJOR:
        rows = args[i].shape[0]
        if rows > 1:  # one row per real model (shared data and dummies have 1 row); the padding
            #           models past the last real one read its rows, as in the kernel
            lo = min(cut.start, rows - 1)
            out[i] = np.ascontiguousarray(args[i][lo:max(lo + 1, min(cut.stop, rows))])
    for i in _PACKED:
        if args[i].shape[1] == M:
            out[i] = np.ascontiguousarray(args[i][:, cut])
    out[_RATES] = np.ascontiguousarray(args[_RATES][:, :, cut])
    return out


#: models per SIMD register (8 float32 with AVX2): from this many models on, the packed arrays are
#: padded to a multiple, so the kernel's loops over models never fall into a scalar remainder
#: (measured: 30 models 1.8 -> 1.0 us CPU per model-step). Padding models have learning rate 0 and
#: are masked as frozen: they change nothing and are dropped on unpacking. Fewer models are not
#: padded: 1 model padded to 8 cost 3.4x more.
LANES = 8


def _pack(arrays: list, M: int, dtype, Mp: int) -> np.ndarray:
    """``(P, Mp)``: each ``(M, ...)`` array flattened per model, stacked along P, models last,
    zero-padded to ``Mp`` models."""
    out = np.zeros((sum(a[0].size for a in arrays) or 1, Mp), dtype)
    o = 0
    for a in arrays:
        n = a[0].size
        out[o:o + n, :M] = a.reshape(M, n).T
        o += n
    return out


def _pad(a: np.ndarray, Mp: int) -> np.ndarray:
    """``a`` with its last axis (the models) zero-padded to ``Mp``."""
    if a.shape[-1] == Mp:
        return a
    out = np.zeros(a.shape[:-1] + (Mp,), a.dtype)
    out[..., :a.shape[-1]] = a
    return out


def _unpack(flat: np.ndarray, arrays: list) -> None:
    """Write the rows of ``flat`` back into ``arrays`` (the inverse of :func:`_pack`)."""
    o = 0
    for a in arrays:
        n = a[0].size
        a[...] = flat[o:o + n, :a.shape[0]].T.reshape(a.shape)
        o += n


def plan_for(trainer):
    """A :class:`Plan` (or, for an LSTM with a Dense head, a
    :class:`glassnet.fast.lstm_loop.LSTMPlan`) if ``trainer``'s run is one the compiled segments
    reproduce, else None."""
    if not trainer_supported(trainer):
        return None
    model = trainer.model
    chain = _dense_chain(model)
    if chain is None:
        return None
    layers, skips = chain
    if type(layers[0]) is LSTM:
        from . import lstm_loop  # noqa: PLC0415 - only for such a model

        return lstm_loop.plan_for(trainer, layers, skips)
    if trainer.x.ndim != (3 if trainer.per_model_data else 2):
        return None
    acts = []
    for layer in layers:
        if type(layer) is not Dense or type(getattr(layer.act, "fn", None)) not in _ACTIVATIONS:
            return None
        if not layer.W.value.flags.c_contiguous or (layer.use_bias and not layer.b.value.flags.c_contiguous):
            return None
        acts.append(_ACTIVATIONS[type(layer.act.fn)])
    loss_code = loss_code_for(trainer, layers[-1].units, acts[-1])
    if loss_code is None:
        return None
    for p, reg in trainer.terms:
        if type(reg) not in (L1, L2):
            return None
    plan = Plan(trainer, layers, np.array(acts, np.int64), loss_code, np.array(skips, np.bool_))
    if plan.work > MAX_BLAS_WORK:
        return None
    # checked last: it imports Numba, which a run the plan cannot carry should not pay for
    return plan if fast.available(KERNEL) else None


def trainer_supported(trainer) -> bool:
    """What every compiled segment needs of a run: plain SGD (any form), a loss it computes, no
    sample weights, clipping or callbacks acting at a step or an epoch, one float dtype for the
    data and the model, one array of inputs and targets, contiguous momentum buffers."""
    model, opt, loss = trainer.model, trainer.optimizer, trainer.loss
    if trainer.weights is not None or trainer.clip_value is not None or trainer.clip_norm is not None:
        return False
    if type(opt) is not SGD or type(loss) not in _LOSSES:
        return False
    if any(type(cb).on_step_begin is not Callback.on_step_begin or type(cb).on_epoch_end is not Callback.on_epoch_end
           for cb in trainer.callbacks):
        return False
    if model.dtype not in (np.float32, np.float64) or isinstance(trainer.x, list) or isinstance(trainer.y, list):
        return False
    if trainer.x.dtype != model.dtype:
        return False
    return not (opt._use_momentum and not all(opt.state[p]["v"].flags.c_contiguous for p in model.param_list))


def loss_code_for(trainer, units: int, last_act: int) -> int | None:
    """The kernels' loss code for ``trainer``'s loss and targets (softmax cross-entropy: integer
    labels, or float rows of ``units``, after an identity output), or None if they don't fit."""
    loss_code, y, dtype = _LOSSES[type(trainer.loss)], trainer.y, trainer.model.dtype
    if loss_code == 2:
        if last_act != 0:
            return None
        if not np.issubdtype(y.dtype, np.integer):
            if y.dtype != dtype or y.shape[-1] != units:
                return None
            return _SOFTMAX_ROWS
    elif y.dtype != dtype:
        return None
    return loss_code


def _dense_chain(model) -> tuple[list, list] | None:
    """``(layers, skips)`` when ``model`` is a chain of layers, one after another: a
    :class:`~glassnet.Sequential` (no skips), or a graph :class:`~glassnet.Model` with one input
    and one output whose nodes are layers each reading the previous one's output, and residual
    ``Add()([h, layer(h)])`` nodes (``skips[l]``: layer l's output is added to its input); else None."""
    kind = type(model).__name__
    if kind == "Sequential":
        return list(model.layers), [False] * len(model.layers)
    if kind != "Model" or len(model.inputs) != 1 or len(model.outputs) != 1:
        return None
    layers, skips = [], []
    current, before = model.inputs[0], None  # the chain's last tensor; the last layer's input
    for node in model.nodes:
        if type(node.layer) is Add:  # closes a residual block: adds the last layer's input and output
            ids = sorted(id(t) for t in node.inputs)
            if before is None or ids != sorted((id(before), id(current))):
                return None
            skips[-1] = True
            before = None  # one Add per layer
        elif getattr(node.layer, "merges", False) or node.inputs[0] is not current:
            return None
        else:
            layers.append(node.layer)
            skips.append(False)
            before = current
        current = node.output
    return (layers, skips) if current is model.outputs[0] else None


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
