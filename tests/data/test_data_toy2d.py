"""TF Playground data sets: shapes, determinism, noise, balance and the generating formulas."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glassnet.data import (
    FEATURE_NAMES,
    blobs,
    circle,
    features,
    gauss,
    multi_gaussian,
    plane,
    spiral,
    split,
    xor,
)
from glassnet.errors import GlassnetError

CLASSIFIERS = [circle, xor, gauss, spiral]
REGRESSORS = [plane, multi_gaussian]
ALL = CLASSIFIERS + REGRESSORS + [blobs]


def radius(x):
    return np.hypot(x[:, 0], x[:, 1])


@pytest.mark.parametrize("gen", CLASSIFIERS)
def test_classification_shapes_and_labels(gen):
    x, y = gen(n=101, noise=0.2, seed=1)
    assert x.shape == (101, 2) and x.dtype == np.float64
    assert y.shape == (101,) and y.dtype.kind == "i"
    assert set(np.unique(y)) == {0, 1}
    x500, _ = gen()
    assert len(x500) == 500  # the Playground's default size


@pytest.mark.parametrize("gen", REGRESSORS)
def test_regression_shapes(gen):
    x, y = gen(n=50, noise=0.1, seed=2)
    assert x.shape == (50, 2) and y.shape == (50,) and y.dtype == np.float64
    assert len(gen()[0]) == 1200


@pytest.mark.parametrize("gen", ALL)
def test_same_seed_same_data_other_seed_other_data(gen):
    a, b, c = gen(noise=0.1, seed=7), gen(noise=0.1, seed=7), gen(noise=0.1, seed=8)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_global_random_state_is_untouched():
    np.random.seed(0)
    before = np.random.random()
    np.random.seed(0)
    circle(seed=3)
    assert np.random.random() == before


@pytest.mark.parametrize("gen", ALL)
def test_noise_changes_the_data(gen):
    quiet, noisy = gen(noise=0.0, seed=4), gen(noise=0.5, seed=4)
    assert not (np.array_equal(quiet[0], noisy[0]) and np.array_equal(quiet[1], noisy[1]))


@pytest.mark.parametrize("gen", CLASSIFIERS)
def test_pm1_labels_are_the_01_labels_mapped(gen):
    x01, y01 = gen(n=60, noise=0.3, seed=5)
    xpm, ypm = gen(n=60, noise=0.3, seed=5, labels="pm1")
    np.testing.assert_array_equal(x01, xpm)
    np.testing.assert_array_equal(ypm, np.where(y01 == 1, 1, -1))


@pytest.mark.parametrize("gen", [circle, gauss, spiral])
def test_two_classes_balanced_without_noise(gen):
    _, y = gen(n=400, noise=0.0, seed=0)
    assert np.bincount(y).tolist() == [200, 200]


def test_circle_geometry():
    x, y = circle(n=1000, seed=1)
    r = radius(x)
    assert np.all(r[y == 1] <= 2.5) and np.all((r[y == 0] >= 3.5) & (r[y == 0] <= 5))
    # noise relabels by the shifted point: some labels now disagree with the radius
    x, y = circle(n=1000, noise=0.5, seed=1)
    assert np.any((radius(x) < 2.5) != (y == 1))


def test_xor_geometry():
    x, y = xor(n=1000, seed=2)
    np.testing.assert_array_equal(y, (x[:, 0] * x[:, 1] >= 0).astype(int))
    assert np.all((np.abs(x) >= 0.3) & (np.abs(x) <= 5.3))


def test_gauss_centres_and_variance_scale_with_noise():
    for noise, variance in [(0.0, 0.5), (0.25, 2.25), (0.5, 4.0)]:
        x, y = gauss(n=20000, noise=noise, seed=3)
        np.testing.assert_allclose(x[y == 1].mean(axis=0), [2, 2], atol=0.1)
        np.testing.assert_allclose(x[y == 0].mean(axis=0), [-2, -2], atol=0.1)
        np.testing.assert_allclose(x[y == 1].var(axis=0), variance, rtol=0.06)


def test_spiral_points_follow_the_playground_formula():
    n = 200
    x, y = spiral(n=n, seed=0)
    m = n // 2
    for label, delta in [(1, 0.0), (0, np.pi)]:  # Playground: +1 at deltaT 0, -1 at pi
        pts = x[y == label]
        r = radius(pts)
        np.testing.assert_allclose(np.sort(r), 5 * np.arange(m) / m, atol=1e-12)
        t = 1.75 * 2 * np.pi * r / 5 + delta
        np.testing.assert_allclose(pts, np.column_stack([r * np.sin(t), r * np.cos(t)]), atol=1e-9)


def test_spiral_noise_is_bounded_jitter():
    clean, _ = spiral(n=300, seed=9, shuffle=False)
    noisy, _ = spiral(n=300, noise=0.4, seed=9, shuffle=False)
    d = np.abs(noisy - clean)
    assert d.max() <= 0.4 and d.max() > 0.3


@pytest.mark.parametrize("k", [3, 5, 8])
def test_multi_arm_spiral(k):
    x, y = spiral(n=10 * k + 1, classes=k, seed=1)
    counts = np.bincount(y, minlength=k)
    assert counts.max() - counts.min() <= 1 and counts.sum() == 10 * k + 1


def test_plane_target_formula():
    x, y = plane(n=300, seed=4)
    np.testing.assert_allclose(y, (x[:, 0] + x[:, 1]) / 10)
    assert np.all(np.abs(x) <= 6)


def _multi_gaussian_label(p):
    # Straight from the Playground's description: signed cones, keep the largest |value|.
    bumps = [(-4, 2.5, 1), (0, 2.5, -1), (4, 2.5, 1), (-4, -2.5, -1), (0, -2.5, 1), (4, -2.5, -1)]
    label = 0.0
    for cx, cy, sign in bumps:
        value = sign * min(1.0, max(0.0, 1 - np.hypot(p[0] - cx, p[1] - cy) / 2))
        if abs(value) > abs(label):
            label = value
    return label


def test_multi_gaussian_target_formula():
    x, y = multi_gaussian(n=300, seed=5)
    np.testing.assert_allclose(y, [_multi_gaussian_label(p) for p in x], atol=1e-12)
    assert np.all(np.abs(y) <= 1) and (y > 0.5).any() and (y < -0.5).any()


@pytest.mark.parametrize("k", range(3, 9))
def test_blobs(k):
    x, y = blobs(n=100 * k, classes=k, seed=0)
    assert np.bincount(y).tolist() == [100] * k
    centres = np.array([x[y == c].mean(axis=0) for c in range(k)])
    np.testing.assert_allclose(np.hypot(*centres.T), 4, atol=0.25)


def test_features_match_their_formulas():
    x = np.random.default_rng(0).uniform(-6, 6, (50, 2))
    a, b = x.T
    got = features(x, FEATURE_NAMES)
    want = np.column_stack([a, b, a**2, b**2, a * b, np.sin(a), np.sin(b)])
    np.testing.assert_allclose(got, want)
    np.testing.assert_allclose(features(x, ["x1_sq", "SIN(X2)", "x2"]), want[:, [2, 6, 1]])
    assert features(x).shape == (50, 2)


def test_features_errors():
    x = np.zeros((3, 2))
    with pytest.raises(GlassnetError, match=r"unknown feature 'cos\(x1\)'.*sin\(x1\)"):
        features(x, ["x1", "cos(x1)"])
    with pytest.raises(GlassnetError, match=r"X must have shape \(n, 2\)"):
        features(np.zeros((3, 3)), ["x1"])


@settings(max_examples=50, deadline=None)
@given(n=st.integers(2, 300), fraction=st.floats(0.01, 0.99))
def test_split_sizes_and_contents(n, fraction):
    x = np.arange(2 * n, dtype=float).reshape(n, 2)
    y = np.arange(n)
    try:
        (xtr, ytr), (xte, yte) = split(x, y, fraction, seed=1)
    except GlassnetError as exc:  # only when rounding leaves a part empty
        assert round(n * fraction) in (0, n), exc
        return
    assert abs(len(ytr) - n * fraction) <= 0.5 + 1e-9 and len(ytr) + len(yte) == n
    assert sorted(np.concatenate([ytr, yte]).tolist()) == list(range(n))
    np.testing.assert_array_equal(xtr[:, 0], 2 * ytr)  # rows stay paired


def test_split_is_seeded():
    x, y = circle(n=100, seed=0)
    a, b, c = split(x, y, 0.7, seed=1), split(x, y, 0.7, seed=1), split(x, y, 0.7, seed=2)
    np.testing.assert_array_equal(a[0][0], b[0][0])
    assert not np.array_equal(a[0][0], c[0][0])


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: circle(noise=0.6), ["noise", "[0.0, 0.5]", "0.6"]),
        (lambda: xor(n=0), ["n", ">= 1"]),
        (lambda: gauss(seed=-1), ["seed", "-1"]),
        (lambda: plane(seed="abc"), ["seed", "'abc'"]),
        (lambda: spiral(labels="+-"), ["labels", "'pm1'"]),
        (lambda: spiral(classes=3, labels="pm1"), ["pm1", "classes=3"]),
        (lambda: blobs(classes=9), ["classes", "[2, 8]"]),
        (lambda: split(np.zeros((4, 2)), np.zeros(3), 0.5), ["same number of samples"]),
        (lambda: split(np.zeros((4, 2)), np.zeros(4), 1.5), ["train_fraction", "1.5"]),
    ],
)
def test_errors(call, words):
    with pytest.raises(GlassnetError) as info:
        call()
    for word in words:
        assert word in str(info.value)
