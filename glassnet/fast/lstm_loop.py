"""Compiled training segments of an LSTM classifier or regressor: ``Sequential([LSTM(H), Dense(K)])``.

The dense networks' segments (:mod:`glassnet.fast.loop`) for a recurrent model: between two
logged steps the Trainer hands ``k`` unlogged steps to :meth:`LSTMPlan.run`, which makes them in
one compiled call per thread (:func:`glassnet.fast.lstm_steps.lstm_head_steps`), each thread
training its share of the models, every step of one model before the next. Logged steps, and the
last step of every :meth:`~glassnet.training.Trainer.run` call, run on the layers' own code (the
per-step fast kernels of :mod:`glassnet.fast.lstm` or the reference), so the history, callbacks,
the NaN guard and the glass box's caches (``step_grad_norms``, the trace) are the usual ones.

What the plan covers: a model of two layers, an :class:`~glassnet.layers.LSTM` (last state only,
no mask, no initial state set, with or without biases) and a :class:`~glassnet.Dense` head with
identity, sigmoid, tanh or relu; losses half_sse, mse, softmax cross-entropy (integer labels or
float rows); SGD in every form; no weight penalties; shared or per-model data; float32 and
float64; full batch or mini-batches (shuffled or not, ragged last batches included). Anything else
trains step by step. ``tests/fast/test_lstm_loop.py`` holds it to the reference (float64 to
1e-12) and an ensemble to its members trained alone (bit for bit).

Measured (``lstm16``: 16 models, batch 32, 50 steps, 8 -> 16 -> Dense 4, float32, 2 threads; fits
with and without the plan alternated in one process, 2026-11-30 ~19:55 UTC, the machine in its
slow state): ms a step, fits of 50 steps 4.10 against 6.30 (median of 6), of 10 steps (as in
``benchmarks/sequence.py``: 8 steps in a segment, the first and last step by step) 6.06 against
8.05. The segment on one thread, 16 models, by removing parts of a copy: forward 2.8 ms a step,
backward 2.7, the updates one entry at a time 0.3 (written as runs,
:func:`glassnet.fast.lstm_steps.update_run`, the whole segment went 5.78 -> 5.47 ms, medians of
15 alternated calls). The benchmark's ratios: ``benchmarks/README.md``.
"""

from __future__ import annotations

import numpy as np

from .. import fast
from ..layers.dense import Dense
from ..layers.recurrent import FAST_KERNEL as LSTM_KERNEL
from ..layers.recurrent import LSTM
from . import loop


class LSTMPlan:
    """A Trainer's run of an LSTM with a Dense head that the compiled segments can carry."""

    min_segment = loop.MIN_SEGMENT

    def __init__(self, trainer, lstm: LSTM, head: Dense, act: int, loss_code: int):
        self.trainer, self.lstm, self.head = trainer, lstm, head
        self.act, self.loss_code = act, loss_code
        batcher = trainer.batcher
        # a segment's batch indices are (models or 1, k, b) int64: keep them under ~8 MB
        per_step = 0 if batcher.full else batcher.b * (trainer.model.M if batcher.shuffle else 1)
        self.max_segment = max(loop.MIN_SEGMENT, (1 << 20) // per_step) if per_step else 1 << 62

    def run(self, k: int) -> None:
        """Make ``k`` training updates, advancing what the reference would: the parameters, the
        momentum buffers, ``optimizer.t`` and the batcher. The models are split over the threads
        :func:`glassnet.fast.chunks.run` has (contiguous shares; each thread its models' whole
        segment, so the threads meet once a segment, not twice a step)."""
        from . import chunks  # noqa: PLC0415
        from .lstm import STEPS_BYTES  # noqa: PLC0415 - Numba only once a plan runs
        from .lstm_steps import lstm_head_steps  # noqa: PLC0415

        t = self.trainer
        opt, M, dtype = t.optimizer, t.model.M, t.model.dtype
        lstm, head = self.lstm, self.head
        x, yf, yi = loop.segment_data(t, self.loss_code)
        idx, sizes = t.batcher.take_batches(k)
        params = [lstm.weight_ih, lstm.weight_hh]
        params += [lstm.bias_ih, lstm.bias_hh] if lstm.use_bias else [None, None]
        params += [head.W, head.b if head.use_bias else None]
        values = [_or_dummy(p, M, dtype, lambda q: q.value) for p in params]
        if opt._use_momentum:
            velocities = [_or_dummy(p, M, dtype, lambda q: opt.state[q]["v"]) for p in params]
            code = loop._TORCH if opt.form == "pytorch" else loop._KERAS
        else:
            velocities, code = [np.zeros((1, 1), dtype)] * len(params), loop._PLAIN
        lr, mu, active = (np.ascontiguousarray(np.broadcast_to(np.asarray(a, dtype), (M,)))
                          for a in (opt.lr, opt.momentum, opt.active))
        lanes = 8 if dtype == np.float32 else 4
        W_ih, W_hh, b_ih, b_hh, Wd, bd = values

        def part(i, bounds):
            s = slice(bounds[i], bounds[i + 1])
            lstm_head_steps(_share(x, s), _share(yf, s), _share(yi, s), _share(idx, s), sizes, k, W_ih[s], W_hh[s],
                            _share(b_ih, s), _share(b_hh, s), lstm.use_bias, Wd[s], _share(bd, s), head.use_bias,
                            self.act, *(_share(v, s) for v in velocities), lr[s], mu[s], active[s],
                            bool(opt.any_frozen), code, bool(opt.nesterov), self.loss_code, lanes, STEPS_BYTES)

        n = min(M, chunks.threads())
        bounds = [M * i // n for i in range(n + 1)]
        chunks.run(lambda i: part(i, bounds), n)
        opt.t += k


def _or_dummy(p, M, dtype, read):
    """``read(p)``, or a ``(M, 1)`` zero array where the parameter is absent (no bias)."""
    return np.zeros((M, 1), dtype) if p is None else read(p)


def _share(a, s):
    """``a[s]`` (a model-major array's models ``s``), or all of ``a`` when its leading axis is 1
    (shared by the models, or a dummy)."""
    return a if a.shape[0] == 1 else a[s]


def plan_for(trainer, layers: list, skips: list) -> LSTMPlan | None:
    """An :class:`LSTMPlan` if ``trainer`` (already through :func:`glassnet.fast.loop.trainer_supported`)
    trains ``[LSTM, Dense]`` as the kernel does, else None."""
    if len(layers) != 2 or any(skips) or type(layers[0]) is not LSTM or type(layers[1]) is not Dense:
        return None
    lstm, head = layers
    if lstm.return_sequences or lstm.mask_value is not None or lstm.initial_state is not None:
        return None
    fn = type(getattr(head.act, "fn", None))
    if fn not in loop._ACTIVATIONS:
        return None
    if trainer.terms or trainer.x.ndim != (4 if trainer.per_model_data else 3):
        return None
    params = trainer.model.param_list
    if not all(p.value.flags.c_contiguous and p.value.dtype == trainer.model.dtype for p in params):
        return None
    act = loop._ACTIVATIONS[fn]
    loss_code = loop.loss_code_for(trainer, head.units, act)
    if loss_code is None:
        return None
    # checked last: it imports Numba
    ok = fast.available(loop.KERNEL) and fast.available(LSTM_KERNEL)
    return LSTMPlan(trainer, lstm, head, act, loss_code) if ok else None
