"""Compiled training segments for graph models (glassnet.fast.loop): chains of Dense layers with
residual ``Add()([h, Dense(h)])`` connections train on every kernel (the model-minor loops, their
scalar twin for a few models, one model at a time with BLAS) and equal the reference Trainer;
other graphs stay on the reference.
"""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet import fast

pytest.importorskip("numba")
from glassnet.fast import loop  # noqa: E402 - needs numba
from fit_paths import assert_same_fit, fit_counting_segments  # noqa: E402 - tests/fast/fit_paths.py

pytestmark = pytest.mark.filterwarnings("error::glassnet.fast.FastPathWarning")

WIDTH = 6


def _residual(M, *, acts=("relu", "relu", "identity"), skips=(False, True, True), dtype="float64", first_skip=False,
              layer_first=False):
    """Input(5) -> Dense(6) -> [Add(h, Dense(6)(h))]... -> Dense(3); ``skips[i]``: layer i is residual
    (``layer_first``: the Adds read ``[Dense(6)(h), h]``)."""
    inp = gn.Input((WIDTH if first_skip else 5,))
    h = inp
    for act, skip in zip(acts, skips):
        out = gn.Dense(WIDTH, activation=act)(h)
        h = gn.Add()([out, h] if layer_first else [h, out]) if skip else out
    return gn.Model(inp, gn.Dense(3)(h), init=gn.init.Normal(std=0.5), seed=list(range(3, 3 + M)), dtype=dtype)


def _data(M, n_in, *, per_model=False, n=20, dtype="float64"):
    rng = np.random.default_rng(1)
    shape = (M, n) if per_model else (n,)
    return rng.normal(size=shape + (n_in,)).astype(dtype), rng.normal(size=shape + (3,)).astype(dtype)


def _fit(build, flag, *, per_model=False, opt=lambda: gn.SGD(0.05), **fit_kw):
    model = build()
    n_in = model.input_shape[0]
    x, y = _data(model.M, n_in, per_model=per_model)
    kw = dict(loss="mse", optimizer=opt(), batch_size=fit_kw.pop("batch_size", 8), steps=60, log_every=13)
    kw.update(fit_kw)
    return fit_counting_segments(model, flag, x, y, record=lambda plan, k: (plan.major, tuple(plan.skips)), **kw)


CASES = {
    "relu-skips": dict(build=lambda: _residual(3)),
    "identity-skip-momentum": dict(build=lambda: _residual(2, acts=("tanh", "identity", "relu")),
                                   opt=lambda: gn.SGD(0.05, momentum=0.9)),
    # sigmoid and tanh take their derivative from z: the output holds f(z) + the input
    "sigmoid-and-tanh-skips": dict(build=lambda: _residual(3, acts=("relu", "sigmoid", "tanh"))),
    "skip-around-the-first-layer": dict(build=lambda: _residual(2, skips=(True, False, True), first_skip=True,
                                                                acts=("tanh", "relu", "sigmoid"))),
    "add-reads-the-layer-first": dict(build=lambda: _residual(2, skips=(False, True, True), layer_first=True)),
    "per-model-data-nesterov-decay": dict(build=lambda: _residual(4), per_model=True, weight_decay=1e-3,
                                          opt=lambda: gn.SGD([0.01, 0.02, 0.03, 0.04], momentum=0.8, nesterov=True)),
    "full-batch": dict(build=lambda: _residual(3), batch_size="full"),
    # 11 models: the model-minor kernel pads them to 16 lanes
    "padded-ensemble": dict(build=lambda: _residual(11, acts=("relu", "tanh", "relu")),
                            opt=lambda: gn.SGD(0.05, momentum=0.9)),
}

#: the kernels: model-minor loops (small steps; their scalar twin below loop.SMALL_MODELS models)
#: and one model at a time (glassnet.fast.dense_medium), chosen here by the threshold between them
KERNELS = {"loops": (1 << 30, False), "medium": (0, True)}


@pytest.mark.parametrize("kernel", sorted(KERNELS))
@pytest.mark.parametrize("case", sorted(CASES))
def test_residual_chains_train_compiled_and_equal_the_reference_in_float64(case, kernel, monkeypatch):
    threshold, major = KERNELS[kernel]
    monkeypatch.setattr(loop, "MAX_STEP_WORK", threshold)
    kw = dict(CASES[case])
    build = kw.pop("build")
    ref = _fit(build, False, **kw)
    got = _fit(build, True, **kw)
    assert not ref[2]
    assert got[2] and all(m is major for m, _ in got[2]), "the compiled segments were not used"
    assert any(any(skips) for _, skips in got[2])
    assert_same_fit(ref, got, 1e-12)


