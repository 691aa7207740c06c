"""The one-model-at-a-time kernel for medium dense networks (glassnet.fast.dense_medium).

Networks in its own range of work (a 24-16-5 MLP at batch 8: 3 x 8 x (24x16 + 16x5) = 11k
multiply-adds per step, between MAX_STEP_WORK and MAX_BLAS_WORK), trained once on the reference
path and once with the compiled segments: float64 to 1e-12. And the property the sklearn search
rests on: a network's numbers do not depend on the other networks of the call (bit for bit).
"""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn

pytest.importorskip("numba")
from glassnet.fast import loop  # noqa: E402 - needs numba
from fit_paths import assert_same_fit, fit_counting_segments  # noqa: E402 - tests/fast/fit_paths.py

pytestmark = pytest.mark.filterwarnings("error::glassnet.fast.FastPathWarning")

N_IN, HIDDEN, K = 24, 16, 5


def _data(M, n, dtype, targets):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(M, n, N_IN)).astype(dtype)
    labels = rng.integers(0, K, size=(M, n))
    if targets == "labels":
        return x, labels
    if targets == "one-hot":
        return x, np.eye(K, dtype=dtype)[labels]
    return x, rng.uniform(0.05, 0.95, size=(M, n, K)).astype(dtype)


def _train(flag, *, M=3, n=37, batch=8, dtype="float64", acts=("relu", "identity"), loss="softmax_cross_entropy",
           targets="one-hot", opt=lambda: gn.SGD(0.1), steps=40, log_every=9, fit_kw=None, layer_kw=None,
           use_bias=True, models=None):
    """Train networks ``models`` (default all M; network m seeded 10 + m, on row m of the data)
    of the data set; returns (model, history, segments)."""
    x, y = _data(M, n, dtype, targets if loss == "softmax_cross_entropy" else "values")
    models = list(range(M)) if models is None else models
    x, y = x[models], y[models]
    model = gn.Sequential([gn.Dense(HIDDEN, acts[0], use_bias=use_bias, **(layer_kw or {})),
                           gn.Dense(K, acts[1])], input_shape=(N_IN,), init=gn.init.Normal(std=0.3),
                          seed=[10 + m for m in models], dtype=dtype)
    return fit_counting_segments(model, flag, x, y, record=lambda plan, k: (k, plan.major), loss=loss,
                                 optimizer=opt(), batch_size=batch, steps=steps, log_every=log_every, **(fit_kw or {}))


def test_the_shape_is_in_the_medium_kernels_range():
    work = 3 * 8 * (N_IN * HIDDEN + HIDDEN * K)
    assert loop.MAX_STEP_WORK < work <= loop.MAX_BLAS_WORK


CASES = {
    # 37 rows in batches of 8: a ragged last batch of 5 in every epoch, inside segments too
    "ragged-plain": {},
    "momentum": dict(opt=lambda: gn.SGD([0.05, 0.1, 0.2], momentum=0.9)),
    "nesterov": dict(opt=lambda: gn.SGD(0.1, momentum=[0.0, 0.5, 0.9], nesterov=True)),
    "keras-nesterov": dict(opt=lambda: gn.SGD(0.1, momentum=0.8, nesterov=True, form="keras")),
    "penalties": dict(fit_kw=dict(weight_decay=[1e-3, 0.0, 3e-2], l1=[0.0, 1e-3, 1e-2]),
                      layer_kw=dict(kernel_regularizer=gn.L2(1e-2), bias_regularizer=gn.L1(1e-3))),
    "labels": dict(targets="labels"),
    "probabilities": dict(targets="probabilities"),
    "sigmoid-half_sse": dict(acts=("sigmoid", "sigmoid"), loss="half_sse"),
    "tanh-mse-no-bias": dict(acts=("tanh", "identity"), loss="mse", use_bias=False),
    "in-order": dict(fit_kw=dict(shuffle=False)),
    "one-model": dict(M=1, opt=lambda: gn.SGD(0.1, momentum=0.9)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_equals_the_reference_in_float64(case):
    kw = CASES[case]
    ref, got = _train(False, **kw), _train(True, **kw)
    assert got[2] and all(major for _, major in got[2]), "the medium kernel did not run"
    assert_same_fit(ref, got, 1e-12)


def test_float32_agrees_within_rounding():
    kw = dict(dtype="float32", opt=lambda: gn.SGD(0.1, momentum=0.9))
    ref, got = _train(False, **kw), _train(True, **kw)
    assert got[2]
    assert_same_fit(ref, got, 2e-4)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_network_trains_bit_for_bit_the_same_alone_and_in_an_ensemble(dtype, monkeypatch):
    """Each network of a 7-model ensemble (its models split over two threads) equals that network
    trained alone (same seed, same rows), exactly; per-model learning rates, momenta and penalties
    included."""
    monkeypatch.setattr(loop, "THREAD_MIN_WORK", 1)
    halves = []
    real = loop._kernel_major
    monkeypatch.setattr(loop, "_kernel_major", lambda: (lambda *a: halves.append(a[4].shape[0]) or real()(*a)))
    lrs, mus, decays = [0.05, 0.1, 0.2, 0.1, 0.05, 0.3, 0.1], [0.0, 0.9, 0.5, 0.9, 0.0, 0.8, 0.9], [0.0, 1e-3] * 3 + [0.0]

    def kw(models):
        return dict(M=7, models=models, dtype=dtype, opt=lambda: gn.SGD([lrs[m] for m in models],
                                                                        momentum=[mus[m] for m in models]),
                    fit_kw=dict(weight_decay=[decays[m] for m in models]))

    together = _train(True, **kw(list(range(7))))
    assert together[2] and sorted(set(halves)) == [3, 4], "the ensemble did not run split over two threads"
    for m in (0, 3, 6):
        alone = _train(True, **kw([m]))
        assert alone[2]
        for name, value in together[0].params.items():
            np.testing.assert_array_equal(alone[0].params[name][0], value[m], err_msg=f"{name}, model {m}")
        for key in together[1].keys():
            np.testing.assert_array_equal(alone[1][key][0], together[1][key][m], err_msg=key)


def test_a_diverging_member_is_frozen_and_the_rest_go_on():
    kw = dict(acts=("relu", "identity"), loss="mse", opt=lambda: gn.SGD([0.05, 50.0, 0.1]), steps=60, log_every=5)
    ref, got = _train(False, **kw), _train(True, **kw)
    assert got[2]
    assert ref[1].status[1] == "diverged" and ref[1].status[0] != "diverged"
    assert_same_fit(ref, got, 1e-12)
