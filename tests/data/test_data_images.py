"""digits() and the procedural shapes set."""


import numpy as np
import pytest

from glassnet.data import SHAPE_CLASSES, digits, shape_class_names, shapes
from glassnet.errors import GlassnetError


def test_digits_are_sklearn_digits_as_images():
    from sklearn.datasets import load_digits

    x, y = digits()
    assert x.shape == (1797, 8, 8, 1) and x.dtype == np.float32
    assert y.dtype == np.int64 and sorted(set(y.tolist())) == list(range(10))
    assert x.min() == 0 and x.max() == 1
    raw = load_digits()
    np.testing.assert_allclose(x.reshape(1797, 64), raw.data / 16, rtol=1e-6)
    np.testing.assert_array_equal(y, raw.target)


def test_shape_classes():
    assert len(SHAPE_CLASSES) == 10 and len(set(SHAPE_CLASSES)) == 10
    assert {"circle", "square", "triangle", "ring", "diamond"} <= set(SHAPE_CLASSES)
    assert shape_class_names(3) == SHAPE_CLASSES[:3]


def test_shapes_shape_dtype_range_balance():
    x, y = shapes(n_per_class=7, seed=0)
    assert x.shape == (70, 32, 32, 3) and x.dtype == np.float32
    assert x.min() >= 0 and x.max() <= 1
    assert np.bincount(y).tolist() == [7] * 10
    x, y = shapes(n_per_class=3, classes=4, size=16)
    assert x.shape == (12, 16, 16, 3) and set(y.tolist()) == {0, 1, 2, 3}


def test_every_clean_image_shows_a_shape():
    x, _ = shapes(n_per_class=20, seed=1)
    # the shape differs from the background by >= 0.35 per channel: far more than the gradient
    spread = (x.max(axis=(1, 2)) - x.min(axis=(1, 2))).min(axis=1)
    assert spread.min() > 0.3


def test_deterministic_given_seed():
    a, b, c = shapes(5, seed=3), shapes(5, seed=3), shapes(5, seed=4)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def _edge_energy(x):
    """Mean absolute difference between vertical neighbours (d/dy) and horizontal ones (d/dx)."""
    dy = np.abs(np.diff(x, axis=1)).mean(axis=(1, 2, 3))
    dx = np.abs(np.diff(x, axis=2)).mean(axis=(1, 2, 3))
    return dy, dx


def test_bars_are_drawn_in_their_named_orientation():
    x, y = shapes(30, classes=["horizontal_bar", "vertical_bar"], rotation=0, seed=2)
    dy, dx = _edge_energy(x)
    horizontal = y == 0
    assert np.all(dy[horizontal] > 1.5 * dx[horizontal])  # long edges run left-right
    assert np.all(dx[~horizontal] > 1.5 * dy[~horizontal])


def test_classes_by_name_set_the_label_order():
    x, y = shapes(4, classes=["vertical_bar", "horizontal_bar"], rotation=0, seed=5)
    dy, dx = _edge_energy(x)
    assert np.all(dx[y == 0] > dy[y == 0])


def test_low_quality_adds_noise_and_blur():
    clean, _ = shapes(10, seed=6)
    low, _ = shapes(10, seed=6, quality="low")
    assert not np.array_equal(clean, low)
    blurred, _ = shapes(10, seed=6, blur=1.5)
    noisy, _ = shapes(10, seed=6, noise=0.2)

    def roughness(x):
        return np.abs(np.diff(x, axis=1)).mean() + np.abs(np.diff(x, axis=2)).mean()

    assert roughness(blurred) < roughness(clean) < roughness(noisy)
    # the explicit knobs override the quality preset
    np.testing.assert_array_equal(shapes(10, seed=6, quality="low", noise=0, blur=0)[0], clean)


def test_ten_thousand_images_are_made_whole_and_repeatably():
    # (speed is a benchmark's business, not a unit test's: a busy machine failed a time bound here)
    x, y = shapes(n_per_class=1000, quality="low", seed=0)
    assert x.shape == (10000, 32, 32, 3) and np.bincount(y).tolist() == [1000] * 10
    again, _ = shapes(n_per_class=1000, quality="low", seed=0)
    np.testing.assert_array_equal(x[::997], again[::997])


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"classes": 1}, ["classes", "[2, 10]"]),
        ({"classes": 11}, ["classes", "11"]),
        ({"classes": ["circle", "blob"]}, ["classes", "blob", "circle"]),
        ({"quality": "medium"}, ["quality", "'low'", "medium"]),
        ({"noise": 2.0}, ["noise", "2.0"]),
        ({"n_per_class": 0}, ["n_per_class", ">= 1"]),
        ({"size": 4}, ["size", "[8, 256]"]),
    ],
)
def test_errors(kwargs, words):
    with pytest.raises(GlassnetError) as info:
        shapes(**kwargs)
    for word in words:
        assert word in str(info.value)