@pytest.mark.parametrize("case", ["relu-skips", "sigmoid-and-tanh-skips", "skip-around-the-first-layer"])
def test_a_few_residual_nets_one_at_a_time_give_the_vectorized_kernels_numbers_bit_for_bit(case, monkeypatch):
    """Below loop.SMALL_MODELS models the scalar kernel (dense_small) runs; its numbers equal the
    model-minor kernel's exactly, skips included."""
    build = CASES[case]["build"]
    monkeypatch.setattr(loop, "MAX_STEP_WORK", 1 << 30)
    ran = []
    real = loop._kernel_small
    monkeypatch.setattr(loop, "_kernel_small", lambda: ran.append(1) or real())
    small = _fit(build, True)
    assert ran and small[2]
    monkeypatch.setattr(loop, "SMALL_MODELS", 1)
    ran.clear()
    vectorized = _fit(build, True)
    assert not ran and vectorized[2]
    assert_same_fit(small, vectorized, 0)


def test_the_skips_the_plan_reads_are_the_adds_of_the_graph():
    got = _fit(lambda: _residual(2, skips=(False, True, False), layer_first=True), True)
    assert {skips for _, skips in got[2]} == {(False, True, False, False)}


def test_a_residual_ensemble_trains_each_network_as_it_trains_alone_bit_for_bit(monkeypatch):
    """The kernel's numbers for a model depend only on that model: 5 residual nets on the model axis
    (split over two threads) equal 5 single fits exactly."""
    monkeypatch.setattr(loop, "MAX_STEP_WORK", 0)
    monkeypatch.setattr(loop, "THREAD_MIN_WORK", 1)
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(20, 5)), rng.normal(size=(20, 3))

    def fit(seeds):
        inp = gn.Input((5,))
        h = gn.Dense(WIDTH, activation="relu")(inp)
        h = gn.Add()([h, gn.Dense(WIDTH, activation="relu")(h)])
        model = gn.Model(inp, gn.Dense(3)(h), seed=seeds, dtype="float64")
        return fit_counting_segments(model, True, x, y, loss="mse", optimizer=gn.SGD(0.05, momentum=0.9),
                                     batch_size=8, steps=60, log_every=13)

    ensemble = fit([0, 1, 2, 3, 4])
    assert ensemble[2]
    for m in range(5):
        alone = fit([m])
        for name, value in alone[0].params.items():
            assert np.array_equal(ensemble[0].params[name][m], value[0]), (m, name)


def _plan(model, x, y, **kw):
    trainer = gn.Trainer(model, x, y, loss="mse", batch_size=8, log_every=10, **kw)
    with fast.forced(True):
        return loop.plan_for(trainer)


def _two_layer_skip():
    inp = gn.Input((6,))
    h = gn.Dense(6, activation="relu")(gn.Dense(6, activation="relu")(inp))
    return gn.Model(inp, gn.Dense(3)(gn.Add()([inp, h])))


def _concatenate():
    inp = gn.Input((5,))
    h = gn.Dense(6, activation="relu")(inp)
    return gn.Model(inp, gn.Dense(3)(gn.Concatenate()([h, gn.Dense(6)(h)])))


def _add_of_three():
    inp = gn.Input((6,))
    a = gn.Dense(6, activation="relu")(inp)
    return gn.Model(inp, gn.Dense(3)(gn.Add()([inp, a, a])))


def _two_inputs():
    a, b = gn.Input((5,)), gn.Input((5,))
    return gn.Model([a, b], gn.Dense(3)(gn.Add()([gn.Dense(6)(a), gn.Dense(6)(b)])))


def _branches():
    inp = gn.Input((5,))
    h = gn.Dense(6, activation="relu")(inp)
    return gn.Model(inp, gn.Dense(3)(gn.Add()([gn.Dense(6)(h), gn.Dense(6)(h)])))


@pytest.mark.parametrize("build", [_two_layer_skip, _concatenate, _add_of_three, _branches],
                         ids=["skip-over-two-layers", "concatenate", "add-of-three", "two-branches"])
def test_graphs_the_kernels_do_not_reproduce_stay_on_the_reference(build):
    model = build()
    x, y = _data(1, model.input_shape[0])
    assert _plan(model, x, y) is None


def test_two_input_graphs_stay_on_the_reference():
    x, y = _data(1, 5)
    assert _plan(_two_inputs(), [x, x], y) is None


def test_a_graph_chain_without_adds_takes_the_plan_as_a_sequential_does():
    x, y = _data(1, 5)
    inp = gn.Input((5,))
    plain = gn.Model(inp, gn.Dense(3)(gn.Dense(6, activation="relu")(inp)))
    plan = _plan(plain, x, y)
    assert plan is not None and not plan.major and not plan.skips.any()
