"""The compiled training segments (glassnet.fast.loop) against the reference Trainer.

Each case trains the same network twice, once with the fast path forced on and once on the
reference path, and compares every parameter, momentum buffer and history curve. Float64 must
agree to 1e-12 (only the summation order differs); float32 within rounding.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet import fast

pytest.importorskip("numba")
from glassnet.fast import loop  # noqa: E402 - needs numba
from fit_paths import assert_same_fit, fit_counting_segments  # noqa: E402 - tests/fast/fit_paths.py

pytestmark = pytest.mark.filterwarnings("error::glassnet.fast.FastPathWarning")


def _data(kind: str, dtype, per_model: int | None = None, n: int = 12, seed: int = 0):
    rng = np.random.default_rng(seed)
    shape = (per_model, n) if per_model else (n,)
    x = rng.normal(size=shape + (5,)).astype(dtype)
    if kind == "classes":
        y = rng.integers(0, 4, size=shape)
    elif kind == "one-hot":  # GlassnetClassifier's training targets
        y = np.eye(4, dtype=dtype)[rng.integers(0, 4, size=shape)]
    elif kind == "probabilities":
        y = rng.dirichlet(np.ones(4), size=shape).astype(dtype)
    else:
        y = rng.uniform(0.05, 0.95, size=shape + (4,)).astype(dtype)
    return x, y


def _train(flag: bool, *, acts=("tanh", "sigmoid"), loss="half_sse", opt=lambda: gn.SGD(0.3), M=None,
           dtype="float64", per_model=False, steps=60, log_every=7, use_bias=(True, True), fit_kw=None,
           layer_kw=None, batch_size="full", targets="classes", n=12):
    kind = targets if loss == "softmax_cross_entropy" else "values"
    x, y = _data(kind, dtype, M if per_model else None, n=n)
    layers = [gn.Dense(6, acts[0], use_bias=use_bias[0], **(layer_kw or {})),
              gn.Dense(4, acts[1], use_bias=use_bias[1])]
    model = gn.Sequential(layers, input_shape=(5,), init=gn.init.Normal(std=0.6), seed=3, models=M, dtype=dtype)
    return fit_counting_segments(model, flag, x, y, loss=loss, optimizer=opt(), batch_size=batch_size, steps=steps,
                                 log_every=log_every, **(fit_kw or {}))


CASES = {
    "sigmoid-half_sse-plain": {},
    "relu-mse-momentum": dict(acts=("relu", "identity"), loss="mse", opt=lambda: gn.SGD(0.1, momentum=0.9)),
    "tanh-softmax-nesterov": dict(acts=("tanh", "identity"), loss="softmax_cross_entropy",
                                  opt=lambda: gn.SGD(0.2, momentum=0.8, nesterov=True)),
    "keras-momentum": dict(opt=lambda: gn.SGD(0.2, momentum=0.7, form="keras")),
    "keras-nesterov": dict(opt=lambda: gn.SGD(0.2, momentum=0.7, nesterov=True, form="keras")),
    "penalties": dict(fit_kw=dict(weight_decay=[1e-3, 0.0, 5e-2], l1=1e-3), M=3,
                      layer_kw=dict(kernel_regularizer=gn.L2(1e-2), bias_regularizer=gn.L1(1e-3))),
    "per-model-data": dict(M=4, per_model=True, opt=lambda: gn.SGD([0.1, 0.2, 0.3, 0.4], momentum=0.5)),
    "no-bias": dict(use_bias=(False, True), M=2),
    "ensemble-softmax": dict(M=5, acts=("relu", "identity"), loss="softmax_cross_entropy"),
    # mini-batches: each model's own shuffle, epochs that end inside and between segments
    "minibatch-shuffled": dict(M=3, batch_size=4, opt=lambda: gn.SGD(0.2, momentum=0.9)),
    "minibatch-per-model-data": dict(M=3, per_model=True, batch_size=3, loss="softmax_cross_entropy",
                                     acts=("relu", "identity")),
    "minibatch-in-order": dict(M=2, batch_size=6, fit_kw=dict(shuffle=False)),
    "minibatch-drop-last": dict(M=2, batch_size=5, fit_kw=dict(drop_last=True)),
    "batch-of-one": dict(batch_size=1, steps=100, log_every=30),
    # 11 models: padded to 16 SIMD lanes, the padding reading the last model's own data
    "padded-per-model-data": dict(M=11, per_model=True, batch_size=4, opt=lambda: gn.SGD(0.1, momentum=0.9)),
    # ragged: 12 rows in batches of 5 (5, 5, 2), so segments hold short batches inside and at their ends
    "ragged-shuffled": dict(M=3, batch_size=5, opt=lambda: gn.SGD(0.2, momentum=0.9)),
    "ragged-in-order-mse": dict(M=2, batch_size=5, loss="mse", acts=("relu", "identity"),
                                fit_kw=dict(shuffle=False)),
    "ragged-per-model-data": dict(M=11, per_model=True, batch_size=5, loss="softmax_cross_entropy",
                                  acts=("relu", "identity"), opt=lambda: gn.SGD(0.1, momentum=0.9)),
    "ragged-batch-of-11": dict(batch_size=11, steps=100, log_every=30),
    # a list of logged steps: dense, then sparse, then none until the last step
    "logged-step-list": dict(M=3, steps=90, log_every=[0, 2, 4, 6, 20, 40, 41, 60]),
    # softmax cross-entropy on float rows (one-hot, as GlassnetClassifier trains; probabilities)
    "softmax-one-hot": dict(M=4, acts=("tanh", "identity"), loss="softmax_cross_entropy", targets="one-hot"),
    "softmax-probabilities-ragged": dict(M=3, acts=("relu", "identity"), loss="softmax_cross_entropy",
                                         targets="probabilities", batch_size=5),
    # the search's shape: per-model one-hot rows, a ragged last batch, logged once per epoch
    "search-program": dict(M=12, per_model=True, batch_size=8, n=30, log_every=4, steps=40,
                           loss="softmax_cross_entropy", targets="one-hot", acts=("relu", "identity"),
                           opt=lambda: gn.SGD([0.01, 0.05, 0.2] * 4, momentum=[0.0, 0.9] * 6)),
}


#: the two kernels: model-minor loops (small networks), one model at a time (wider layers,
#: glassnet.fast.dense_medium; forced here by lowering the threshold between them)
KERNELS = {"loops": 1 << 30, "medium": 0}


def _use(kernel, monkeypatch):
    monkeypatch.setattr(loop, "MAX_STEP_WORK", KERNELS[kernel])


@pytest.mark.parametrize("kernel", sorted(KERNELS))
@pytest.mark.parametrize("case", sorted(CASES))
def test_compiled_segments_equal_the_reference_in_float64(case, kernel, monkeypatch):
    _use(kernel, monkeypatch)
    kw = CASES[case]
    ref = _train(False, **kw)
    got = _train(True, **kw)
    assert got[2], "the compiled segments were not used"
    assert not ref[2]
    assert_same_fit(ref, got, 1e-12)


@pytest.mark.parametrize("case", sorted(c for c in CASES if (CASES[c].get("M") or 1) < loop.SMALL_MODELS))
def test_a_few_models_run_one_at_a_time_with_bit_for_bit_the_vectorized_kernels_numbers(case, monkeypatch):
    """A few models: the scalar kernel (dense_small), whose numbers equal the model-minor kernel's
    exactly, so a network trains the same alone and in an ensemble."""
    ran = []
    real = loop._kernel_small
    monkeypatch.setattr(loop, "_kernel_small", lambda: ran.append(1) or real())
    small = _train(True, **CASES[case])
    assert ran, "the one-at-a-time kernel did not run"
    monkeypatch.setattr(loop, "SMALL_MODELS", 1)  # the model-minor loops for any number of models
    ran.clear()
    vectorized = _train(True, **CASES[case])
    assert not ran and vectorized[2]
    assert_same_fit(small, vectorized, 0)


@pytest.mark.parametrize("case", ["tanh-softmax-nesterov", "ensemble-softmax", "softmax-one-hot", "sigmoid-half_sse-plain"])
def test_the_scalar_twin_equals_the_vectorized_kernels_in_float32(case, monkeypatch):
    """The twin's bit-for-bit equality in float32 too, where each e^z is rounded to the arrays'
    precision before the softmax sums it (the vectorized kernel once summed the float64 values:
    a network in an ensemble trained differently from itself alone, in the last bits)."""
    kw = dict(CASES[case], dtype="float32", steps=30, M=3)
    small = _train(True, **kw)
    monkeypatch.setattr(loop, "SMALL_MODELS", 1)  # the model-minor loops for any number of models
    vectorized = _train(True, **kw)
    assert small[2] and vectorized[2]
    assert_same_fit(small, vectorized, 0)


@pytest.mark.parametrize("kernel", sorted(KERNELS))
def test_every_supported_activation_and_loss_combination_is_equal(kernel, monkeypatch):
    _use(kernel, monkeypatch)
    for act, loss in itertools.product(("identity", "sigmoid", "tanh", "relu"), ("half_sse", "mse")):
        kw = dict(acts=(act, act), loss=loss, steps=30)
        assert_same_fit(_train(False, **kw), _train(True, **kw), 1e-12)


@pytest.mark.parametrize("kw", [dict(), dict(loss="softmax_cross_entropy", targets="one-hot", acts=("relu", "identity"),
                                          batch_size=5, per_model=True)], ids=["full-batch", "ragged-one-hot"])
@pytest.mark.parametrize("kernel", sorted(KERNELS))
def test_float32_agrees_within_rounding(kw, kernel, monkeypatch):
    _use(kernel, monkeypatch)
    kw = dict(M=3, dtype="float32", steps=80, opt=lambda: gn.SGD(0.2, momentum=0.9), **kw)
    ref, got = _train(False, **kw), _train(True, **kw)
    assert got[2]
    assert_same_fit(ref, got, 2e-4)


def test_ragged_batches_advance_the_batcher_as_next_does():
    from glassnet.training.batching import Batcher

    x, y = _data("one-hot", "float64", per_model=3, n=12)
    streams = gn.Sequential([gn.Dense(2)], input_shape=(5,), seed=0, models=3).streams
    a = Batcher(x, y, 5, True, streams, True)
    b = Batcher(x, y, 5, True, gn.Sequential([gn.Dense(2)], input_shape=(5,), seed=0, models=3).streams, True)
    idx, sizes = a.take_batches(7)  # 5, 5, 2 | 5, 5, 2 | 5
    assert sizes.tolist() == [5, 5, 2, 5, 5, 2, 5]
    for s in range(7):
        xb, _ = b.next()
        np.testing.assert_array_equal(xb, x[np.arange(3)[:, None], idx[:, s, :sizes[s]]])
    np.testing.assert_array_equal(a.next()[0], b.next()[0])  # and both go on alike


def test_a_diverging_member_is_stopped_at_the_same_step_and_the_rest_go_on():
    kw = dict(M=3, acts=("relu", "identity"), loss="mse", opt=lambda: gn.SGD([0.05, 40.0, 0.1]), steps=90,
              log_every=5)
    ref, got = _train(False, **kw), _train(True, **kw)
    assert got[2]
    assert ref[1].status[1] == "diverged" and ref[1].status[0] != "diverged"
    assert_same_fit(ref, got, 1e-12)


def test_segments_stop_before_every_logged_step_and_the_last_step():
    _, hist, calls = _train(True, steps=50, log_every=10)
    # logged: 0, 10, ..., 40 and 49; unlogged stretches 1-9, 11-19, ..., 41-48
    assert calls == [9, 9, 9, 9, 8]
    assert list(hist.steps) == [0, 10, 20, 30, 40, 49]


@pytest.mark.parametrize("what", ["schedule", "adam", "epoch-callback", "clip", "sample-weight"])
def test_runs_the_plan_cannot_reproduce_stay_on_the_reference(what):
    class EveryEpoch(gn.Callback):
        def on_epoch_end(self, state):
            pass

    fit_kw = {"schedule": dict(callbacks=[gn.StepDecay(10, 0.5)]),
              "epoch-callback": dict(callbacks=[EveryEpoch()]),
              "clip": dict(clip_norm=1.0),
              "sample-weight": dict(sample_weight=np.linspace(0.5, 1.5, 12))}.get(what, {})
    opt = (lambda: gn.Adam(0.01)) if what == "adam" else (lambda: gn.SGD(0.1))
    x, y = _data("values", "float64")
    model = gn.Sequential([gn.Dense(6, "tanh"), gn.Dense(4)], input_shape=(5,), seed=0, dtype="float64")
    tr = gn.Trainer(model, x, y, loss="mse", optimizer=opt(), batch_size="full", log_every=10, **fit_kw)
    with fast.forced(True):
        assert loop.plan_for(tr) is None
    if what == "adam":  # and an eligible twin is planned (the test can fail)
        tr2 = gn.Trainer(model, x, y, loss="mse", optimizer=gn.SGD(0.1), batch_size="full", log_every=10)
        with fast.forced(True):
            assert loop.plan_for(tr2) is not None


def test_the_switch_turns_the_plan_off():
    x, y = _data("values", "float64")
    model = gn.Sequential([gn.Dense(6, "tanh"), gn.Dense(4)], input_shape=(5,), seed=0, dtype="float64")
    tr = gn.Trainer(model, x, y, loss="mse", batch_size="full", log_every=10)
    with fast.reference():
        assert loop.plan_for(tr) is None
    with fast.forced(True):
        assert loop.plan_for(tr) is not None


def test_glassnet_fast_0_in_the_environment_selects_the_reference():
    code = "import glassnet as gn; print(gn.fast.enabled())"
    env = {**os.environ, "GLASSNET_FAST": "0"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    env["GLASSNET_FAST"] = "1"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


@pytest.mark.filterwarnings("default::glassnet.fast.FastPathWarning")
def test_a_failing_kernel_falls_back_with_one_warning(monkeypatch):
    def broken(*args):
        raise RuntimeError("simulated compile failure")

    monkeypatch.setattr(loop, "_kernel", lambda: broken)
    monkeypatch.setattr(loop, "_kernel_major", lambda: broken)
    monkeypatch.setattr(loop, "_kernel_small", lambda: broken)
    monkeypatch.setattr(fast, "_broken", {"activations"})  # its compiled sigmoid/tanh: exact to rounding only
    ref = _train(False, steps=40)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        got = _train(True, steps=40)
        again = _train(True, steps=40)
    msgs = [w for w in seen if issubclass(w.category, fast.FastPathWarning)]
    assert len(msgs) == 1 and "simulated compile failure" in str(msgs[0].message)
    assert_same_fit(ref, got, 0)
    assert_same_fit(ref, again, 0)


def test_wide_layers_run_one_model_at_a_time_and_huge_ones_on_the_reference():
    x, y = _data("one-hot", "float32", per_model=3, n=40)
    x = np.concatenate([x] * 13, axis=-1)  # 65 inputs
    x = np.concatenate([x] * 3)[:8]
    y = np.concatenate([y] * 3)[:8]
    # work 3*32*(65w + 4w): 6.6k, 424k, 27M; the number of models does not change the kernel
    for width, models, kind in [(1, 8, False), (1, 1, False), (64, 8, True), (64, 1, True), (4096, 8, None)]:
        xm, ym = x[:models], y[:models]
        model = gn.Sequential([gn.Dense(width, "relu"), gn.Dense(4)], input_shape=(65,), seed=0, models=models)
        tr = gn.Trainer(model, xm, ym, loss="softmax_cross_entropy", batch_size=32, log_every=10)
        with fast.forced(True):
            plan = loop.plan_for(tr)
        assert (plan is None) if kind is None else (plan.major is kind)


def test_the_one_at_a_time_kernel_splits_models_over_two_threads_and_equals_the_reference(monkeypatch):
    monkeypatch.setattr(loop, "MAX_STEP_WORK", 0)
    monkeypatch.setattr(loop, "THREAD_MIN_WORK", 1)
    halves = []
    real = loop._kernel_major
    monkeypatch.setattr(loop, "_kernel_major", lambda: (lambda *a: halves.append(a[4].shape[0]) or real()(*a)))
    kw = dict(M=7, per_model=True, steps=60, log_every=30, batch_size=5, opt=lambda: gn.SGD(0.2, momentum=0.9),
              fit_kw=dict(weight_decay=1e-3))
    ref, got = _train(False, **kw), _train(True, **kw)
    assert sorted(set(halves)) == [3, 4]
    assert_same_fit(ref, got, 1e-12)


def test_a_large_padded_ensemble_split_over_two_threads_equals_the_reference(monkeypatch):
    split = []
    real = loop._models
    monkeypatch.setattr(loop, "_models", lambda args, cut, M: split.append(cut) or real(args, cut, M))
    kw = dict(M=37, per_model=True, steps=60, log_every=30, batch_size=4, opt=lambda: gn.SGD(0.2, momentum=0.9),
              fit_kw=dict(weight_decay=1e-3))
    ref, got = _train(False, **kw), _train(True, **kw)
    assert split, "the two-thread path was not taken"
    assert_same_fit(ref, got, 1e-12)
