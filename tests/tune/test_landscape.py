"""glassnet.landscape: filter-normalized directions, slices evaluated as one ensemble (equal to
separate evaluations), the barrier, and permutation/sign alignment of hidden units."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet import landscape as L
from glassnet.data import load
from glassnet.errors import GlassnetError

LOSS = "softmax_cross_entropy"


@pytest.fixture(scope="module")
def trained():
    d = load("spiral", n=120, noise=0.1, seed=0)
    m = gn.Sequential([gn.Dense(8, activation="tanh"), gn.Dense(6, activation="tanh"), gn.Dense(2)],
                      input_shape=(2,), seed=[0, 1], dtype="float64")
    m.fit(d.x, d.y, loss=LOSS, optimizer=gn.SGD(0.1, momentum=0.9), batch_size=16, epochs=20, progress=False)
    return m, d.x, d.y


def _single_loss(model, pt, x, y):
    one = gn.Sequential([gn.layers.from_config(l.config()) for l in model.layers], input_shape=model.input_shape,
                        seed=0, dtype="float64")
    for p, a in zip(one.param_list, pt):
        p.value[0] = a
    return one.evaluate(x, y, LOSS)["loss"]


def test_filter_normalized_direction(trained):
    m, _, _ = trained
    theta = L.point(m, 0)
    d = L.random_direction(m, rng=3)
    for w, v in zip(theta, d):
        if w.ndim == 2:   # a Dense kernel: one filter per output unit (column)
            np.testing.assert_allclose(np.linalg.norm(v, axis=0), np.linalg.norm(w, axis=0), rtol=1e-10)
        else:
            assert not v.any()  # biases: direction 0 (Li et al.)
    kept = L.random_direction(m, rng=3, biases="keep")
    assert all(np.linalg.norm(v) == pytest.approx(np.linalg.norm(w)) for w, v in zip(theta, kept) if w.ndim == 1)
    layer = L.random_direction(m, rng=3, normalization="layer")
    assert all(np.linalg.norm(v) == pytest.approx(np.linalg.norm(w)) for w, v in zip(theta, layer) if w.ndim == 2)


def test_slices_equal_separate_evaluations(trained):
    m, x, y = trained
    s = L.slice_1d(m, x, y, LOSS, m=1, alphas=np.linspace(-1, 1, 5), rng=0, metrics=["accuracy"])
    assert s.center_loss == pytest.approx(m.evaluate(x, y, LOSS)["loss"][1], rel=1e-12)
    theta, (d,) = s.center, s.directions
    for a, value in zip(s.alphas, s.loss):
        assert value == pytest.approx(_single_loss(m, [t + a * v for t, v in zip(theta, d)], x, y), rel=1e-12)
    assert s.metrics["accuracy"].shape == (5,)
    s2 = L.slice_2d(m, x, y, LOSS, alphas=np.linspace(-1, 1, 5), betas=np.linspace(-0.5, 0.5, 3), rng=1)
    assert s2.loss.shape == (5, 3) and s2.models == 15 and s2.chunks == 1
    d1, d2 = s2.directions
    i, j = 4, 0
    pt = [t + s2.alphas[i] * u + s2.betas[j] * v for t, u, v in zip(s2.center, d1, d2)]
    assert s2.loss[i, j] == pytest.approx(_single_loss(m, pt, x, y), rel=1e-12)
    chunked = L.slice_2d(m, x, y, LOSS, directions=s2.directions, alphas=s2.alphas, betas=s2.betas, max_models=4)
    assert chunked.chunks == 4
    np.testing.assert_allclose(chunked.loss, s2.loss, rtol=1e-12)
    # a 1-D sharpness reading: the loss rise at |alpha| = 1 and the width within a rise of 0.1
    assert s.rise(1.0) == pytest.approx((s.loss[0] + s.loss[-1]) / 2 - s.loss[2])
    assert 0 <= s.width(0.1) <= 2


def test_barrier_hand_worked():
    # the chord at t = 0.5 between 1 and 2 is 1.5; the loss there is 3: barrier 1.5
    assert L.barrier([0, 0.5, 1], [1.0, 3.0, 2.0]) == pytest.approx(1.5)
    assert L.barrier([0, 0.5, 1], [1.0, 1.0, 2.0]) == 0.0   # below the chord: no barrier
    with pytest.raises(GlassnetError, match="0 to 1"):
        L.barrier([0.1, 1], [1, 2])


def test_interpolation_ends_are_the_two_networks(trained):
    m, x, y = trained
    path = L.interpolate(m, 0, 1, x, y, LOSS, ts=np.linspace(0, 1, 6))
    ev = m.evaluate(x, y, LOSS)["loss"]
    assert path.loss[0] == pytest.approx(ev[0], rel=1e-12) and path.loss[-1] == pytest.approx(ev[1], rel=1e-12)
    assert path.barrier >= 0 and 0 <= path.peak <= 1


def _scrambled(m, rng, flip=True):
    """Network 0 with its hidden units permuted (and signs flipped): the same function."""
    dense = [i for i, l in enumerate(m.layers) if isinstance(l, gn.Dense)][:-1]
    perms = {i: rng.permutation(m.layers[i].units) for i in dense}
    signs = {i: rng.choice([-1.0, 1.0], m.layers[i].units) if flip else np.ones(m.layers[i].units) for i in dense}
    return L.permute(m, L.point(m, 0), perms, signs), perms, signs


@pytest.mark.parametrize("method", ["weights", "activations"])
def test_align_recovers_a_hidden_permutation_and_signs(trained, method):
    m, x, y = trained
    rng = np.random.default_rng(0)
    b, perms, signs = _scrambled(m, rng)
    # the scrambled network computes the same function...
    assert _single_loss(m, b, x, y) == pytest.approx(m.evaluate(x, y, LOSS)["loss"][0], rel=1e-12)
    # ...but the straight line between the two crosses a barrier
    before = L.interpolate(m, L.point(m, 0), b, x, y, LOSS)
    al = L.align(m, L.point(m, 0), b, method=method, x=x)
    for pa, pb in zip(L.point(m, 0), al.point):
        np.testing.assert_allclose(pb, pa, rtol=1e-12, atol=1e-12)
    after = L.interpolate(m, L.point(m, 0), al.point, x, y, LOSS)
    assert before.barrier > 0.01 and after.barrier == pytest.approx(0, abs=1e-9)
    assert all(s_after == pytest.approx(1.0) for _, s_after in al.similarity)


def test_sign_flips_need_an_odd_activation():
    m = gn.Sequential([gn.Dense(4, activation="relu"), gn.Dense(2)], input_shape=(3,), seed=[0, 1])
    with pytest.raises(GlassnetError, match="odd activation"):
        L.permute(m, L.point(m, 0), {0: np.arange(4)}, {0: -np.ones(4)})
    with pytest.raises(GlassnetError, match="odd activation"):
        L.align(m, 0, 1, signs=True)
    al = L.align(m, 0, 1)   # relu: permutation only
    assert all((s == 1).all() for s in al.signs)


def test_unsupported_models_and_bad_points_are_refused():
    conv = gn.Sequential([gn.Conv2D(2, 3), gn.Flatten(), gn.Dense(2)], input_shape=(5, 5, 1), seed=[0, 1])
    with pytest.raises(GlassnetError, match="Conv2D"):
        L.align(conv, 0, 1)
    bn = gn.Sequential([gn.Dense(4), gn.BatchNorm(), gn.Dense(2)], input_shape=(3,), seed=[0, 1])
    with pytest.raises(GlassnetError, match="batch-norm"):
        L.interpolate(bn, 0, 1, np.zeros((4, 3)), np.zeros(4, int), LOSS)
    m = gn.Sequential([gn.Dense(4), gn.Dense(2)], input_shape=(3,), seed=[0, 1])
    with pytest.raises(GlassnetError, match="direction"):
        L.slice_1d(m, np.zeros((4, 3)), np.zeros(4, int), LOSS, direction=[np.zeros(3)])
    with pytest.raises(GlassnetError, match="out of range"):
        L.point(m, 5)
