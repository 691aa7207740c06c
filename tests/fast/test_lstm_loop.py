"""Compiled training segments of an LSTM with a Dense head (glassnet.fast.lstm_loop): they train as
the reference Trainer does (float64 to 1e-12), an ensemble trains bit for bit as its members alone,
and every run the kernel does not reproduce trains step by step.
"""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet import fast

pytest.importorskip("numba")
from glassnet.fast import lstm_loop  # noqa: E402 - needs numba

pytestmark = pytest.mark.filterwarnings("error::glassnet.fast.FastPathWarning")

T, C, H, K = 7, 3, 5, 4


def _net(M=3, *, dtype="float64", head="identity", lstm_bias=True, head_bias=True, seed=0, **lstm_kw):
    seeds = seed if M == 1 else list(range(seed, seed + M))
    return gn.Sequential([gn.LSTM(H, use_bias=lstm_bias, **lstm_kw), gn.Dense(K, activation=head, use_bias=head_bias)],
                         input_shape=(T, C), seed=seeds, dtype=dtype)


def _data(n=30, *, M=None, dtype="float64", target="labels"):
    rng = np.random.default_rng(5)
    lead = (n,) if M is None else (M, n)
    x = rng.normal(size=lead + (T, C)).astype(dtype)
    if target == "labels":
        return x, rng.integers(0, K, lead)
    if target == "rows":  # one-hot float rows
        return x, np.eye(K, dtype=dtype)[rng.integers(0, K, lead)]
    return x, rng.normal(size=lead + (K,)).astype(dtype)


def _fit(net, x, y, flag, *, steps=40, log_every=11, opt=lambda: gn.SGD(0.1), **kw):
    """``(history, parameters, segments)`` of a fit with the fast path on (``flag``) or off;
    ``segments``: the k of every compiled segment."""
    segments = []
    real = lstm_loop.LSTMPlan.run

    def counting(plan, k):
        segments.append(k)
        return real(plan, k)

    kw.setdefault("loss", "softmax_cross_entropy")
    kw.setdefault("batch_size", 8)
    lstm_loop.LSTMPlan.run = counting
    try:
        with fast.forced(flag):
            hist = net.fit(x, y, optimizer=opt(), steps=steps, log_every=log_every, progress=False, **kw)
    finally:
        lstm_loop.LSTMPlan.run = real
    return hist, {k: np.array(v) for k, v in net.params.items()}, segments


def _assert_same(a, b, tol):
    (ha, pa, _), (hb, pb, _) = a, b
    assert pa.keys() == pb.keys()
    for name in pa:
        np.testing.assert_allclose(pa[name], pb[name], rtol=tol, atol=tol, err_msg=name)
    np.testing.assert_allclose(ha["loss"], hb["loss"], rtol=tol, atol=tol)


CASES = {
    "labels, full batch": dict(fit=dict(batch_size=30)),
    "labels, shuffled batches of 8 (ragged last batch of 6)": dict(fit=dict(shuffle=True)),
    "in order, batches of 12": dict(fit=dict(batch_size=12, shuffle=False)),
    "pytorch momentum": dict(fit=dict(opt=lambda: gn.SGD(0.05, momentum=0.9))),
    "keras nesterov": dict(fit=dict(opt=lambda: gn.SGD(0.05, momentum=0.8, nesterov=True, form="keras"))),
    "per-model learning rates": dict(fit=dict(opt=lambda: gn.SGD([0.1, 0.02, 0.3]))),
    "mse, tanh head": dict(net=dict(head="tanh"), data=dict(target="values"), fit=dict(loss="mse")),
    "half_sse, relu head, no biases": dict(net=dict(head="relu", lstm_bias=False, head_bias=False),
                                           data=dict(target="values"), fit=dict(loss="half_sse")),
    "softmax on one-hot rows": dict(data=dict(target="rows")),
    "per-model data": dict(data=dict(M=3), fit=dict(shuffle=True)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_segments_train_as_the_reference(case):
    spec = CASES[case]
    x, y = _data(**spec.get("data", {}))
    runs = [_fit(_net(**spec.get("net", {})), x, y, flag, **spec.get("fit", {})) for flag in (True, False)]
    assert sum(runs[0][2]) >= 30 and runs[1][2] == []  # most steps compiled; none with the switch off
    _assert_same(runs[0], runs[1], 1e-12)


def test_float32_segments_agree_with_the_reference_to_rounding():
    x, y = _data(dtype="float32")
    runs = [_fit(_net(dtype="float32"), x, y, flag, shuffle=True) for flag in (True, False)]
    assert runs[0][2] and not runs[1][2]
    _assert_same(runs[0], runs[1], 1e-4)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_an_ensemble_trains_bit_for_bit_as_its_members_alone(dtype):
    """5 models split over the threads (3 + 2) against 5 single fits: every parameter equal."""
    x, y = _data(dtype=dtype)
    together = _fit(_net(5, dtype=dtype, seed=3), x, y, True, shuffle=False)[1]
    for m in range(5):
        alone = _fit(_net(1, dtype=dtype, seed=3 + m), x, y, True, shuffle=False)[1]
        for name, value in alone.items():
            np.testing.assert_array_equal(together[name][m], value.reshape(together[name][m].shape),
                                          err_msg=f"model {m}, {name}")


class _StopSecond(gn.callbacks.Callback):
    """Stops model 1 at the first logged step (its parameters freeze from that step on)."""

    def on_log(self, state, logs):
        state.stop_models(np.arange(state.M) == 1, "early_stopped")


def test_a_stopped_model_stays_as_it_was_and_the_others_train_as_the_reference():
    x, y = _data()
    start = {k: np.array(v) for k, v in _net().params.items()}
    runs = [_fit(_net(), x, y, flag, opt=lambda: gn.SGD(0.1, momentum=0.9), callbacks=[_StopSecond()])
            for flag in (True, False)]
    assert runs[0][2] and not runs[1][2]
    _assert_same(runs[0], runs[1], 1e-12)
    for name, value in runs[0][1].items():
        np.testing.assert_array_equal(value[1], start[name][1], err_msg=name)
        assert not np.array_equal(value[0], start[name][0]), name


NOT_COVERED = {
    "return_sequences + Flatten": lambda: gn.Sequential([gn.LSTM(H, return_sequences=True), gn.Flatten(), gn.Dense(K)],
                                                       input_shape=(T, C), seed=[0, 1]),
    "masked steps": lambda: _net(2, mask_value=0.0),
    "two LSTMs": lambda: gn.Sequential([gn.LSTM(H, return_sequences=True), gn.LSTM(H), gn.Dense(K)],
                                       input_shape=(T, C), seed=[0, 1]),
    "GRU": lambda: gn.Sequential([gn.GRU(H), gn.Dense(K)], input_shape=(T, C), seed=[0, 1]),
    "weight penalty": lambda: _net(2, kernel_regularizer=gn.L2(1e-3)),
}


@pytest.mark.parametrize("case", list(NOT_COVERED))
def test_what_the_kernel_does_not_reproduce_trains_step_by_step(case):
    x, y = _data()
    assert _fit(NOT_COVERED[case](), x, y, True)[2] == []


@pytest.mark.parametrize("kw", [dict(clip_norm=1.0), dict(sample_weight=np.linspace(0.5, 1.5, 30))],
                         ids=["clipping", "sample weights"])
def test_fit_options_the_kernel_does_not_apply_train_step_by_step(kw):
    x, y = _data()
    assert _fit(_net(2), x, y, True, **kw)[2] == []
